import { describe, expect, it } from 'vitest';
import { historyIndexName, partKey, parseWindowId, recentIndexName, windowId, windowOf, windowPrefix, windowsInRange, windowStartMs } from './window';

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

  it('names S3 keys and indices as DESIGN.md says', () => {
    expect(partKey('prod', 5984472, 3, 1200)).toBe('prod/2026/11/22/10/3k9nc/p3-1200.log.bz2');
    expect(windowPrefix('prod', 5984472)).toBe('prod/2026/11/22/10/3k9nc/');
    expect(recentIndexName('prod', Date.parse('2026-01-02T23:59:59Z'))).toBe('logs-prod-recent-2026.01.02');
    expect(historyIndexName('prod', 1795341600, 1795345200)).toBe(`logs-prod-history-${(1795341600).toString(36)}-${(1795345200).toString(36)}`);
  });

  it('rejects a malformed window id', () => {
    expect(() => parseWindowId('3K9NC!')).toThrow(RangeError);
  });
});
