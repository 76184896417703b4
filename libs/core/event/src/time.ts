import { EventError } from './errors';

/**
 * Time helpers shared by normalize() and the parsers. Hand-written scanners, no regular expressions on
 * the hot path: a syslog receiver parses one timestamp per line.
 */

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

export function isLeapYear(y: number): boolean {
  return (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
}

export function daysInMonth(year: number, month1: number): number {
  return month1 === 2 && isLeapYear(year) ? 29 : (DAYS_IN_MONTH[month1 - 1] ?? 0);
}

function d2(s: string, i: number): number {
  const a = s.charCodeAt(i) - 48;
  const b = s.charCodeAt(i + 1) - 48;
  if (a < 0 || a > 9 || b < 0 || b > 9) return -1;
  return a * 10 + b;
}

/** Result of `scanRfc3339`: the instant and where the timestamp ended in the input. */
export interface ScannedTime {
  /** Epoch milliseconds (sub-millisecond digits are truncated: Elasticsearch `date` keeps ms). */
  ms: number;
  /** Index just after the timestamp. */
  end: number;
}

let lastErrorColumn = 0;

/** Where the last `scanRfc3339` call that returned null found the problem (for coded parse errors). */
export function timeErrorColumn(): number {
  return lastErrorColumn;
}

/** Records where a timestamp failed; a plain function, not a closure, so the hot path allocates nothing. */
function fail(col: number): null {
  lastErrorColumn = col;
  return null;
}

/**
 * Scans an RFC 3339 `date-time` starting at `start` (RFC 5424 section 6.2.3 profile when `strict`):
 *   FULL-DATE "T" PARTIAL-TIME TIME-OFFSET, TIME-SECFRAC 1*6DIGIT, upper-case "T" and "Z",
 *   offset hours 00-23, real calendar days (2003-09-31 is rejected), no leap second beyond :60→ rejected.
 * Lenient (`strict = false`) also takes lower-case t/z, a space instead of "T", and up to 9 fraction digits
 * (ISO 8601 as logging libraries write it). Returns null when there is no valid timestamp at `start`.
 */
export function scanRfc3339(s: string, start: number, strict: boolean): ScannedTime | null {
  const n = s.length;
  let i = start;
  if (n - i < 19) return fail(Math.min(n, i + 10));
  const y1 = d2(s, i);
  const y2 = d2(s, i + 2);
  if (y1 < 0 || y2 < 0 || s.charCodeAt(i + 4) !== 45 /* - */) return fail(i);
  const year = y1 * 100 + y2;
  const month = d2(s, i + 5);
  if (month < 1 || month > 12 || s.charCodeAt(i + 7) !== 45) return fail(i + 5);
  const day = d2(s, i + 8);
  if (day < 1 || day > daysInMonth(year, month)) return fail(i + 8);
  const t = s.charCodeAt(i + 10);
  if (!(t === 84 /* T */ || (!strict && (t === 116 /* t */ || t === 32)))) return fail(i + 10);
  const hour = d2(s, i + 11);
  if (hour < 0 || hour > 23 || s.charCodeAt(i + 13) !== 58 /* : */) return fail(i + 11);
  const minute = d2(s, i + 14);
  if (minute < 0 || minute > 59 || s.charCodeAt(i + 16) !== 58) return fail(i + 14);
  let second = d2(s, i + 17);
  // RFC 3339 allows :60 for a leap second; Date cannot represent it, so it becomes :59.999.
  if (second < 0 || second > 60) return fail(i + 17);
  i += 19;
  let msFrac = 0;
  if (s.charCodeAt(i) === 46 /* . */) {
    i++;
    const f0 = i;
    let scale = 100;
    while (i < n) {
      const c = s.charCodeAt(i) - 48;
      if (c < 0 || c > 9) break;
      if (scale >= 1) msFrac += c * scale;
      scale /= 10;
      i++;
    }
    const digits = i - f0;
    if (digits === 0 || digits > (strict ? 6 : 9)) return fail(i);
    msFrac = Math.floor(msFrac);
  }
  let offsetMin = 0;
  const z = s.charCodeAt(i);
  if (z === 90 /* Z */ || (!strict && z === 122) /* z */) {
    i++;
  } else if (z === 43 /* + */ || z === 45 /* - */) {
    const oh = d2(s, i + 1);
    if (oh < 0 || oh > 23 || s.charCodeAt(i + 3) !== 58) return fail(i + 1);
    const om = d2(s, i + 4);
    if (om < 0 || om > 59) return fail(i + 4);
    offsetMin = (oh * 60 + om) * (z === 45 ? -1 : 1);
    i += 6;
  } else {
    return fail(i);
  }
  if (second === 60) {
    second = 59;
    msFrac = 999;
  }
  // Date.UTC is linear in its fields, so the day's start plus the time of day is exactly what it would
  // return; the day's start is remembered because consecutive lines mostly share their day.
  if (year !== memoYear || month !== memoMonth || day !== memoDay) {
    memoDayMs = utcDayMs(year, month, day);
    memoYear = year;
    memoMonth = month;
    memoDay = day;
  }
  const ms = memoDayMs + hour * 3_600_000 + minute * 60_000 + second * 1000 + msFrac - offsetMin * 60_000;
  return { ms, end: i };
}

/**
 * Epoch ms of 00:00Z on a calendar day. Date.UTC reads years 0-99 as 1900-1999 (ECMA-262 MakeFullYear),
 * which turned `0001-01-01T00:00:00Z` into 1901: those years are set with setUTCFullYear, which does not.
 */
export function utcDayMs(year: number, month1: number, day: number): number {
  if (year >= 100) return Date.UTC(year, month1 - 1, day);
  const d = new Date(0);
  d.setUTCFullYear(year, month1 - 1, day);
  return d.getTime();
}

/** scanRfc3339's last calendar day and its start (epoch ms at 00:00Z). */
let memoYear = -1;
let memoMonth = -1;
let memoDay = -1;
let memoDayMs = 0;

/** The largest |epoch ms| a Date (and so toISOString) can hold: ±100,000,000 days (ECMA-262 TimeClip). */
const MAX_MS = 8.64e15;

/**
 * Epoch milliseconds from a number whose unit is guessed from its size (s, ms, µs or ns since 1970);
 * undefined beyond what a Date can hold (such a value is not a time, and its ISO text would throw).
 */
export function epochToMs(v: number): number | undefined {
  if (!Number.isFinite(v) || v < 0) return undefined;
  if (v < 1e11) return Math.round(v * 1000); // seconds (until year 5138)
  if (v < 1e14) return Math.round(v); // milliseconds
  if (v < 1e17) return Math.floor(v / 1000); // microseconds
  const ms = Math.floor(v / 1e6); // nanoseconds
  return ms <= MAX_MS ? ms : undefined;
}

/**
 * Epoch ms for a time value found in a log record: a number (epoch in s/ms/µs/ns), a numeric string, an
 * RFC 3339 / ISO 8601 string with an offset, or a Date. Strings without an offset are refused: guessing a
 * zone would silently shift events by hours.
 */
export function toEpochMs(v: unknown): number | undefined {
  if (typeof v === 'number') return epochToMs(v);
  if (typeof v === 'string') {
    const s = v.trim();
    if (s.length === 0 || s.length > 40) return undefined;
    const c = s.charCodeAt(0);
    if (c >= 48 && c <= 57) {
      if (s.length >= 20 && s.charCodeAt(4) === 45) {
        const r = scanRfc3339(s, 0, false);
        return r && r.end === s.length && Math.abs(r.ms) < MAX_MS ? r.ms : undefined;
      }
      if (/^\d+(\.\d+)?$/.test(s)) return epochToMs(Number(s));
    }
    return undefined;
  }
  if (v instanceof Date) {
    const t = v.getTime();
    return Number.isNaN(t) ? undefined : t;
  }
  return undefined;
}

/**
 * Epoch milliseconds a parser already knows, as a value toEpochMs (and so normalize) reads back as exactly
 * that instant. A number is read by its magnitude (epochToMs), which takes ms below 1e11 (before
 * 1973-03-03) for seconds and from 1e14 (after 5138) for microseconds: a syslog `9999-12-31` became 1978,
 * `1970-01-01T00:00:01Z` became 00:16:40. Those rare instants travel as a Date; the rest stay numbers
 * (no allocation per event).
 */
export function exactTime(ms: number): number | Date {
  return ms >= 1e11 && ms < 1e14 ? ms : new Date(ms);
}

const PAD2: string[] = [];
for (let i = 0; i < 100; i++) PAD2.push(i < 10 ? `0${i}` : String(i));
const PAD3: string[] = [];
for (let i = 0; i < 1000; i++) PAD3.push(String(i).padStart(3, '0'));
const DAY = 86_400_000;
const MAX_4_DIGIT_YEAR_MS = 253_402_300_800_000; // 10000-01-01T00:00:00Z
let dayCache = Number.NaN;
let dayText = '';
let secondCache = Number.NaN;
let secondText = '';

/**
 * `Date#toISOString` (UTC, millisecond precision), computed from a per-day cache of "YYYY-MM-DDT", table
 * look-ups for the time of day, and a cache of the last second's "YYYY-MM-DDTHH:MM:SS.": a stream of
 * events mostly shares its day and often its second, and this runs per event.
 */
export function isoFromMs(ms: number): string {
  if (!(ms >= 0 && ms < MAX_4_DIGIT_YEAR_MS) || !Number.isInteger(ms)) return new Date(Math.trunc(ms)).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== secondCache) {
    const day = Math.floor(ms / DAY);
    if (day !== dayCache) {
      dayText = new Date(day * DAY).toISOString().slice(0, 11);
      dayCache = day;
    }
    let r = second - day * 86_400;
    const h = Math.floor(r / 3600);
    r -= h * 3600;
    const m = Math.floor(r / 60);
    secondText = `${dayText}${PAD2[h]}:${PAD2[m]}:${PAD2[r - m * 60]}.`;
    secondCache = second;
  }
  return `${secondText}${PAD3[ms - second * 1000]}Z`;
}

// ---------------------------------------------------------------------------------------------------
// Wall-clock time in an IANA zone → instant. Needed for RFC 3164 timestamps, which carry neither a year
// nor a zone (RFC 3164 section 4.1.2): the receiver supplies both.

interface ZoneOffsets {
  fmt: Intl.DateTimeFormat;
  /** quarter-hour bucket (epoch ms / 9e5) → offset in ms (local - UTC) */
  cache: Map<number, number>;
  hour: HourMemo;
  year: YearMemo;
}

/**
 * The last wall-clock hour zonedToEpochMs converted in a zone. Syslog lines arrive roughly in time
 * order, so consecutive RFC 3164 timestamps share their hour: the conversion (Date.UTC plus offset
 * look-ups) then runs once per hour instead of once per line. `start` is the instant of hh:00:00.000,
 * or NaN when the zone's offset is not the same for the whole hour (near a DST transition), which sends
 * every time of that hour through the full conversion.
 */
interface HourMemo {
  y: number;
  mo: number;
  d: number;
  h: number;
  start: number;
}

/** The calendar year last computed by yearInZone, as the wall-clock span [lo, hi) it covers (UTC-based ms). */
interface YearMemo {
  lo: number;
  hi: number;
  year: number;
}

function newHourMemo(): HourMemo {
  return { y: Number.NaN, mo: 0, d: 0, h: 0, start: Number.NaN };
}

function newYearMemo(): YearMemo {
  return { lo: 0, hi: 0, year: 0 };
}

const zones = new Map<string, ZoneOffsets>();
/** UTC needs no Intl formatter, only the memos. */
const utcHour = newHourMemo();
const utcYear = newYearMemo();

/** Throws EventError(TIMEZONE_INVALID) for a zone Intl does not know. Call at config time. */
export function checkTimeZone(tz: string): void {
  zoneOf(tz);
}

function zoneOf(tz: string): ZoneOffsets {
  let z = zones.get(tz);
  if (!z) {
    let fmt: Intl.DateTimeFormat;
    try {
      fmt = new Intl.DateTimeFormat('en-US', {
        timeZone: tz,
        hourCycle: 'h23',
        year: 'numeric',
        month: 'numeric',
        day: 'numeric',
        hour: 'numeric',
        minute: 'numeric',
        second: 'numeric',
      });
    } catch {
      throw new EventError('TIMEZONE_INVALID', `unknown time zone ${JSON.stringify(tz)}`);
    }
    z = { fmt, cache: new Map(), hour: newHourMemo(), year: newYearMemo() };
    zones.set(tz, z);
  }
  return z;
}

/** Offset (local − UTC, in ms) of zone `tz` at instant `ms`; cached per hour (zones change offset on hour boundaries or coarser... in practice at :00/:30). */
export function zoneOffsetAt(tz: string, ms: number): number {
  if (tz === 'UTC' || tz === 'Etc/UTC') return 0;
  const z = zoneOf(tz);
  // Cache per quarter hour: every real-world offset change falls on a quarter hour boundary.
  const bucket = Math.floor(ms / 900_000);
  const hit = z.cache.get(bucket);
  if (hit !== undefined) return hit;
  let y = 0,
    mo = 0,
    d = 0,
    h = 0,
    mi = 0,
    se = 0;
  for (const p of z.fmt.formatToParts(new Date(bucket * 900_000))) {
    switch (p.type) {
      case 'year':
        y = Number(p.value);
        break;
      case 'month':
        mo = Number(p.value);
        break;
      case 'day':
        d = Number(p.value);
        break;
      case 'hour':
        h = Number(p.value);
        break;
      case 'minute':
        mi = Number(p.value);
        break;
      case 'second':
        se = Number(p.value);
        break;
    }
  }
  const off = Date.UTC(y, mo - 1, d, h, mi, se) - bucket * 900_000;
  if (z.cache.size > 4096) z.cache.clear();
  z.cache.set(bucket, off);
  return off;
}

const HOUR = 3_600_000;
const QUARTER = 900_000;
/**
 * Date.UTC's range (TimeClip) minus a day: start + the time within the hour stays in range, and so do the
 * instants hourStart probes (zone offsets are under a day), where the full conversion would not throw.
 */
const MAX_HOUR_START = 8.64e15 - DAY;

/** True when zone `tz` has offset `off` at every instant of [from, from + 1 h) (offsets are cached per quarter hour). */
function offsetHoldsForHour(tz: string, from: number, off: number): boolean {
  for (let t = from; t < from + HOUR; t += QUARTER) if (zoneOffsetAt(tz, t) !== off) return false;
  return zoneOffsetAt(tz, from + HOUR - 1) === off;
}

/**
 * The instant at which the wall clock of zone `tz` shows the given local time. In a DST gap (a local
 * time that does not exist) the pre-transition offset is used; in an overlap, the earlier instant.
 */
export function zonedToEpochMs(tz: string, y: number, mo1: number, d: number, h: number, mi: number, s: number, ms = 0): number {
  const utc = tz === 'UTC' || tz === 'Etc/UTC';
  // Fast path: a whole minute/second/ms inside the hour of the last call (see HourMemo). Date.UTC is
  // linear in its integer fields, so hour start + the time within the hour is exactly what it returns.
  if (mi >= 0 && mi < 60 && s >= 0 && s < 60 && ms >= 0 && ms < 1000 && (mi | 0) === mi && (s | 0) === s && (ms | 0) === ms) {
    const memo = utc ? utcHour : zoneOf(tz).hour;
    if (memo.y !== y || memo.mo !== mo1 || memo.d !== d || memo.h !== h) {
      memo.y = y;
      memo.mo = mo1;
      memo.d = d;
      memo.h = h;
      memo.start = hourStart(tz, utc, Date.UTC(y, mo1 - 1, d, h));
    }
    if (!Number.isNaN(memo.start)) return memo.start + mi * 60_000 + s * 1000 + ms;
  }
  return zonedSlow(tz, utc, Date.UTC(y, mo1 - 1, d, h, mi, s, ms));
}

/** Instant of the wall-clock hour that starts at `local` (UTC-based ms), NaN when its offset is not uniform. */
function hourStart(tz: string, utc: boolean, local: number): number {
  if (!(Math.abs(local) <= MAX_HOUR_START)) return Number.NaN;
  if (utc) return local;
  // With one offset O over the local hour and over the instants it maps to, zonedSlow computes
  // local - O for every time of the hour: its look-ups all answer O.
  const off = zoneOffsetAt(tz, local);
  return offsetHoldsForHour(tz, local, off) && offsetHoldsForHour(tz, local - off, off) ? local - off : Number.NaN;
}

/** The full conversion of `local` (the wall time read as if it were UTC). */
function zonedSlow(tz: string, utc: boolean, local: number): number {
  if (utc) return local;
  const off1 = zoneOffsetAt(tz, local);
  let t = local - off1;
  const off2 = zoneOffsetAt(tz, t);
  if (off2 !== off1) {
    const t2 = local - off2;
    // Keep the candidate whose offset agrees with itself; prefer the earlier one in an overlap.
    t = zoneOffsetAt(tz, t2) === off2 ? Math.min(t, t2) : t;
  }
  return t;
}

/** Calendar year of instant `ms` on the wall clock of zone `tz`. */
export function yearInZone(tz: string, ms: number): number {
  const utc = tz === 'UTC' || tz === 'Etc/UTC';
  const local = utc ? ms : ms + zoneOffsetAt(tz, ms);
  // Called once per year-less RFC 3164 line with the receive time: answer from the last year's span
  // rather than build a Date each time.
  const memo = utc ? utcYear : zoneOf(tz).year;
  if (local >= memo.lo && local < memo.hi) return memo.year;
  const year = new Date(local).getUTCFullYear();
  // Date.UTC reads years 0-99 as 1900-1999: keep such spans out of the memo.
  if (year >= 100) {
    memo.year = year;
    memo.lo = Date.UTC(year, 0, 1);
    memo.hi = Date.UTC(year + 1, 0, 1);
  }
  return year;
}
