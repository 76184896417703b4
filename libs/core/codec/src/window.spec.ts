import { describe, expect, it } from 'vitest';
import { parseWindowId, windowId } from './names';
import { windowOf, windowsInRange, windowStartMs } from './window';

describe('windows (DESIGN.md)', () => {
  it('2026-11-22T10:00:00Z is window 5984472, id 3k9nc', () => {
    const w = windowOf(Date.parse('2026-11-22T10:00:00Z'));
    expect(w).toBe(5984472);
    expect(windowId(w)).toBe('3k9nc');
    expect(parseWindowId('3k9nc')).toBe(w);
  });

  it('a window is [start, start+5min)', () => {
    const t = Date.parse('2026-11-22T10:04:59.999Z');
    expect(windowOf(t)).toBe(5984472);
    expect(windowOf(t + 1)).toBe(5984473);
    expect(windowStartMs(5984472)).toBe(Date.parse('2026-11-22T10:00:00Z'));
  });

  it('lists the windows overlapping a range', () => {
    const from = Date.parse('2026-11-22T10:02:00Z');
    expect(windowsInRange(from, Date.parse('2026-11-22T10:10:00Z'))).toEqual([5984472, 5984473]);
    expect(windowsInRange(from, Date.parse('2026-11-22T10:10:00.001Z'))).toEqual([5984472, 5984473, 5984474]);
    expect(windowsInRange(from, from)).toEqual([]);
  });
});
