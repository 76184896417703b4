import { EventError } from './errors';
import { jsonString } from './line';

/**
 * Bounded copying of free-form data into `fields`, and extraction of key=value pairs and JSON objects
 * found inside messages. Everything here is bounded (ARCHITECTURE habit 5): a hostile or buggy source
 * cannot make one event carry thousands of keys (an Elasticsearch mapping explosion) or megabyte values.
 * When a bound cuts something, the caller flags the event (`labels.truncated` contains "fields").
 */
export interface FieldLimits {
  /** Most keys in `fields`, counted over all nesting levels (array elements count too). Default 64. */
  maxKeys: number;
  /** Deepest nesting kept as objects; a deeper subtree becomes its JSON text (bounded). Default 4. */
  maxDepth: number;
  /** Longest string value, in UTF-16 code units; longer ones are cut. Default 2048. */
  maxValueLength: number;
}

export const DEFAULT_FIELD_LIMITS: Readonly<FieldLimits> = Object.freeze({ maxKeys: 64, maxDepth: 4, maxValueLength: 2048 });

export function checkFieldLimits(l: FieldLimits): void {
  for (const k of ['maxKeys', 'maxDepth', 'maxValueLength'] as const) {
    if (!Number.isInteger(l[k]) || l[k] < 1) throw new EventError('LIMIT_INVALID', `${k} must be a positive integer, got ${l[k]}`);
  }
}

/** Running budget for one event. */
export class FieldBudget {
  keys = 0;
  cut = false;
  constructor(readonly limits: FieldLimits) {}

  /** Reserve one key; false (and flagged) when the budget is spent. */
  take(): boolean {
    if (this.keys >= this.limits.maxKeys) {
      this.cut = true;
      return false;
    }
    this.keys++;
    return true;
  }

  str(s: string): string {
    if (s.length <= this.limits.maxValueLength) return s;
    this.cut = true;
    let end = this.limits.maxValueLength;
    // Do not leave half a surrogate pair behind.
    const c = s.charCodeAt(end - 1);
    if (c >= 0xd800 && c <= 0xdbff) end--;
    return s.slice(0, end);
  }

  /** A bounded deep copy of `v` at nesting `depth` (1 = a direct child of `fields`). */
  value(v: unknown, depth: number): unknown {
    switch (typeof v) {
      case 'string':
        return this.str(v);
      case 'number':
        return Number.isFinite(v) ? v : String(v);
      case 'boolean':
        return v;
      case 'bigint':
        return String(v);
      case 'object': {
        if (v === null) return null;
        if (v instanceof Date) return Number.isNaN(v.getTime()) ? null : v.toISOString();
        if (depth >= this.limits.maxDepth) {
          this.cut = true;
          let text: string;
          try {
            text = JSON.stringify(v) ?? '';
          } catch {
            text = '[unserializable]';
          }
          return this.str(text);
        }
        if (Array.isArray(v)) {
          const out: unknown[] = [];
          for (const el of v) {
            if (!this.take()) break;
            out.push(this.value(el, depth + 1));
          }
          return out;
        }
        const out: Record<string, unknown> = {};
        for (const k in v as Record<string, unknown>) {
          if (!Object.prototype.hasOwnProperty.call(v, k)) continue;
          const child = (v as Record<string, unknown>)[k];
          if (child === undefined || typeof child === 'function' || typeof child === 'symbol') continue;
          if (!this.take()) break;
          out[safeKey(k)] = this.value(child, depth + 1);
        }
        return out;
      }
      default:
        return undefined;
    }
  }

  /** Put `v` under `key` in `into` unless the key exists (the first writer wins) or the budget is spent. */
  put(into: Record<string, unknown>, key: string, v: unknown): void {
    if (v === undefined || typeof v === 'function' || typeof v === 'symbol') return;
    const k = safeKey(key);
    if (Object.prototype.hasOwnProperty.call(into, k)) return;
    if (!this.take()) return;
    into[k] = this.value(v, 1);
  }
}

/**
 * Elasticsearch refuses empty field names and names that are only dots, and `__proto__` would reach the
 * prototype of a plain object; such keys are renamed rather than dropped.
 */
export function safeKey(k: string): string {
  if (k.length === 0) return '_empty';
  if (k === '__proto__') return '_proto';
  if (k.length > 128) return k.slice(0, 128);
  let onlyDots = true;
  for (let i = 0; i < k.length; i++) {
    if (k.charCodeAt(i) !== 46) {
      onlyDots = false;
      break;
    }
  }
  return onlyDots ? '_dots' : k;
}

function isKeyChar(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || (c >= 48 && c <= 57) || c === 95 /* _ */ || c === 46 /* . */ || c === 45; /* - */
}

function isKeyStart(c: number): boolean {
  return (c >= 97 && c <= 122) || (c >= 65 && c <= 90) || c === 95;
}

/** Characters that may precede a key: start of text, whitespace, and list punctuation. */
function isSeparator(c: number): boolean {
  return c === 32 || c === 9 || c === 44 /* , */ || c === 59 /* ; */ || c === 40 /* ( */ || c === 91 /* [ */ || c === 123 /* { */ || c === 124; /* | */
}

const MAX_KV_KEY = 64;

/**
 * `key=value` pairs in free text (logfmt, syslog daemons, firewalls): `user=bob`, `msg="a b"`,
 * `in=3274 out=1448`. A key is [A-Za-z_][A-Za-z0-9_.-]* preceded by the start of the text, whitespace
 * or `,;([{|`; a value is a double-quoted string (with \" escapes) or runs to the next whitespace, minus
 * one trailing `,` or `;`. Values stay strings: guessing types here causes mapping conflicts later.
 * Linear time: one forward scan per `=`, no regular expressions. `pair` returns false to stop the scan.
 */
function scanKeyValues(msg: string, pair: (key: string, value: string) => boolean): void {
  const n = msg.length;
  let eq = msg.indexOf('=');
  while (eq > 0) {
    let k = eq;
    while (k > 0 && eq - k <= MAX_KV_KEY && isKeyChar(msg.charCodeAt(k - 1))) k--;
    let next = eq + 1;
    if (k < eq && eq - k <= MAX_KV_KEY && isKeyStart(msg.charCodeAt(k)) && (k === 0 || isSeparator(msg.charCodeAt(k - 1)))) {
      const key = msg.slice(k, eq);
      let j = eq + 1;
      let value: string;
      if (msg.charCodeAt(j) === 34 /* " */) {
        let close = j + 1;
        let escaped = false;
        while (close < n) {
          const c = msg.charCodeAt(close);
          if (c === 92 /* \ */) {
            escaped = true;
            close += 2;
            continue;
          }
          if (c === 34) break;
          close++;
        }
        if (close < n) {
          value = msg.slice(j + 1, close);
          if (escaped) value = value.replace(/\\(["\\])/g, '$1');
          j = close + 1;
        } else {
          // Unterminated quote: take the rest of the token.
          let e = j;
          while (e < n && msg.charCodeAt(e) !== 32 && msg.charCodeAt(e) !== 9) e++;
          value = msg.slice(j, e);
          j = e;
        }
      } else {
        let e = j;
        while (e < n) {
          const c = msg.charCodeAt(e);
          if (c === 32 || c === 9 || c === 10 || c === 13) break;
          e++;
        }
        let ve = e;
        const last = msg.charCodeAt(ve - 1);
        if (ve > j && (last === 44 || last === 59)) ve--;
        value = msg.slice(j, ve);
        j = e;
      }
      if (!pair(key, value)) return;
      next = j;
    }
    eq = next < n ? msg.indexOf('=', next) : -1;
  }
}

/** scanKeyValues into `fields` (existing keys win), bounded by `budget`. Returns the pairs added. */
export function extractKeyValues(msg: string, into: Record<string, unknown>, budget: FieldBudget): number {
  let found = 0;
  scanKeyValues(msg, (key, value) => {
    if (!Object.prototype.hasOwnProperty.call(into, key)) {
      if (!budget.take()) return false;
      into[key] = budget.str(value);
      found++;
    }
    return true;
  });
  return found;
}

/**
 * The `fields` JSON that extractKeyValues(msg, {}, new FieldBudget(limits)) builds, written as text
 * (no object): `{"k":"v",…}`, or '' when the message has no pairs. Undefined when the budget would cut
 * something or a key is `__proto__` (the caller then takes the object path).
 */
export function keyValuesJson(msg: string, limits: FieldLimits): string | undefined {
  if (msg.indexOf('=') < 0) return '';
  const keys: string[] = [];
  let out = '';
  let ok = true;
  scanKeyValues(msg, (key, value) => {
    for (let i = 0; i < keys.length; i++) if (keys[i] === key) return true;
    if (keys.length >= limits.maxKeys || value.length > limits.maxValueLength || key === '__proto__') return (ok = false);
    keys.push(key);
    out += `${keys.length > 1 ? ',' : '{'}${jsonString(key)}:${jsonString(value)}`;
    return true;
  });
  if (!ok) return undefined;
  return out === '' ? '' : `${out}}`;
}

/**
 * When the whole message is a JSON object (`{...}`, surrounding whitespace allowed), its keys are copied
 * into `fields` (existing keys win) and true is returned. The message itself is kept as sent.
 */
export function extractJsonObject(msg: string, into: Record<string, unknown>, budget: FieldBudget): boolean {
  let a = 0;
  let b = msg.length - 1;
  while (a <= b && (msg.charCodeAt(a) === 32 || msg.charCodeAt(a) === 9)) a++;
  while (b > a && (msg.charCodeAt(b) === 32 || msg.charCodeAt(b) === 9 || msg.charCodeAt(b) === 13 || msg.charCodeAt(b) === 10)) b--;
  if (msg.charCodeAt(a) !== 123 || msg.charCodeAt(b) !== 125) return false;
  let obj: unknown;
  try {
    obj = JSON.parse(a === 0 && b === msg.length - 1 ? msg : msg.slice(a, b + 1));
  } catch {
    return false;
  }
  if (obj === null || typeof obj !== 'object' || Array.isArray(obj)) return false;
  for (const k in obj as Record<string, unknown>) budget.put(into, k, (obj as Record<string, unknown>)[k]);
  return true;
}
