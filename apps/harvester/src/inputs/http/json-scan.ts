/**
 * A validating JSON scanner over bytes (RFC 8259), for request bodies that must not be materialised:
 * `JSON.parse` of an 8 MiB body of `[{},{},…]` builds millions of objects at once, more than the
 * harvester's whole heap (issue 17 §2). This scanner allocates nothing per value: it only finds where
 * each value ends, so the body can be counted first (records-per-request cap) and then parsed one
 * element at a time.
 *
 * Validity matches `JSON.parse(body.toString('utf8'))`: the same grammar, whitespace (SP, HT, LF, CR
 * only), escapes and number syntax; bytes ≥ 0x80 inside strings are accepted because decoding turns an
 * invalid sequence into U+FFFD rather than an error. Nesting depth is unbounded (a growing stack of one
 * byte per level, never recursion), as V8's parser is.
 */

const QUOTE = 0x22;
const BACKSLASH = 0x5c;
const COMMA = 0x2c;
const COLON = 0x3a;
const LBRACKET = 0x5b;
const RBRACKET = 0x5d;
const LBRACE = 0x7b;
const RBRACE = 0x7d;
const ARRAY = 1;
const OBJECT = 2;

function isWs(c: number): boolean {
  return c === 0x20 || c === 0x0a || c === 0x0d || c === 0x09;
}

export function skipWs(b: Uint8Array, i: number, end: number): number {
  while (i < end && isWs(b[i] as number)) i++;
  return i;
}

function isDigit(c: number | undefined): boolean {
  return c !== undefined && c >= 0x30 && c <= 0x39;
}

function isHex(c: number | undefined): boolean {
  return c !== undefined && ((c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x46) || (c >= 0x61 && c <= 0x66));
}

/** A string starting at `i` (its opening quote): the index after its closing quote, or -1. */
function scanString(b: Uint8Array, i: number, end: number): number {
  i++;
  while (i < end) {
    const c = b[i] as number;
    if (c === QUOTE) return i + 1;
    if (c < 0x20) return -1;
    if (c === BACKSLASH) {
      const e = b[i + 1];
      if (e === 0x75) {
        // \uXXXX
        if (!(isHex(b[i + 2]) && isHex(b[i + 3]) && isHex(b[i + 4]) && isHex(b[i + 5]))) return -1;
        i += 6;
        continue;
      }
      // " \ / b f n r t
      if (e !== QUOTE && e !== BACKSLASH && e !== 0x2f && e !== 0x62 && e !== 0x66 && e !== 0x6e && e !== 0x72 && e !== 0x74) return -1;
      i += 2;
      continue;
    }
    i++;
  }
  return -1;
}

/** A number starting at `i`: -?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)? — the index after it, or -1. */
function scanNumber(b: Uint8Array, i: number, end: number): number {
  if (b[i] === 0x2d) i++;
  if (i >= end) return -1;
  if (b[i] === 0x30) i++;
  else if (isDigit(b[i])) while (i < end && isDigit(b[i])) i++;
  else return -1;
  if (i < end && b[i] === 0x2e) {
    i++;
    if (!isDigit(b[i]) || i >= end) return -1;
    while (i < end && isDigit(b[i])) i++;
  }
  if (i < end && (b[i] === 0x65 || b[i] === 0x45)) {
    i++;
    if (i < end && (b[i] === 0x2b || b[i] === 0x2d)) i++;
    if (!isDigit(b[i]) || i >= end) return -1;
    while (i < end && isDigit(b[i])) i++;
  }
  return i;
}

function scanLiteral(b: Uint8Array, i: number, end: number, word: string): number {
  if (i + word.length > end) return -1;
  for (let k = 0; k < word.length; k++) if (b[i + k] !== word.charCodeAt(k)) return -1;
  return i + word.length;
}

/** An object key and its colon at `i` (whitespace skipped): the index after the colon, or -1. */
function scanKey(b: Uint8Array, i: number, end: number): number {
  i = skipWs(b, i, end);
  if (b[i] !== QUOTE || i >= end) return -1;
  i = scanString(b, i, end);
  if (i < 0) return -1;
  i = skipWs(b, i, end);
  if (b[i] !== COLON || i >= end) return -1;
  return i + 1;
}

/**
 * One JSON value starting at `i` (leading whitespace skipped), within `b[..end)`: the index just after
 * it, or -1 when what is there is not one valid value.
 */
export function scanValue(b: Uint8Array, i: number, end: number): number {
  let stack = new Uint8Array(16);
  let depth = 0;
  for (;;) {
    // A value is expected at i.
    i = skipWs(b, i, end);
    if (i >= end) return -1;
    const c = b[i] as number;
    if (c === LBRACKET || c === LBRACE) {
      if (depth === stack.length) {
        const grown = new Uint8Array(stack.length * 2);
        grown.set(stack);
        stack = grown;
      }
      stack[depth++] = c === LBRACKET ? ARRAY : OBJECT;
      i = skipWs(b, i + 1, end);
      const close = c === LBRACKET ? RBRACKET : RBRACE;
      if (i < end && b[i] === close) {
        depth--;
        i++;
      } else {
        if (c === LBRACE) {
          i = scanKey(b, i, end);
          if (i < 0) return -1;
        }
        continue;
      }
    } else if (c === QUOTE) i = scanString(b, i, end);
    else if (c === 0x2d || isDigit(c)) i = scanNumber(b, i, end);
    else if (c === 0x74) i = scanLiteral(b, i, end, 'true');
    else if (c === 0x66) i = scanLiteral(b, i, end, 'false');
    else if (c === 0x6e) i = scanLiteral(b, i, end, 'null');
    else return -1;
    if (i < 0) return -1;
    // After a value: close containers, or go on with the next element/member.
    for (;;) {
      if (depth === 0) return i;
      i = skipWs(b, i, end);
      if (i >= end) return -1;
      const d = b[i] as number;
      const top = stack[depth - 1];
      if (d === COMMA) {
        i++;
        if (top === OBJECT) {
          i = scanKey(b, i, end);
          if (i < 0) return -1;
        }
        break;
      }
      if ((top === ARRAY && d === RBRACKET) || (top === OBJECT && d === RBRACE)) {
        depth--;
        i++;
        continue;
      }
      return -1;
    }
  }
}

/** What a request body is, seen as JSON. */
export type JsonBody =
  /** One JSON array: its elements are the records. `first` is the index of the first element (or of `]`). */
  | { kind: 'array'; count: number; first: number }
  /** One JSON value that is not an array: one record. */
  | { kind: 'value'; count: 1; start: number; end: number }
  /** Not one JSON document (then it is read as NDJSON). */
  | { kind: 'invalid' };

/** Classifies a whole body and counts its records, without building any value. */
export function scanJsonBody(b: Uint8Array): JsonBody {
  const end = b.length;
  const start = skipWs(b, 0, end);
  if (start >= end) return { kind: 'invalid' };
  if (b[start] !== LBRACKET) {
    const e = scanValue(b, start, end);
    return e >= 0 && skipWs(b, e, end) === end ? { kind: 'value', count: 1, start, end: e } : { kind: 'invalid' };
  }
  const first = skipWs(b, start + 1, end);
  let count = 0;
  const it = new JsonArrayElements(b, first);
  while (it.next()) count++;
  if (it.failed || skipWs(b, it.after, end) !== end) return { kind: 'invalid' };
  return { kind: 'array', count, first };
}

/**
 * The elements of a JSON array, one at a time: `next()` moves to the next element and sets `start`/`end`.
 * Built at the first element (just after `[` and its whitespace); resumable, so a caller can stop between
 * elements (to let the sink drain) and go on later.
 */
export class JsonArrayElements {
  start = 0;
  end = 0;
  /** The array was malformed. */
  failed = false;
  /** Index just after the closing `]`, once next() returned false without failing. */
  after = 0;
  private pos: number;
  private first = true;

  constructor(
    private readonly b: Uint8Array,
    first: number,
  ) {
    this.pos = first;
  }

  next(): boolean {
    const b = this.b;
    const end = b.length;
    let i = skipWs(b, this.pos, end);
    if (i >= end) return this.fail();
    if (b[i] === RBRACKET) {
      this.after = i + 1;
      this.pos = end;
      return false;
    }
    if (!this.first) {
      if (b[i] !== COMMA) return this.fail();
      i++;
    }
    const e = scanValue(b, i, end);
    if (e < 0) return this.fail();
    this.start = skipWs(b, i, end);
    this.end = e;
    this.pos = e;
    this.first = false;
    return true;
  }

  private fail(): false {
    this.failed = true;
    this.pos = this.b.length;
    return false;
  }
}
