import { describe, expect, it } from 'vitest';
import { parseTimeArg } from './archive';

describe('archive: time arguments', () => {
  const now = Date.parse('2026-11-22T12:00:00Z');
  it('accepts RFC 3339, epoch seconds and relative times', () => {
    expect(parseTimeArg('2026-11-22T10:00:00Z', now)).toBe(Date.parse('2026-11-22T10:00:00Z'));
    expect(parseTimeArg('2026-11-22T10:00:00.5+01:00', now)).toBe(Date.parse('2026-11-22T09:00:00.500Z'));
    expect(parseTimeArg('2026-11-22', now)).toBe(Date.parse('2026-11-22T00:00:00Z'));
    expect(parseTimeArg('1795341600', now)).toBe(1795341600_000);
    expect(parseTimeArg('-2h', now)).toBe(now - 7_200_000);
    expect(parseTimeArg('-30m', now)).toBe(now - 1_800_000);
    expect(parseTimeArg('now', now)).toBe(now);
  });
  it('rejects anything else', () => {
    for (const bad of ['yesterday', '2h', '-2y', '2026-13-45T99:00:00Z', '']) expect(() => parseTimeArg(bad, now)).toThrow(/not a time/);
  });
});
