// The live-receiver when Redis goes away and comes back. A private redis-server (started and killed
// here, on its own port) stands in for an outage of the shared one, which no test may stop.
// While Redis is away: datagrams are counted as dropped (redis_unavailable), /healthz says 503, the
// process and its browsers stay up. When it is back: the subscriber resubscribes, events flow again,
// and the events lost meanwhile show up as a gap.
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import { freePort, testNamespace, waitFor } from '@backlog/testing';
import { createLiveSender } from '../../apps/harvester/src/live';
import { metric, startReceiver, stopProc, wsClient, type Receiver } from './helpers';

const ns = testNamespace('liveredis');
let redis: ChildProcess | undefined;
let rx: Receiver | undefined;
const sender = { stop: async () => undefined as void } as { stop(): Promise<void> };

async function startRedis(port: number): Promise<ChildProcess> {
  const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
  await waitFor(
    `redis-server on ${port}`,
    () =>
      new Promise<boolean>((resolve) => {
        const sock = createServer().listen(port, '127.0.0.1');
        // The port is taken once redis listens: binding fails.
        sock.once('error', () => resolve(true));
        sock.once('listening', () => sock.close(() => resolve(false)));
      }),
    10_000,
    20,
  );
  return child;
}

async function killRedis(): Promise<void> {
  const r = redis;
  redis = undefined;
  if (!r || r.exitCode !== null) return;
  const gone = new Promise((res) => r.once('exit', res));
  r.kill('SIGKILL');
  await gone;
}

afterAll(async () => {
  await sender.stop();
  await stopProc(rx);
  await killRedis();
}, 30_000);

describe('live-receiver and a Redis outage', () => {
  it('counts what it cannot dedupe, stays up, and recovers when Redis is back', async () => {
    const port = await freePort();
    redis = await startRedis(port);
    rx = await startReceiver(ns, { BACKLOG_LIVE_RECEIVER_REDIS_URL: `redis://127.0.0.1:${port}` });
    const client = await wsClient(rx);
    const live = createLiveSender({ enabled: true, targets: [`127.0.0.1:${rx.udpPort}`] }, { host: 'outage' });
    sender.stop = () => live.stop();
    const burst = async (label: string, n: number) => {
      for (let i = 0; i < n; i++) live.send({ message: `${label} ${i}`, labels: { env: ns } });
      await new Promise((r) => setTimeout(r, 20));
    };

    await burst('before', 100);
    await waitFor('events before the outage', () => client.events.length >= 100, 5_000, 20);

    await killRedis();
    const health = `http://127.0.0.1:${rx.metricsPort}/healthz`;
    await waitFor('/healthz to report the outage', async () => (await fetch(health)).status === 503, 5_000, 20);
    await burst('during', 100);
    await waitFor('drops counted as redis_unavailable', async () => (await metric(rx as Receiver, 'live_receiver_dropped_events_total', 'reason="redis_unavailable"')) >= 100, 5_000, 20);
    expect(rx.child.exitCode).toBeNull();
    expect(client.ws.readyState).toBe(client.ws.OPEN);
    expect(client.events.some((e) => String(e.event.message).startsWith('during'))).toBe(false);

    redis = await startRedis(port);
    await waitFor('/healthz to recover', async () => (await fetch(health)).status === 200, 15_000, 20);
    await burst('after', 100);
    await waitFor('events after the outage', () => client.events.filter((e) => String(e.event.message).startsWith('after')).length >= 100, 5_000, 20);
    // The 100 events sent during the outage are a gap in (host, run, seq), counted once a second.
    await waitFor('the gap to be counted', async () => (await metric(rx as Receiver, 'live_receiver_gap_skipped_total')) >= 100, 5_000, 20);
  });
});
