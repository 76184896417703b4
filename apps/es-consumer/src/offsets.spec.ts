import { expect, it } from 'vitest';
import { OffsetTracker } from './offsets';

it('commits only up to the first record with unsettled documents', () => {
  const t = new OffsetTracker();
  t.add('10', 2);
  t.add('11', 1);
  t.add('12', 0);
  expect(t.toCommit()).toBeUndefined();
  t.settle('11');
  expect(t.toCommit()).toBeUndefined(); // 10 still open
  t.settle('10');
  expect(t.toCommit()).toBeUndefined();
  t.settle('10');
  expect(t.toCommit()).toBe('13'); // 10, 11 and the empty 12 are done
  t.markCommitted('13');
  expect(t.toCommit()).toBeUndefined();
  expect(t.open).toBe(0);
});

it('refuses out-of-order records and over-settling', () => {
  const t = new OffsetTracker();
  t.add('5', 1);
  expect(() => t.add('5', 1)).toThrow(RangeError);
  t.settle('5');
  expect(() => t.settle('5')).toThrow(RangeError);
  expect(t.toCommit()).toBe('6');
});

it('handles offsets above 2^53', () => {
  const t = new OffsetTracker();
  t.add('9007199254740993', 0);
  expect(t.toCommit()).toBe('9007199254740994');
});
