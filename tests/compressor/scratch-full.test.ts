// Issue 17 §5: the compressor (a real child process) whose scratch directory (spill files and bz2 job
// files) lies on a disk that fills up — a small tmpfs filled to the last byte (ENOSPC) or, where mounting
// is refused, the process's file-size limit lowered under it (EFBIG): libs/testing smallDisk.
// While full it must not exit and must pause: no part in S3, nothing committed, consumption stopped;
// /healthz 503 and compressor_scratch_full 1. When space returns it resumes and archives every event
// exactly once, in parts that `backlog archive verify` (sha256 against the manifest) passes.
import { type SmallDisk, smallDisk, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { verifyArchive } from '../../apps/cli/src/commands/archive';
import { metricValue, scrape } from '../shipping/helpers';
import { archivedIds, buildRecords, exited, manifests, produce, s3Of, sleep, startCompressor, waitFor } from './helpers';

const START = Date.parse('2026-11-22T10:00:00Z');

describe('compressor: scratch disk full', () => {
  const info = stackInfo();
  const env = testNamespace('cmpscr');
  const s3 = s3Of(info);
  let disk: SmallDisk | undefined;
  afterAll(() => {
    s3.close();
    disk?.close();
  });

  it('pauses without writing a part or committing, resumes when space returns, archives every event once', async () => {
    disk = smallDisk({ bytes: 64 * 1024 * 1024 });
    const { records, ids } = buildRecords({ start: START, minutes: 30, hosts: 2, perBatch: 300 });
    const c = startCompressor(info, env, {
      BACKLOG_COMPRESSOR_SPILL_DIR: `${disk.dir}/scratch`,
      // A small memory cap: the open parts spill (to the full disk) long before the windows seal.
      BACKLOG_COMPRESSOR_MEMORY_CAP_BYTES: String(1024 * 1024),
      BACKLOG_COMPRESSOR_GRACE_SECONDS: '0',
    });
    try {
      await c.ready;
      const metricsPort = (
        JSON.parse(
          c
            .output()
            .split('\n')
            .find((l) => l.includes('"ready":true'))!,
        ) as { metricsPort: number }
      ).metricsPort;
      const m = () => scrape(metricsPort);
      const alive = () => c.child.exitCode === null && c.child.signalCode === null;
      disk.fill(c.child.pid!, 0);
      await produce(info, env, records, 1);

      // Wait until consumption stops (the records taken stay the same for 3 s), then check it paused for
      // the right reason, without writing or committing anything.
      let taken = -1;
      await waitFor(
        'consumption to stop',
        async () => {
          if (!alive()) throw new Error(`compressor exited: ${c.output().slice(-2000)}`);
          const before = metricValue(await m(), 'compressor_received_records_total');
          await sleep(3000);
          const now = metricValue(await m(), 'compressor_received_records_total');
          taken = now;
          return now === before && now > 0;
        },
        90_000,
        0,
      );
      const full = await m();
      expect(alive()).toBe(true);
      expect(taken).toBeLessThan(records.length);
      expect(metricValue(full, 'compressor_parts_written_total')).toBe(0);
      expect(metricValue(full, 'compressor_committed_offset')).toBe(0);
      expect(await manifests(s3, env)).toEqual([]);
      expect(metricValue(full, 'compressor_scratch_full')).toBe(1);
      expect(metricValue(full, 'compressor_scratch_write_errors_total')).toBeGreaterThan(0);
      const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
      expect(health.status).toBe(503);
      expect(((await health.json()) as { scratch: string }).scratch).toBe('full');

      // Space returns: consumption resumes and every event is archived.
      disk.free(c.child.pid!);
      await waitFor(`all ${ids.length} events archived`, async () => (await manifests(s3, env)).reduce((n, x) => n + x.m.count, 0) === ids.length, 120_000);
      const after = await m();
      expect(metricValue(after, 'compressor_scratch_full')).toBe(0);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
      console.log(
        `[scratch-full] ${disk.mode}: ${taken}/${records.length} records taken before the pause, ${metricValue(full, 'compressor_scratch_write_errors_total')} refused writes at first report, ${metricValue(after, 'compressor_parts_written_total')} parts, ${metricValue(after, 'compressor_spilled_bytes_total')} bytes spilled`,
      );
    } finally {
      c.child.kill('SIGTERM');
      await exited(c.child);
    }
    const got = await archivedIds(s3, env);
    expect(got.length).toBe(ids.length);
    expect(new Set(got)).toEqual(new Set(ids));
    const report = await verifyArchive(s3, { env, fromMs: START, toMs: START + 30 * 60_000 });
    expect(report.problems).toEqual([]);
    expect(report.events).toBe(ids.length);
  }, 300_000);
});
