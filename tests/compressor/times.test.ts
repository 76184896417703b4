// The compressor and event times it cannot file (ADR 0015), against the real Kafka and S3 server, run as a
// real child process. A harvester without ADR 0015 wrote `9999-12-31` and `0001-01-01` into h-<env> as the
// source claimed them; such a window never sealed (neither the capped watermark nor the wall clock reaches
// it), so its open part held the partition's commit back for good. Now the events are archived at their
// event.created with the claimed time kept and flagged, everything is committed, and no part lies under a
// far-future or pre-1970 key.
import { execFileSync } from 'node:child_process';
import { gzipSync } from 'node:zlib';
import { harvestTopic, windowId, windowOf } from '@backlog/core-codec';
import { stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { fullyCommitted } from '../es-consumer/helpers';
import { type Rec, exited, manifests, produce, s3Of, startCompressor, waitFor } from './helpers';
import { createKafka } from '@backlog/adapter-kafka';

describe('compressor: times beyond the skew or before 1970 (ADR 0015)', () => {
  const info = stackInfo();
  const env = testNamespace('cmpt');
  const s3 = s3Of(info);
  afterAll(() => s3.close());

  it('archives them at event.created, flagged, commits past them, and writes no far-future or pre-1970 part', async () => {
    // 10 s into a window of an hour ago: one window, which the idle rule seals at once.
    const t0 = windowOf(Date.now() - 3_600_000) * 300_000 + 10_000;
    const iso = (ms: number) => new Date(ms).toISOString();
    const ev = (ts: string, id: string, created: number) => ({
      '@timestamp': ts,
      event: { id, created: iso(created) },
      host: { name: 'old-harvester' },
      message: `m ${id}`,
      labels: { env, input: 'http' },
    });
    const rec = (events: object[]): Rec => ({
      key: 'old-harvester',
      value: gzipSync(Buffer.from(`${events.map((e) => JSON.stringify(e)).join('\n')}\n`)),
      headers: { schema: '1', 'content-encoding': 'gzip', count: String(events.length) },
    });
    const records = [
      rec([ev(iso(t0), 'plain', t0)]),
      rec([ev('9999-12-31T23:59:59.000Z', 'far', t0 + 1000)]),
      rec([ev('0001-01-01T00:00:00.000Z', 'old', t0 + 2000)]),
      rec([ev(iso(t0 + 3000), 'after', t0 + 3000)]),
    ];
    await produce(info, env, records, 1);
    const c = startCompressor(info, env, { BACKLOG_COMPRESSOR_GRACE_SECONDS: '0', BACKLOG_COMPRESSOR_IDLE_SECONDS: '1' });
    const kafka = createKafka({ brokers: info.kafka.brokers, clientId: `test-${env}`, logLevel: 'nothing' });
    try {
      await c.ready;
      await waitFor(
        'every event archived and every offset committed',
        async () => {
          const n = (await manifests(s3, env)).reduce((k, x) => k + x.m.count, 0);
          return n === 4 && (await fullyCommitted(kafka, `compressor-${env}`, harvestTopic(env)));
        },
        60_000,
      ).catch((e: Error) => {
        throw new Error(`${e.message}\n${c.output().slice(-3000)}`);
      });
    } finally {
      c.child.kill('SIGTERM');
      await exited(c.child);
    }
    const ms = await manifests(s3, env);
    expect(new Set(ms.map((x) => x.m.window))).toEqual(new Set([windowId(windowOf(t0))]));
    const lines: Record<string, any>[] = [];
    for (const { key } of ms) {
      expect(key.startsWith(`${env}/${iso(t0).slice(0, 13).replace(/[-T]/g, '/')}/`), key).toBe(true);
      const obj = await s3.get(key.replace(/\.json$/, '.log.bz2'));
      lines.push(
        ...execFileSync('bzip2', ['-d', '-c'], { input: obj })
          .toString()
          .trim()
          .split('\n')
          .map((l) => JSON.parse(l) as Record<string, any>),
      );
    }
    lines.sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));
    expect(lines.map((l) => l.event.id)).toEqual(['plain', 'far', 'old', 'after']);
    expect(lines[1]).toMatchObject({ '@timestamp': iso(t0 + 1000), labels: { env, input: 'http', timestamp_original: '9999-12-31T23:59:59.000Z', timestamp_replaced: 'future' } });
    expect(lines[2]).toMatchObject({ '@timestamp': iso(t0 + 2000), labels: { timestamp_original: '0001-01-01T00:00:00.000Z', timestamp_replaced: 'before_epoch' } });
    expect(lines[0]?.labels.timestamp_replaced).toBeUndefined();
  }, 120_000);
});
