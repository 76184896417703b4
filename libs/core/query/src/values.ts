import { scanRfc3339 } from '@backlog/core-event';
import type { ResolvedField } from './catalogue';
import { parseIp } from './ip';

/**
 * Reading field values out of a decoded event the way the engine indexes them. Shared by the filter
 * evaluator and the in-process aggregations. Nothing here allocates per event except where a value
 * must be converted (a date string, an IP address).
 */

const own = Object.prototype.hasOwnProperty;

/** A compiled field path: visits every value at it, as the engine flattens objects and arrays. */
export interface FieldPath {
  readonly segments: readonly string[];
  /** `joined[i][j]` = segments i..j-1 joined with '.', for events that spell `{"host.name": …}` with a dotted key. */
  readonly joined: readonly (readonly string[])[];
}

export function fieldPath(path: string): FieldPath {
  const segments = path.split('.');
  const joined: string[][] = [];
  for (let i = 0; i < segments.length; i++) {
    const row: string[] = [];
    for (let j = 0; j <= segments.length; j++) row.push(j > i + 1 ? segments.slice(i, j).join('.') : '');
    joined.push(row);
  }
  return { segments, joined };
}

/**
 * True when `test` is true for any value at `p` in `obj`. Arrays at any level are walked (the engine
 * indexes `{"a":[{"b":1},{"b":2}]}` as a.b = [1, 2]); `null` is no value; a dotted key stands for
 * the nested path.
 */
export function anyValue(obj: unknown, p: FieldPath, test: (v: unknown) => boolean): boolean {
  return walk(obj, p, 0, test, 0);
}

/**
 * Deeper than this, a value is not looked at: the engine refuses documents nested beyond
 * `index.mapping.depth.limit` (20) anyway, and a hostile line of 100,000 `[` must not overflow the stack.
 */
export const MAX_VALUE_DEPTH = 64;

function walk(obj: unknown, p: FieldPath, i: number, test: (v: unknown) => boolean, depth: number): boolean {
  if (obj === null || obj === undefined || depth > MAX_VALUE_DEPTH) return false;
  if (Array.isArray(obj)) {
    for (let k = 0; k < obj.length; k++) if (walk(obj[k], p, i, test, depth + 1)) return true;
    return false;
  }
  if (i === p.segments.length) return typeof obj === 'function' ? false : test(obj);
  if (typeof obj !== 'object') return false;
  const o = obj as Record<string, unknown>;
  const seg = p.segments[i] as string;
  if (own.call(o, seg) && walk(o[seg], p, i + 1, test, depth + 1)) return true;
  const row = p.joined[i] as readonly string[];
  for (let j = i + 2; j <= p.segments.length; j++) {
    const key = row[j] as string;
    if (own.call(o, key) && walk(o[key], p, j, test, depth + 1)) return true;
  }
  return false;
}

/** Every scalar below `obj` (for a flattened object's own name, and `exists` on an object). */
export function anyLeaf(obj: unknown, test: (v: unknown) => boolean, depth = 0): boolean {
  if (obj === null || obj === undefined || depth > MAX_VALUE_DEPTH) return false;
  if (Array.isArray(obj)) {
    for (let k = 0; k < obj.length; k++) if (anyLeaf(obj[k], test, depth + 1)) return true;
    return false;
  }
  if (typeof obj === 'object') {
    for (const k in obj as Record<string, unknown>) if (own.call(obj, k) && anyLeaf((obj as Record<string, unknown>)[k], test, depth + 1)) return true;
    return false;
  }
  return typeof obj === 'function' ? false : test(obj);
}

/** The engine's keyword form of a JSON scalar (numbers and booleans are indexed as their text). */
export function keywordOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'number') return Number.isFinite(v) ? String(v) : undefined;
  if (typeof v === 'boolean') return v ? 'true' : 'false';
  return undefined;
}

const NUMERIC = /^\s*[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?\s*$/;

/** A number as a numeric field indexes it: numbers, and numeric strings (coerce); integer types drop the fraction. */
export function numberOf(v: unknown, integer: boolean | undefined): number | undefined {
  let n: number;
  if (typeof v === 'number') n = v;
  else if (typeof v === 'string' && NUMERIC.test(v)) n = Number(v);
  else return undefined;
  if (!Number.isFinite(n)) return undefined;
  return integer ? Math.trunc(n) : n;
}

const DATE_ONLY = /^(\d{4})-(\d{2})-(\d{2})$/;
const DIGITS = /^\d{1,16}$/;

/** Epoch ms of a date value as `strict_date_optional_time||epoch_millis` reads it. */
export function dateOf(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isFinite(v) ? Math.trunc(v) : undefined;
  if (typeof v !== 'string') return undefined;
  const r = scanRfc3339(v, 0, false);
  if (r && r.end === v.length) return r.ms;
  if (DIGITS.test(v)) return Number(v);
  const d = DATE_ONLY.exec(v);
  if (d) {
    const ms = Date.UTC(Number(d[1]), Number(d[2]) - 1, Number(d[3]));
    return Number.isFinite(ms) ? ms : undefined;
  }
  return undefined;
}

export function booleanOf(v: unknown): boolean | undefined {
  if (typeof v === 'boolean') return v;
  if (v === 'true') return true;
  if (v === 'false' || v === '') return false;
  return undefined;
}

export function ipOf(v: unknown): Uint8Array | undefined {
  return typeof v === 'string' ? parseIp(v) : undefined;
}

/** The path to read for a resolved field (a flattened key lives at root.key in the event). */
export function pathOf(f: ResolvedField): FieldPath {
  return fieldPath(f.path);
}

/**
 * Compares two strings in Unicode code point order, which is the engine's order for keywords (UTF-8
 * bytes). JavaScript's `<` compares UTF-16 code units and puts U+E000–U+FFFF after astral characters.
 */
export function compareCodePoints(a: string, b: string): number {
  const n = Math.min(a.length, b.length);
  for (let i = 0; i < n; i++) {
    let x = a.charCodeAt(i);
    let y = b.charCodeAt(i);
    if (x === y) continue;
    if (x >= 0xd800) x = x >= 0xe000 ? x - 0x800 : x + 0x2000;
    if (y >= 0xd800) y = y >= 0xe000 ? y - 0x800 : y + 0x2000;
    return x - y;
  }
  return a.length - b.length;
}
