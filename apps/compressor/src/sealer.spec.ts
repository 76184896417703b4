import { type PartLine, comparePartLines, mergeRuns, windowStartMs } from '@backlog/core-codec';
import { describe, expect, it } from 'vitest';
import { sortWindow } from './sealer';

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
      expect(sorted!.map(text)).toEqual([...mergeRuns(runs)].map(text));
    }
  });

  it('leaves a part with a line outside its window (or a fractional ms) to the merge', () => {
    const w = 5_900_000;
    const start = windowStartMs(w);
    expect(sortWindow([[{ ts: start + 300_000, id: '', line: '{}' }]], w)).toBeUndefined();
    expect(sortWindow([[{ ts: start - 1, id: '', line: '{}' }]], w)).toBeUndefined();
    expect(sortWindow([[{ ts: start + 0.5, id: '', line: '{}' }]], w)).toBeUndefined();
    expect(sortWindow([], w)).toEqual([]);
  });
});
