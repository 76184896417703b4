import { describe, expect, it } from 'vitest';
import { PositionTracker } from './positions';

describe('PositionTracker', () => {
  it('commits a position only when every earlier batch of that source is acked', () => {
    const commits: unknown[] = [];
    const t = new PositionTracker((p) => commits.push(...p));
    t.add([{ source: 'f', cursor: 10 }], ['A']);
    t.add([{ source: 'f', cursor: 20 }], ['A']);
    t.add([{ source: 'f', cursor: 30 }], ['B']);
    t.add(
      [
        { source: 'f', cursor: 40 },
        { source: 'j', cursor: 'c1' },
      ],
      ['A', 'C'],
    );
    t.done('B');
    expect(commits).toEqual([]);
    t.done('A');
    expect(commits).toEqual([{ source: 'f', cursor: 30 }]);
    t.done('C');
    expect(commits).toEqual([
      { source: 'f', cursor: 30 },
      { source: 'f', cursor: 40 },
      { source: 'j', cursor: 'c1' },
    ]);
    expect(t.waiting).toBe(0);
  });

  it('a lost batch (corrupt segment) holds its sources before its lines for the rest of the run; other sources go on', () => {
    const commits: unknown[] = [];
    const t = new PositionTracker((p) => commits.push(...p));
    t.add([{ source: 'f', cursor: 10 }], ['A']);
    t.add(
      [
        { source: 'f', cursor: 20 },
        { source: 'j', cursor: 'c1' },
      ],
      ['B'],
    );
    t.add(
      [
        { source: 'f', cursor: 30 },
        { source: 'g', cursor: 5 },
      ],
      ['C'],
    );
    expect(t.fail('B').sort()).toEqual(['f', 'j']);
    // Later writes of a held source are not kept: its lines after the lost ones are read again too.
    t.add(
      [
        { source: 'f', cursor: 40 },
        { source: 'g', cursor: 6 },
      ],
      ['D'],
    );
    t.done('A');
    t.done('B');
    t.done('C');
    t.done('D');
    expect(commits).toEqual([
      { source: 'f', cursor: 10 },
      { source: 'g', cursor: 5 },
      { source: 'g', cursor: 6 },
    ]);
    expect(t.heldSources.sort()).toEqual(['f', 'j']);
    expect(t.waiting).toBe(0);
  });
});
