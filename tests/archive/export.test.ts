// backlog archive export against the real S3Proxy: the CLI as a child process, parts written with
// the codec's part builders and the system bzip2.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { stackInfo, testNamespace } from '@backlog/testing';
import { partKey, windowOf, windowStartMs } from '@backlog/core-codec';
import { compileFilter } from '@backlog/core-query';
import { logsCatalogue } from '@backlog/adapter-search';
import type { S3Port } from '@backlog/adapter-s3';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Built, deletePrefix, runCli, s3Of, sleep, storePart, summaryOf, writeArchive } from './helpers';

const W0 = Math.floor(Date.UTC(2026, 1, 3, 8, 0, 0) / 300_000);
const idOf = (l: string) => (JSON.parse(l) as { event: { id: string } }).event.id;
const tsOf = (l: string) => Date.parse((JSON.parse(l) as { '@timestamp': string })['@timestamp']);
const linesOf = (text: string) => text.split('\n').filter(Boolean);

describe('backlog archive export', () => {
  const info = stackInfo();
  const env = testNamespace('arcexp');
  const cwd = mkdtempSync(join(tmpdir(), 'backlog-archive-export-'));
  let s3: S3Port;
  let parts: Built[];
  // Range edges cut through the first and the last window.
  const from = windowStartMs(W0) + 100_000;
  const to = windowStartMs(W0 + 3) + 150_000;
  const args = ['--env', env, '--from', new Date(from).toISOString(), '--to', new Date(to).toISOString()];
  let want: string[];

  beforeAll(async () => {
    s3 = s3Of(info);
    await s3.ensureBucket();
    parts = await writeArchive(s3, env, W0, 4, 2, 600);
    want = parts
      .flatMap((b) => b.lines)
      .filter((l) => l.ts >= from && l.ts < to)
      .map((l) => l.id)
      .sort();
  }, 120_000);

  afterAll(async () => {
    await deletePrefix(s3, `${env}/`);
    s3.close();
    rmSync(cwd, { recursive: true, force: true });
  });

  it('writes exactly the events of [from, to), windows in order, and a JSON summary on stderr', async () => {
    const out = join(cwd, 'full.ndjson');
    const r = await runCli(info, ['archive', 'export', ...args, '--out', out], { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    const s = summaryOf(r.stderr);
    expect(s).toMatchObject({ op: 'export', env, parts: 8, partsDone: 8, events: want.length, ok: true, corrupt: [], problems: [], resumed: false });
    expect(s.state).toBe(join(cwd, '.backlog', 'archive', `export-${env}-${Math.floor(from / 1000).toString(36)}-${Math.floor(to / 1000).toString(36)}.json`));
    const lines = linesOf(readFileSync(out, 'utf8'));
    expect(lines.length).toBe(want.length);
    expect(lines.map(idOf).sort()).toEqual(want);
    const windows = lines.map((l) => windowOf(tsOf(l)));
    expect(windows.every((w, i) => i === 0 || w >= (windows[i - 1] as number))).toBe(true);
    expect(lines.every((l) => tsOf(l) >= from && tsOf(l) < to)).toBe(true);
    // Run again: every part is finished, nothing is written twice.
    const again = await runCli(info, ['archive', 'export', ...args, '--out', out], { cwd }).done;
    expect(again.code, again.stderr).toBe(0);
    expect(summaryOf(again.stderr)).toMatchObject({ resumed: true, partsDone: 0, partsAlreadyDone: 8, events: 0 });
    expect(linesOf(readFileSync(out, 'utf8')).length).toBe(want.length);
  }, 120_000);

  it('to stdout, with a filter', async () => {
    const r = await runCli(info, ['archive', 'export', ...args, '--filter', 'level=ERROR', '--filter', 'message~TIMEOUT'], { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    const match = parts
      .flatMap((b) => b.lines)
      .filter((l) => {
        const e = JSON.parse(l.line) as { log: { level: string }; message: string };
        return l.ts >= from && l.ts < to && e.log.level === 'error' && e.message.includes('timeout');
      });
    expect(match.length).toBeGreaterThan(0);
    expect(linesOf(r.stdout).map(idOf).sort()).toEqual(match.map((l) => l.id).sort());
    // The older forms are read as the query language (ADR 0009 addendum): the summary shows the text.
    expect(summaryOf(r.stderr)).toMatchObject({ filter: 'log.level:error AND message:"timeout"', events: match.length, ok: true });
  }, 120_000);

  it('with a query-language filter: what compileFilter keeps of the same lines; a bad filter is a usage error at its column', async () => {
    const q = '-level:info AND message:"after a timeout" AND host:*';
    const r = await runCli(info, ['archive', 'export', ...args, `--filter=${q}`], { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    const keep = compileFilter(q, logsCatalogue('elasticsearch'));
    const match = parts.flatMap((b) => b.lines).filter((l) => l.ts >= from && l.ts < to && keep(JSON.parse(l.line)));
    const byHand = parts
      .flatMap((b) => b.lines)
      .filter((l) => {
        const e = JSON.parse(l.line) as { log: { level: string }; message: string };
        return l.ts >= from && l.ts < to && e.log.level !== 'info' && e.message.endsWith(' after a timeout');
      });
    expect(match.length).toBeGreaterThan(0);
    expect(match.map((l) => l.id).sort()).toEqual(byHand.map((l) => l.id).sort());
    expect(linesOf(r.stdout).map(idOf).sort()).toEqual(match.map((l) => l.id).sort());
    expect(summaryOf(r.stderr)).toMatchObject({ filter: 'NOT level:info AND message:"after a timeout" AND host:*', events: match.length, ok: true });

    const bad = await runCli(info, ['archive', 'export', ...args, '--filter', 'level:error | stats count()'], { cwd }).done;
    expect(bad.code).toBe(64);
    expect(bad.stdout).toBe('');
    expect(bad.stderr).toContain('level:error | stats count()\n              ^^^^^^^^^^^^^ a filter takes no | stats command here');
  }, 120_000);

  it('killed in the middle of a part and resumed: the same bytes as an uninterrupted export, no line twice', async () => {
    const out = join(cwd, 'resumed.ndjson');
    const state = join(cwd, 'resumed-state.json');
    const run = runCli(info, ['archive', 'export', ...args, '--out', out, '--state', state], { cwd, env: { BACKLOG_TEST_ARCHIVE_STALL_AFTER_PARTS: '1' } });
    let stderr = '';
    run.child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    for (let i = 0; i < 600 && !stderr.includes('stalled'); i++) await sleep(100);
    expect(stderr).toContain('stalled');
    const cp = JSON.parse(readFileSync(state, 'utf8')) as { done: Record<string, { outBytes: number }>; outBytes: number };
    expect(Object.keys(cp.done)).toHaveLength(1);
    // Lines of the second part are in the file beyond the checkpointed length.
    expect(statSync(out).size).toBeGreaterThan(cp.outBytes);
    run.child.kill('SIGKILL');
    const killed = await run.done;
    expect(killed.signal).toBe('SIGKILL');
    const r = await runCli(info, ['archive', 'export', ...args, '--out', out, '--state', state], { cwd }).done;
    expect(r.code, r.stderr).toBe(0);
    expect(summaryOf(r.stderr)).toMatchObject({ resumed: true, partsAlreadyDone: 1, partsDone: 7, ok: true });
    const lines = linesOf(readFileSync(out, 'utf8'));
    expect(lines.length).toBe(want.length);
    expect(new Set(lines.map(idOf)).size).toBe(want.length);
    expect(readFileSync(out)).toEqual(readFileSync(join(cwd, 'full.ndjson')));
  }, 180_000);

  it('a checkpoint of another run is refused; --restart starts over', async () => {
    const out = join(cwd, 'other.ndjson');
    const state = join(cwd, 'resumed-state.json'); // written by the previous test for another --out
    const r = await runCli(info, ['archive', 'export', ...args, '--out', out, '--state', state], { cwd }).done;
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/belongs to another run \(out .*\); use --restart/);
    const ok = await runCli(info, ['archive', 'export', ...args, '--out', out, '--state', state, '--restart'], { cwd }).done;
    expect(ok.code, ok.stderr).toBe(0);
    expect(readFileSync(out)).toEqual(readFileSync(join(cwd, 'full.ndjson')));
  }, 120_000);

  it('a corrupt part is reported and left out, exit 3; repaired, a rerun adds it; --skip-corrupt accepts the loss', async () => {
    const bad = parts[3] as Built; // window W0+1, partition 1
    const key = partKey(env, W0 + 1, 1, bad.manifest.firstOffset);
    const tampered = Buffer.from(bad.object);
    tampered[100] = (tampered[100] as number) ^ 0x55;
    await s3.put(key, tampered);
    const badIds = new Set(bad.lines.filter((l) => l.ts >= from && l.ts < to).map((l) => l.id));
    // Its own directory: the default checkpoint of this range in `cwd` belongs to the first test's --out.
    const dir = mkdtempSync(join(cwd, 'corrupt-'));
    const out = join(dir, 'corrupt.ndjson');
    const r = await runCli(info, ['archive', 'export', ...args, '--out', out], { cwd: dir }).done;
    expect(r.code).toBe(3);
    const s = summaryOf(r.stderr) as { corrupt: { code: string; key: string }[]; partsDone: number; ok: boolean };
    expect(s.corrupt).toEqual([expect.objectContaining({ code: 'SHA256_MISMATCH', key })]);
    expect(s.partsDone).toBe(7);
    expect(linesOf(readFileSync(out, 'utf8')).map(idOf).sort()).toEqual(want.filter((id) => !badIds.has(id)));
    // Repaired (the compressor rewrote it, or a restore): the rerun exports just that part.
    await storePart(s3, bad);
    const fixed = await runCli(info, ['archive', 'export', ...args, '--out', out], { cwd: dir }).done;
    expect(fixed.code, fixed.stderr).toBe(0);
    expect(summaryOf(fixed.stderr)).toMatchObject({ partsDone: 1, partsAlreadyDone: 7, ok: true, corrupt: [] });
    expect(linesOf(readFileSync(out, 'utf8')).map(idOf).sort()).toEqual(want);

    // --skip-corrupt: the loss is accepted, recorded, exit 0; a later run does not retry it and says so (exit 3 without the flag).
    await s3.put(key, tampered);
    const skip = await runCli(info, ['archive', 'export', ...args, '--out', out, '--restart', '--skip-corrupt'], { cwd: dir }).done;
    expect(skip.code, skip.stderr).toBe(0);
    expect(summaryOf(skip.stderr)).toMatchObject({ ok: true, skippedCorrupt: true, partsDone: 7, corrupt: [expect.objectContaining({ key, code: 'SHA256_MISMATCH' })] });
    expect(linesOf(readFileSync(out, 'utf8')).map(idOf).sort()).toEqual(want.filter((id) => !badIds.has(id)));
    const later = await runCli(info, ['archive', 'export', ...args, '--out', out], { cwd: dir }).done;
    expect(later.code).toBe(3);
    expect(summaryOf(later.stderr)).toMatchObject({ partsDone: 0, corrupt: [expect.objectContaining({ key })] });
    await storePart(s3, bad);
  }, 240_000);
});
