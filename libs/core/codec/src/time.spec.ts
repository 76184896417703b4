import { describe, expect, it } from 'vitest';
import { parseTimeArg } from './time';

describe('parseTimeArg', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  it('reads RFC 3339, dates, epoch seconds and relative times', () => {
    expect(parseTimeArg('2026-11-22T10:00:00Z', now)).toBe(Date.parse('2026-11-22T10:00:00Z'));
    expect(parseTimeArg('2026-11-22T11:00:00+01:00', now)).toBe(Date.parse('2026-11-22T10:00:00Z'));
    expect(parseTimeArg('2026-11-22T10:00:00.5+01:00', now)).toBe(Date.parse('2026-11-22T09:00:00.500Z'));
    expect(parseTimeArg('2026-11-22', now)).toBe(Date.parse('2026-11-22T00:00:00Z'));
    expect(parseTimeArg('1795341600', now)).toBe(1795341600_000);
    expect(parseTimeArg('1795341600.5', now)).toBe(1795341600_500);
    expect(parseTimeArg('-2h', now)).toBe(now - 7_200_000);
    expect(parseTimeArg('-30m', now)).toBe(now - 1_800_000);
    expect(parseTimeArg('-1d', now)).toBe(now - 86_400_000);
    expect(parseTimeArg('now', now)).toBe(now);
  });
  it('refuses anything else, saying what it accepts', () => {
    for (const bad of ['', 'yesterday', '2h', '-2y', '2026-13-45T99:00:00Z', '2026-11-22T10:00']) {
      expect(() => parseTimeArg(bad, now)).toThrow(/not a time/);
    }
  });
});
