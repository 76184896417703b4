import { mkdirSync, mkdtempSync, readdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { expandGlob, segmentRegExp } from './glob';
import { type LineInfo, LineSplitter } from './lines';
import { StateFile } from './state';

function split(maxLine: number, chunks: (string | Buffer)[], flush = true) {
  const s = new LineSplitter(maxLine);
  const out: [string, LineInfo][] = [];
  const on = (l: Buffer, i: LineInfo) => out.push([l.toString('latin1'), i]);
  for (const c of chunks) s.push(Buffer.isBuffer(c) ? c : Buffer.from(c, 'latin1'), on);
  if (flush) s.flush(on);
  return { out, s };
}

describe('LineSplitter', () => {
  it('splits across reads with exact end offsets and strips one CR', () => {
    const { out } = split(100, ['ab', 'c\r\nde', 'f\n\ng']);
    expect(out.map(([l, i]) => [l, i.endOffset, i.truncated])).toEqual([
      ['abc', 5, false],
      ['def', 9, false],
      ['', 10, false],
      ['g', 11, false],
    ]);
  });

  it('keeps at most maxLineBytes of a long line, reports its real size, and resynchronises at the next LF', () => {
    const { out, s } = split(4, ['0123456789', 'abcdef', '\nok\n']);
    expect(out.map(([l, i]) => [l, i.truncated, i.originalBytes])).toEqual([
      ['0123', true, 16],
      ['ok', false, 2],
    ]);
    expect(s.buffered).toBe(0);
  });

  it('a 64 KiB line pushed one byte at a time: one growing buffer, linear copying, bounded by maxLineBytes (issue 17 §6)', () => {
    const s = new LineSplitter(32 * 1024);
    const line = Buffer.alloc(64 * 1024, 0x61);
    const out: [number, LineInfo][] = [];
    for (let i = 0; i < line.length; i++) {
      s.push(line.subarray(i, i + 1), (l, info) => out.push([l.length, info]));
      expect(s.buffered).toBeLessThanOrEqual(32 * 1024);
    }
    const st = s.stats();
    expect(st.allocations).toBeLessThanOrEqual(10);
    expect(st.capacity).toBeLessThanOrEqual(32 * 1024);
    expect(st.copiedBytes).toBeLessThanOrEqual(3 * 32 * 1024);
    expect(s.pending).toBe(true);
    s.push(Buffer.from('\nnext\n'), (l, info) => out.push([l.length, info]));
    expect(out.map(([n, i]) => [n, i.truncated, i.originalBytes])).toEqual([
      [32 * 1024, true, 64 * 1024],
      [4, false, 4],
    ]);
    expect(s.pending).toBe(false);
  });

  it('never splits a multi-byte character across reads', () => {
    const euro = Buffer.from('€\n');
    const { out } = split(100, [euro.subarray(0, 1), euro.subarray(1, 2), euro.subarray(2)]);
    expect(Buffer.from(out[0]?.[0] ?? '', 'latin1').toString('utf8')).toBe('€');
  });

  it('holds no more than maxLineBytes whatever arrives', () => {
    const s = new LineSplitter(1024);
    for (let i = 0; i < 100; i++) s.push(Buffer.alloc(65_536, 0x61), () => undefined);
    expect(s.buffered).toBe(1024);
  });
});

describe('glob', () => {
  it('matches *, ?, [..], ** and skips dot files unless asked', async () => {
    const d = mkdtempSync(join(tmpdir(), 'glob-'));
    mkdirSync(join(d, 'a/b'), { recursive: true });
    for (const f of ['x.log', 'y.log', '.hidden.log', 'z.txt', 'a/one.log', 'a/b/two.log', 'a/b/x1.log']) writeFileSync(join(d, f), '');
    expect((await expandGlob(join(d, '*.log'))).sort()).toEqual([join(d, 'x.log'), join(d, 'y.log')]);
    expect((await expandGlob(join(d, '**/*.log'))).map((p) => p.slice(d.length + 1)).sort()).toEqual(['a/b/two.log', 'a/b/x1.log', 'a/one.log', 'x.log', 'y.log']);
    expect(await expandGlob(join(d, 'a/b/x?.log'))).toEqual([join(d, 'a/b/x1.log')]);
    expect(await expandGlob(join(d, '[xz].*'))).toEqual(expect.arrayContaining([join(d, 'x.log'), join(d, 'z.txt')]));
    expect(await expandGlob(join(d, 'nothere/*.log'))).toEqual([]);
    expect(segmentRegExp('[!a]*.log').test('b.log')).toBe(true);
    expect(segmentRegExp('a.(log)').test('a.(log)')).toBe(true);
  });
});

describe('StateFile', () => {
  it('writes atomically (no temp file left), reads back, survives garbage', async () => {
    const d = mkdtempSync(join(tmpdir(), 'state-'));
    const f = new StateFile<{ n: number }>(join(d, 'sub', 's.json'));
    expect(await f.read()).toBeUndefined();
    await Promise.all([f.write({ n: 1 }), f.write({ n: 2 }), f.write({ n: 3 })]);
    expect(await f.read()).toEqual({ n: 3 });
    expect(readdirSync(join(d, 'sub'))).toEqual(['s.json']);
    writeFileSync(join(d, 'sub', 's.json'), '{half');
    let complained = false;
    expect(await f.read(() => (complained = true))).toBeUndefined();
    expect(complained).toBe(true);
  });
});
