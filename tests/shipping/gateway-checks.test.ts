// Issue 17 §1: what a v2 nacl-gateway (a real process, real Kafka and Redis) checks before it produces a
// frame. A frame for another env, a v1 frame, an ack reflected back at the gateway and a stranger's
// frame are refused and counted by reason; the stranger is refused from its 38 header bytes, before
// it has sent its body. Valid frames on other connections are acked throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '@backlog/core-codec';
import { AckStatus, FRAME_VERSION, FrameType, encodeFrame, generateKeyPair, openAck, sealBatch, sealedKeys } from '@backlog/core-sealed';
import { stackInfo, testNamespace } from '@backlog/testing';
import { type GatewayProc, exchange, startGateway } from './gateway-helpers';
import { ensureTopic, metricValue, readTopic, scrape, sleep } from './helpers';

const env = testNamespace('gwcheck');
const topic = `h-${env}`;
const gwKeys = generateKeyPair();
const harvester = generateKeyPair();
const keys = sealedKeys(gwKeys.publicKey, harvester.secretKey);
let gw: GatewayProc;
let brokers: string[];
let seq = Date.now() * 1000;

function frameFor(n: number, sealEnv = env): Uint8Array {
  const events = Array.from({ length: n }, (_, i) => ({ '@timestamp': new Date().toISOString(), message: `ok ${i}`, event: { id: `${env}-${seq}-${i}` } }));
  const b = encodeBatch(events, { host: 'web-01' });
  return encodeFrame(sealBatch(keys, harvester.publicKey, { env: sealEnv, seq: seq++, sentAtMs: Date.now(), key: b.key, value: b.value, headers: { ...b.headers } as Record<string, string> }));
}

const rejected = async (reason: string) => metricValue(await scrape(gw.metricsPort), 'nacl_gateway_rejected_total', { reason });

beforeAll(async () => {
  brokers = stackInfo().kafka.brokers;
  await ensureTopic(brokers, topic, 1);
  gw = await startGateway({ env, brokers, redisUrl: stackInfo().redis.url, keys: gwKeys, allow: [{ name: 'web-01', keys: harvester }] });
});

afterAll(async () => {
  await gw?.term();
});

describe('nacl-gateway v2 checks (issue 17 §1)', () => {
  it('refuses a frame sealed for another env', async () => {
    const r = await exchange(gw.port, [frameFor(2, `${env}x`)], { waitMs: 10_000, frames: 1 });
    expect(r.frames).toEqual([]);
    expect(r.closedByPeer).toBe(true);
    expect(await rejected('wrong_env')).toBe(1);
  });

  it('refuses a v1 frame with its own reason (no downgrade)', async () => {
    const f = frameFor(2);
    f[4] = 1; // the body's version byte
    const r = await exchange(gw.port, [f], { waitMs: 10_000, frames: 1 });
    expect([r.frames.length, r.closedByPeer]).toEqual([0, true]);
    expect(await rejected('unsupported_version')).toBe(1);
  });

  it('refuses its own ack sent back to it, as a batch or as an ack', async () => {
    const ok = await exchange(gw.port, [frameFor(3)], { waitMs: 10_000, frames: 1 });
    expect(ok.frames).toHaveLength(1);
    const ack = ok.frames[0]!;
    expect(openAck(keys, ack, { env }).status).toBe(AckStatus.Ok);
    // As a batch: an allowed sender key put in front of the ack's nonce and box.
    const asBatch = new Uint8Array([FRAME_VERSION, FrameType.Batch, ...harvester.publicKey, ...ack.subarray(2)]);
    const r1 = await exchange(gw.port, [encodeFrame(asBatch)], { waitMs: 10_000, frames: 1 });
    expect([r1.frames.length, r1.closedByPeer]).toEqual([0, true]);
    // As it is: typed as an ack, refused from its header.
    const r2 = await exchange(gw.port, [encodeFrame(ack)], { waitMs: 10_000, frames: 1 });
    expect([r2.frames.length, r2.closedByPeer]).toEqual([0, true]);
    expect(await rejected('wrong_direction')).toBe(2);
  });

  it('refuses a stranger from the header, before the body is sent', async () => {
    const stranger = generateKeyPair();
    // A frame that announces 1 MB, of which only the length, version, type and sender key are sent.
    const head = new Uint8Array(4 + 2 + 32);
    new DataView(head.buffer).setUint32(0, 1_000_000, false);
    head.set([FRAME_VERSION, FrameType.Batch], 4);
    head.set(stranger.publicKey, 6);
    const r = await exchange(gw.port, [head], { waitMs: 10_000 });
    expect(r.closedByPeer).toBe(true);
    expect(await rejected('unknown_sender')).toBe(1);
    // Only the 38 bytes we sent were read.
    expect(metricValue(await scrape(gw.metricsPort), 'nacl_gateway_frames_received_total')).toBeLessThan(10);
  });

  it('still serves valid frames, and only those reached h-<env>', async () => {
    const r = await exchange(gw.port, [frameFor(4)], { waitMs: 10_000, frames: 1 });
    expect(openAck(keys, r.frames[0]!, { env }).status).toBe(AckStatus.Ok);
    await sleep(200);
    const content = await readTopic(brokers, topic);
    expect(content.records).toBe(2);
    expect(content.events).toHaveLength(7);
    const m = await scrape(gw.metricsPort);
    expect(metricValue(m, 'nacl_gateway_acked_batches_total')).toBe(2);
    expect(metricValue(m, 'nacl_gateway_rejected_total')).toBe(5);
    expect(gw.child.exitCode).toBeNull();
  });
});
