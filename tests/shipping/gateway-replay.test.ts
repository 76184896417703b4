// Issue 17 §1: the replay record is shared by every gateway replica and survives a restart. Two real
// nacl-gateway processes share the stack's Redis: a frame accepted by one is refused as a replay by the
// other, and by the first after it was killed and started again. Then a gateway whose Redis goes away
// (a redis-server this test starts and stops on a free loopback port) refuses frames it cannot check —
// a failed ack, so the harvester keeps the batch and resends it — reports itself unhealthy, and
// accepts frames again once Redis is back.
import { type ChildProcess, spawn } from 'node:child_process';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '@backlog/core-codec';
import { AckStatus, encodeFrame, generateKeyPair, openAck, sealBatch, sealedKeys } from '@backlog/core-sealed';
import { stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { type GatewayProc, exchange, startGateway } from './gateway-helpers';
import { ensureTopic, freePort, metricValue, readTopic, scrape } from './helpers';

const gwKeys = generateKeyPair();
const harvester = generateKeyPair();
const keys = sealedKeys(gwKeys.publicKey, harvester.secretKey);
const allow = [{ name: 'web-01', keys: harvester }];
const procs: GatewayProc[] = [];
let redis: ChildProcess | undefined;
let seq = Date.now() * 1000;

afterAll(async () => {
  await Promise.all(procs.map((p) => p.term()));
  await stopRedis();
});

function frameFor(env: string, n: number): Uint8Array {
  const events = Array.from({ length: n }, (_, i) => ({ '@timestamp': new Date().toISOString(), message: `ok ${i}`, event: { id: `${env}-${seq}-${i}` } }));
  const b = encodeBatch(events, { host: 'web-01' });
  return encodeFrame(sealBatch(keys, harvester.publicKey, { env, seq: seq++, sentAtMs: Date.now(), key: b.key, value: b.value, headers: { ...b.headers } as Record<string, string> }));
}

async function send(gw: GatewayProc, env: string, frame: Uint8Array) {
  const r = await exchange(gw.port, [frame], { waitMs: 15_000, frames: 1 });
  return { closedByPeer: r.closedByPeer, acks: r.frames.map((f) => openAck(keys, f, { env })) };
}

const rejected = async (gw: GatewayProc, reason: string) => metricValue(await scrape(gw.metricsPort), 'nacl_gateway_rejected_total', { reason });

async function start(env: string, redisUrl: string, port?: number, metricsPort?: number): Promise<GatewayProc> {
  const gw = await startGateway({ env, brokers: stackInfo().kafka.brokers, redisUrl, keys: gwKeys, allow, port, metricsPort });
  procs.push(gw);
  return gw;
}

function startRedis(port: number): Promise<void> {
  return new Promise((resolve, reject) => {
    const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: ['ignore', 'pipe', 'pipe'] });
    redis = child;
    let out = '';
    const t = setTimeout(() => reject(new Error(`redis-server not ready:\n${out}`)), 15_000);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      if (/Ready to accept connections/.test(out)) {
        clearTimeout(t);
        resolve();
      }
    });
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`redis-server exited (${code}):\n${out}`));
    });
  });
}

async function stopRedis(): Promise<void> {
  const child = redis;
  redis = undefined;
  if (!child || child.exitCode !== null) return;
  child.removeAllListeners('exit');
  const exited = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  await exited;
}

async function health(gw: GatewayProc): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`http://127.0.0.1:${gw.metricsPort}/healthz`);
  return { status: res.status, body: (await res.json()) as Record<string, unknown> };
}

describe('the replay record shared by gateway replicas (issue 17 §1)', () => {
  it('a frame accepted by one gateway is a replay at another, and at the first after its restart', async () => {
    const env = testNamespace('gwreplay');
    const redisUrl = stackInfo().redis.url;
    await ensureTopic(stackInfo().kafka.brokers, `h-${env}`, 1);
    let a = await start(env, redisUrl);
    const b = await start(env, redisUrl);

    const f = frameFor(env, 3);
    const first = await send(a, env, f);
    expect(first.acks.map((x) => x.status)).toEqual([AckStatus.Ok]);

    const atB = await send(b, env, f);
    expect([atB.acks.length, atB.closedByPeer]).toEqual([0, true]);
    expect(await rejected(b, 'replay')).toBe(1);

    // kill -9 and start again on the same address: its in-memory window is gone, the record is not.
    await a.kill9();
    a = await start(env, redisUrl, a.port, a.metricsPort);
    const afterRestart = await send(a, env, f);
    expect([afterRestart.acks.length, afterRestart.closedByPeer]).toEqual([0, true]);
    expect(await rejected(a, 'replay')).toBe(1);

    // New frames are accepted by either.
    expect((await send(b, env, frameFor(env, 2))).acks.map((x) => x.status)).toEqual([AckStatus.Ok]);
    expect((await send(a, env, frameFor(env, 1))).acks.map((x) => x.status)).toEqual([AckStatus.Ok]);
    const content = await readTopic(stackInfo().kafka.brokers, `h-${env}`);
    expect([content.records, content.events.length]).toEqual([3, 6]);
  }, 120_000);

  it('without its Redis a gateway refuses frames (failed ack, counted, unhealthy) until Redis is back', async () => {
    const env = testNamespace('gwredis');
    await ensureTopic(stackInfo().kafka.brokers, `h-${env}`, 1);
    const port = await freePort();
    await startRedis(port);
    const gw = await start(env, `redis://127.0.0.1:${port}`);
    expect((await send(gw, env, frameFor(env, 2))).acks.map((x) => x.status)).toEqual([AckStatus.Ok]);
    expect((await health(gw)).status).toBe(200);

    await stopRedis();
    const down = await send(gw, env, frameFor(env, 5));
    expect(down.acks.map((x) => [x.status, x.reason])).toEqual([[AckStatus.Failed, 'REPLAY_STORE_UNAVAILABLE']]);
    expect(down.closedByPeer).toBe(false); // an authentic frame: the sender may resend on this connection
    expect(await rejected(gw, 'replay_store_unavailable')).toBe(1);
    const h = await health(gw);
    expect([h.status, h.body.replayStore]).toEqual([503, 'unavailable']);
    expect(metricValue(await scrape(gw.metricsPort), 'nacl_gateway_replay_store_up')).toBe(0);

    // Redis back (empty): the probe notices, and frames are accepted again.
    await startRedis(port);
    await waitFor('gateway healthy again', async () => (await health(gw)).status === 200, 30_000, 250);
    expect(metricValue(await scrape(gw.metricsPort), 'nacl_gateway_replay_store_up')).toBe(1);
    expect((await send(gw, env, frameFor(env, 4))).acks.map((x) => x.status)).toEqual([AckStatus.Ok]);
    const content = await readTopic(stackInfo().kafka.brokers, `h-${env}`);
    expect([content.records, content.events.length]).toEqual([2, 6]);
  }, 120_000);
});
