import { describe, expect, it } from 'vitest';
import { PositionTracker } from './positions';

describe('PositionTracker', () => {
  it('commits a position only when every earlier batch of that source is acked', () => {
    const commits: unknown[] = [];
    const t = new PositionTracker((p) => commits.push(...p));
    t.add([{ source: 'f', cursor: 10 }], ['A']);
    t.add([{ source: 'f', cursor: 20 }], ['A']);
    t.add([{ source: 'f', cursor: 30 }], ['B']);
    t.add([{ source: 'f', cursor: 40 }, { source: 'j', cursor: 'c1' }], ['A', 'C']);
    t.done('B');
    expect(commits).toEqual([]);
    t.done('A');
    expect(commits).toEqual([{ source: 'f', cursor: 30 }]);
    t.done('C');
    expect(commits).toEqual([{ source: 'f', cursor: 30 }, { source: 'f', cursor: 40 }, { source: 'j', cursor: 'c1' }]);
    expect(t.waiting).toBe(0);
  });
});
