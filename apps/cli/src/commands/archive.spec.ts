import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { type BatchEvent, decodeBatch } from '@backlog/core-codec';
import { afterAll, describe, expect, it } from 'vitest';
import { DEFAULT_REPLAY_BATCH, ReplayBatcher, replayTargetRefusal } from './archive-replay';
import { CheckpointStore, Progress, type RunSummary, defaultStatePath, exitCodeOf, humanBytes, humanDuration } from './archive-run';

describe('archive export/replay: checkpoint', () => {
  const dir = mkdtempSync(join(tmpdir(), 'backlog-archive-cp-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const id = { op: 'export' as const, env: 'dev', from: '2026-11-22T10:00:00.000Z', to: '2026-11-22T11:00:00.000Z', filter: '', out: '/tmp/x.ndjson' };

  it('names the default file after op, env, range (epoch seconds in base36) and topic', () => {
    const fromMs = Date.parse(id.from);
    const toMs = Date.parse(id.to);
    expect(defaultStatePath('/r', { op: 'export', env: 'dev', fromMs, toMs })).toBe(`/r/.backlog/archive/export-dev-${(fromMs / 1000).toString(36)}-${(toMs / 1000).toString(36)}.json`);
    expect(defaultStatePath('/r', { op: 'replay', env: 'dev', fromMs, toMs, topic: 'replay/x' })).toMatch(/\/replay-dev-[0-9a-z]+-[0-9a-z]+-replay_x\.json$/);
  });

  it('records finished parts and output lengths atomically, and resumes them', () => {
    const path = join(dir, 'a', 'cp.json');
    const cp = CheckpointStore.open(path, id, false);
    expect(cp.resumed).toBe(false);
    cp.finish('k1', { events: 10, outBytes: 1000 });
    cp.skip('k2', 'SHA256_MISMATCH: bad');
    const again = CheckpointStore.open(path, id, false);
    expect(again.resumed).toBe(true);
    expect(again.state.outBytes).toBe(1000);
    expect(again.isDone('k1') && again.isDone('k2') && !again.isDone('k3')).toBe(true);
    expect(readdirSync(join(dir, 'a'))).toEqual(['cp.json']); // no temp file left
    expect(CheckpointStore.open(path, id, true).isDone('k1')).toBe(false);
  });

  it('refuses the checkpoint of another run, naming the difference', () => {
    const path = join(dir, 'b.json');
    CheckpointStore.open(path, id, false).save();
    expect(() => CheckpointStore.open(path, { ...id, filter: 'level=error' }, false)).toThrow(/belongs to another run \(filter "" ≠ "level=error"\); use --restart/);
    writeFileSync(path, '{"v":1,');
    expect(() => CheckpointStore.open(path, id, false)).toThrow(/not JSON/);
  });
});

describe('archive replay: h-<env> batches', () => {
  const line = (i: number, host: string) =>
    JSON.stringify({ '@timestamp': new Date(Date.UTC(2026, 10, 22, 10, 0, 0) + i * 10).toISOString(), event: { id: `e${i}` }, host: { name: host }, message: `m${i} ${'x'.repeat(200)}` });
  const lines = Array.from({ length: 3000 }, (_, i) => line(i, `web-${i % 3}`));

  function run(opts = DEFAULT_REPLAY_BATCH) {
    const b = new ReplayBatcher('dev/2026/11/22/10/abc/p0-1.log.bz2', opts);
    const recs = [];
    for (const l of lines) recs.push(...b.add(JSON.parse(l) as BatchEvent, l));
    recs.push(...b.flush());
    return recs;
  }

  it("keys batches by host, keeps each host's order, cuts by size, and loses nothing", () => {
    const recs = run({ maxRawBytes: 64 * 1024, maxValueBytes: 900 * 1024, maxPendingBytes: 1 << 30 });
    expect(recs.length).toBeGreaterThan(3);
    const perHost = new Map<string, string[]>();
    for (const r of recs) {
      const d = decodeBatch(r.value);
      expect(r.headers?.host).toBe(r.key);
      expect(Number(r.headers?.count)).toBe(d.events.length);
      expect(gunzipSync(r.value).length).toBeLessThanOrEqual(64 * 1024);
      const host = r.key as string;
      perHost.set(host, [...(perHost.get(host) ?? []), ...d.events.map((e) => JSON.stringify(e))]);
    }
    for (const [host, got] of perHost) expect(got).toEqual(lines.filter((l) => (JSON.parse(l) as { host: { name: string } }).host.name === host));
  });

  it('halves a batch whose gzip value is over the record cap', () => {
    const recs = run({ maxRawBytes: 1 << 30, maxValueBytes: 4 * 1024, maxPendingBytes: 1 << 30 });
    expect(recs.every((r) => r.value.length <= 4 * 1024)).toBe(true);
    expect(recs.reduce((a, r) => a + decodeBatch(r.value).events.length, 0)).toBe(lines.length);
  });

  it('bounds the events held for all hosts together', () => {
    const b = new ReplayBatcher('k', { maxRawBytes: 1 << 30, maxValueBytes: 1 << 30, maxPendingBytes: 50 * 1024 });
    let emitted = 0;
    for (const l of lines) emitted += b.add(JSON.parse(l) as BatchEvent, l).length;
    expect(emitted).toBeGreaterThan(0);
  });

  it('gives the same part the same batch ids on every run (a resumed replay repeats ids, not invents new ones)', () => {
    const a = run().map((r) => r.headers?.['batch-id']);
    const b = run().map((r) => r.headers?.['batch-id']);
    expect(a).toEqual(b);
    expect(new Set(a).size).toBe(a.length);
    expect(a[0]).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-5[0-9a-f]{3}-a[0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('refuses the live topic of the same env and c-* topics', () => {
    expect(replayTargetRefusal('dev', 'h-dev')).toMatch(/live topic of env dev/);
    expect(replayTargetRefusal('dev', 'c-dev')).toMatch(/compressed-parts topic/);
    expect(replayTargetRefusal('dev', 'h-dev-replay')).toBeUndefined();
    expect(replayTargetRefusal('dev', 'h-staging')).toBeUndefined();
  });
});

describe('archive export/replay: progress and exit status', () => {
  it('shows parts, events, bytes, rate and ETA', () => {
    const p = new Progress(10, 100 * 1024 * 1024, undefined, 0);
    p.parts = 4;
    p.events = 12_345;
    p.bytes = 25 * 1024 * 1024;
    const line = p.line(Date.now() + 10_000);
    expect(line).toMatch(/^parts 4\/10 {2}events 12,345 {2}25\.0 MiB\/100\.0 MiB {2}1,2\d\d ev\/s {2}ETA 00:3\d$/);
    expect(humanDuration(3725)).toBe('1:02:05');
    expect(humanDuration(Infinity)).toBe('--:--');
    expect(humanBytes(512)).toBe('512 B');
  });

  it('exit 0 when complete, 3 when parts were left out, 130 when stopped', () => {
    const base = { ok: true, stopped: false } as RunSummary;
    expect(exitCodeOf(base)).toBe(0);
    expect(exitCodeOf({ ...base, ok: false })).toBe(3);
    expect(exitCodeOf({ ...base, ok: false, stopped: true })).toBe(130);
  });
});
