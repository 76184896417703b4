import { describe, expect, it } from 'vitest';
import { createCatalogue } from './catalogue';
import { checkQuery, planQuery, type PlanOptions } from './check';
import { QueryError } from './errors';
import { parseRequest } from './request';
import { exampleCatalogue } from './testing';

const cat = exampleCatalogue();
const NOW = Date.parse('2026-11-22T12:00:00Z');

/** Queries that parse but mean nothing the engine can answer → code, column, message words. */
const INVALID: Array<[string, string, number, string, PlanOptions?]> = [
  ['sevice:api', 'FIELD_UNKNOWN', 1, 'unknown field "sevice" — did you mean "service"?'],
  ['level:error AND sevice:api', 'FIELD_UNKNOWN', 17, 'unknown field "sevice" — did you mean "service"?'],
  ['hots:web-1', 'FIELD_UNKNOWN', 1, 'did you mean "host"?'],
  ['host.nme:web-1', 'FIELD_UNKNOWN', 1, 'did you mean "host.name"?'],
  ['lvl2:error', 'FIELD_UNKNOWN', 1, 'did you mean "lvl"?'],
  ['mesage:timeout', 'FIELD_UNKNOWN', 1, 'did you mean "message"?'],
  ['log.foo:x', 'FIELD_UNKNOWN', 1, 'log has no such field'],
  ['host.zzz:*', 'FIELD_UNKNOWN', 1, 'host has no such field'],
  ['process.pid:abc', 'FIELD_TYPE', 13, '"abc" is not a number'],
  ['process.pid>=abc', 'FIELD_TYPE', 14, '"abc" is not a number'],
  ['http.response.status_code>=abc', 'FIELD_TYPE', 28, 'http.response.status_code is a number field; "abc" is not a number'],
  ['pid:[1 TO x]', 'FIELD_TYPE', 11, 'is not a number'],
  ['process.pid:1.5', 'FIELD_TYPE', 13, 'holds whole numbers'],
  ['process.pid:12*', 'FIELD_TYPE', 13, 'is not a number'],
  ['@timestamp>=yesterday', 'TIME_INVALID', 13, '"yesterday" is not a time'],
  ['@timestamp>=now-1M', 'TIME_INVALID', 13, 'is not a time'],
  ['@timestamp:now-1d/d', 'TIME_INVALID', 12, 'is not a time'],
  ['@timestamp:2026-*', 'FIELD_TYPE', 12, 'is not a time'],
  ['host.ip:10.0.0', 'FIELD_TYPE', 9, 'is not an IP address'],
  ['host.ip:10.0.0.0/40', 'FIELD_TYPE', 9, 'is not a CIDR block'],
  ['host.ip:10.*', 'FIELD_TYPE', 9, 'is not an IP address'],
  ['host.ip>=fe80::zz', 'FIELD_TYPE', 10, 'is not an IP address'],
  ['user.active:yes', 'FIELD_TYPE', 13, 'is not true or false'],
  ['user.active>true', 'FIELD_TYPE', 1, 'has no order'],
  ['message>=a', 'FIELD_TYPE', 1, 'message is text: it has no order'],
  ['log.syslog:x', 'FIELD_TYPE', 1, 'log.syslog is an object, not a value'],
  ['fields:a*', 'FIELD_TYPE', 8, 'a wildcard needs one of its keys'],
  ['fields>=a', 'FIELD_TYPE', 1, 'free-form object'],
  ['event.original:x', 'FIELD_NOT_SEARCHABLE', 1, 'stored but not indexed'],
  ['client.geo:x', 'FIELD_TYPE', 1, 'geo_point'],
  ['message:web-*', 'FIELD_TYPE', 9, 'matches single words'],
  ['web-*', 'FIELD_TYPE', 1, 'a wildcard on message matches single words'],
  ['fields.status>=500', 'FIELD_TYPE', 16, 'would compare letters, not numbers'],
  ['status>=500', 'FIELD_TYPE', 9, 'fields.status is a free-form field'],
  ['| stats avg(message)', 'FIELD_TYPE', 13, 'avg needs a numeric field; message is a text field'],
  ['| stats sum(host)', 'FIELD_TYPE', 13, 'sum needs a numeric field; host.name is a keyword field'],
  ['| stats p95(service)', 'FIELD_TYPE', 13, 'percentiles need a numeric field'],
  ['| stats avg(@timestamp)', 'FIELD_TYPE', 13, 'avg needs a numeric field'],
  ['| stats avg(fields)', 'FIELD_TYPE', 13, 'a free-form object'],
  ['| stats count() by message', 'FIELD_TYPE', 20, 'cannot group by message: it is analyzed text'],
  ['| stats distinct(message)', 'FIELD_TYPE', 18, 'cannot distinct message'],
  ['| stats count() by fields', 'FIELD_TYPE', 20, 'cannot group by fields'],
  ['| stats count() by log.syslog', 'FIELD_TYPE', 20, 'it is an object'],
  ['| stats count() by sevice', 'FIELD_UNKNOWN', 20, 'did you mean "service"?'],
  ['| stats avg(proces.pid)', 'FIELD_UNKNOWN', 13, 'did you mean "process.pid"?'],
  ['| stats count() by service, service', 'COMMAND_CONFLICT', 29, 'grouped by twice'],
  ['| stats count() by interval(1m), interval(5m)', 'COMMAND_CONFLICT', 34, 'one interval'],
  ['| stats avg(process.pid), avg(process.pid)', 'ARGUMENT_INVALID', 3, 'two columns are named avg(process.pid)'],
  ['| stats count() | stats avg(process.pid)', 'COMMAND_CONFLICT', 19, 'stats is given twice'],
  ['| limit 5 | stats count()', 'COMMAND_CONFLICT', 13, 'stats must come first'],
  ['| stats count() | fields host', 'COMMAND_CONFLICT', 19, 'fields chooses the fields of events'],
  ['| top 3 host | stats count()', 'COMMAND_CONFLICT', 16, 'stats is given twice'],
  ['| limit 5 | limit 6', 'COMMAND_CONFLICT', 13, 'limit is given twice'],
  ['| limit 20000', 'LIMIT_EXCEEDED', 3, 'above the maximum of 10000 events'],
  ['| stats count() by service | limit 20000', 'LIMIT_EXCEEDED', 30, 'above the maximum of 10000 groups'],
  ['| top 20000 service', 'LIMIT_EXCEEDED', 3, 'above the maximum'],
  ['| stats count() by service | sort -cnt', 'SORT_KEY_UNKNOWN', 35, 'no column "cnt" to sort by'],
  ['| stats count() by service | sort -hots', 'SORT_KEY_UNKNOWN', 35, 'no column "hots"'],
  ['| stats p95(process.pid) by service | sort -p95(process.pid)', 'ARGUMENT_INVALID', 44, 'sorting by a percentile'],
  ['| stats count() by service, host | sort -count, service', 'COMMAND_CONFLICT', 49, 'sorted by one column'],
  ['| sort message', 'FIELD_TYPE', 8, 'cannot sort by message'],
  ['| sort fields.user', 'FIELD_TYPE', 8, 'cannot sort by fields.user'],
  ['| sort sevice', 'FIELD_UNKNOWN', 8, 'did you mean "service"?'],
  ['| fields sevice', 'FIELD_UNKNOWN', 10, 'did you mean "service"?'],
  ['| stats count() by interval(1s)', 'LIMIT_EXCEEDED', 20, 'time buckets', { range: { from: '-7d' }, now: NOW }],
  ['| stats count() by service, interval(1m)', 'LIMIT_EXCEEDED', 29, '× 100 groups', { range: { from: '-1d' }, now: NOW }],
];

describe('planQuery: invalid meaning (code, column, message)', () => {
  it.each(INVALID)('%s → %s at %i', (text, code, column, words, o) => {
    const r = checkQuery(text, cat, o ?? { now: NOW });
    expect(r.ok, `${text} should fail`).toBe(false);
    if (r.ok) return;
    expect({ code: r.error.code, column: r.error.column }).toEqual({ code, column });
    expect(r.error.message).toContain(words);
    expect(r.error.expected ?? r.error.hint, 'expected or hint').toBeTruthy();
    expect(() => planQuery(text, cat, o ?? { now: NOW })).toThrow(QueryError);
  });
});

describe('planQuery: meaning', () => {
  const plan = (q: string, o: PlanOptions = {}) => planQuery(q, cat, { now: NOW, ...o });

  it('resolves the short names of DATA-001 (level, service, host) to ECS fields', () => {
    const p = plan('level:error AND service:api AND host:web-1');
    expect(p.filter).toMatchObject({
      kind: 'and',
      items: [
        { kind: 'term', field: { path: 'log.level', via: 'alias' }, value: 'error' },
        { kind: 'term', field: { path: 'service.name' }, value: 'api' },
        { kind: 'term', field: { path: 'host.name' }, value: 'web-1' },
      ],
    });
  });

  it('free text and text fields are phrases of analyzed words; keywords are exact', () => {
    expect(plan('Upstream-TIMEOUT!').filter).toMatchObject({ kind: 'phrase', field: { path: 'message' }, tokens: ['upstream', 'timeout'] });
    expect(plan('message:"connection refused"').filter).toMatchObject({ kind: 'phrase', tokens: ['connection', 'refused'] });
    expect(plan('host.name:Web-1').filter).toMatchObject({ kind: 'term', value: 'Web-1' });
    expect(plan('message:Time*').filter).toMatchObject({ kind: 'prefix', prefix: 'time' });
    expect(plan('message:t?me*').filter).toMatchObject({ kind: 'wildcard', pattern: 't?me*' });
    expect(plan('host:web-*').filter).toMatchObject({ kind: 'prefix', prefix: 'web-' });
    expect(plan('host:*web').filter).toMatchObject({ kind: 'wildcard', pattern: '*web' });
    expect(plan('host:\\*web*').filter).toMatchObject({ kind: 'wildcard', pattern: '\\*web*' });
  });

  it('types values: numbers, booleans, IPs and CIDR blocks, times (relative kept for clocks)', () => {
    expect(plan('pid:42').filter).toMatchObject({ kind: 'term', field: { path: 'process.pid' }, value: 42 });
    expect(plan('http.response_time:1.5').filter).toMatchObject({ kind: 'term', value: 1.5 });
    expect(plan('user.active:true').filter).toMatchObject({ kind: 'term', value: true });
    expect(plan('host.ip:10.0.0.0/8').filter).toMatchObject({ kind: 'cidr', cidr: '10.0.0.0/8' });
    expect(plan('host.ip:"::1"').filter).toMatchObject({ kind: 'term', value: '::1' });
    expect(plan('@timestamp>=now-15m').filter).toEqual(expect.objectContaining({ kind: 'range', gte: NOW - 900_000, relative: { gte: -900_000 } }));
    expect(plan('@timestamp:2026-11-22T10:00:00Z').filter).toMatchObject({ kind: 'range', gte: Date.parse('2026-11-22T10:00:00Z'), lte: Date.parse('2026-11-22T10:00:00Z') });
    expect(plan('code:[A TO M}', {}).filter).toMatchObject({ kind: 'range', field: { path: 'fields.code' }, gte: 'A', lt: 'M' });
  });

  it('merges an OR of exact values into one terms set, folds NOT NOT and match-all', () => {
    expect(plan('service:(api OR web OR api)').filter).toMatchObject({ kind: 'terms', values: ['api', 'web'] });
    expect(plan('NOT NOT level:error').filter).toMatchObject({ kind: 'term' });
    expect(plan('* AND level:error').filter).toMatchObject({ kind: 'term' });
    expect(plan('* OR level:error').filter).toEqual({ kind: 'all' });
    expect(plan('log.syslog:*').filter).toMatchObject({
      kind: 'or',
      items: [{ kind: 'exists', field: { path: 'log.syslog.appname' } }, { kind: 'exists' }, { kind: 'exists', field: { path: 'log.syslog.structured_data' } }],
    });
  });

  it('unknown names that are no typo search the free-form fields (with a warning)', () => {
    const p = plan('endpoint:/api/users');
    expect(p.filter).toMatchObject({ kind: 'term', field: { path: 'fields.endpoint', flattened: { root: 'fields', key: 'endpoint' }, via: 'free-form' } });
    expect(p.warnings).toEqual([expect.objectContaining({ code: 'FIELD_UNMAPPED', column: 1 })]);
    expect(plan('labels.team:core').filter).toMatchObject({ kind: 'term', field: { path: 'labels.team', type: 'keyword', via: 'pattern' } });
    expect(plan('log.syslog.structured_data.origin.ip:1.2.3.4').filter).toMatchObject({ field: { flattened: { root: 'log.syslog.structured_data', key: 'origin.ip' } } });
  });

  it('warns where a query can match nothing for a reason a user may not see', () => {
    expect(plan('level:ERROR').warnings.map((w) => w.code)).toEqual(['CASE_SENSITIVE']);
    const p = plan('message:"!!!"');
    expect(p.filter).toEqual({ kind: 'none' });
    expect(p.warnings.map((w) => w.code)).toEqual(['NO_WORDS']);
  });

  it('collects every problem, not only the first', () => {
    const r = checkQuery('sevice:a AND hots:b AND pid:x', cat);
    expect(r.ok).toBe(false);
    if (!r.ok)
      expect(r.errors.map((e) => [e.code, e.column])).toEqual([
        ['FIELD_UNKNOWN', 1],
        ['FIELD_UNKNOWN', 14],
        ['FIELD_TYPE', 29],
      ]);
  });

  it('events: defaults — newest first, then event id, 100 events', () => {
    const p = plan('level:error');
    expect(p.hits).toMatchObject({
      limit: 100,
      sort: [
        { field: { path: '@timestamp' }, desc: true },
        { field: { path: 'event.id' }, desc: false },
      ],
    });
    expect(plan('| sort host | limit 5 | fields host, message').hits).toMatchObject({
      limit: 5,
      sort: [{ field: { path: 'host.name' }, desc: false }, { field: { path: 'event.id' } }],
      fields: [{ path: 'host.name' }, { path: 'message' }],
    });
  });

  it('stats: columns, order, limit, histogram', () => {
    expect(plan('| stats count() by service').stats).toMatchObject({
      metrics: [{ column: 'count', fn: 'count' }],
      terms: [{ column: 'service', field: { path: 'service.name' } }],
      order: { by: 'count', desc: true },
      limit: 100,
    });
    expect(plan('| stats avg(process.pid) as p, count() by service | sort p | limit 3').stats).toMatchObject({
      metrics: [{ column: 'p' }, { column: 'count' }],
      order: { by: 0, desc: false },
      limit: 3,
    });
    expect(plan('| stats count() by service | sort service').stats?.order).toEqual({ by: 'key', desc: false });
    expect(plan('| top 5 host').stats).toMatchObject({ terms: [{ column: 'host' }], order: { by: 'count', desc: true }, limit: 5 });
    expect(plan('| stats p50(process.pid), percentiles(http.response_time, 90, 99)').stats?.metrics.map((m) => [m.column, m.percent])).toEqual([
      ['p50(process.pid)', 50],
      ['p90(http.response_time)', 90],
      ['p99(http.response_time)', 99],
    ]);
    const h = plan('| stats count() by interval(5m) | sort -@timestamp', { range: { from: '-1h' } });
    expect(h.stats).toMatchObject({ histogram: { column: '@timestamp', intervalMs: 300_000, interval: '5m' }, histogramDesc: true });
    expect(plan('| stats count() by interval(1w)').stats?.histogram?.interval).toBe('7d');
  });

  it('a range beside the query becomes part of the filter (relative ends kept for clocks)', () => {
    const p = plan('level:error', { range: { from: '-15m' } });
    expect(p.range).toMatchObject({ fromMs: NOW - 900_000, toMs: NOW });
    expect(p.filter).toMatchObject({ kind: 'and', items: [{ kind: 'range', field: { path: '@timestamp' }, gte: NOW - 900_000, lt: NOW, relative: { gte: -900_000, lt: 0 } }, { kind: 'term' }] });
    expect(plan('', { range: { from: '2026-11-22T10:00:00Z', to: '2026-11-22T11:00:00Z' } }).filter).toMatchObject({
      kind: 'range',
      gte: Date.parse('2026-11-22T10:00:00Z'),
      lt: Date.parse('2026-11-22T11:00:00Z'),
    });
    expect(() => plan('', { range: { from: 'now', to: '-1h' } })).toThrow(expect.objectContaining({ code: 'TIME_INVALID' }));
  });

  it('target events allows what raw events can answer: numbers in free-form fields', () => {
    expect(checkQuery('fields.duration_ms>1000', cat).ok).toBe(false);
    expect(planQuery('fields.duration_ms>1000', cat, { target: 'events' }).filter).toMatchObject({ kind: 'range', gt: 1000 });
    expect(planQuery('| stats avg(duration_ms) by service', cat).stats?.metrics[0]?.field?.path).toBe('fields.duration_ms');
  });

  it('free text needs a message field; a conflicting field is refused', () => {
    const bare = createCatalogue({ 'host.name': { type: 'keyword' } });
    expect(checkQuery('timeout', bare)).toMatchObject({ ok: false, error: { code: 'FIELD_UNKNOWN', message: expect.stringContaining('free text searches the message field') } });
    const mixed = createCatalogue({ status: { type: 'keyword', conflicting: ['keyword', 'long'] }, message: { type: 'text' } });
    expect(checkQuery('status:5', mixed)).toMatchObject({ ok: false, error: { code: 'FIELD_TYPE_CONFLICT', column: 1 } });
  });
});

describe('parseRequest: DATA-001 JSON form', () => {
  it('takes DATA-001 example as written and means the same as the text form', () => {
    const r = parseRequest({ query: 'level:error AND service:api', aggregation: { type: 'count', field: 'endpoint', interval: '5m' }, time_range: 'last 1 hour' });
    expect(r.text).toBe('level:error AND service:api | stats count() by endpoint, interval(5m)');
    expect(r.range).toEqual({ time_range: 'last 1 hour' });
    const p = planQuery(r.query, cat, { now: NOW, ...(r.range ? { range: r.range } : {}) });
    expect(p.range).toMatchObject({ fromMs: NOW - 3_600_000, toMs: NOW });
    expect(p.stats).toMatchObject({ terms: [{ column: 'endpoint', field: { path: 'fields.endpoint' } }], histogram: { intervalMs: 300_000 } });
  });

  it('other aggregation types, limits, sort and fields', () => {
    expect(parseRequest({ aggregation: { type: 'avg', field: 'http.response_time', by: ['service', 'host'], size: 5 } }).text).toBe('| stats avg(http.response_time) by service, host | limit 5');
    expect(parseRequest({ aggregation: { type: 'percentiles', field: 'rt', percents: [50, 99] } }).text).toBe('| stats percentiles(rt, 50, 99)');
    expect(parseRequest({ query: 'level:error', limit: 20, sort: '-@timestamp', fields: ['host.name', 'message'], from: '1h' })).toMatchObject({
      text: 'level:error | sort -@timestamp | limit 20 | fields host.name, message',
      range: { from: '1h' },
    });
    expect(parseRequest({}).text).toBe('');
  });

  it('a bad request names the key', () => {
    const bad = (body: unknown) => {
      try {
        parseRequest(body);
      } catch (e) {
        return e as QueryError;
      }
      throw new Error('expected an error');
    };
    expect(bad({ query: 5 })).toMatchObject({ code: 'REQUEST_INVALID', path: 'query' });
    expect(bad({ aggregation: { type: 'median', field: 'x' } })).toMatchObject({ code: 'REQUEST_INVALID', path: 'aggregation.type' });
    expect(bad({ aggregation: { type: 'count', field: 'a | fields b' } })).toMatchObject({ code: 'REQUEST_INVALID', path: 'aggregation.field' });
    expect(bad({ aggregation: { type: 'avg' } })).toMatchObject({ code: 'REQUEST_INVALID', path: 'aggregation.field' });
    expect(bad({ aggregation: { type: 'count', interval: '5M' } })).toMatchObject({ code: 'REQUEST_INVALID', path: 'aggregation.interval' });
    expect(bad({ query: 'level:' })).toMatchObject({ code: 'VALUE_EXPECTED', column: 1 });
    expect(bad({ extra: 1 })).toMatchObject({ code: 'REQUEST_INVALID' });
  });
});
