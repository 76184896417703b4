import { parseTimeArg } from '@backlog/core-codec';
import { QueryError } from './errors';

/**
 * Times and durations in queries. The arithmetic is `parseTimeArg` of core-codec — the one parser the
 * CLI's `--from/--to` and the indexer already use (RFC 3339, epoch seconds, `now`, `-2h`) — so a time
 * means the same in a query, a flag and an API call. This module only adds the spellings people bring
 * from other tools, each rewritten to a form parseTimeArg reads:
 *   now-15m   (Elasticsearch date math, Kibana)      → -15m
 *   15m, 1h   (DATA-001 `from=1h`: "the last hour")  → -15m, -1h
 *   last 1 hour, last 15 minutes, last hour (DATA-001 `time_range`) → -1h, -15m, -1h
 * Units: s, m, h, d, w (minutes are `m`; months and years are not units, to keep `m` unambiguous).
 */

/** A point in time as written: relative to "now" (kept relative, so a rule re-evaluated later moves with the clock) or absolute. */
export interface TimeExpr {
  text: string;
  kind: 'relative' | 'absolute';
  /** relative: offset from now in ms (≤ 0); absolute: epoch ms. */
  ms: number;
}

const UNIT_WORDS: Readonly<Record<string, string>> = {
  s: 's',
  sec: 's',
  secs: 's',
  second: 's',
  seconds: 's',
  m: 'm',
  min: 'm',
  mins: 'm',
  minute: 'm',
  minutes: 'm',
  h: 'h',
  hr: 'h',
  hrs: 'h',
  hour: 'h',
  hours: 'h',
  d: 'd',
  day: 'd',
  days: 'd',
  w: 'w',
  wk: 'w',
  week: 'w',
  weeks: 'w',
};

const AMOUNT = String.raw`(\d{1,9}(?:\.\d{1,6})?)`;
const NOW_MINUS = new RegExp(`^[nN][oO][wW]\\s*-\\s*${AMOUNT}([smhdw])$`);
const MINUS = new RegExp(`^-${AMOUNT}([smhdw])$`);
const BARE = new RegExp(`^${AMOUNT}([smhdw])$`);
const LAST = new RegExp(`^last\\s+(?:${AMOUNT}\\s*)?([a-z]+)$`, 'i');

function relative(text: string, amount: string, unit: string): TimeExpr {
  return { text, kind: 'relative', ms: parseTimeArg(`-${amount}${unit}`, 0) };
}

/** Reads a time; undefined when the text is no time at all. */
export function parseTimeExpr(input: string): TimeExpr | undefined {
  const text = input.trim();
  if (text.toLowerCase() === 'now') return { text, kind: 'relative', ms: 0 };
  let m = NOW_MINUS.exec(text) ?? MINUS.exec(text) ?? BARE.exec(text);
  if (m) return relative(text, m[1] as string, m[2] as string);
  m = LAST.exec(text);
  if (m) {
    const unit = UNIT_WORDS[(m[2] as string).toLowerCase()];
    return unit ? relative(text, m[1] ?? '1', unit) : undefined;
  }
  // A bare integer is epoch seconds only when it is plausibly one (DESIGN.md "What a user types"):
  // parseTimeArg takes up to 12 digits.
  try {
    return { text, kind: 'absolute', ms: parseTimeArg(text, 0) };
  } catch {
    return undefined;
  }
}

/** Epoch ms of a time, `now` given. */
export function resolveTime(t: TimeExpr, nowMs: number): number {
  return t.kind === 'relative' ? nowMs + t.ms : t.ms;
}

export const TIME_FORMS = 'RFC 3339 (2026-11-22T10:00:00Z), epoch seconds, now, now-15m, -15m, 15m or "last 15 minutes"';

/** parseTimeExpr or a TIME_INVALID error naming `what` and the column. */
export function requireTime(text: string, what: string, column = 0, path?: string): TimeExpr {
  const t = parseTimeExpr(text);
  if (!t) {
    throw new QueryError('TIME_INVALID', `${what}: ${JSON.stringify(text)} is not a time`, {
      column,
      endColumn: column ? column + text.length : 0,
      expected: TIME_FORMS,
      hint: /\d[MyY]$/.test(text.trim())
        ? 'months and years are not units here (m is minutes); use d or w, e.g. 30d'
        : text.includes('/')
          ? 'date rounding (now/d) is not supported; give the start of the day as RFC 3339'
          : 'e.g. now-15m or 2026-11-22T10:00:00Z',
      ...(path ? { path } : {}),
    });
  }
  return t;
}

/** A time range as the API and CLI take it. `to` defaults to now. */
export interface TimeRangeInput {
  from?: string;
  to?: string;
  /** DATA-001: `"last 1 hour"` (the same forms as `from`). */
  time_range?: string;
}

export interface TimeRange {
  from: TimeExpr;
  to: TimeExpr;
}

/**
 * `{from, to}` or `{time_range}` → a range; `from` alone runs to now. An explicit `from` wins over
 * `time_range`. Throws TIME_INVALID naming the key, or when from is after to (absolute times only; a
 * relative range is checked when resolved).
 */
export function parseTimeRange(input: TimeRangeInput): TimeRange | undefined {
  const fromText = input.from ?? input.time_range;
  if (fromText === undefined && input.to === undefined) return undefined;
  const from = fromText !== undefined ? requireTime(fromText, input.from !== undefined ? 'from' : 'time_range', 0, input.from !== undefined ? 'from' : 'time_range') : undefined;
  const to = input.to !== undefined ? requireTime(input.to, 'to', 0, 'to') : { text: 'now', kind: 'relative' as const, ms: 0 };
  if (!from) throw new QueryError('TIME_INVALID', 'to without from: a range needs its start', { column: 0, expected: 'from', path: 'from' });
  if (from.kind === to.kind && from.ms > to.ms) {
    throw new QueryError('TIME_INVALID', `from (${from.text}) is after to (${to.text})`, { column: 0, path: 'from', hint: 'swap them' });
  }
  return { from, to };
}

/** `[fromMs, toMs]` for `now`; throws TIME_INVALID when the resolved start is after the end. */
export function resolveRange(r: TimeRange, nowMs: number): { fromMs: number; toMs: number } {
  const fromMs = resolveTime(r.from, nowMs);
  const toMs = resolveTime(r.to, nowMs);
  if (fromMs > toMs) throw new QueryError('TIME_INVALID', `from (${r.from.text}) is after to (${r.to.text})`, { column: 0, path: 'from', hint: 'swap them' });
  return { fromMs, toMs };
}

const DURATION = /^(\d{1,9})([smhdw])$/;

/** `5m` → 300000; undefined when not `<integer><s|m|h|d|w>` or zero. */
export function parseDuration(text: string): number | undefined {
  const m = DURATION.exec(text);
  if (!m || Number(m[1]) === 0) return undefined;
  return -parseTimeArg(`-${text}`, 0);
}

/**
 * A duration in the engine's `fixed_interval` syntax (ms, s, m, h, d — no weeks): the largest unit
 * that divides it (`7d` for a week).
 */
export function fixedInterval(ms: number): string {
  for (const [unit, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms % size === 0) return `${ms / size}${unit}`;
  }
  return `${ms}ms`;
}
