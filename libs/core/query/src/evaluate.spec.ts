import { describe, expect, it } from 'vitest';
import { evaluateQuery, percentile } from './aggregate';
import { analyze } from './analyze';
import { planQuery } from './check';
import { compileFilter, wildcardMatcher } from './evaluate';
import { formatIp, parseCidr, parseIp } from './ip';
import type { StatsResult } from './result';
import { exampleCatalogue } from './testing';
import { parseDuration, parseTimeExpr, parseTimeRange, resolveRange, type TimeRange, type TimeRangeInput } from './time';

const cat = exampleCatalogue();
const NOW = Date.parse('2026-11-22T12:00:00Z');

const EVENTS: Array<Record<string, unknown>> = [
  {
    '@timestamp': '2026-11-22T11:59:00Z',
    event: { id: 'a' },
    message: 'Upstream TIMEOUT!',
    log: { level: 'error' },
    service: { name: 'api' },
    host: { name: 'web-1', ip: '10.0.0.1' },
    process: { pid: 100 },
  },
  {
    '@timestamp': '2026-11-22T11:50:00Z',
    event: { id: 'b' },
    message: 'upstream timed out while reading',
    log: { level: 'warn' },
    service: { name: 'api' },
    host: { name: ['web-2', 'web-3'] },
    process: { pid: '250' },
  },
  {
    '@timestamp': '2026-11-22T11:40:00Z',
    event: { id: 'c' },
    message: ['timed', 'out'],
    log: { level: 'ERROR' },
    service: { name: 'web' },
    host: { name: 'Web-1', ip: '::1' },
    process: { pid: [5, 900] },
  },
  {
    '@timestamp': '2026-11-22T10:00:00Z',
    event: { id: 'd' },
    message: '',
    service: { name: 42 },
    host: { name: `web-${'x'.repeat(1100)}` },
    fields: { endpoint: '/api/users', status: 500, user: { id: '7' }, 'a.b': 'x', arr: ['p', 'q'], flag: true, n: null },
  },
  {
    '@timestamp': '2026-11-22T09:00:00Z',
    event: { id: 'e' },
    message: 'GET /api/v1 200',
    'host.name': 'dotted',
    fields: { endpoint: '/health', status: '60', a: { b: 'x' } },
    user: { active: false },
    http: { response_time: 12.5 },
  },
  {
    '@timestamp': '2026-11-22T11:30:00Z',
    event: { id: 'f' },
    message: null,
    log: { level: null },
    host: null,
    fields: { endpoint: ['/api/users', '/x'] },
    user: { active: 'true' },
    http: { response_time: [1, 3] },
  },
];

const ids = (q: string, o: { target?: 'engine' | 'events' } = {}) => {
  const f = compileFilter(q, cat, { now: NOW, ...o });
  return EVENTS.filter(f)
    .map((e) => (e.event as { id: string }).id)
    .join('');
};

/** The engine's semantics, event by event (the integration test holds them against the real engine). */
const SEMANTICS: Array<[string, string]> = [
  ['*', 'abcdef'],
  ['level:error', 'a'],
  ['level:ERROR', 'c'],
  ['level:*', 'abc'],
  ['NOT level:*', 'def'],
  ['NOT level:error', 'bcdef'],
  ['host:web-1', 'a'],
  ['host:Web-1', 'c'],
  ['host:web-3', 'b'],
  ['host:web-*', 'ab'],
  ['host:*', 'abce'],
  ['host.name:dotted', 'e'],
  ['host:web-x*', ''],
  ['service:42', 'd'],
  ['service:(api OR web)', 'abc'],
  ['message:timeout', 'a'],
  ['TIMEOUT', 'a'],
  ['upstream', 'ab'],
  ['"timed out"', 'b'],
  ['"out timed"', ''],
  ['message:"timed out"', 'b'],
  ['timed AND out', 'bc'],
  ['message:time*', 'abc'],
  ['message:t?med', 'bc'],
  ['message:*', 'abcde'],
  ['"GET /api/v1"', 'e'],
  ['message:v1', 'e'],
  ['process.pid:250', 'b'],
  ['process.pid>=200', 'bc'],
  ['process.pid:[5 TO 100]', 'ac'],
  ['process.pid:{5 TO 100}', ''],
  ['process.pid<6', 'c'],
  ['pid:*', 'abc'],
  ['host.ip:10.0.0.0/8', 'a'],
  ['host.ip:"::1"', 'c'],
  ['host.ip:"0:0::1"', 'c'],
  ['host.ip>=10.0.0.0', 'a'],
  ['host.ip<10.0.0.0', 'c'],
  ['@timestamp>=now-15m', 'ab'],
  ['@timestamp<now-1h', 'de'],
  ['@timestamp:2026-11-22T10:00:00Z', 'd'],
  ['@timestamp:[now-25m TO now-5m]', 'bc'],
  ['fields.endpoint:/api/users', 'df'],
  ['endpoint:/api/users', 'df'],
  ['fields.status:500', 'd'],
  ['fields.status:60', 'e'],
  ['fields.user.id:7', 'd'],
  ['fields.a.b:x', 'de'],
  ['fields.arr:q', 'd'],
  ['fields.flag:true', 'd'],
  ['fields.n:*', ''],
  ['fields.a:*', ''],
  ['fields.endpoint:*', 'def'],
  ['fields:x', 'de'],
  ['fields:*', 'def'],
  ['fields.endpoint:/api*', 'df'],
  ['fields.endpoint>=/h', 'ef'],
  ['user.active:true', 'f'],
  ['user.active:false', 'e'],
  ['http.response_time>2', 'ef'],
  ['http.response_time:[2 TO 3]', 'f'],
  ['(level:error OR level:warn) AND NOT host:web-2', 'a'],
  ['-service:api', 'cdef'],
];

describe('compileFilter: engine semantics', () => {
  it.each(SEMANTICS)('%s → %s', (q, want) => {
    expect(ids(q)).toBe(want);
  });

  it('target events compares numbers in free-form fields as numbers', () => {
    expect(ids('fields.status>=100', { target: 'events' })).toBe('d');
    expect(ids('fields.status<100', { target: 'events' })).toBe('e');
  });

  it('relative times move with a clock when one is given', () => {
    let now = NOW;
    const f = compileFilter('@timestamp>=now-15m', cat, { now: NOW, clock: () => now });
    expect(EVENTS.filter(f).length).toBe(2);
    now = NOW + 3_600_000;
    expect(EVENTS.filter(f).length).toBe(0);
    now = NOW - 2 * 3_600_000 - 60_000;
    expect(EVENTS.filter(f).length).toBe(5);
    const fixed = compileFilter('@timestamp>=now-15m', cat, { now: NOW });
    expect(EVENTS.filter(fixed).length).toBe(2);
  });

  it('a hostile, deeply nested event is no value, not a stack overflow', () => {
    const deep = JSON.parse(`{"fields":${'['.repeat(100_000)}"x"${']'.repeat(100_000)}, "host": {"name": "web-1"}}`);
    for (const q of ['fields:x', 'fields.a:x', 'fields:*', 'host:web-1 AND NOT fields:x', 'log:*']) expect(() => compileFilter(q, cat)(deep), q).not.toThrow();
    expect(compileFilter('host:web-1 AND NOT fields:x', cat)(deep)).toBe(true);
    for (const q of ['| fields fields.a', '| stats count() by fields.a', '| sort fields.a']) expect(() => evaluateQuery(planQuery(q, cat, { target: 'events' }), [deep]), q).not.toThrow();
  });

  it('a wildcard with many stars cannot stall the evaluator (no regular-expression backtracking)', () => {
    const f = compileFilter('host:*a*a*a*a*a*a*a*a*a*a*a*a*b', cat);
    expect(f({ host: { name: 'a'.repeat(1000) } })).toBe(false);
    expect(f({ host: { name: `${'a'.repeat(1000)}b` } })).toBe(true);
    const t = compileFilter('message:*a*a*a*a*a*a*a*a*a*a*a*a*b', cat);
    expect(t({ message: 'a'.repeat(250) })).toBe(false);
  });

  it.each([
    ['web-*', 'web-1', true],
    ['web-?', 'web-10', false],
    ['*', '', true],
    ['?', '', false],
    ['?', '日', true],
    ['?', '🔥', true],
    ['a\\*b', 'a*b', true],
    ['a\\*b', 'axb', false],
    ['*x*y', 'axbxcy', true],
    ['**a', 'ba', true],
    ['a*', 'b', false],
  ])('wildcard %s on %s → %s', (pattern, value, want) => {
    expect(wildcardMatcher(pattern)(value)).toBe(want);
  });

  it('accepts a plan, an AST or text', () => {
    const plan = planQuery('level:error', cat);
    expect(EVENTS.filter(compileFilter(plan)).length).toBe(1);
    expect(() => compileFilter('level:error')).toThrow(TypeError);
    expect(() => compileFilter('sevice:x', cat)).toThrow(expect.objectContaining({ code: 'FIELD_UNKNOWN' }));
  });

  it('never throws on odd events', () => {
    const f = compileFilter('host:web-* OR message:x OR pid>5 OR fields:y OR host.ip:10.0.0.0/8 OR @timestamp>now-1h OR log.syslog:*', cat, { now: NOW });
    for (const e of [
      null,
      undefined,
      5,
      'x',
      [],
      [{ host: { name: 'web-1' } }],
      { host: 'web-1' },
      { host: [null, { name: ['web-9'] }] },
      { message: { nested: true } },
      { constructor: 'x' },
      JSON.parse('{"__proto__": {"host": {"name": "web-1"}}}'),
      { fields: [[['y']]] },
    ]) {
      expect(() => f(e)).not.toThrow();
    }
    expect(f([{ host: { name: 'web-1' } }])).toBe(true);
    expect(f({ host: [null, { name: ['web-9'] }] })).toBe(true);
    expect(f(JSON.parse('{"__proto__": {"host": {"name": "web-1"}}}'))).toBe(false);
    expect(f({ fields: [[['y']]] })).toBe(true);
  });
});

describe('evaluateQuery: aggregations in memory', () => {
  const stats = (q: string, range?: { from: string; to?: string }) => evaluateQuery(planQuery(q, cat, { now: NOW, ...(range ? { range } : {}) }), EVENTS) as StatsResult;

  it('count by a field counts a document once per distinct value; no field, no bucket', () => {
    expect(stats('| stats count() by host').rows).toEqual([
      ['Web-1', 1],
      ['dotted', 1],
      ['web-1', 1],
      ['web-2', 1],
      ['web-3', 1],
    ]);
    expect(stats('| stats count() by service').rows).toEqual([
      ['api', 2],
      ['42', 1],
      ['web', 1],
    ]);
  });

  it('metrics over every numeric value; avg/min/max of nothing is null, sum 0', () => {
    const r = stats('| stats count(), count(process.pid), sum(process.pid), avg(process.pid), min(process.pid), max(process.pid), distinct(service) by service');
    expect(r.columns.map((c) => c.name)).toEqual(['service', 'count', 'count(process.pid)', 'sum(process.pid)', 'avg(process.pid)', 'min(process.pid)', 'max(process.pid)', 'distinct(service)']);
    expect(r.rows).toEqual([
      ['api', 2, 2, 350, 175, 100, 250, 1],
      ['42', 1, 0, 0, null, null, null, 1],
      ['web', 1, 1, 905, 452.5, 5, 900, 1],
    ]);
    expect(stats('| stats avg(http.response_time), sum(fields.status)').rows).toEqual([[(12.5 + 1 + 3) / 3, 560]]);
  });

  it('a histogram covers the whole range, empty buckets included', () => {
    const r = stats('| stats count() by interval(1h)', { from: '2026-11-22T08:30:00Z', to: '2026-11-22T12:00:00Z' });
    expect(r.rows).toEqual([
      [Date.parse('2026-11-22T08:00:00Z'), 0],
      [Date.parse('2026-11-22T09:00:00Z'), 1],
      [Date.parse('2026-11-22T10:00:00Z'), 1],
      [Date.parse('2026-11-22T11:00:00Z'), 4],
    ]);
    const desc = stats('| stats count() by service, interval(1h) | sort -@timestamp', { from: '2026-11-22T10:30:00Z' });
    // With groups, an empty time bucket has no rows (there is no group to name).
    expect(desc.rows).toEqual([
      [Date.parse('2026-11-22T11:00:00Z'), 'api', 2],
      [Date.parse('2026-11-22T11:00:00Z'), 'web', 1],
    ]);
  });

  it('order, ties by key, limit; several fields group by every combination', () => {
    expect(stats('| stats count() by service | sort service').rows.map((r) => r[0])).toEqual(['42', 'api', 'web']);
    expect(stats('| stats count() by service | sort -service').rows.map((r) => r[0])).toEqual(['web', 'api', '42']);
    expect(stats('| top 1 service').rows).toEqual([['api', 2]]);
    // Event d's host name is above ignore_above (1024): not indexed, so in no bucket.
    expect(stats('| stats count() by service, host').rows).toEqual([
      ['api', 'web-1', 1],
      ['api', 'web-2', 1],
      ['api', 'web-3', 1],
      ['web', 'Web-1', 1],
    ]);
    expect(stats('| stats sum(process.pid) as s by service | sort -s').rows.map((r) => r[0])).toEqual(['web', 'api', '42']);
  });

  it('events: newest first, then by id; fields chooses what is returned', () => {
    const r = evaluateQuery(planQuery('service:api | fields host.name', cat), EVENTS);
    expect(r).toEqual({
      kind: 'hits',
      total: 2,
      hits: [
        { id: 'a', source: { host: { name: 'web-1' } } },
        { id: 'b', source: { host: { name: ['web-2', 'web-3'] } } },
      ],
    });
    const s = evaluateQuery(planQuery('| sort process.pid | limit 3', cat), EVENTS);
    expect(s.kind === 'hits' && s.hits.map((h) => h.id)).toEqual(['c', 'a', 'b']);
    const d = evaluateQuery(planQuery('| sort -process.pid | limit 3', cat), EVENTS);
    expect(d.kind === 'hits' && d.hits.map((h) => h.id)).toEqual(['c', 'b', 'a']);
  });

  it('percentiles interpolate between ranks', () => {
    expect(percentile([], 50)).toBeNull();
    expect(percentile([7], 99)).toBe(7);
    expect(percentile([1, 2, 3, 4], 50)).toBe(2.5);
    expect(percentile([1, 2, 3, 4], 0)).toBe(1);
    expect(percentile([1, 2, 3, 4], 100)).toBe(4);
  });
});

describe('the standard analyzer', () => {
  it.each([
    ['Upstream TIMEOUT!', ['upstream', 'timeout']],
    ['web-1 /api/v1/users', ['web', '1', 'api', 'v1', 'users']],
    ["don't 10.0.0.1 3.14 1,000 a.b a.1 foo_bar foo:bar", ["don't", '10.0.0.1', '3.14', '1,000', 'a.b', 'a', '1', 'foo_bar', 'foo:bar']],
    ['日本語 カタカナ', ['日', '本', '語', 'カタカナ']],
    ['İstanbul ΟΔΟΣ', ['istanbul', 'οδοσ']],
    ['deploy 🔥 ok', ['deploy', '🔥', 'ok']],
    ['___ !!! ', []],
  ])('%s', (text, tokens) => {
    expect(analyze(text)).toEqual(tokens);
  });

  it('cuts words longer than 255 characters', () => {
    expect(analyze('x'.repeat(600)).map((t) => t.length)).toEqual([255, 255, 90]);
  });
});

describe('times', () => {
  it.each([
    ['now', 'relative', 0],
    ['now-15m', 'relative', -900_000],
    ['NOW - 2h', 'relative', -7_200_000],
    ['-2h', 'relative', -7_200_000],
    ['15m', 'relative', -900_000],
    ['1h', 'relative', -3_600_000],
    ['last 1 hour', 'relative', -3_600_000],
    ['last hour', 'relative', -3_600_000],
    ['last 15 minutes', 'relative', -900_000],
    ['Last 2 Days', 'relative', -172_800_000],
    ['last 1 week', 'relative', -604_800_000],
    ['2026-11-22T10:00:00Z', 'absolute', Date.parse('2026-11-22T10:00:00Z')],
    ['2026-11-22T11:00:00+01:00', 'absolute', Date.parse('2026-11-22T10:00:00Z')],
    ['2026-11-22', 'absolute', Date.parse('2026-11-22T00:00:00Z')],
    ['1795341600', 'absolute', 1_795_341_600_000],
  ] as const)('%s', (text, kind, ms) => {
    expect(parseTimeExpr(text)).toEqual({ text: text.trim(), kind, ms });
  });

  it.each(['yesterday', 'now-1M', 'now+5m', 'now-1d/d', 'last 3 fortnights', '5 minutes ago', '2026-13-01', ''])('%s is not a time', (text) => {
    expect(parseTimeExpr(text)).toBeUndefined();
  });

  it('ranges: from/to, DATA-001 time_range and from=1h', () => {
    const range = (input: TimeRangeInput) => resolveRange(parseTimeRange(input) as TimeRange, NOW);
    expect(range({ time_range: 'last 1 hour' })).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW });
    expect(range({ from: '1h' })).toEqual({ fromMs: NOW - 3_600_000, toMs: NOW });
    expect(range({ from: '-2h', to: '-1h' })).toEqual({ fromMs: NOW - 7_200_000, toMs: NOW - 3_600_000 });
    expect(parseTimeRange({})).toBeUndefined();
    expect(() => parseTimeRange({ from: 'soon' })).toThrow(expect.objectContaining({ code: 'TIME_INVALID', path: 'from' }));
    expect(() => parseTimeRange({ to: 'now' })).toThrow(expect.objectContaining({ code: 'TIME_INVALID' }));
    expect(() => parseTimeRange({ from: '2026-11-22T11:00:00Z', to: '2026-11-22T10:00:00Z' })).toThrow(expect.objectContaining({ code: 'TIME_INVALID' }));
  });

  it('durations', () => {
    expect(parseDuration('5m')).toBe(300_000);
    expect(parseDuration('1w')).toBe(604_800_000);
    expect(parseDuration('0s')).toBeUndefined();
    expect(parseDuration('5M')).toBeUndefined();
    expect(parseDuration('1.5h')).toBeUndefined();
  });
});

describe('IP addresses', () => {
  it('parse, CIDR blocks and the engine text form', () => {
    expect(formatIp(parseIp('10.0.0.1') as Uint8Array)).toBe('10.0.0.1');
    expect(formatIp(parseIp('0:0:0:0:0:0:0:1') as Uint8Array)).toBe('::1');
    expect(formatIp(parseIp('2001:DB8:0:0:1:0:0:1') as Uint8Array)).toBe('2001:db8::1:0:0:1');
    expect(formatIp(parseIp('::ffff:10.1.2.3') as Uint8Array)).toBe('10.1.2.3');
    for (const bad of ['10.0.0', '10.0.0.256', '01.2.3.4', '1::2::3', 'x::1', '1:2:3:4:5:6:7:8:9', 'fe80::1%eth0']) expect(parseIp(bad), bad).toBeUndefined();
    const b = parseCidr('10.1.0.0/16') as { lo: Uint8Array; hi: Uint8Array };
    expect([formatIp(b.lo), formatIp(b.hi)]).toEqual(['10.1.0.0', '10.1.255.255']);
    expect(parseCidr('10.0.0.0/33')).toBeUndefined();
  });
});
