import { gzipSync } from 'node:zlib';
import { type PartLine, comparePartLines, cutStreams, mergeRuns, windowStartMs } from '@backlog/core-codec';
import { describe, expect, it } from 'vitest';
import { BatchScanner } from './scan';

const scanner = new BatchScanner();
import { cutLines, sortWindow } from './sealer';

const text = (l: PartLine) => (typeof l.line === 'string' ? l.line : Buffer.from(l.line).toString('utf8'));

describe('sortWindow', () => {
  it('gives the k-way merge order (ties on @timestamp, event.id and bytes included)', () => {
    let seed = 3;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const w = 5_900_000;
    const start = windowStartMs(w);
    const ids = ['', 'a', 'b', 'é', 'z', '\u{1F600}', 'ab'];
    for (let round = 0; round < 20; round++) {
      const runs: PartLine[][] = [];
      for (let r = 0, k = 1 + rnd(30); r < k; r++) {
        const run: PartLine[] = [];
        for (let i = 0, m = rnd(60); i < m; i++) {
          // Few distinct timestamps (many ties); the window's first and last ms included.
          const ts = start + [0, 1, 2, 299_999, rnd(300_000)][rnd(5)]!;
          const id = ids[rnd(ids.length)]!;
          const line = `{"t":${ts},"id":"${id}","m":"${['x', 'y', 'é', 'ä'][rnd(4)]}"}`;
          run.push({ ts, id, line: rnd(2) ? line : Buffer.from(line) });
        }
        runs.push(run.sort(comparePartLines));
      }
      const sorted = sortWindow(runs, w);
      expect(sorted).toBeDefined();
      expect(sorted!.lines().map(text)).toEqual([...mergeRuns(runs)].map(text));
    }
  });

  it('orders @timestamp ties of scanned batches by event.id and bytes (second-precision timestamps, ids absent, ASCII or not)', () => {
    let seed = 11;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return (seed >>> 8) % n;
    };
    const w = 5_900_000;
    const start = windowStartMs(w);
    // Second-precision timestamps: whole batches tie. Ids ASCII (one batch set also with é), some absent.
    for (const ids of [
      ['a', 'b', 'ab', 'B', '0'],
      ['a', 'é', 'b'],
    ]) {
      const runs = Array.from({ length: 12 }, () => {
        const lines = Array.from({ length: 60 }, () => {
          const ts = start + 1000 * rnd(3);
          const id = rnd(6) === 0 ? undefined : ids[rnd(ids.length)];
          return JSON.stringify({ '@timestamp': new Date(ts).toISOString(), ...(id === undefined ? {} : { event: { id } }), message: ['x', 'y', 'xy', 'é'][rnd(4)] });
        });
        const cols = scanner.batchLines(gzipSync(Buffer.from(lines.join('\n'))), 1 << 26).cols;
        expect(cols?.n).toBe(60);
        return cols!;
      });
      const sorted = sortWindow(runs, w);
      expect(sorted!.lines().map(text)).toEqual([...mergeRuns(runs.map((r) => r.sorted()))].map(text));
    }
  });

  it('leaves a part with a line outside its window (or a fractional ms) to the merge', () => {
    const w = 5_900_000;
    const start = windowStartMs(w);
    expect(sortWindow([[{ ts: start + 300_000, id: '', line: '{}' }]], w)).toBeUndefined();
    expect(sortWindow([[{ ts: start - 1, id: '', line: '{}' }]], w)).toBeUndefined();
    expect(sortWindow([[{ ts: start + 0.5, id: '', line: '{}' }]], w)).toBeUndefined();
    expect(sortWindow([], w)!.length).toBe(0);
  });
});

describe('cutLines', () => {
  it('cuts where cutStreams cuts, for scanned lines, byte views and text', () => {
    const text = Array.from({ length: 500 }, (_, i) => JSON.stringify({ '@timestamp': new Date(1.7e12 + i).toISOString(), event: { id: `e${i}` }, message: 'é☃'.repeat(i % 37) })).join('\n');
    const scanned = scanner.batchLines(gzipSync(Buffer.from(text)), 1 << 26).lines;
    expect(scanned.every((l) => typeof l.size === 'number')).toBe(true);
    const mixed: PartLine[] = scanned.map((l, i) =>
      i % 3 === 0 ? l : i % 3 === 1 ? { ts: l.ts, id: l.id, line: Buffer.from(l.line) } : { ts: l.ts, id: l.id, line: Buffer.from(l.line).toString('utf8') },
    );
    const shape = (c: { lines: PartLine[]; rawBytes: number; count: number; minTs: number; maxTs: number }) => ({ ...c, lines: c.lines.map((l) => l.ts) });
    for (const target of [1, 100, 700, 4096, 1 << 20]) for (const lines of [scanned, mixed]) expect([...cutLines(lines, target)].map(shape)).toEqual([...cutStreams(lines, target)].map(shape));
  });
});
