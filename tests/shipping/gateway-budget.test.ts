// Issue 17 (hardening): no number of allowed harvesters can run a nacl-gateway out of memory. The real
// gateway process runs with a small heap (--max-old-space-size=48 --max-semi-space-size=2: a 54 MiB V8
// limit) and its default byte budget, which is sized from that heap (a quarter: 13.5 MiB). Kafka is slowed
// by the real broker (a 1.5 MiB/s produce quota on the gateway's client id), so frames wait for Kafka
// inside the gateway. Six allowed senders — the harvester's own SealedSender, each with its own key —
// pipeline ten batches of ≈ 830 KiB (the size a harvester's batch may reach) all at once: 48 MiB. Without
// a global budget each connection may hold a frame being read plus 16 awaiting Kafka, and the gateway
// held up to 30.4 MiB here. With it, the gateway stops reading (TCP pushes back), stays alive, never holds more than
// the budget plus one frame, and every batch is acknowledged and in h-<env> in the end.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { type Socket, connect } from 'node:net';
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '@backlog/core-codec';
import { AckStatus, FrameReader, type KeyPair, encodeFrame, generateKeyPair, openAck, sealBatch, sealedKeys } from '@backlog/core-sealed';
import { stackInfo, testNamespace } from '@backlog/testing';
import { SealedSender } from '../../apps/harvester/src/shipping/sealed-sender';
import { SeqStore } from '../../apps/harvester/src/shipping/seq-store';
import { type GatewayProc, setProduceQuota, startGateway } from './gateway-helpers';
import { ensureTopic, metricValue, readTopic, scrape, sleep } from './helpers';

const env = testNamespace('gwbudget');
const dir = mkdtempSync(join(tmpdir(), 'gwbudget-'));
const HEAP_FLAGS = ['--max-old-space-size=48', '--max-semi-space-size=2'];
const SENDERS = 6;
const BATCHES_PER_SENDER = 10;
/** The broker lets the gateway produce this fast: frames pile up in the gateway unless it stops reading. */
const QUOTA_BYTES_PER_S = 1.5 * 1024 * 1024;
const MAX_FRAME_BYTES = 2 * 1024 * 1024;
const clientId = `nacl-gateway-${env}`;
const bootstrap = stackInfo().kafka.brokers[0] ?? '127.0.0.1:9092';
let gw: GatewayProc | undefined;
let gw2: GatewayProc | undefined;

afterAll(async () => {
  await gw?.term();
  await gw2?.term();
  await setProduceQuota(bootstrap, clientId, undefined).catch(() => undefined);
  rmSync(dir, { recursive: true, force: true });
}, 120_000);

/** A valid h-<env> batch of `events` random (incompressible) messages of `bytes` random bytes each, with its batch id `<host>-<n>`. */
function bigBatchOf(host: string, n: number, events: number, bytes: number): { key: string; value: Buffer; headers: Record<string, string> } {
  const now = new Date().toISOString();
  const list = Array.from({ length: events }, (_, i) => ({ '@timestamp': now, host: { name: host }, event: { id: `${host}-${n}-${i}` }, message: randomBytes(bytes).toString('base64') }));
  const b = encodeBatch(list, { host, batchId: `${host}-${n}` });
  return { key: b.key, value: b.value, headers: { ...b.headers } };
}

/** ≈ 830 KiB of gzip: the size a harvester's batch may reach (under the broker's 1 MiB record limit). */
const bigBatch = (host: string, n: number) => bigBatchOf(host, n, 110, 7_600);

/** Sends every batch at once on one connection (pipelined, as the harvester's sender does) and resends any that failed, until each is acknowledged. */
async function shipAll(sender: SealedSender, batches: ReturnType<typeof bigBatch>[], until: number): Promise<{ acked: number; resends: number }> {
  let resends = 0;
  const one = async (b: ReturnType<typeof bigBatch>): Promise<void> => {
    for (;;) {
      try {
        await sender.send(b);
        return;
      } catch (err) {
        if (Date.now() > until) throw err;
        resends++;
        await sleep(200);
      }
    }
  };
  await Promise.all(batches.map(one));
  return { acked: batches.length, resends };
}

describe('the nacl-gateway byte budget (issue 17)', () => {
  it('several allowed senders pushing large frames at a throttled Kafka: the gateway stops reading at its budget, stays alive, and loses nothing', async () => {
    const brokers = stackInfo().kafka.brokers;
    await ensureTopic(brokers, `h-${env}`, 2);
    await setProduceQuota(bootstrap, clientId, QUOTA_BYTES_PER_S);
    const gwKeys = generateKeyPair();
    const harvesters: { name: string; keys: KeyPair }[] = Array.from({ length: SENDERS }, (_, i) => ({ name: `hv-${i}`, keys: generateKeyPair() }));
    const g = await startGateway({ env, brokers, redisUrl: stackInfo().redis.url, keys: gwKeys, allow: harvesters, nodeArgs: HEAP_FLAGS });
    gw = g;

    // The default budget: a quarter of the heap limit the gateway runs with (at least two maximal frames).
    const heapLimit = Number(execFileSync(process.execPath, [...HEAP_FLAGS, '-p', "require('node:v8').getHeapStatistics().heap_size_limit"], { encoding: 'utf8' }).trim());
    const budget = Math.max(2 * MAX_FRAME_BYTES, Math.floor(heapLimit / 4));
    const m0 = await scrape(g.metricsPort);
    expect(metricValue(m0, 'nacl_gateway_buffered_bytes_limit')).toBe(budget);

    const batches = harvesters.map((h) => Array.from({ length: BATCHES_PER_SENDER }, (_, n) => bigBatch(h.name, n)));
    const offered = batches.flat().reduce((n, b) => n + b.value.length, 0);
    // Only meaningful if what the senders push at once is far beyond the budget.
    expect(offered).toBeGreaterThan(2 * budget);

    // Watch the gateway while it works: alive, and the gauge and its resident memory.
    let maxSeen = 0;
    let maxRss = 0;
    let watching = true;
    const watcher = (async () => {
      while (watching && g.child.exitCode === null) {
        const m = await scrape(g.metricsPort).catch(() => '');
        maxSeen = Math.max(maxSeen, metricValue(m, 'nacl_gateway_buffered_bytes'));
        maxRss = Math.max(maxRss, metricValue(m, 'process_resident_memory_bytes'));
        await sleep(100);
      }
    })();

    const until = Date.now() + 150_000;
    const senders = harvesters.map((h, i) => {
      const seqDir = join(dir, `seq-${i}`);
      mkdirSync(seqDir, { recursive: true });
      return new SealedSender({ host: '127.0.0.1', port: g.port, env, keys: h.keys, gatewayPublicKey: gwKeys.publicKey, seq: new SeqStore(seqDir), ackTimeoutMs: 120_000, connectTimeoutMs: 5_000 });
    });
    let results;
    try {
      results = await Promise.all(senders.map((s, i) => shipAll(s, batches[i] ?? [], until)));
    } finally {
      watching = false;
      await watcher;
      for (const s of senders) await s.close();
    }

    const m = await scrape(g.metricsPort);
    const peak = metricValue(m, 'nacl_gateway_buffered_bytes_peak');
    const resends = results.reduce((n, r) => n + r.resends, 0);
    console.log(JSON.stringify({ budget, peak, maxSeen, maxRssMiB: Math.round(maxRss / 1048576), offeredMiB: Math.round(offered / 1048576), resends }));
    // Never more than the budget plus one frame, by the gateway's own high-water mark and by our samples.
    expect(peak).toBeLessThanOrEqual(budget + MAX_FRAME_BYTES);
    expect(maxSeen).toBeLessThanOrEqual(budget + MAX_FRAME_BYTES);
    // The budget was really reached (else this test showed nothing), and reading stopped for it.
    expect(peak).toBeGreaterThanOrEqual(budget);
    expect(metricValue(m, 'nacl_gateway_read_pauses_total', { reason: 'max_buffered_bytes' })).toBeGreaterThan(0);
    // Nothing refused or dropped for the budget: every frame that came in was produced and acknowledged.
    expect(metricValue(m, 'nacl_gateway_rejected_total')).toBe(0);
    expect(results.reduce((n, r) => n + r.acked, 0)).toBe(SENDERS * BATCHES_PER_SENDER);
    expect(metricValue(m, 'nacl_gateway_acked_batches_total')).toBeGreaterThanOrEqual(SENDERS * BATCHES_PER_SENDER);
    expect(g.child.exitCode, g.output()).toBeNull();
    expect(metricValue(m, 'nacl_gateway_buffered_bytes')).toBe(0);

    // Every batch is in h-<env> (at least once: a resend after a failed ack may repeat one).
    const content = await readTopic(brokers, `h-${env}`);
    const ids = new Set(content.headers.map((h) => h['batch-id']));
    for (const h of harvesters) for (let n = 0; n < BATCHES_PER_SENDER; n++) expect(ids.has(`${h.name}-${n}`), `${h.name}-${n} in h-${env}`).toBe(true);
  }, 240_000);

  it('a budget full of half-read frames with nothing in flight: one connection at a time is read to the end of its frame; a sender that stalls there meets the frame deadline', async () => {
    const brokers = stackInfo().kafka.brokers;
    await ensureTopic(brokers, `h-${env}-b`, 1);
    const gwKeys = generateKeyPair();
    const hv = generateKeyPair();
    // A 64 KiB budget and frames of ≈ 40 KiB: four connections that each sent half a frame fill it.
    const BUDGET = 64 * 1024;
    const g = await startGateway({
      env: `${env}-b`,
      brokers,
      redisUrl: stackInfo().redis.url,
      keys: gwKeys,
      allow: [{ name: 'hv', keys: hv }],
      extra: { maxFrameBytes: BUDGET, maxBufferedBytes: BUDGET, frameTimeoutMs: 1_500 },
    });
    gw2 = g;
    const keys = sealedKeys(gwKeys.publicKey, hv.secretKey);
    const seqBase = Date.now() * 1000;
    const frame = (i: number, events: number) => {
      const b = bigBatchOf('hv', i, events, 700);
      return { frame: encodeFrame(sealBatch(keys, hv.publicKey, { env: `${env}-b`, seq: seqBase + i, sentAtMs: Date.now(), key: b.key, headers: b.headers, value: b.value })), seq: seqBase + i };
    };
    const open = (): Promise<Socket> =>
      new Promise((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port: g.port }, () => resolve(s));
        s.on('error', reject);
      });
    /** Resolves with the ack's status for `seq`, or 'closed' when the gateway closes the connection first. */
    const answer = (s: Socket, seq: number) =>
      new Promise<number | 'closed'>((resolve) => {
        const reader = new FrameReader(4096);
        s.on('data', (d: Buffer) => {
          for (const f of reader.push(d)) {
            const ack = openAck(keys, f.body, { env: `${env}-b` });
            if (ack.seq === seq) resolve(ack.status);
          }
        });
        s.on('close', () => resolve('closed'));
      });

    // The stalled sender: the largest half-frame, then nothing more (a harvester hung mid-write).
    const stalled = frame(0, 70);
    const sStalled = await open();
    const stalledAnswer = answer(sStalled, stalled.seq);
    sStalled.write(stalled.frame.subarray(0, Math.floor(stalled.frame.length / 2)));
    // Four senders write half a frame each; together with the stalled one that is past the budget.
    const senders = await Promise.all([1, 2, 3, 4].map(async (i) => ({ f: frame(i, 45), s: await open() })));
    const answers = senders.map(({ f, s }) => answer(s, f.seq));
    for (const { f, s } of senders) s.write(f.frame.subarray(0, Math.floor(f.frame.length / 2)));
    await waitForMetric(g.metricsPort, 'nacl_gateway_read_pauses_total', { reason: 'max_buffered_bytes' }, 1, 10_000);
    // Then the rest of each frame: it waits in the kernel until the gateway reads that socket again.
    for (const { f, s } of senders) s.write(f.frame.subarray(Math.floor(f.frame.length / 2)));

    // Without a connection kept reading, nothing would ever free a byte: no ack would come.
    const statuses = await within(Promise.all(answers), 30_000, 'the four acks');
    expect(statuses).toEqual([AckStatus.Ok, AckStatus.Ok, AckStatus.Ok, AckStatus.Ok]);
    // The stalled sender was read (its deadline ran) and closed at its frame deadline; nothing else was refused.
    expect(await stalledAnswer).toBe('closed');
    const m = await scrape(g.metricsPort);
    expect(metricValue(m, 'nacl_gateway_rejected_total', { reason: 'frame_timeout' })).toBe(1);
    expect(metricValue(m, 'nacl_gateway_rejected_total')).toBe(1);
    expect(metricValue(m, 'nacl_gateway_buffered_bytes_peak')).toBeLessThanOrEqual(2 * BUDGET);
    expect(metricValue(m, 'nacl_gateway_buffered_bytes')).toBe(0);
    const ids = new Set((await readTopic(brokers, `h-${env}-b`)).headers.map((h) => h['batch-id']));
    expect([...ids].sort()).toEqual(['hv-1', 'hv-2', 'hv-3', 'hv-4']);
    expect(g.child.exitCode, g.output()).toBeNull();
    // SIGTERM with harvesters still connected: the gateway closes their connections and exits (it does
    // not wait for them to go idle).
    await within(g.term(), 15_000, 'exit on SIGTERM with connections open');
    expect(g.child.exitCode).toBe(0);
    for (const { s } of senders) s.destroy();
  }, 120_000);
});

function within<T>(p: Promise<T>, ms: number, what: string): Promise<T> {
  let t: NodeJS.Timeout | undefined;
  const late = new Promise<never>((_, reject) => (t = setTimeout(() => reject(new Error(`${what}: not within ${ms} ms`)), ms)));
  return Promise.race([p, late]).finally(() => clearTimeout(t));
}

/** Polls /metrics until the counter reaches `atLeast`. */
async function waitForMetric(port: number, name: string, labels: Record<string, string>, atLeast: number, timeoutMs: number): Promise<void> {
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (metricValue(await scrape(port), name, labels) >= atLeast) return;
    if (Date.now() > until) throw new Error(`${name} ${JSON.stringify(labels)} did not reach ${atLeast} within ${timeoutMs} ms`);
    await sleep(50);
  }
}
