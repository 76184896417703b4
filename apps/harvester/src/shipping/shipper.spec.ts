import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { afterEach, describe, expect, it } from 'vitest';
import { decodeBatch } from '@backlog/core-codec';
import { Spool } from '../spool/spool';
import { shippingMetrics } from './metrics';
import type { BatchSender } from './port';
import { shippingConfigSchema } from './config';
import { SHIP_RETRY_MAX_MS, SHIP_RETRY_MIN_MS, Shipper, type ShipperOptions, defaultShipperOptions, shipperOptions } from './shipper';

// The next hop is an in-memory sender here: these are unit tests of batching, spooling and ordering.
// The same paths run against the real Kafka in tests/shipping/*.test.ts.
class MemorySender implements BatchSender {
  records: { key: string; value: Buffer; headers: Record<string, string> }[] = [];
  failNext = 0;
  hold: Promise<void> | undefined;
  connected = true;
  async send(r: { key: string; value: Buffer; headers: Record<string, string> }) {
    if (this.hold) await this.hold;
    if (this.failNext > 0) {
      this.failNext--;
      throw Object.assign(new Error('broker down'), { code: 'BROKER_DOWN' });
    }
    this.records.push(r);
  }
  async close() {
    this.connected = false;
  }
  events() {
    return this.records.flatMap((r) => decodeBatch(r.value).events);
  }
}

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function make(dir: string, over: Partial<ShipperOptions> = {}, sender = new MemorySender(), commits: unknown[] = []) {
  const registry = new MetricsRegistry();
  const metrics = shippingMetrics(registry);
  const shipper = new Shipper(
    { ...defaultShipperOptions, host: 'web-01', retryMinMs: 5, retryMaxMs: 20, ...over },
    {
      spool: new Spool({ dir, fsync: false }),
      sender,
      metrics,
      onCommit: (p) => commits.push(...p),
    },
  );
  return { shipper, sender, registry, metrics, commits };
}

const ev = (iso: string, i: number) => ({ '@timestamp': iso, message: `m${i}`, event: { id: `id${i}` }, host: { name: 'web-01' } });
const at = (base: string, ms: number) => new Date(Date.parse(base) + ms).toISOString();
const tmp = () => {
  const d = mkdtempSync(join(tmpdir(), 'ship-'));
  dirs.push(d);
  return d;
};

describe('Shipper', () => {
  it('takes its defaults from the shipping config schema only', () => {
    const fromSchema = shippingConfigSchema.parse({});
    expect(defaultShipperOptions).toEqual({
      flushIntervalMs: fromSchema.flushIntervalMs,
      maxRecordBytes: fromSchema.maxRecordBytes,
      maxBatchRawBytes: fromSchema.maxBatchRawBytes,
      maxBatchEvents: fromSchema.maxBatchEvents,
      maxOpenBatches: fromSchema.maxOpenBatches,
      gzipLevel: fromSchema.gzipLevel,
      maxInFlight: fromSchema.maxInFlight,
      spoolMaxBytes: fromSchema.spool.maxBytes,
      whenFull: fromSchema.spool.whenFull,
      retryMinMs: SHIP_RETRY_MIN_MS,
      retryMaxMs: SHIP_RETRY_MAX_MS,
      quarantineAfterAttempts: fromSchema.spool.quarantineAfterAttempts,
      quarantineAfterMs: fromSchema.spool.quarantineAfterMs,
    });
    const set = shipperOptions('web-01', shippingConfigSchema.parse({ flushIntervalMs: 500, gzipLevel: 9, spool: { maxBytes: 65_536, whenFull: 'drop_oldest' } }));
    expect(set).toMatchObject({ host: 'web-01', flushIntervalMs: 500, gzipLevel: 9, spoolMaxBytes: 65_536, whenFull: 'drop_oldest', maxInFlight: fromSchema.maxInFlight });
  });

  it('cuts batches at window boundaries, sorts them, and commits positions after the ack', async () => {
    const { shipper, sender, commits } = make(tmp());
    shipper.start();
    shipper.write([ev('2026-11-22T10:04:59.500Z', 2), ev('2026-11-22T10:04:59.000Z', 1), ev('2026-11-22T10:05:00.100Z', 3)], [{ source: 'file:a', cursor: 100 }]);
    expect(commits).toEqual([]);
    shipper.flush();
    expect(await shipper.drained(2000)).toBe(true);
    expect(sender.records.map((r) => [r.headers.window, r.headers.count])).toEqual([
      ['3k9nc', '2'],
      ['3k9nd', '1'],
    ]);
    expect(sender.records[0]!.key).toBe('web-01');
    expect(decodeBatch(sender.records[0]!.value).events.map((e) => (e as unknown as { message: string }).message)).toEqual(['m1', 'm2']);
    expect(commits).toEqual([{ source: 'file:a', cursor: 100 }]);
    await shipper.stop(1000);
  });

  it('flushes on the interval and retries a failed send until it is acknowledged', async () => {
    const sender = new MemorySender();
    sender.failNext = 3;
    const { shipper, metrics } = make(tmp(), { flushIntervalMs: 100 }, sender);
    shipper.start();
    shipper.write([ev(new Date().toISOString(), 1)]);
    await new Promise((r) => setTimeout(r, 150));
    expect(await shipper.drained(3000)).toBe(true);
    expect(sender.events()).toHaveLength(1);
    expect((await metrics.sendErrors.get()).values.reduce((s, v) => s + v.value, 0)).toBe(3);
    await shipper.stop(1000);
  });

  /** A killed run's spool: one closed segment (500 events, file:a up to 500) and one WAL (300 more, up to 800). */
  async function killedRun(dir: string): Promise<void> {
    const a = make(dir);
    a.sender.hold = new Promise(() => undefined); // Kafka never answers: segments stay spooled
    a.shipper.start();
    const base = '2026-11-22T10:00:00.000Z';
    a.shipper.write(
      Array.from({ length: 500 }, (_, i) => ev(at(base, i), i)),
      [{ source: 'file:a', cursor: 500 }],
    );
    await a.shipper.flushed();
    a.shipper.write(
      Array.from({ length: 300 }, (_, i) => ev(at(base, 1000 + i), 500 + i)),
      [{ source: 'file:a', cursor: 800 }],
    );
    // "kill -9": no stop(). One closed segment and one WAL remain.
  }

  it('recovers the WAL of a killed run and resends unacknowledged segments, then commits their positions', async () => {
    const dir = tmp();
    await killedRun(dir);
    const b = make(dir);
    const rec = b.shipper.start();
    expect(rec).toEqual({ segments: 1, walEvents: 300, quarantined: 0 });
    expect(await b.shipper.drained(3000)).toBe(true);
    const ids = b.sender.events().map((e) => (e as unknown as { event: { id: string } }).event.id);
    expect(new Set(ids).size).toBe(800);
    expect(b.commits).toEqual([
      { source: 'file:a', cursor: 500 },
      { source: 'file:a', cursor: 800 },
    ]);
    await b.shipper.stop(1000);
  });

  it("quarantines a corrupt segment found at start (with a note saying why) and then commits none of the previous run's positions", async () => {
    const dir = tmp();
    await killedRun(dir);
    writeFileSync(join(dir, 'seg', '0000000000009999.seg'), Buffer.from('BLSG\x01garbage'));
    const b = make(dir);
    const rec = b.shipper.start();
    expect(rec).toEqual({ segments: 1, walEvents: 300, quarantined: 1 });
    expect(await b.shipper.drained(3000)).toBe(true);
    const ids = b.sender.events().map((e) => (e as unknown as { event: { id: string } }).event.id);
    expect(new Set(ids).size).toBe(800);
    // What the damaged file held (and from which sources) is unknown: the inputs resume from their
    // checkpoints, before every unacknowledged line of the previous run, and read the lost ones again.
    expect(b.commits).toEqual([]);
    const q = readdirSync(join(dir, 'quarantine')).sort();
    expect(q).toHaveLength(2);
    expect(q[1]).toBe(`${q[0]}.json`);
    expect(JSON.parse(readFileSync(join(dir, 'quarantine', q[1]!), 'utf8'))).toMatchObject({ reason: 'checksum' });
    expect((await b.metrics.quarantined.get()).values[0]).toMatchObject({ value: 1, labels: { kind: 'segment', reason: 'checksum' } });
    await b.shipper.stop(1000);
  });

  it('a WAL left beside its whole batch in segments (killed before the delete completed) is deleted, not sent twice', async () => {
    const base = '2026-11-22T10:00:00.000Z';
    for (const split of [false, true]) {
      const dir = tmp();
      // split: records over the cap are cut into several segments; one of them is lost with the crash.
      const a = make(dir, split ? { maxRecordBytes: 800 } : {});
      a.sender.hold = new Promise(() => undefined); // Kafka never answers: the segments stay spooled
      a.shipper.start();
      a.shipper.write(
        Array.from({ length: 200 }, (_, i) => ev(at(base, i), i)),
        [{ source: 'file:a', cursor: 200 }],
      );
      const walDir = join(dir, 'wal');
      const [wal] = readdirSync(walDir);
      const walBytes = readFileSync(join(walDir, wal!));
      await a.shipper.flushed();
      for (let i = 0; i < 100 && readdirSync(walDir).length > 0; i++) await new Promise((r) => setTimeout(r, 10));
      // "kill -9" before the WAL's delete: it is back beside the segments of its batch.
      writeFileSync(join(walDir, wal!), walBytes);
      const segs = readdirSync(join(dir, 'seg')).sort();
      expect(segs.length > 1).toBe(split);
      if (split) rmSync(join(dir, 'seg', segs[segs.length - 1]!)); // crashed between the renames
      const b = make(dir);
      const rec = b.shipper.start();
      // Whole batch in segments: the WAL is dropped. Part of it missing: the WAL is replayed (same ids).
      expect(rec.walEvents).toBe(split ? 200 : 0);
      expect(await b.shipper.drained(3000)).toBe(true);
      const ids = b.sender.events().map((e) => (e as unknown as { event: { id: string } }).event.id);
      expect(new Set(ids).size).toBe(200);
      if (!split) expect(ids).toHaveLength(200);
      await b.shipper.stop(1000); // waits for the spool's deletes
      expect(readdirSync(walDir)).toEqual([]);
    }
  });

  it('block: write() returns false when the spool is full and signals when it drains', async () => {
    const sender = new MemorySender();
    let release!: () => void;
    sender.hold = new Promise<void>((r) => (release = r));
    const { shipper } = make(tmp(), { spoolMaxBytes: 2000, whenFull: 'block' }, sender);
    shipper.start();
    let woke = 0;
    shipper.onWritable(() => woke++);
    const base = new Date().toISOString();
    expect(shipper.write([ev(base, 1)])).toBe(true);
    const ok = shipper.write(Array.from({ length: 50 }, (_, i) => ev(base, 10 + i)));
    expect(ok).toBe(false);
    expect(shipper.writable).toBe(false);
    expect(shipper.retryAfterSeconds).toBeGreaterThanOrEqual(1);
    shipper.flush();
    sender.hold = undefined;
    release();
    expect(await shipper.drained(2000)).toBe(true);
    expect(shipper.writable).toBe(true);
    expect(woke).toBe(1);
    expect(sender.events()).toHaveLength(51);
    await shipper.stop(1000);
  });

  it('block: a full WAL that closes into a smaller gzip segment lifts the block without any ack', async () => {
    const sender = new MemorySender();
    sender.hold = new Promise(() => undefined); // the next hop never answers (Kafka down)
    const { shipper } = make(tmp(), { spoolMaxBytes: 4000, whenFull: 'block' }, sender);
    shipper.start();
    let woke = 0;
    shipper.onWritable(() => woke++);
    const base = new Date().toISOString();
    expect(shipper.write(Array.from({ length: 60 }, (_, i) => ev(base, i)))).toBe(false);
    await shipper.flushed();
    expect(shipper.writable).toBe(true);
    expect(woke).toBe(1);
  });

  it('drop_oldest: deletes the oldest unsent segment and counts its events', async () => {
    const sender = new MemorySender();
    sender.hold = new Promise(() => undefined);
    const { shipper, metrics } = make(tmp(), { spoolMaxBytes: 1500, whenFull: 'drop_oldest', maxInFlight: 1 }, sender);
    shipper.start();
    for (let i = 0; i < 6; i++) {
      shipper.write(Array.from({ length: 20 }, (_, j) => ev(new Date().toISOString(), i * 100 + j)));
      await shipper.flushed();
    }
    const dropped = (await metrics.dropped.get()).values.find((v) => v.labels.reason === 'spool_full')?.value ?? 0;
    expect(dropped).toBeGreaterThan(0);
    expect(dropped % 20).toBe(0);
    expect(shipper.writable).toBe(true);
  });
});
