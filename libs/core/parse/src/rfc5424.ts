import { MAX_PRI, scanRfc3339, timeErrorColumn } from '@backlog/core-event';
import { type ParseErrorCode, fail } from './errors';
import { type SdOptions, scanStructuredData } from './structured-data';
import { type SyslogMessage, type SyslogResult, addWarning, isPrintUsAscii, scanPri } from './syslog-message';

/**
 * RFC 5424 (section 6):
 *   SYSLOG-MSG = HEADER SP STRUCTURED-DATA [SP MSG]
 *   HEADER     = PRI VERSION SP TIMESTAMP SP HOSTNAME SP APP-NAME SP PROCID SP MSGID
 * Each header field is NILVALUE ("-") or printable US-ASCII with a length cap. Hand-written scanner:
 * indexOf for token ends plus one pass over each token's characters, no regular expressions.
 *
 * Strict mode is the RFC grammar (and rejects everything go-syslog rejects in its test suite).
 * Lenient mode additionally accepts what real senders do (see docs/adr/0003):
 *   - no PRI at all (the line starts with VERSION): priority stays absent;
 *   - PRI above 191: kept as sent, facility absent, warning "pri_out_of_range";
 *   - RFC 3339 timestamps with lower-case t/z or up to 9 fraction digits;
 *   - SP around '=' and an unescaped ']' in SD values; a repeated SD-ID (merged);
 *   - malformed STRUCTURED-DATA: kept as the start of MSG, warning "sd_invalid" (nothing is dropped).
 */
export interface Rfc5424Options {
  strict: boolean;
}

// Shared, never-mutated: an options literal per line costs an allocation on the hot path.
const SD_STRICT: Readonly<SdOptions> = Object.freeze({ strict: true });
const SD_LENIENT: Readonly<SdOptions> = Object.freeze({ strict: false });

const LIMITS = { hostname: 255, appname: 48, procid: 128, msgid: 32 } as const;
/** Header field failures, encoded as negative numbers so the scanner returns a plain int. */
const TRUNCATED = -1;
const BAD_AT = -2; // -2 - column

/**
 * Scans one header field at `i`; returns the index of the SP after it, or TRUNCATED / BAD_AT - column.
 * Lenient mode lets 8-bit characters through (host names in local scripts), never control bytes.
 */
function headerField(s: string, i: number, cap: number, strict: boolean): number {
  const n = s.length;
  if (i >= n) return TRUNCATED;
  let k = i;
  for (; k < n; k++) {
    const c = s.charCodeAt(k);
    if (c === 32) break;
    if (k - i >= cap || !(isPrintUsAscii(c) || (!strict && c >= 128))) return BAD_AT - k;
  }
  if (k === i) return BAD_AT - i;
  if (k >= n) return TRUNCATED;
  return k;
}

function fieldFailure(s: string, i: number, r: number, code: ParseErrorCode) {
  return r === TRUNCATED ? fail('HEADER_TRUNCATED', Math.max(i, s.length)) : fail(code, BAD_AT - r);
}

/** True when `s` starts like an RFC 5424 message: "<" 1-3 digits ">" NONZERO-DIGIT (cheap, for auto-detection). */
export function looksLikeRfc5424(s: string): boolean {
  const gt = s.indexOf('>', 1);
  if (gt < 2 || gt > 4) return false;
  const c = s.charCodeAt(gt + 1);
  if (c < 49 || c > 57) return false;
  for (let i = gt + 2; i < gt + 5; i++) {
    const d = s.charCodeAt(i);
    if (d === 32) return true;
    if (d < 48 || d > 57) return false;
  }
  return false;
}

export function parseRfc5424(s: string, opts: Rfc5424Options): SyslogResult {
  const strict = opts.strict;
  const n = s.length;
  if (n === 0) return fail('PRI_MISSING', 0);
  const m: SyslogMessage = { ok: true, format: 'rfc5424' };
  let i: number;
  const c0 = s.charCodeAt(0);
  if (c0 !== 60 && !strict && c0 >= 49 && c0 <= 57) {
    i = 0; // lenient: header without PRI
  } else {
    const pri = scanPri(s);
    if (!Array.isArray(pri)) return pri.code === 'PRI_INVALID' ? fail('PRI_INVALID', pri.column) : pri;
    if (pri[0] > MAX_PRI) {
      if (strict) return fail('PRI_OUT_OF_RANGE', pri[1] - 1);
      addWarning(m, 'pri_out_of_range');
    }
    m.pri = pri[0];
    i = pri[1];
  }

  // VERSION = NONZERO-DIGIT 0*2DIGIT
  const v0 = s.charCodeAt(i);
  if (v0 < 49 || v0 > 57) return fail('VERSION_INVALID', i);
  let version = v0 - 48;
  let j = i + 1;
  for (; j < n; j++) {
    const c = s.charCodeAt(j);
    if (c < 48 || c > 57) break;
    if (j - i >= 3) return fail('VERSION_INVALID', j);
    version = version * 10 + (c - 48);
  }
  if (j >= n) return fail('HEADER_TRUNCATED', j);
  if (s.charCodeAt(j) !== 32) return fail('VERSION_INVALID', j);
  m.version = version;
  i = j + 1;

  // TIMESTAMP = NILVALUE / FULL-DATE "T" FULL-TIME
  if (i >= n) return fail('HEADER_TRUNCATED', i);
  if (s.charCodeAt(i) === 45 /* - */ && (i + 1 >= n || s.charCodeAt(i + 1) === 32)) {
    i += 1;
  } else {
    const t = scanRfc3339(s, i, strict);
    if (t === null) return fail('TIMESTAMP_INVALID', timeErrorColumn());
    m.timestamp = s.slice(i, t.end);
    m.time = t.ms;
    i = t.end;
  }
  if (i >= n) return fail('HEADER_TRUNCATED', i);
  if (s.charCodeAt(i) !== 32) return fail('SP_EXPECTED', i);
  i++;

  // HOSTNAME, APP-NAME, PROCID, MSGID: NILVALUE or 1*<cap>PRINTUSASCII, each followed by SP.
  let end = headerField(s, i, LIMITS.hostname, strict);
  if (end < 0) return fieldFailure(s, i, end, 'HOSTNAME_INVALID');
  if (end - i !== 1 || s.charCodeAt(i) !== 45) m.hostname = s.slice(i, end);
  i = end + 1;
  end = headerField(s, i, LIMITS.appname, strict);
  if (end < 0) return fieldFailure(s, i, end, 'APPNAME_INVALID');
  if (end - i !== 1 || s.charCodeAt(i) !== 45) m.appname = s.slice(i, end);
  i = end + 1;
  end = headerField(s, i, LIMITS.procid, strict);
  if (end < 0) return fieldFailure(s, i, end, 'PROCID_INVALID');
  if (end - i !== 1 || s.charCodeAt(i) !== 45) m.procid = s.slice(i, end);
  i = end + 1;
  end = headerField(s, i, LIMITS.msgid, strict);
  if (end < 0) return fieldFailure(s, i, end, 'MSGID_INVALID');
  if (end - i !== 1 || s.charCodeAt(i) !== 45) m.msgid = s.slice(i, end);
  i = end + 1;

  // STRUCTURED-DATA
  if (i >= n) return fail('HEADER_TRUNCATED', i);
  const sdStart = i;
  if (s.charCodeAt(i) === 45 /* - */) {
    i++;
  } else if (s.charCodeAt(i) === 91 /* [ */) {
    const sd = scanStructuredData(s, i, strict ? SD_STRICT : SD_LENIENT);
    if (sd.ok && (sd.end === n || s.charCodeAt(sd.end) === 32)) {
      m.structuredData = sd.sd;
      i = sd.end;
    } else if (strict) {
      return sd.ok ? fail('SP_EXPECTED', sd.end) : sd;
    } else {
      // Keep the malformed SD text as the start of MSG rather than drop it.
      addWarning(m, 'sd_invalid');
      m.message = s.slice(sdStart);
      return m;
    }
  } else {
    return fail('SD_INVALID', i);
  }

  // [SP MSG]: exactly one SP separates; any further SP belongs to MSG (RFC 5424 6.4).
  if (i < n) {
    if (s.charCodeAt(i) !== 32) return fail('SP_EXPECTED', i);
    if (i + 1 < n) m.message = s.slice(i + 1);
  }
  return m;
}
