// Issue 17 §5: the spool on a disk that fills up, with a real full file system (a small tmpfs) or, where
// mounting is refused, a real file-size limit (EFBIG) — libs/testing smallDisk. The limit or the filler
// applies to this test process only while a test holds it (try/finally gives it back).
import { readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '@backlog/adapter-kafka';
import { decodeBatch, decodeWal, harvestTopic } from '@backlog/core-codec';
import { isNoSpaceError } from '@backlog/core-pipeline';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { type SmallDisk, smallDisk, stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { KafkaSender } from '../shipping/kafka-sender';
import { shippingMetrics } from '../shipping/metrics';
import { Shipper, defaultShipperOptions } from '../shipping/shipper';
import { Spool } from './spool';

const disks: SmallDisk[] = [];
afterAll(() => {
  for (const d of disks) {
    d.free(process.pid);
    d.close();
  }
});

function disk(bytes = 2 * 1024 * 1024): SmallDisk {
  const d = smallDisk({ bytes });
  disks.push(d);
  return d;
}

const meta = (batchId: string) => ({ batchId, window: 5984472, host: 'web-01', createdAtMs: 1 });
const line = (i: number, pad = 0) => JSON.stringify({ '@timestamp': '2026-11-22T10:00:00.000Z', message: `m${i} ${'x'.repeat(pad)}`, event: { id: `id${i}` } });

describe('spool on a full disk', () => {
  it('a WAL append the disk refuses — a short write, then ENOSPC/EFBIG — leaves no trace on disk or in memory', () => {
    const d = disk();
    const spool = new Spool({ dir: join(d.dir, 'spool'), fsync: false });
    spool.open();
    const w = spool.createWal(meta('b1'));
    spool.appendWal(w, [line(1)], [{ source: 'file:a', cursor: 10 }]);
    const before = readFileSync(w.file).length;
    const spoolBytes = spool.bytes;
    let refused: unknown;
    d.fill(process.pid, 8 * 1024);
    try {
      // 64 KiB into 8 KiB of room: the kernel takes part of it, then refuses the rest.
      spool.appendWal(w, [line(2, 64 * 1024)], [{ source: 'file:a', cursor: 20 }]);
    } catch (err) {
      refused = err;
    } finally {
      d.free(process.pid);
    }
    expect(isNoSpaceError(refused)).toBe(true);
    // Cut back to the last whole chunk, and not counted in the spool's size.
    expect(readFileSync(w.file).length).toBe(before);
    expect(spool.bytes).toBe(spoolBytes);
    // Space returned: the next append continues a valid file, and memory holds what the file holds.
    spool.appendWal(w, [line(3)], [{ source: 'file:a', cursor: 30 }]);
    const decoded = decodeWal(readFileSync(w.file));
    expect(decoded.tail).toBe('clean');
    expect(decoded.lines).toEqual([`${line(1)}\n`, `${line(3)}\n`]);
    expect(decoded.positions).toEqual([
      { source: 'file:a', cursor: 10 },
      { source: 'file:a', cursor: 30 },
    ]);
    expect(w.takeLines().toString()).toBe(`${line(1)}\n${line(3)}\n`);
  });

  it('a segment write the disk refuses leaves no tmp file behind, and a WAL header that does not fit leaves no WAL', () => {
    const d = disk();
    const spool = new Spool({ dir: join(d.dir, 'spool'), fsync: true });
    spool.open();
    const value = Buffer.alloc(256 * 1024, 1);
    const segMeta = { batchId: 'b1', key: 'web-01', headers: {}, count: 1, rawBytes: 1, createdAtMs: 1, positions: [] };
    const errors: unknown[] = [];
    d.fill(process.pid, 4 * 1024);
    try {
      for (const attempt of [() => spool.writeSegments([{ meta: segMeta, value }]), () => spool.createWal({ ...meta('b2'), host: 'h'.repeat(64 * 1024) })]) {
        try {
          attempt();
        } catch (err) {
          errors.push(err);
        }
      }
    } finally {
      d.free(process.pid);
    }
    expect(errors.map(isNoSpaceError)).toEqual([true, true]);
    expect(readdirSync(spool.tmpDir)).toEqual([]);
    expect(readdirSync(spool.segDir)).toEqual([]);
    expect(readdirSync(spool.walDir)).toEqual([]);
    expect(spool.bytes).toBe(0);
  });

  it('Shipper: a refused write is held, not counted, and pushes back; the periodic retry writes it once space returns; nothing is lost', async () => {
    const info = stackInfo();
    const env = testNamespace('diskfull');
    const topic = harvestTopic(env);
    const kafka = createKafka({ brokers: info.kafka.brokers, clientId: 'disk-full-spec' });
    const admin = kafka.admin();
    await admin.connect();
    await admin.ensureTopics([{ topic, partitions: 1 }]);
    await admin.disconnect();
    const d = disk();
    const registry = new MetricsRegistry();
    const metrics = shippingMetrics(registry);
    const commits: unknown[] = [];
    const sender = new KafkaSender(kafka, topic);
    const shipper = new Shipper(
      { ...defaultShipperOptions, host: 'web-01', flushIntervalMs: 200 },
      { spool: new Spool({ dir: join(d.dir, 'spool'), fsync: false }), sender, metrics, onCommit: (p) => commits.push(...p) },
    );
    shipper.start();
    const value = async (m: { get(): Promise<{ values: { value: number; labels: Record<string, unknown> }[] }> }, labels: Record<string, string> = {}) =>
      (await m.get()).values.filter((v) => Object.entries(labels).every(([k, x]) => v.labels[k] === x)).reduce((s, v) => s + v.value, 0);
    const now = new Date().toISOString();
    const ev = (i: number) => ({ '@timestamp': now, message: `m${i} ${'y'.repeat(2000)}`, event: { id: `${env}-${i}` }, host: { name: 'web-01' } });
    let woke = 0;
    shipper.onWritable(() => woke++);
    try {
      expect(shipper.write([ev(0)], [{ source: 'file:a', cursor: 10 }])).toBe(true);
      d.fill(process.pid, 0);
      // Refused: held in memory, the inputs are told to pause, nothing counted as received.
      expect(shipper.write([ev(1), ev(2)], [{ source: 'file:a', cursor: 20 }])).toBe(false);
      expect(shipper.writable).toBe(false);
      expect(shipper.diskState).toBe('disk_full');
      // A write already on its way (another connection) waits behind it, in order.
      expect(shipper.write([ev(3)], [{ source: 'file:a', cursor: 30 }])).toBe(false);
      expect(await value(metrics.received)).toBe(1);
      expect(await value(metrics.heldEvents)).toBe(3);
      expect(await value(metrics.diskFull)).toBe(1);
      // Retried every second while the disk stays full.
      await waitFor('a second refused retry', async () => (await value(metrics.writeErrors, { reason: 'no_space' })) >= 2, 10_000, 100);
      expect(shipper.writable).toBe(false);
      expect(await value(metrics.received)).toBe(1);
    } finally {
      d.free(process.pid);
    }
    // Space returned: the retry writes the held events, counts them, and the inputs are woken.
    await waitFor('the inputs woken', async () => woke === 1, 10_000, 50);
    expect(shipper.diskState).toBeUndefined();
    expect(await value(metrics.received)).toBe(4);
    expect(await value(metrics.heldEvents)).toBe(0);
    expect(await value(metrics.diskFull)).toBe(0);
    shipper.flush();
    expect(await shipper.drained(30_000)).toBe(true);
    expect(commits.at(-1)).toEqual({ source: 'file:a', cursor: 30 });
    await shipper.stop(5_000);
    // Every event reached Kafka.
    const consumer = kafka.consumer({ groupId: `${env}-reader` });
    await consumer.connect();
    const ids = new Set<string>();
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run(async (b) => {
      for (const r of b.records) for (const e of decodeBatch<{ event: { id: string } }>(r.value!).events) ids.add(e.event.id);
    });
    await waitFor('4 events in Kafka', async () => ids.size === 4, 30_000, 200);
    await consumer.disconnect();
    expect([...ids].sort()).toEqual([0, 1, 2, 3].map((i) => `${env}-${i}`).sort());
  });
});
