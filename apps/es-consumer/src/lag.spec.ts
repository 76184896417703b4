import { describe, expect, it } from 'vitest';
import { groupLag } from './lag';

describe('groupLag', () => {
  it('is high watermark − committed offset per partition', () => {
    const lag = groupLag(
      [
        { partition: 0, low: '0', high: '120' },
        { partition: 1, low: '0', high: '50' },
      ],
      [
        { partition: 0, offset: '100' },
        { partition: 1, offset: '50' },
      ],
    );
    expect([...lag]).toEqual([
      [0, 20],
      [1, 0],
    ]);
  });

  it('counts from the low watermark when the group committed nothing or retention deleted past its offset', () => {
    const lag = groupLag(
      [
        { partition: 0, low: '30', high: '100' },
        { partition: 1, low: '500', high: '900' },
        { partition: 2, low: '0', high: '0' },
      ],
      [
        { partition: 0, offset: '-1' },
        { partition: 1, offset: '200' },
      ],
    );
    expect([...lag]).toEqual([
      [0, 70],
      [1, 400],
      [2, 0],
    ]);
  });

  it('never goes below 0 and handles offsets beyond 2^53', () => {
    const lag = groupLag([{ partition: 0, low: '9007199254740990', high: '9007199254741000' }], [{ partition: 0, offset: '9007199254741005' }]);
    expect(lag.get(0)).toBe(0);
    expect(groupLag([{ partition: 0, low: '0', high: '9007199254741000' }], [{ partition: 0, offset: '9007199254740990' }]).get(0)).toBe(10);
  });
});
