import { describe, expect, it } from 'vitest';
import { QueryError, formatQueryError } from './errors';
import { MAX_CLAUSES, MAX_DEPTH, MAX_QUERY_LENGTH, parseFilter, parseQuery } from './parse';
import { printQuery } from './print';

/** Valid queries → what the parser understood, as the canonical text (explicit AND, parentheses). */
const VALID: Array<[string, string]> = [
  // DATA-001 and the examples, exactly as written there
  ['level:error AND service:api', 'level:error AND service:api'],
  ['level:error | stats count() by service', 'level:error | stats count() by service'],
  ['http.response.status_code>=500', 'http.response.status_code>=500'],
  ['@timestamp>=now-15m', '@timestamp>=now-15m'],
  // empty, match-all
  ['', '*'],
  ['   ', '*'],
  ['*', '*'],
  // field:value
  ['level:error', 'level:error'],
  ['level: error', 'level:error'],
  ['host.name:web-1', 'host.name:web-1'],
  ['@timestamp:2026-11-22T10:00:00Z', '@timestamp:2026-11-22T10:00:00Z'],
  ['url:http://x/y?z', 'url:http://x/y?z'],
  ['host.ip:2001:db8::1', 'host.ip:2001:db8::1'],
  ['host.ip:10.0.0.0/8', 'host.ip:10.0.0.0/8'],
  ['level=error', 'level:error'],
  ['level = error', 'level:error'],
  ['level!=debug', 'NOT level:debug'],
  ['fields.a-b_c:1', 'fields.a-b_c:1'],
  // quoted values and phrases
  ['message:"upstream timed out"', 'message:"upstream timed out"'],
  ['"upstream timed out"', '"upstream timed out"'],
  ['service:"api gateway"', 'service:"api gateway"'],
  ['x:"a \\"quoted\\" word"', 'x:"a \\"quoted\\" word"'],
  ['x:"back\\\\slash"', 'x:"back\\\\slash"'],
  ['x:""', 'x:""'],
  ['x:"*"', 'x:"*"'],
  ['"and"', '"and"'],
  ['"a" "b"', '"a" AND "b"'],
  // wildcards and escapes
  ['host:web-*', 'host:web-*'],
  ['host:web-?', 'host:web-?'],
  ['host:*-1', 'host:*-1'],
  ['time*', 'time*'],
  ['x:\\*literal', 'x:\\*literal'],
  ['x:a\\ b', 'x:a\\ b'],
  ['x:a\\(b\\)', 'x:a\\(b\\)'],
  ['a\\:b', 'a\\:b'],
  ['\\-x', '\\-x'],
  ['C:\\\\temp', 'C:\\\\temp'],
  // existence
  ['host:*', 'host:*'],
  ['NOT host:*', 'NOT host:*'],
  ['x:[* TO *]', 'x:*'],
  // boolean operators, precedence, case
  ['a AND b', 'a AND b'],
  ['a and b', 'a AND b'],
  ['a And b', 'a AND b'],
  ['a OR b', 'a OR b'],
  ['a or b', 'a OR b'],
  ['a b', 'a AND b'],
  ['a b c', 'a AND b AND c'],
  ['a OR b AND c', 'a OR (b AND c)'],
  ['a AND b OR c', '(a AND b) OR c'],
  ['a b OR c d', '(a AND b) OR (c AND d)'],
  ['(a OR b) c', '(a OR b) AND c'],
  ['((a))', 'a'],
  ['NOT a', 'NOT a'],
  ['not a', 'NOT a'],
  ['NOT NOT a', 'NOT NOT a'],
  ['NOT (a OR b)', 'NOT (a OR b)'],
  ['NOT a b', 'NOT a AND b'],
  ['-a', 'NOT a'],
  ['-level:debug', 'NOT level:debug'],
  ['-(a b)', 'NOT (a AND b)'],
  ['a -b', 'a AND NOT b'],
  ['a - b', 'a AND \\- AND b'],
  ['status : 200', 'status:200'],
  ['a = b c', 'a:b AND c'],
  ['android ornament notable', 'android AND ornament AND notable'],
  ['and:x', 'and:x'],
  ['(level:error OR level:warn) AND NOT service:api', '(level:error OR level:warn) AND NOT service:api'],
  // value groups
  ['service:(api OR web)', 'service:api OR service:web'],
  ['service:(api or web or "api gateway")', 'service:api OR service:web OR service:"api gateway"'],
  ['tags:(a AND NOT b)', 'tags:a AND NOT tags:b'],
  ['status:(500 OR (502 503))', 'status:500 OR (status:502 AND status:503)'],
  ['x:(a *)', 'x:a AND x:*'],
  // ranges
  ['status>500', 'status>500'],
  ['status >= 500', 'status>=500'],
  ['status<500', 'status<500'],
  ['status<=500', 'status<=500'],
  ['status:>=500', 'status>=500'],
  ['status:<5', 'status<5'],
  ['status:[500 TO 599]', 'status:[500 TO 599]'],
  ['status:{500 TO 599}', 'status:{500 TO 599}'],
  ['status:[500 TO 599}', 'status:[500 TO 599}'],
  ['status:[500 to *]', 'status>=500'],
  ['status:{* TO 500}', 'status<500'],
  ['@timestamp:[now-30m TO now]', '@timestamp:[now-30m TO now]'],
  ['t>"2026-11-22T10:00:00+01:00"', 't>"2026-11-22T10:00:00+01:00"'],
  ['temp>-5', 'temp>-5'],
  // pipes
  ['| stats count()', '| stats count()'],
  ['|stats count', '| stats count()'],
  ['* | stats count()', '* | stats count()'],
  ['| STATS Count() BY service', '| stats count() by service'],
  ['| stats count() by service, host', '| stats count() by service, host'],
  ['| stats count() by interval(5m)', '| stats count() by interval(5m)'],
  ['| stats count() by service, interval(1h)', '| stats count() by service, interval(1h)'],
  ['| stats avg(x), min(x), max(x), sum(x)', '| stats avg(x), min(x), max(x), sum(x)'],
  ['| stats count(host)', '| stats count(host)'],
  ['| stats distinct(host)', '| stats distinct(host)'],
  ['| stats percentiles(x)', '| stats percentiles(x, 50, 95, 99)'],
  ['| stats percentiles(x, 50, 99.9)', '| stats percentiles(x, 50, 99.9)'],
  ['| stats p95(x)', '| stats p95(x)'],
  ['| stats P99.9(x) as slow', '| stats p99.9(x) as slow'],
  ['| stats avg(x) as rt by service | sort -rt', '| stats avg(x) as rt by service | sort -rt'],
  ['| stats count() by service | sort count desc', '| stats count() by service | sort -count'],
  ['| stats count() by service | sort +service', '| stats count() by service | sort service'],
  ['| stats avg(x) by s | sort -avg( x )', '| stats avg(x) by s | sort -avg(x)'],
  ['| stats count() by s | sort -count, s asc', '| stats count() by s | sort -count, s'],
  ['| top 5 service', '| top 5 service'],
  ['| top 3 service, host', '| top 3 service, host'],
  ['level:error | sort -@timestamp | limit 20 | fields host.name, message', 'level:error | sort -@timestamp | limit 20 | fields host.name, message'],
  ['a | limit 5', 'a | limit 5'],
  ['| stats count() by interval', '| stats count() by interval'],
];

/** Invalid queries → error code, 1-based column, and words of the message. */
const INVALID: Array<[string, string, number, string]> = [
  ['level:', 'VALUE_EXPECTED', 1, 'level: needs a value'],
  ['level:error AND service:', 'VALUE_EXPECTED', 17, 'service: needs a value'],
  ['level: | stats count()', 'VALUE_EXPECTED', 1, 'needs a value'],
  ['status>=', 'VALUE_EXPECTED', 1, 'status>= needs a value'],
  ['status<', 'VALUE_EXPECTED', 1, 'needs a value'],
  ['level:error AND', 'UNEXPECTED_END', 13, 'AND needs a term after it'],
  ['level:error OR', 'UNEXPECTED_END', 13, 'OR needs a term after it'],
  ['NOT', 'UNEXPECTED_END', 1, 'NOT needs a term after it'],
  ['a AND OR b', 'UNEXPECTED_TOKEN', 7, 'AND needs a term after it'],
  ['a OR OR b', 'UNEXPECTED_TOKEN', 6, 'OR needs a term after it'],
  ['AND a', 'UNEXPECTED_TOKEN', 1, 'AND needs a term before it'],
  ['or a', 'UNEXPECTED_TOKEN', 1, 'OR needs a term before it'],
  ['a AND )', 'UNEXPECTED_TOKEN', 7, 'AND needs a term after it'],
  ['NOT | stats count()', 'UNEXPECTED_TOKEN', 5, 'NOT needs a term'],
  ['(level:error', 'UNBALANCED_PARENS', 13, 'the ( at column 1 is never closed'],
  ['((a) OR b', 'UNBALANCED_PARENS', 10, 'the ( at column 1 is never closed'],
  ['level:error)', 'UNBALANCED_PARENS', 12, '")" closes nothing'],
  ['a) OR (b', 'UNBALANCED_PARENS', 2, 'closes nothing'],
  ['service:(api OR web', 'UNBALANCED_PARENS', 20, 'the ( at column 9 is never closed'],
  ['()', 'UNEXPECTED_TOKEN', 1, 'empty parentheses'],
  ['x:()', 'UNEXPECTED_TOKEN', 3, 'empty parentheses'],
  ['"upstream timed out', 'UNTERMINATED_STRING', 1, 'the quote at column 1 is never closed'],
  ['message:"a\\"', 'UNTERMINATED_STRING', 9, 'never closed'],
  ['abc\\', 'BAD_ESCAPE', 4, 'backslash at the end'],
  ['host*:x', 'FIELD_NAME_INVALID', 1, 'cannot hold wildcards'],
  ['.x:y', 'FIELD_NAME_INVALID', 1, 'is not a field name'],
  ['x.:y', 'FIELD_NAME_INVALID', 1, 'is not a field name'],
  ['a..b:y', 'FIELD_NAME_INVALID', 1, 'is not a field name'],
  [':x', 'UNEXPECTED_TOKEN', 1, '":" needs a field name before it'],
  ['>500', 'UNEXPECTED_TOKEN', 1, '">" needs a field name before it'],
  ['a AND =b', 'UNEXPECTED_TOKEN', 7, '"=" needs a field name'],
  ['status=(500 OR 503)', 'UNEXPECTED_TOKEN', 8, 'takes one value'],
  ['status:[500 599]', 'UNEXPECTED_TOKEN', 13, 'needs TO'],
  ['status:[500 TO', 'VALUE_EXPECTED', 15, 'a value is missing'],
  ['status:[500 TO 599', 'UNEXPECTED_END', 19, 'never closed'],
  ['a |', 'UNEXPECTED_END', 4, 'a command must follow |'],
  ['a | | b', 'UNEXPECTED_TOKEN', 5, 'a command must follow |'],
  ['a | foo', 'UNKNOWN_COMMAND', 5, 'unknown command "foo"'],
  ['a | stat count()', 'UNKNOWN_COMMAND', 5, 'did you mean "stats"?'],
  ['a | where b', 'UNKNOWN_COMMAND', 5, 'unknown command "where"'],
  ['a | head 5', 'UNKNOWN_COMMAND', 5, 'unknown command "head"'],
  ['| stats', 'UNEXPECTED_END', 8, 'an aggregation is missing'],
  ['| stats count() service', 'UNEXPECTED_TOKEN', 17, 'after the stats command'],
  ['| stats count() by', 'UNEXPECTED_END', 19, 'by needs a field name'],
  ['| stats count(), ', 'UNEXPECTED_END', 18, 'an aggregation is missing'],
  ['| stats avg()', 'ARGUMENT_INVALID', 9, 'avg needs a field'],
  ['| stats sum', 'ARGUMENT_INVALID', 9, 'sum needs a field'],
  ['| stats avg(x', 'UNEXPECTED_END', 14, 'avg( is never closed'],
  ['| stats avg(x, 5)', 'ARGUMENT_INVALID', 16, 'avg takes one field'],
  ['| stats p95(x, 99)', 'ARGUMENT_INVALID', 16, 'p95 takes one field'],
  ['| stats foo(x)', 'UNKNOWN_FUNCTION', 9, 'unknown aggregation "foo"'],
  ['| stats avgg(x)', 'UNKNOWN_FUNCTION', 9, 'did you mean "avg"?'],
  ['| stats mean(x)', 'UNKNOWN_FUNCTION', 9, 'unknown aggregation "mean"'],
  ['| stats dc(x)', 'UNKNOWN_FUNCTION', 9, 'unknown aggregation "dc"'],
  ['| stats percentiles(x, 150)', 'ARGUMENT_INVALID', 24, 'percentile 150 is outside 0-100'],
  ['| stats percentiles(x, fast)', 'ARGUMENT_INVALID', 24, '"fast" is not a number'],
  ['| stats percentiles(x) as p', 'ARGUMENT_INVALID', 27, 'one column each'],
  ['| stats count() as', 'ARGUMENT_INVALID', 19, 'as needs a name'],
  ['| stats count() by interval(5M)', 'DURATION_INVALID', 29, 'is not a duration'],
  ['| stats count() by interval(0m)', 'DURATION_INVALID', 29, 'is not a duration'],
  ['| stats count() by interval(1.5h)', 'DURATION_INVALID', 29, 'is not a duration'],
  ['| stats count() by interval(5m', 'UNEXPECTED_END', 31, 'interval( is never closed'],
  ['| stats count() by 5', 'FIELD_NAME_INVALID', 20, 'by needs a field name'],
  ['| limit', 'UNEXPECTED_END', 8, 'limit needs a whole number'],
  ['| limit x', 'ARGUMENT_INVALID', 9, 'limit needs a whole number from 1'],
  ['| limit 0', 'ARGUMENT_INVALID', 9, 'from 1 to'],
  ['| limit -5', 'ARGUMENT_INVALID', 9, 'limit needs a whole number'],
  ['| top service', 'ARGUMENT_INVALID', 7, 'top needs a whole number'],
  ['| top 5', 'UNEXPECTED_END', 8, 'top needs a field name'],
  ['| sort', 'UNEXPECTED_END', 7, 'sort needs a column or field'],
  ['| sort -', 'UNEXPECTED_END', 9, 'sort needs a column or field'],
  ['| fields', 'UNEXPECTED_END', 9, 'fields needs a field name'],
  ['| fields a,', 'UNEXPECTED_END', 12, 'fields needs a field name'],
  ['| fields a b', 'UNEXPECTED_TOKEN', 12, 'after the fields command'],
];

describe('parseQuery: valid queries', () => {
  it.each(VALID)('%s', (text, canonical) => {
    const q = parseQuery(text);
    expect(printQuery(q)).toBe(canonical);
    // The canonical text means the same: printing it again gives it back.
    expect(printQuery(parseQuery(canonical))).toBe(canonical);
  });
});

describe('parseQuery: invalid queries (code, column, message)', () => {
  it.each(INVALID)('%s → %s at %i', (text, code, column, words) => {
    let err: unknown;
    try {
      parseQuery(text);
    } catch (e) {
      err = e;
    }
    expect(err, `${text} should fail`).toBeInstanceOf(QueryError);
    const e = err as QueryError;
    expect({ code: e.code, column: e.column }).toEqual({ code, column });
    expect(e.message).toContain(words);
    expect(e.retriable).toBe(false);
    // Every error says what was expected or how to fix it.
    expect(e.expected ?? e.hint, 'expected or hint').toBeTruthy();
  });
});

describe('parseQuery: details', () => {
  it('records spans of fields and values (columns of later errors)', () => {
    const q = parseQuery('level:error AND service:"api"');
    expect(q.filter).toMatchObject({
      type: 'and',
      children: [
        { type: 'match', field: { name: 'level', span: { start: 0, end: 5 } }, value: { text: 'error', span: { start: 6, end: 11 } } },
        { type: 'match', field: { name: 'service', span: { start: 16, end: 23 } }, value: { text: 'api', quoted: true, span: { start: 24, end: 29 } } },
      ],
    });
  });

  it('keeps wildcards apart from literal stars', () => {
    const v = (t: string) => {
      const f = parseQuery(t).filter;
      if (f.type !== 'match') throw new Error(f.type);
      return { text: f.value.text, wildcard: f.value.wildcard, pattern: f.value.pattern };
    };
    expect(v('x:a*b')).toEqual({ text: 'a*b', wildcard: true, pattern: 'a*b' });
    expect(v('x:a\\*b')).toEqual({ text: 'a*b', wildcard: false, pattern: 'a\\*b' });
    expect(v('x:"a*b"')).toEqual({ text: 'a*b', wildcard: false, pattern: 'a\\*b' });
    expect(v('x:a\\\\b?')).toEqual({ text: 'a\\b?', wildcard: true, pattern: 'a\\\\b?' });
  });

  it('reads stats commands into metrics and groups', () => {
    const q = parseQuery('| stats count(), p99(rt) as slow, percentiles(rt, 50, 50, 90) by service, interval(5m)');
    expect(q.commands).toMatchObject([
      {
        type: 'stats',
        metrics: [{ fn: 'count' }, { fn: 'percentiles', field: { name: 'rt' }, percents: [99], alias: 'slow' }, { fn: 'percentiles', percents: [50, 90] }],
        by: [
          { type: 'field', field: { name: 'service' } },
          { type: 'interval', interval: { text: '5m', ms: 300_000 } },
        ],
      },
    ]);
  });

  it('range bounds may be quoted, so that what printQuery writes parses again', () => {
    for (const [q, printed] of [
      ['fields.endpoint:["/api/o" TO "/api/v"]', 'fields.endpoint:["/api/o" TO "/api/v"]'],
      ['x:[a TO "to"]', 'x:[a TO "to"]'],
      ['x:{"]" TO "z"}', 'x:{"]" TO "z"}'],
      ['x:["a b" TO *]', 'x>="a b"'],
    ] as const) {
      const f = parseFilter(q).filter;
      expect(f.type, q).toBe('range');
      expect(printQuery(parseFilter(q)), q).toBe(printed);
      expect(printQuery(parseFilter(printed)), q).toBe(printed);
    }
    const r = parseFilter('x:["a b" TO "c"]').filter as { lower: { value: { text: string; quoted: boolean } } };
    expect(r.lower.value).toMatchObject({ text: 'a b', quoted: true });
  });

  it('parseFilter refuses commands (processor conditions, --filter)', () => {
    expect(parseFilter('level:error').filter.type).toBe('match');
    expect(() => parseFilter('level:error | stats count()')).toThrow(expect.objectContaining({ code: 'COMMAND_CONFLICT', column: 15 }));
  });

  it('bounds: length, depth and clause count are errors, not crashes', () => {
    const long = `message:${'x'.repeat(MAX_QUERY_LENGTH)}`;
    expect(() => parseQuery(long)).toThrow(expect.objectContaining({ code: 'QUERY_TOO_LONG', column: MAX_QUERY_LENGTH + 1 }));
    const deep = `${'('.repeat(MAX_DEPTH + 1)}a${')'.repeat(MAX_DEPTH + 1)}`;
    expect(() => parseQuery(deep)).toThrow(expect.objectContaining({ code: 'QUERY_TOO_DEEP', column: MAX_DEPTH + 1 }));
    expect(() => parseQuery(`${'NOT '.repeat(MAX_DEPTH + 1)}a`)).toThrow(expect.objectContaining({ code: 'QUERY_TOO_DEEP' }));
    expect(() => parseQuery(`x:(${'-a '.repeat(10)})`)).not.toThrow();
    const many = Array.from({ length: MAX_CLAUSES + 1 }, (_, i) => `h:${i}`).join(' OR ');
    expect(() => parseQuery(many)).toThrow(expect.objectContaining({ code: 'QUERY_TOO_COMPLEX' }));
    expect(() => parseQuery(Array.from({ length: MAX_CLAUSES }, (_, i) => `h:${i}`).join(' OR '))).not.toThrow();
  });

  it('hostile input is a coded error or a parse, never another exception', () => {
    const chars = ['(', ')', '"', '\\', ':', '*', '?', '|', '<', '>', '=', '!', '-', '[', ']', '{', '}', ' ', 'a', 'OR', 'AND', 'NOT', 'stats', 'count()', ',', '\u0000', '\ud800', '日'];
    let seed = 7;
    const next = () => (seed = (seed * 1103515245 + 12345) & 0x7fffffff);
    for (let i = 0; i < 3000; i++) {
      let s = '';
      const n = next() % 14;
      for (let k = 0; k < n; k++) s += chars[next() % chars.length];
      try {
        printQuery(parseQuery(s));
      } catch (e) {
        expect(e, JSON.stringify(s)).toBeInstanceOf(QueryError);
        const qe = e as QueryError;
        expect(qe.column, JSON.stringify(s)).toBeGreaterThanOrEqual(1);
        expect(qe.column, JSON.stringify(s)).toBeLessThanOrEqual(s.length + 1);
      }
    }
  });

  it('formats an error with a caret under the column', () => {
    try {
      parseQuery('level:error AND');
    } catch (e) {
      expect(formatQueryError('level:error AND', e as QueryError)).toBe('level:error AND\n            ^^^ AND needs a term after it');
    }
    expect.assertions(1);
  });
});
