// backlog archive replay against the real S3Proxy and Kafka: the CLI as a child process; the
// replayed topic is read back as h-<env> batches, and archived again by the real compressor.
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka } from '@backlog/adapter-kafka';
import type { S3Port } from '@backlog/adapter-s3';
import { windowStartMs } from '@backlog/core-codec';
import { stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { archivedIds, exited, startCompressor, waitFor } from '../compressor/helpers';
import { type Built, deletePrefix, runCli, s3Of, sleep, summaryOf, topicEventIds, writeArchive } from './helpers';

const W0 = Math.floor(Date.UTC(2026, 2, 9, 14, 0, 0) / 300_000);

function counts(ids: string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const id of ids) m.set(id, (m.get(id) ?? 0) + 1);
  return m;
}

describe('backlog archive replay', () => {
  const info = stackInfo();
  const env = testNamespace('arcrep');
  const cwd = mkdtempSync(join(tmpdir(), 'backlog-archive-replay-'));
  const topics: string[] = [];
  let s3: S3Port;
  let parts: Built[];
  const from = windowStartMs(W0) + 40_000;
  const to = windowStartMs(W0 + 3) + 200_000;
  const args = ['--env', env, '--from', String(from / 1000), '--to', String(to / 1000)];
  let want: string[];
  const inRange = (b: Built) => b.lines.filter((l) => l.ts >= from && l.ts < to).map((l) => l.id);

  beforeAll(async () => {
    s3 = s3Of(info);
    await s3.ensureBucket();
    // 4 windows × 2 partitions; 1,500 events a part, so a part is several h-<env> records.
    parts = await writeArchive(s3, env, W0, 4, 2, 1500);
    want = parts.flatMap(inRange).sort();
  }, 120_000);

  afterAll(async () => {
    await deletePrefix(s3, `${env}/`);
    s3.close();
    const admin = createKafka({ brokers: info.kafka.brokers, clientId: 'test-archive-cleanup' }).admin();
    await admin.connect();
    await admin.deleteTopics(topics);
    await admin.disconnect();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('into a fresh topic: every event of the range once, as h-<env> batches; the summary on stdout', async () => {
    const topic = `replay-${env}`;
    topics.push(topic);
    const r = await runCli(info, ['archive', 'replay', ...args, '--topic', topic, '--partitions', '2'], { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    const s = summaryOf(r.stdout);
    expect(s).toMatchObject({ op: 'replay', topic, parts: 8, partsDone: 8, events: want.length, ok: true });
    const got = await topicEventIds(info, topic);
    expect(got.records).toBe(s.records);
    expect(got.records).toBeGreaterThan(8); // several batches per part (one per host at least)
    expect(got.ids.sort()).toEqual(want);
    expect(new Set(got.batchIds).size).toBe(got.records);
  }, 180_000);

  it('refuses the live topic of the same env', async () => {
    const r = await runCli(info, ['archive', 'replay', ...args, '--topic', `h-${env}`], { cwd }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/live topic of env .*--force to do it anyway/);
  }, 60_000);

  it('killed in the middle of a part and resumed: finished parts are not produced again', async () => {
    const topic = `replay2-${env}`;
    topics.push(topic);
    const state = join(cwd, 'replay2.json');
    const run = runCli(info, ['archive', 'replay', ...args, '--topic', topic, '--state', state], { cwd, env: { BACKLOG_TEST_ARCHIVE_STALL_AFTER_PARTS: '1' } });
    let stderr = '';
    run.child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 900 && !stderr.includes('stalled'); i++) await sleep(100);
    expect(stderr).toContain('stalled');
    const cp = JSON.parse(readFileSync(state, 'utf8')) as { done: Record<string, { events: number }> };
    expect(Object.keys(cp.done)).toHaveLength(1);
    run.child.kill('SIGKILL');
    await run.done;
    const r = await runCli(info, ['archive', 'replay', ...args, '--topic', topic, '--state', state], { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stdout)).toMatchObject({ resumed: true, partsAlreadyDone: 1, partsDone: 7, ok: true });
    const got = counts((await topicEventIds(info, topic)).ids);
    expect([...got.keys()].sort()).toEqual(want);
    // Parts are replayed in window, partition order: parts[0] finished before the kill, parts[1] was interrupted.
    const [first, interrupted, ...rest] = parts as [Built, Built, ...Built[]];
    for (const id of inRange(first)) expect(got.get(id)).toBe(1);
    for (const b of rest) for (const id of inRange(b)) expect(got.get(id)).toBe(1);
    // The interrupted part's first record(s) exist twice (same batch ids, same event ids), nothing else.
    const twice = inRange(interrupted).filter((id) => got.get(id) === 2);
    expect(twice.length).toBeGreaterThan(0);
    expect(inRange(interrupted).every((id) => (got.get(id) ?? 0) >= 1 && (got.get(id) ?? 0) <= 2)).toBe(true);
  }, 240_000);

  it('the replayed topic is an h-<env> topic: the compressor archives every event again', async () => {
    const env2 = testNamespace('arcrep2');
    topics.push(`h-${env2}`, `c-${env2}`);
    const r = await runCli(info, ['archive', 'replay', ...args, '--topic', `h-${env2}`], { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    const c = startCompressor(info, env2);
    try {
      await c.ready;
      const ids = await waitFor(
        'the compressor to archive the replayed events',
        async () => {
          const got = await archivedIds(s3, env2);
          return got.length >= want.length ? got : undefined;
        },
        120_000,
        1000,
      );
      expect(ids.sort()).toEqual(want);
    } finally {
      c.child.kill('SIGTERM');
      await exited(c.child);
      await deletePrefix(s3, `${env2}/`);
    }
  }, 240_000);
});
