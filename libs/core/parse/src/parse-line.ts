import { Buffer, isUtf8 } from 'node:buffer';
import { type PartialEvent, checkTimeZone, truncateUtf8 } from '@backlog/core-event';
import { type ParseErrorCode, type ParseFailure, ParseError } from './errors';
import { parseRfc3164 } from './rfc3164';
import { type Rfc5424Options, looksLikeRfc5424, parseRfc5424 } from './rfc5424';
import { type SyslogMessage, type SyslogResult, syslogToPartial } from './syslog-message';

export type LineFormat = 'auto' | 'rfc5424' | 'rfc3164' | 'json' | 'text';
export const LINE_FORMATS: readonly LineFormat[] = ['auto', 'rfc5424', 'rfc3164', 'json', 'text'];

export interface ParseOptions {
  /** Default "auto": RFC 5424, RFC 3164 (with or without PRI), a JSON object, else plain text. */
  format?: LineFormat;
  /**
   * "lenient" (default): accept real-world variants (docs/adr/0003); "strict": only what the RFCs allow,
   * and in auto mode only syslog or JSON. A rejected line still becomes an event with `labels.parse_error`.
   */
  mode?: 'lenient' | 'strict';
  /** IANA zone of senders' wall clocks, for RFC 3164 timestamps. Default "UTC". */
  timeZone?: string;
  /** Year for year-less RFC 3164 timestamps; default: from `now` with the Dec/Jan roll-over rule. */
  year?: number;
  /** Receive time, epoch ms (default Date.now()): the reference for year completion. */
  now?: number;
  /**
   * PRI for an RFC 3164 line without one. Default: 13 (user.notice, RFC 3164 4.3.3) when format is
   * "rfc3164"; absent in "auto" (a file line without PRI claims no severity). null = always absent.
   */
  defaultPri?: number | null;
  /** Longest line in UTF-8 bytes; longer input is cut (at a code point) and flagged. Default 65,536. */
  maxLineBytes?: number;
}

/** Validates options once (config time), with coded errors. parseLine itself never throws. */
export function checkParseOptions(o: ParseOptions): void {
  if (o.format !== undefined && !LINE_FORMATS.includes(o.format)) throw new ParseError('OPTIONS_INVALID', `unknown format ${JSON.stringify(o.format)}`);
  if (o.mode !== undefined && o.mode !== 'lenient' && o.mode !== 'strict') throw new ParseError('OPTIONS_INVALID', `unknown mode ${JSON.stringify(o.mode)}`);
  if (o.timeZone !== undefined) checkTimeZone(o.timeZone);
  if (o.year !== undefined && (!Number.isInteger(o.year) || o.year < 1970 || o.year > 9999)) throw new ParseError('OPTIONS_INVALID', `year must be 1970..9999`);
  if (o.maxLineBytes !== undefined && (!Number.isInteger(o.maxLineBytes) || o.maxLineBytes < 64)) throw new ParseError('OPTIONS_INVALID', 'maxLineBytes must be an integer >= 64');
}

const DEFAULT_MAX_LINE = 65_536;

function label(p: PartialEvent, key: string, value: string): void {
  const labels = (p.labels ??= {}) as Record<string, string>;
  const cur = labels[key];
  labels[key] = cur === undefined ? value : `${cur},${value}`;
}

function failed(raw: string, format: string, code: ParseErrorCode): PartialEvent {
  return { message: raw, labels: { parse_error: `${format}:${code.toLowerCase()}` } };
}

function syslogOf(r: SyslogResult): SyslogMessage | undefined {
  return r.ok ? r : undefined;
}

/**
 * Parses one line (one frame) into a partial event for normalize(). Never throws: input that the
 * chosen format does not accept becomes `{ message: <raw line>, labels: { parse_error: "<format>:<code>" } }`.
 *
 * Bytes: valid UTF-8 is decoded as such. Invalid UTF-8 is read as Latin-1 (one char per byte, lossless)
 * so that a syslog header can still be parsed; a syslog MSG that is not UTF-8 keeps its Latin-1 reading
 * (RFC 5424 6.4 allows any encoding without a BOM) with `labels.parse_warning = "msg_not_utf8"`. When no
 * syslog header parses, the event is flagged `parse_error: "<format>:invalid_utf8"` and the message is the
 * line decoded with U+FFFD replacements. NUL bytes are kept; they flag `parse_warning: nul_byte` on a
 * parsed syslog line and `parse_error: "<format>:nul_byte"` on anything else (binary data).
 */
export function parseLine(input: string | Uint8Array, opts: ParseOptions = {}): PartialEvent {
  const maxLine = opts.maxLineBytes ?? DEFAULT_MAX_LINE;
  let s: string;
  let bytes: Uint8Array | undefined;
  let cut = false;
  if (typeof input === 'string') {
    s = input;
    if (s.length * 3 > maxLine) {
      const t = truncateUtf8(s, maxLine);
      cut = t !== s;
      s = t;
    }
  } else {
    let b = input;
    if (b.length > maxLine) {
      let end = maxLine;
      while (end > 0 && ((b[end] ?? 0) & 0xc0) === 0x80) end--; // do not split a UTF-8 sequence
      b = b.subarray(0, end);
      cut = true;
    }
    const buf = Buffer.from(b.buffer, b.byteOffset, b.byteLength);
    if (isUtf8(buf)) s = buf.toString('utf8');
    else {
      bytes = b;
      s = buf.toString('latin1');
    }
  }
  // One trailing line terminator belongs to the framing, not the message (CRLF files, "\n" from stdin).
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 10 || s.charCodeAt(end - 1) === 13)) end--;
  if (end !== s.length) s = s.slice(0, end);

  const p = parseString(s, opts, bytes !== undefined);
  if (bytes !== undefined) fixEncoding(p, bytes, opts.format ?? 'auto');
  else if (s.indexOf('\0') !== -1) {
    if (p.log?.syslog !== undefined && p.labels?.parse_error === undefined) label(p, 'parse_warning', 'nul_byte');
    else if (p.labels?.parse_error === undefined) return withCut({ message: s, labels: { parse_error: `${opts.format ?? 'auto'}:nul_byte` } }, cut);
  }
  return withCut(p, cut);
}

function withCut(p: PartialEvent, cut: boolean): PartialEvent {
  if (cut) label(p, 'truncated', 'line');
  return p;
}

/** Marks the non-UTF-8 case after parsing the Latin-1 reading of the bytes. */
function fixEncoding(p: PartialEvent, bytes: Uint8Array, requested: string): void {
  const sys = p.log?.syslog;
  if (sys === undefined || p.labels?.parse_error !== undefined) {
    const format = (p.labels?.parse_error as string | undefined)?.split(':')[0] ?? requested;
    p.message = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8');
    delete p.log;
    p.labels = { parse_error: `${format}:invalid_utf8` };
    return;
  }
  // Header fields that are UTF-8 after all (8-bit host or SD values) get their proper reading back.
  const utf8 = (v: string): string => {
    for (let i = 0; i < v.length; i++) {
      if (v.charCodeAt(i) > 127) {
        const b = Buffer.from(v, 'latin1');
        return isUtf8(b) ? b.toString('utf8') : v;
      }
    }
    return v;
  };
  for (const k of ['hostname', 'appname', 'procid', 'msgid'] as const) {
    const v = sys[k];
    if (v !== undefined) sys[k] = utf8(v);
  }
  if (sys.structured_data) {
    for (const id in sys.structured_data) {
      const params = sys.structured_data[id] as Record<string, string | string[]>;
      for (const k in params) {
        const v = params[k] as string | string[];
        params[k] = Array.isArray(v) ? v.map(utf8) : utf8(v);
      }
    }
  }
  if (typeof p.message === 'string') {
    const fixed = utf8(p.message);
    if (fixed === p.message) label(p, 'parse_warning', 'msg_not_utf8');
    p.message = fixed;
  }
}

// Shared, never-mutated option objects: one literal per line showed up at ~3 % of the RFC 5424 profile.
const LENIENT_5424: Readonly<Rfc5424Options> = Object.freeze({ strict: false });
const STRICT_5424: Readonly<Rfc5424Options> = Object.freeze({ strict: true });

function rfc5424Options(strict: boolean): Rfc5424Options {
  return strict ? STRICT_5424 : LENIENT_5424;
}

function syslogOpts(opts: ParseOptions, strict: boolean, format: LineFormat) {
  const defaultPri = opts.defaultPri === null ? undefined : (opts.defaultPri ?? (format === 'rfc3164' ? 13 : undefined));
  return {
    strict,
    timeZone: opts.timeZone,
    year: opts.year,
    now: opts.now,
    defaultPri,
    requireHeader: format !== 'rfc3164',
  };
}

function fromSyslog(r: SyslogResult, raw: string, format: string): PartialEvent {
  return r.ok ? syslogToPartial(r) : failed(raw, format, r.code);
}

function parseString(s: string, opts: ParseOptions, latin1: boolean): PartialEvent {
  const format = opts.format ?? 'auto';
  const strict = opts.mode === 'strict';
  if (s.length === 0) return format === 'text' || (format === 'auto' && !strict) ? { message: '' } : failed(s, format, 'EMPTY');
  switch (format) {
    case 'rfc5424':
      return fromSyslog(parseRfc5424(s, rfc5424Options(strict)), s, format);
    case 'rfc3164':
      return fromSyslog(parseRfc3164(s, syslogOpts(opts, strict, format)), s, format);
    case 'json':
      return latin1 ? failed(s, format, 'INVALID_UTF8') : parseJson(s, format);
    case 'text':
      return { message: s };
    default:
      return parseAuto(s, opts, strict);
  }
}

function parseJson(s: string, format: string): PartialEvent {
  let v: unknown;
  try {
    v = JSON.parse(s);
  } catch {
    return failed(s, format, 'JSON_INVALID');
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) return failed(s, format, 'JSON_NOT_OBJECT');
  return v as PartialEvent;
}

/**
 * Auto-detection by the first character, so each line is tried against one or two parsers only:
 *   '<'       RFC 5424 when "<PRI>VERSION SP" follows, else RFC 3164; the other one as fallback
 *   '{'       a JSON object
 *   'A'-'z'   RFC 3164 without PRI when a BSD timestamp starts the line (files like /var/log/messages)
 *   '1'-'9'   RFC 5424 without PRI (lenient only; syslog-loose accepts these)
 *   other     plain text
 * Strict mode accepts only syslog (with PRI) and JSON; anything else is flagged NOT_RECOGNIZED.
 */
function parseAuto(s: string, opts: ParseOptions, strict: boolean): PartialEvent {
  const c = s.charCodeAt(0);
  if (c === 60 /* < */) {
    let first: ParseFailure | undefined;
    if (looksLikeRfc5424(s)) {
      const r = parseRfc5424(s, rfc5424Options(strict));
      if (r.ok) return syslogToPartial(r);
      first = r;
      if (strict) return failed(s, 'rfc5424', r.code);
    }
    const r = parseRfc3164(s, syslogOpts(opts, strict, 'auto'));
    if (r.ok) return syslogToPartial(r);
    if (strict) return failed(s, first ? 'rfc5424' : 'rfc3164', (first ?? r).code);
    return { message: s };
  }
  if (c === 123 /* { */) {
    const p = parseJson(s, 'json');
    if (p.labels?.parse_error === undefined || strict) return p;
    return { message: s };
  }
  if (!strict) {
    if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) {
      const r = syslogOf(parseRfc3164(s, syslogOpts(opts, strict, 'auto')));
      if (r) return syslogToPartial(r);
    } else if (c >= 49 && c <= 57 && s.charCodeAt(1) === 32) {
      const r = syslogOf(parseRfc5424(s, LENIENT_5424));
      if (r) return syslogToPartial(r);
    }
    return { message: s };
  }
  return failed(s, 'auto', 'NOT_RECOGNIZED');
}

/**
 * parseLine's fast path for the common case: a record of valid UTF-8 without NUL bytes, within
 * `maxLineBytes`, that reads as syslog. Returns the syslog message exactly as parseLine would read it
 * (same parsers, same order of attempts), or undefined whenever parseLine must take the record
 * (anything else: JSON, plain text, invalid UTF-8, NUL, too long, a header that does not parse).
 * `syslogToPartial(parseCleanSyslog(x))` deep-equals `parseLine(x)` where the former is defined
 * (parse-line.spec.ts checks it over the conformance lines and the corpora).
 */
export function parseCleanSyslog(input: Uint8Array, opts: ParseOptions = {}): SyslogMessage | undefined {
  const format = opts.format ?? 'auto';
  if (format === 'json' || format === 'text') return undefined;
  const n = input.length;
  if (n === 0 || n > (opts.maxLineBytes ?? DEFAULT_MAX_LINE)) return undefined;
  const c0 = input[0]!;
  // Auto-detection reads syslog only from '<', a letter (RFC 3164 without PRI) or a digit (RFC 5424 without PRI).
  if (format === 'auto' && c0 !== 60 && !((c0 >= 65 && c0 <= 90) || (c0 >= 97 && c0 <= 122) || (c0 >= 49 && c0 <= 57))) return undefined;
  const buf = Buffer.isBuffer(input) ? input : Buffer.from(input.buffer, input.byteOffset, n);
  if (buf.indexOf(0) !== -1 || !isUtf8(buf)) return undefined;
  let s = buf.toString('utf8');
  let end = s.length;
  while (end > 0 && (s.charCodeAt(end - 1) === 10 || s.charCodeAt(end - 1) === 13)) end--;
  if (end === 0) return undefined;
  if (end !== s.length) s = s.slice(0, end);
  const strict = opts.mode === 'strict';
  switch (format) {
    case 'rfc5424':
      return syslogOf(parseRfc5424(s, rfc5424Options(strict)));
    case 'rfc3164':
      return syslogOf(parseRfc3164(s, syslogOpts(opts, strict, format)));
    default: {
      const c = s.charCodeAt(0);
      if (c === 60 /* < */) {
        if (looksLikeRfc5424(s)) {
          const r = parseRfc5424(s, rfc5424Options(strict));
          if (r.ok) return r;
          if (strict) return undefined;
        }
        return syslogOf(parseRfc3164(s, syslogOpts(opts, strict, 'auto')));
      }
      if (strict) return undefined;
      if ((c >= 65 && c <= 90) || (c >= 97 && c <= 122)) return syslogOf(parseRfc3164(s, syslogOpts(opts, strict, 'auto')));
      if (c >= 49 && c <= 57 && s.charCodeAt(1) === 32) return syslogOf(parseRfc5424(s, LENIENT_5424));
      return undefined;
    }
  }
}
