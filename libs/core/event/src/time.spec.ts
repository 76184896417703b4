import { describe, expect, it } from 'vitest';
import { epochToMs, isoFromMs, scanRfc3339, toEpochMs, utcDayMs, yearInZone, zonedToEpochMs } from './time';

describe('scanRfc3339', () => {
  it('parses RFC 5424 timestamps as instants', () => {
    expect(scanRfc3339('2003-10-11T22:14:15.003Z', 0, true)?.ms).toBe(Date.parse('2003-10-11T22:14:15.003Z'));
    expect(scanRfc3339('2003-08-24T05:14:15.000003-07:00', 0, true)?.ms).toBe(Date.parse('2003-08-24T12:14:15.000Z'));
    expect(scanRfc3339('2018-12-31T23:59:59.999999-23:59', 0, true)?.ms).toBe(Date.parse('2019-01-01T23:58:59.999Z'));
  });

  it('rejects what RFC 5424 section 6.2.3 rejects', () => {
    for (const bad of [
      '2006-01-02t15:04:05Z',
      '2006-01-02T15:04:05z',
      '2003-09-31T22:14:15Z',
      '2018-02-32T00:00:00Z',
      '2003-09-29T22:99:16Z',
      '2003-09-29T22:09:01.Z',
      '2003-08-24T05:14:15.000003-24:00',
      '2003-08-24T05:14:15.0000003Z',
    ]) {
      expect(scanRfc3339(bad, 0, true), bad).toBeNull();
    }
    expect(scanRfc3339('2006-01-02t15:04:05z', 0, false)).not.toBeNull();
  });
});

describe('toEpochMs', () => {
  it('guesses epoch units and refuses zone-less strings', () => {
    expect(toEpochMs(1_700_000_000)).toBe(1_700_000_000_000);
    expect(toEpochMs(1_700_000_000_123)).toBe(1_700_000_000_123);
    expect(toEpochMs(1_700_000_000_123_456)).toBe(1_700_000_000_123);
    expect(toEpochMs('1700000000.5')).toBe(1_700_000_000_500);
    expect(toEpochMs('2026-11-22T10:00:00.123+01:00')).toBe(Date.parse('2026-11-22T09:00:00.123Z'));
    expect(toEpochMs('2026-11-22 10:00:00')).toBeUndefined();
    expect(toEpochMs('yesterday')).toBeUndefined();
  });
});

describe('zonedToEpochMs', () => {
  it('converts wall time in an IANA zone, across DST', () => {
    expect(zonedToEpochMs('Europe/Zurich', 2026, 1, 15, 12, 0, 0)).toBe(Date.parse('2026-01-15T11:00:00Z'));
    expect(zonedToEpochMs('Europe/Zurich', 2026, 7, 15, 12, 0, 0)).toBe(Date.parse('2026-07-15T10:00:00Z'));
    expect(zonedToEpochMs('America/New_York', 2026, 11, 22, 10, 0, 0)).toBe(Date.parse('2026-11-22T15:00:00Z'));
    expect(zonedToEpochMs('UTC', 2026, 11, 22, 10, 0, 0)).toBe(Date.parse('2026-11-22T10:00:00Z'));
  });

  it('knows the year on the local wall clock', () => {
    expect(yearInZone('Asia/Tokyo', Date.parse('2025-12-31T20:00:00Z'))).toBe(2026);
    expect(yearInZone('UTC', Date.parse('2025-12-31T20:00:00Z'))).toBe(2025);
  });
});

describe('isoFromMs', () => {
  it('matches Date#toISOString, including far dates and fractions', async () => {
    const { isoFromMs } = await import('./time');
    const samples = [0, 1, 999, 86_399_999, 951_782_400_000 /* 2000-02-29 */, 1_763_805_600_123, 253_402_300_799_999, 253_402_300_800_000, -1, 1.5, 4_102_444_800_000];
    for (let i = 0; i < 2000; i++) samples.push(Math.floor(Math.random() * 4e12));
    for (const ms of samples) expect(isoFromMs(ms), String(ms)).toBe(new Date(Math.trunc(ms)).toISOString());
  });
});

describe('years 0000-0099 and values beyond a Date (ADR 0015)', () => {
  it('reads year 0001 as year 1, not 1901 (Date.UTC maps 0-99 to 1900-1999)', () => {
    expect(scanRfc3339('0001-01-01T00:00:00Z', 0, true)?.ms).toBe(Date.parse('0001-01-01T00:00:00Z'));
    expect(toEpochMs('0099-12-31T23:59:59.999Z')).toBe(Date.parse('0099-12-31T23:59:59.999Z'));
    expect(toEpochMs('0000-03-01T00:00:00+01:00')).toBe(Date.parse('0000-02-29T23:00:00Z'));
    expect(utcDayMs(100, 1, 1)).toBe(Date.parse('0100-01-01T00:00:00Z'));
    expect(isoFromMs(toEpochMs('0001-01-01T00:00:00Z') as number)).toBe('0001-01-01T00:00:00.000Z');
    // The memo of the last day does not carry a year over from one call to the next.
    expect(toEpochMs('2001-01-01T00:00:00Z')).toBe(Date.parse('2001-01-01T00:00:00Z'));
  });

  it('a number beyond what a Date holds is no time', () => {
    expect(epochToMs(1e30)).toBeUndefined();
    expect(toEpochMs(1e30)).toBeUndefined();
    expect(epochToMs(8.64e21)).toBe(8.64e15);
  });
});
