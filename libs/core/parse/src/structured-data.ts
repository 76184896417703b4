import { type ParseFailure, fail } from './errors';
import type { StructuredData } from './syslog-message';

/**
 * STRUCTURED-DATA = 1*SD-ELEMENT (RFC 5424 section 6.3)
 *   SD-ELEMENT = "[" SD-ID *(SP SD-PARAM) "]"
 *   SD-PARAM   = PARAM-NAME "=" %d34 PARAM-VALUE %d34
 *   SD-NAME    = 1*32PRINTUSASCII except '=', SP, ']', %d34 (")
 * PARAM-VALUE is UTF-8 in which '"', '\' and ']' MUST be escaped with '\'; a backslash before any other
 * character is kept as a backslash (6.3.3).
 */
export interface SdOptions {
  /** Reject what the grammar rejects (go-syslog behaviour); otherwise tolerate the quirks listed below. */
  strict: boolean;
  /** Only accept elements that have at least one parameter (used after an RFC 3164 TAG, where "[INFO]" is text). */
  requireParams?: boolean;
}

export interface SdScan {
  ok: true;
  sd: StructuredData;
  end: number;
}

function isSdNameChar(c: number): boolean {
  return c >= 33 && c <= 126 && c !== 61 /* = */ && c !== 93 /* ] */ && c !== 34; /* " */
}

function scanName(s: string, i: number): number {
  const start = i;
  while (i < s.length && i - start <= 32 && isSdNameChar(s.charCodeAt(i))) i++;
  return i;
}

/**
 * Scans SD-ELEMENTs starting at `start` (which must be '['). Lenient mode also accepts (as syslog-loose
 * and rsyslog do): SP around '=', an unescaped ']' inside a quoted value, and a repeated SD-ID (merged).
 */
export function scanStructuredData(s: string, start: number, opts: SdOptions): SdScan | ParseFailure {
  const n = s.length;
  const sd: StructuredData = {};
  let i = start;
  while (i < n && s.charCodeAt(i) === 91 /* [ */) {
    i++;
    const idEnd = scanName(s, i);
    if (idEnd === i || idEnd - i > 32) return fail('SD_INVALID', i);
    const id = s.slice(i, idEnd);
    i = idEnd;
    let params = sd[id];
    if (params !== undefined) {
      if (opts.strict) return fail('SD_DUPLICATE_ID', i);
    } else {
      params = {};
      sd[id] = params;
    }
    let count = 0;
    for (;;) {
      const c = s.charCodeAt(i);
      if (c === 93 /* ] */) {
        i++;
        break;
      }
      if (c !== 32) return fail('SD_INVALID', i);
      i++;
      if (!opts.strict) while (s.charCodeAt(i) === 32) i++;
      if (!opts.strict && s.charCodeAt(i) === 93) continue; // "[id a="b" ]"
      const nameEnd = scanName(s, i);
      if (nameEnd === i || nameEnd - i > 32) return fail('SD_INVALID', i);
      const name = s.slice(i, nameEnd);
      i = nameEnd;
      if (!opts.strict) while (s.charCodeAt(i) === 32) i++;
      if (s.charCodeAt(i) !== 61 /* = */) return fail('SD_INVALID', i);
      i++;
      if (!opts.strict) while (s.charCodeAt(i) === 32) i++;
      if (s.charCodeAt(i) !== 34 /* " */) return fail('SD_INVALID', i);
      i++;
      // Value: fast path slices when there is no backslash.
      let value = '';
      let from = i;
      for (;;) {
        if (i >= n) return fail('SD_INVALID', i);
        const v = s.charCodeAt(i);
        if (v === 34) break;
        if (v === 92 /* \ */) {
          const e = s.charCodeAt(i + 1);
          if (e === 34 || e === 92 || e === 93) {
            value += s.slice(from, i) + s[i + 1];
            i += 2;
            from = i;
            continue;
          }
          i++;
          continue;
        }
        if (v === 93 && opts.strict) return fail('SD_ESCAPE', i);
        i++;
      }
      value += s.slice(from, i);
      i++; // closing quote
      const prev = params[name];
      // RFC 5424 6.3.3 lets a PARAM-NAME repeat inside one element: keep every value, in order.
      params[name] = prev === undefined ? value : Array.isArray(prev) ? [...prev, value] : [prev, value];
      count++;
    }
    if (opts.requireParams && count === 0) return fail('SD_INVALID', i);
  }
  if (i === start) return fail('SD_INVALID', start);
  return { ok: true, sd, end: i };
}
