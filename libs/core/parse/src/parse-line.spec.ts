import { normalize } from '@backlog/core-event';
import { describe, expect, it } from 'vitest';
import { checkParseOptions, parseLine } from './parse-line';

const at = (iso: string) => Date.parse(iso);
// Received at the parser's `now`: normalize() files an event more than a day ahead of its receive time at the receive time (ADR 0015).
const ts = (line: string, o: Parameters<typeof parseLine>[1]) => normalize(parseLine(line, o), { receivedAt: o?.now ?? 0 })['@timestamp'];

describe('parseLine', () => {
  it('completes year-less RFC 3164 timestamps across New Year', () => {
    expect(ts('<13>Dec 31 23:59:59 h a: x', { now: at('2027-01-01T00:00:05Z') })).toBe('2026-12-31T23:59:59.000Z');
    expect(ts('<13>Jan  1 00:00:01 h a: x', { now: at('2026-12-31T23:59:58Z') })).toBe('2027-01-01T00:00:01.000Z');
    expect(ts('<13>Jun 14 15:16:01 h a: x', { now: at('2026-11-23T00:00:00Z') })).toBe('2026-06-14T15:16:01.000Z');
    expect(ts('<13>Jun 14 15:16:01 h a: x', { now: at('2026-11-23T00:00:00Z'), year: 2005 })).toBe('2005-06-14T15:16:01.000Z');
  });

  it('hands the header time to normalize() as that instant, whatever its year (ADR 0015)', () => {
    // Milliseconds before 1973 were read as seconds, after 5138 as microseconds.
    expect(ts('<13>1 1970-01-01T00:00:01Z h a 1 - - x', { now: at('1970-01-01T00:00:02Z') })).toBe('1970-01-01T00:00:01.000Z');
    expect(ts('<13>1 6000-01-01T00:00:00Z h a 1 - - x', { now: at('6000-01-01T00:00:00Z') })).toBe('6000-01-01T00:00:00.000Z');
    const far = normalize(parseLine('<13>1 9999-12-31T23:59:59Z h a 1 - - x', {}), { receivedAt: at('2026-11-22T10:00:00Z') });
    expect(far.labels).toMatchObject({ timestamp_original: '9999-12-31T23:59:59.000Z', timestamp_replaced: 'future' });
    const old = normalize(parseLine('<13>1 0001-01-01T00:00:00Z h a 1 - - x', {}), { receivedAt: at('2026-11-22T10:00:00Z') });
    expect(old.labels).toMatchObject({ timestamp_original: '0001-01-01T00:00:00.000Z', timestamp_replaced: 'before_epoch' });
    expect(old.fields).toBeUndefined();
  });

  it('reads the wall clock in the configured IANA zone', () => {
    expect(ts('<13>Jul  1 12:00:00 h a: x', { now: at('2026-07-02T00:00:00Z'), timeZone: 'Europe/Zurich' })).toBe('2026-07-01T10:00:00.000Z');
    expect(ts('<13>Jan  1 12:00:00 h a: x', { now: at('2026-01-02T00:00:00Z'), timeZone: 'America/New_York' })).toBe('2026-01-01T17:00:00.000Z');
  });

  it('flags Feb 29 in a non-leap year but keeps the header (lenient)', () => {
    const p = parseLine('<134>Feb 29 14:07:19 myhost sshd: m', { year: 2019 });
    expect(p.labels).toEqual({ parse_warning: 'timestamp_invalid' });
    expect(p.log?.syslog?.hostname).toBe('myhost');
    expect(parseLine('<134>Feb 29 14:07:19 myhost sshd: m', { year: 2020 })['@timestamp']).toBe(at('2020-02-29T14:07:19Z'));
  });

  it('turns binary and NUL-laden text into flagged events with the raw line', () => {
    expect(parseLine('abc\u0000def')).toEqual({ message: 'abc\u0000def', labels: { parse_error: 'auto:nul_byte' } });
    expect(parseLine(new Uint8Array([0xff, 0xfe, 0x00, 0x41]), { format: 'text' }).labels).toEqual({ parse_error: 'text:invalid_utf8' });
    expect(parseLine('<32>Mar 16 15:10:26 host app: x\u0000y').labels).toEqual({ parse_warning: 'nul_byte' });
  });

  it('keeps JSON lines as partials and flags broken JSON only when asked for JSON', () => {
    expect(parseLine('{"msg":"hi","n":1}')).toEqual({ msg: 'hi', n: 1 });
    expect(parseLine('{oops', { format: 'json' }).labels).toEqual({ parse_error: 'json:json_invalid' });
    expect(parseLine('[1,2]', { format: 'json' }).labels).toEqual({ parse_error: 'json:json_not_object' });
    expect(parseLine('{oops')).toEqual({ message: '{oops' });
  });

  it('strict auto accepts only syslog and JSON', () => {
    expect(parseLine('hello', { mode: 'strict' }).labels).toEqual({ parse_error: 'auto:not_recognized' });
    expect(parseLine('', { mode: 'strict' }).labels).toEqual({ parse_error: 'auto:empty' });
    expect(parseLine('<34>1 - - - - - -', { mode: 'strict' }).labels).toBeUndefined();
  });

  it('cuts lines above maxLineBytes at a code point and flags them', () => {
    const p = parseLine('é'.repeat(100), { maxLineBytes: 101, format: 'text' });
    expect(p.message).toBe('é'.repeat(50));
    expect(p.labels).toEqual({ truncated: 'line' });
    const b = parseLine(new TextEncoder().encode('é'.repeat(100)), { maxLineBytes: 101, format: 'text' });
    expect(b.message).toBe('é'.repeat(50));
  });

  it('strips the line terminator only at the end', () => {
    expect(parseLine('<1>1 - - - - - - a\r\nb\r\n').message).toBe('a\r\nb');
  });

  it('validates options once, with coded errors', () => {
    expect(() => checkParseOptions({ timeZone: 'Mars/Olympus' })).toThrowError(expect.objectContaining({ code: 'TIMEZONE_INVALID' }));
    expect(() => checkParseOptions({ format: 'xml' as never })).toThrowError(expect.objectContaining({ code: 'OPTIONS_INVALID' }));
  });

  it('never throws on random bytes', () => {
    let seed = 42;
    const rnd = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff) / 0x7fffffff;
    const alphabet = '<>[]="\\ -:0123456789TZabcJanFeb\u0000\n\u00e9{}';
    for (let i = 0; i < 5000; i++) {
      let s = '';
      const len = Math.floor(rnd() * 80);
      for (let k = 0; k < len; k++) s += alphabet[Math.floor(rnd() * alphabet.length)];
      for (const mode of ['strict', 'lenient'] as const) {
        for (const format of ['auto', 'rfc5424', 'rfc3164', 'json', 'text'] as const) {
          const e = normalize(parseLine(s, { mode, format }), { receivedAt: 0 });
          expect(typeof e.message).toBe('string');
        }
      }
    }
  });
});
