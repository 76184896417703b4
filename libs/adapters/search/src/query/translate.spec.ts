import { planQuery, type QueryError, type StatsResult } from '@backlog/core-query';
import { describe, expect, it } from 'vitest';
import { catalogueFromMappings, logsCatalogue } from './catalogue';
import { readQueryResult } from './read';
import { translateQuery } from './translate';

const NOW = Date.parse('2026-11-22T12:00:00Z');
const os = logsCatalogue('opensearch');
const es = logsCatalogue('elasticsearch');
const T = (ms: string) => Date.parse(ms);

/** Valid queries → the engine query (OpenSearch, the local stack's engine; the same on Elasticsearch unless listed below). */
const FILTERS: Array<[string, unknown]> = [
  ['', { match_all: {} }],
  ['*', { match_all: {} }],
  ['level:error', { term: { 'log.level': { value: 'error' } } }],
  ['level:error AND service:api', { bool: { filter: [{ term: { 'log.level': { value: 'error' } } }, { term: { 'service.name': { value: 'api' } } }] } }],
  ['level:error OR level:warn', { terms: { 'log.level': ['error', 'warn'] } }],
  ['level:(error OR warn OR error)', { terms: { 'log.level': ['error', 'warn'] } }],
  ['NOT level:debug', { bool: { must_not: [{ term: { 'log.level': { value: 'debug' } } }] } }],
  ['service:api -level:debug', { bool: { filter: [{ term: { 'service.name': { value: 'api' } } }], must_not: [{ term: { 'log.level': { value: 'debug' } } }] } }],
  ['host:web-1 OR message:x', { bool: { should: [{ term: { 'host.name': { value: 'web-1' } } }, { match_phrase: { message: { query: 'x' } } }], minimum_should_match: 1 } }],
  ['host.name:web-1', { term: { 'host.name': { value: 'web-1' } } }],
  ['host:"web 1"', { term: { 'host.name': { value: 'web 1' } } }],
  ['host:web-*', { prefix: { 'host.name': { value: 'web-' } } }],
  ['host:*-1', { wildcard: { 'host.name': { value: '*-1' } } }],
  ['host:web-?', { wildcard: { 'host.name': { value: 'web-?' } } }],
  ['host:a\\*b*', { wildcard: { 'host.name': { value: 'a\\*b*' } } }],
  ['host:"a*b"', { term: { 'host.name': { value: 'a*b' } } }],
  ['host:*', { exists: { field: 'host.name' } }],
  ['message:timeout', { match_phrase: { message: { query: 'timeout' } } }],
  ['timeout', { match_phrase: { message: { query: 'timeout' } } }],
  ['"upstream timed out"', { match_phrase: { message: { query: 'upstream timed out' } } }],
  ['message:web-1', { match_phrase: { message: { query: 'web-1' } } }],
  ['message:Time*', { prefix: { message: { value: 'time' } } }],
  ['message:T?ME', { wildcard: { message: { value: 't?me' } } }],
  ['message:*', { exists: { field: 'message' } }],
  ['error.message:"failed to"', { match_phrase: { 'error.message': { query: 'failed to' } } }],
  ['pid:42', { term: { 'process.pid': { value: 42 } } }],
  ['pid:(1 OR 2)', { terms: { 'process.pid': [1, 2] } }],
  ['pid>=500', { range: { 'process.pid': { gte: 500 } } }],
  ['pid:>500', { range: { 'process.pid': { gt: 500 } } }],
  ['pid<500', { range: { 'process.pid': { lt: 500 } } }],
  ['pid:[1 TO 10]', { range: { 'process.pid': { gte: 1, lte: 10 } } }],
  ['pid:{1 TO 10]', { range: { 'process.pid': { gt: 1, lte: 10 } } }],
  ['pid:[1 TO *]', { range: { 'process.pid': { gte: 1 } } }],
  ['log.syslog.priority<=3', { range: { 'log.syslog.priority': { lte: 3 } } }],
  ['@timestamp>=now-15m', { range: { '@timestamp': { gte: NOW - 900_000, format: 'epoch_millis' } } }],
  ['@timestamp<"2026-11-22T10:00:00Z"', { range: { '@timestamp': { lt: T('2026-11-22T10:00:00Z'), format: 'epoch_millis' } } }],
  ['@timestamp:2026-11-22T10:00:00Z', { range: { '@timestamp': { gte: T('2026-11-22T10:00:00Z'), lte: T('2026-11-22T10:00:00Z'), format: 'epoch_millis' } } }],
  ['@timestamp:[now-1h TO now-30m]', { range: { '@timestamp': { gte: NOW - 3_600_000, lte: NOW - 1_800_000, format: 'epoch_millis' } } }],
  ['timestamp>1795341600', { range: { '@timestamp': { gt: 1_795_341_600_000, format: 'epoch_millis' } } }],
  ['host.ip:10.0.0.1', { term: { 'host.ip': { value: '10.0.0.1' } } }],
  ['host.ip:10.0.0.0/8', { term: { 'host.ip': { value: '10.0.0.0/8' } } }],
  ['host.ip:"2001:db8::/32"', { term: { 'host.ip': { value: '2001:db8::/32' } } }],
  ['host.ip>=10.1.0.0', { range: { 'host.ip': { gte: '10.1.0.0' } } }],
  ['backlog.dlq.truncated:true', { term: { 'backlog.dlq.truncated': { value: true } } }],
  ['labels.env:prod', { term: { 'labels.env': { value: 'prod' } } }],
  ['env:prod', { term: { 'labels.env': { value: 'prod' } } }],
  ['tags:a AND tags:b', { bool: { filter: [{ term: { tags: { value: 'a' } } }, { term: { tags: { value: 'b' } } }] } }],
  ['fields.endpoint:/api', { term: { 'fields.endpoint': { value: '/api' } } }],
  ['endpoint:/api', { term: { 'fields.endpoint': { value: '/api' } } }],
  ['fields.status:500', { term: { 'fields.status': { value: '500' } } }],
  ['fields.endpoint:/api*', { prefix: { 'fields.endpoint': { value: '/api' } } }],
  ['fields.endpoint>="/m"', { range: { 'fields.endpoint': { gte: '/m' } } }],
  ['fields:x', { term: { fields: { value: 'x' } } }],
  ['fields:*', { exists: { field: 'fields' } }],
  ['fields.user.id:*', { wildcard: { 'fields.user.id': { value: '*' } } }],
  ['log.syslog.structured_data.origin.ip:1.2.3.4', { term: { 'log.syslog.structured_data.origin.ip': { value: '1.2.3.4' } } }],
  ['message:"!!!"', { match_none: {} }],
  ['NOT *', { match_none: {} }],
  [
    '(level:error OR level:warn) AND NOT (service:api OR host:db-1)',
    {
      bool: {
        filter: [{ terms: { 'log.level': ['error', 'warn'] } }],
        must_not: [{ bool: { should: [{ term: { 'service.name': { value: 'api' } } }, { term: { 'host.name': { value: 'db-1' } } }], minimum_should_match: 1 } }],
      },
    },
  ],
];

/** Where Elasticsearch 8 (flattened) gets another query than OpenSearch 2 (flat_object). */
const ES_DIFFERENT: Array<[string, unknown]> = [['fields.user.id:*', { exists: { field: 'fields.user.id' } }]];

/** Aggregation requests. */
const AGGS: Array<[string, unknown]> = [
  ['| stats count()', undefined],
  ['| stats count() by service', { groups: { terms: { field: 'service.name', size: 100, order: [{ _count: 'desc' }, { _key: 'asc' }] } } }],
  ['| top 5 host', { groups: { terms: { field: 'host.name', size: 5, order: [{ _count: 'desc' }, { _key: 'asc' }] } } }],
  ['| stats count() by service | sort service | limit 3', { groups: { terms: { field: 'service.name', size: 3, order: [{ _key: 'asc' }] } } }],
  ['| stats count() by service, host', { groups: { multi_terms: { terms: [{ field: 'service.name' }, { field: 'host.name' }], size: 100, order: [{ _count: 'desc' }, { _key: 'asc' }] } } }],
  [
    '| stats avg(pid) as p, max(pid) by service | sort -p',
    {
      groups: { terms: { field: 'service.name', size: 100, order: [{ m0: 'desc' }, { _key: 'asc' }] }, aggs: { m0: { avg: { field: 'process.pid' } }, m1: { max: { field: 'process.pid' } } } },
    },
  ],
  [
    '| stats count(host) by service | sort count(host)',
    {
      groups: { terms: { field: 'service.name', size: 100, order: [{ m0: 'asc' }, { _key: 'asc' }] }, aggs: { m0: { filter: { exists: { field: 'host.name' } } } } },
    },
  ],
  [
    '| stats sum(pid), min(pid), distinct(host), p95(pid)',
    {
      m0: { sum: { field: 'process.pid' } },
      m1: { min: { field: 'process.pid' } },
      m2: { cardinality: { field: 'host.name' } },
      m3: { percentiles: { field: 'process.pid', percents: [95] } },
    },
  ],
  ['| stats min(@timestamp), max(@timestamp)', { m0: { min: { field: '@timestamp' } }, m1: { max: { field: '@timestamp' } } }],
  [
    '| stats count() by interval(5m)',
    {
      time: { date_histogram: { field: '@timestamp', fixed_interval: '5m', min_doc_count: 0, order: { _key: 'asc' }, extended_bounds: { min: NOW - 3_600_000, max: NOW - 1 } } },
    },
  ],
  [
    '| stats count() by service, interval(1w) | sort -@timestamp',
    {
      time: {
        date_histogram: { field: '@timestamp', fixed_interval: '7d', min_doc_count: 0, order: { _key: 'desc' }, extended_bounds: { min: NOW - 3_600_000, max: NOW - 1 } },
        aggs: { groups: { terms: { field: 'service.name', size: 100, order: [{ _count: 'desc' }, { _key: 'asc' }] } } },
      },
    },
  ],
];

const dsl = (q: string, cat = os, engine: 'opensearch' | 'elasticsearch' = 'opensearch') => translateQuery(q, cat, engine, { now: NOW }).request.query;

describe('translateQuery: filters → engine query', () => {
  it.each(FILTERS)('%s', (q, want) => {
    expect(dsl(q)).toEqual(want);
    if (!ES_DIFFERENT.some(([x]) => x === q)) expect(dsl(q, es, 'elasticsearch')).toEqual(want);
  });

  it.each(ES_DIFFERENT)('%s on Elasticsearch 8', (q, want) => {
    expect(dsl(q, es, 'elasticsearch')).toEqual(want);
  });

  it('Elasticsearch: what `flattened` refuses on a key (wildcard, a range with one bound) reads the key from _source (a runtime field, no script)', () => {
    const onEs = (q: string) => translateQuery(q, es, 'elasticsearch', { now: NOW }).request;
    expect(onEs('fields.endpoint:*users*')).toMatchObject({ query: { wildcard: { 'fields.endpoint': { value: '*users*' } } }, runtimeMappings: { 'fields.endpoint': { type: 'keyword' } } });
    expect(onEs('fields.endpoint>="/m"')).toMatchObject({ query: { range: { 'fields.endpoint': { gte: '/m' } } }, runtimeMappings: { 'fields.endpoint': { type: 'keyword' } } });
    expect(onEs('endpoint<"/m" AND fields.user.id:7?')).toMatchObject({ runtimeMappings: { 'fields.endpoint': { type: 'keyword' }, 'fields.user.id': { type: 'keyword' } } });
    // What it takes natively stays native: exact values, prefixes, two-sided ranges, exists.
    for (const q of ['fields.endpoint:/api', 'fields.endpoint:/api*', 'fields.endpoint:["/a" TO "/m"]', 'fields.user.id:*', 'host:*-1', 'level:error'])
      expect(onEs(q).runtimeMappings, q).toBeUndefined();
    // OpenSearch's flat_object takes them all.
    for (const q of ['fields.endpoint:*users*', 'fields.endpoint>="/m"']) expect(translateQuery(q, os, 'opensearch').request.runtimeMappings, q).toBeUndefined();
    // One runtime name cannot be both a keyword and a number in one request: refused before sending.
    expect(() => translateQuery('fields.d:*1* | stats avg(fields.d)', es, 'elasticsearch')).toThrow(expect.objectContaining({ code: 'FIELD_TYPE' }) as unknown as QueryError);
  });

  it('the time range beside the query is a filter clause', () => {
    expect(translateQuery('level:error', os, 'opensearch', { now: NOW, range: { from: '-1h' } }).request.query).toEqual({
      bool: { filter: [{ range: { '@timestamp': { gte: NOW - 3_600_000, lt: NOW, format: 'epoch_millis' } } }, { term: { 'log.level': { value: 'error' } } }] },
    });
  });

  it('events: size, sort (missing last, unmapped_type for indices without the field), _source', () => {
    expect(translateQuery('level:error', os, 'opensearch', { now: NOW }).request).toEqual({
      query: { term: { 'log.level': { value: 'error' } } },
      size: 100,
      trackTotalHits: true,
      sort: [{ '@timestamp': { order: 'desc', missing: '_last', unmapped_type: 'date' } }, { 'event.id': { order: 'asc', missing: '_last', unmapped_type: 'keyword' } }],
    });
    expect(translateQuery('| sort pid | limit 7 | fields host, message', os, 'opensearch').request).toMatchObject({
      size: 7,
      sort: [{ 'process.pid': { order: 'asc', missing: '_last', unmapped_type: 'long' } }, { 'event.id': { order: 'asc' } }],
      source: { includes: ['host.name', 'message'] },
    });
  });
});

describe('translateQuery: aggregations', () => {
  it.each(AGGS)('%s', (q, want) => {
    const { request } = translateQuery(q, os, 'opensearch', { now: NOW, range: { from: '-1h' } });
    expect(request.size).toBe(0);
    expect(request.trackTotalHits).toBe(true);
    expect(request.aggs).toEqual(want ?? {});
  });

  it('free-form keys: Elasticsearch groups them from doc values and reads numbers from _source as runtime fields; OpenSearch reads both with a script', () => {
    const onEs = translateQuery('| stats count() by endpoint', es, 'elasticsearch').request.aggs as { groups: { terms: Record<string, unknown> } };
    expect(onEs.groups.terms).toMatchObject({ field: 'fields.endpoint', size: 100 });
    const onOs = translateQuery('| stats count() by endpoint, service', os, 'opensearch').request.aggs as { groups: { multi_terms: { terms: Array<Record<string, unknown>> } } };
    expect(onOs.groups.multi_terms.terms[0]).toMatchObject({ script: { lang: 'painless', params: { path: ['fields', 'endpoint'] } } });
    expect(onOs.groups.multi_terms.terms[1]).toEqual({ field: 'service.name' });
    const osAggs = translateQuery('| stats avg(fields.duration_ms), distinct(fields.user)', os, 'opensearch').request.aggs as Record<
      string,
      Record<string, { script?: { source: string; params: unknown } }>
    >;
    expect(osAggs.m0?.avg?.script?.params).toEqual({ path: ['fields', 'duration_ms'] });
    expect(osAggs.m0?.avg?.script?.source).toContain('Double.parseDouble');
    expect(osAggs.m1?.cardinality?.script).toBeDefined();
    // Elasticsearch is never sent a script (an install may lack lang-painless: ADR 0017).
    const esReq = translateQuery('| stats avg(fields.duration_ms), distinct(fields.user)', es, 'elasticsearch').request;
    expect(esReq.aggs).toEqual({ m0: { avg: { field: 'fields.duration_ms' } }, m1: { cardinality: { field: 'fields.user' } } });
    expect(esReq.runtimeMappings).toEqual({ 'fields.duration_ms': { type: 'double' } });
    for (const q of ['| stats avg(fields.d), p95(fields.d) by endpoint, service, interval(5m)', 'fields.a:*x* | stats count() by fields.a, host', '| stats sum(fields.d) by fields.a']) {
      expect(JSON.stringify(translateQuery(q, es, 'elasticsearch', { now: NOW, range: { from: '-1h' } }).request), q).not.toContain('painless');
    }
  });

  it('several groups on Elasticsearch: a composite of every combination (time bucket first), no multi_terms', () => {
    const { request } = translateQuery('| stats count(), avg(pid) by service, host, interval(5m)', es, 'elasticsearch', { now: NOW, range: { from: '-1h' } });
    expect(request.aggs).toEqual({
      groups: {
        composite: {
          size: 65_535,
          sources: [{ t: { date_histogram: { field: '@timestamp', fixed_interval: '5m' } } }, { g0: { terms: { field: 'service.name' } } }, { g1: { terms: { field: 'host.name' } } }],
        },
        aggs: { m1: { avg: { field: 'process.pid' } } },
      },
    });
    expect(translateQuery('| stats count() by service, host', es, 'elasticsearch').request.aggs).toEqual({
      groups: { composite: { size: 65_535, sources: [{ g0: { terms: { field: 'service.name' } } }, { g1: { terms: { field: 'host.name' } } }] } },
    });
  });

  it('a bad query never becomes a request', () => {
    for (const q of ['sevice:api', 'pid>=abc', '| stats avg(message)', 'level:', '| stats count() by message']) {
      expect(() => translateQuery(q, os, 'opensearch'), q).toThrow(expect.objectContaining({ name: 'QueryError' }) as unknown as QueryError);
    }
  });
});

describe('readQueryResult', () => {
  it('reads terms, multi_terms and histogram buckets into rows; booleans from 1/0', () => {
    const plan = planQuery('| stats count(), avg(pid), p95(pid) by backlog.dlq.truncated, interval(1h)', os, { now: NOW, range: { from: '-2h' } });
    const res = readQueryResult(plan, {
      tookMs: 1,
      total: { value: 3, relation: 'eq' },
      hits: [],
      aggregations: {
        time: {
          buckets: [
            { key: NOW - 7_200_000, doc_count: 0, groups: { buckets: [] } },
            { key: NOW - 3_600_000, doc_count: 3, groups: { buckets: [{ key: 1, key_as_string: 'true', doc_count: 3, m1: { value: 2.5 }, m2: { values: { '95.0': 4 } } }] } },
          ],
        },
      },
    });
    expect(res).toEqual({
      kind: 'stats',
      total: 3,
      columns: [
        { name: '@timestamp', role: 'time', type: 'date' },
        { name: 'backlog.dlq.truncated', role: 'group', type: 'boolean' },
        { name: 'count', role: 'metric', type: 'number' },
        { name: 'avg(pid)', role: 'metric', type: 'number' },
        { name: 'p95(pid)', role: 'metric', type: 'number' },
      ],
      rows: [[NOW - 3_600_000, true, 3, 2.5, 4]],
    });
    const multi = planQuery('| stats sum(pid) by service, host', os);
    expect(
      (
        readQueryResult(multi, {
          tookMs: 1,
          total: { value: 2, relation: 'eq' },
          hits: [],
          aggregations: { groups: { buckets: [{ key: ['api', 'web-1'], doc_count: 2, m0: { value: null } }] } },
        }) as StatsResult
      ).rows,
    ).toEqual([['api', 'web-1', 0]]);
    expect(() => readQueryResult(multi, { tookMs: 1, total: { value: 0, relation: 'eq' }, hits: [], aggregations: {} })).toThrow(expect.objectContaining({ code: 'SEARCH_RESPONSE_INVALID' }));
  });

  it('reads a composite (Elasticsearch, several groups): orders and cuts each time bucket as the plan says', () => {
    const plan = planQuery('| stats count(), max(pid) by service, host, interval(1h) | sort -@timestamp | limit 2', es, { now: NOW, range: { from: '-2h' } });
    const t0 = NOW - 7_200_000;
    const t1 = NOW - 3_600_000;
    const b = (t: number, service: string, host: string, n: number, max: number) => ({ key: { t, g0: service, g1: host }, doc_count: n, m1: { value: max } });
    const res = readQueryResult(plan, {
      tookMs: 1,
      total: { value: 13, relation: 'eq' },
      hits: [],
      aggregations: {
        groups: { after_key: { t: t1, g0: 'web', g1: 'b' }, buckets: [b(t0, 'api', 'a', 1, 5), b(t0, 'api', 'b', 3, 7), b(t0, 'web', 'a', 3, 9), b(t1, 'api', 'a', 2, 1), b(t1, 'web', 'b', 4, 2)] },
      },
    }) as StatsResult;
    // Newest time bucket first; within one, count descending, ties by key; at most 2.
    expect(res.rows).toEqual([
      [t1, 'web', 'b', 4, 2],
      [t1, 'api', 'a', 2, 1],
      [t0, 'api', 'b', 3, 7],
      [t0, 'web', 'a', 3, 9],
    ]);
    expect(res.columns.map((c) => c.name)).toEqual(['@timestamp', 'service', 'host', 'count', 'max(pid)']);
    // A full page means there may be more combinations: refused rather than answered wrong.
    const many = { key: { g0: 'x', g1: 'y' }, doc_count: 1 };
    const multi = planQuery('| stats count() by service, host', es);
    expect(() => readQueryResult(multi, { tookMs: 1, total: { value: 1, relation: 'eq' }, hits: [], aggregations: { groups: { buckets: Array.from({ length: 65_535 }, () => many) } } })).toThrow(
      expect.objectContaining({ code: 'LIMIT_EXCEEDED' }),
    );
    expect((readQueryResult(multi, { tookMs: 1, total: { value: 0, relation: 'eq' }, hits: [], aggregations: { groups: { buckets: [] } } }) as StatsResult).rows).toEqual([]);
  });
});

describe('catalogueFromMappings', () => {
  it('multi-fields, aliases, index:false, dynamic templates, and a type conflict across indices', () => {
    const cat = catalogueFromMappings({
      a: {
        dynamic_templates: [{ l: { path_match: 'labels.*', mapping: { type: 'keyword' } } }, { s: { match_mapping_type: 'string', mapping: { type: 'keyword' } } }],
        properties: {
          message: { type: 'text', fields: { keyword: { type: 'keyword', ignore_above: 256 } } },
          status: { type: 'long' },
          rt: { type: 'scaled_float', scaling_factor: 100 },
          raw: { type: 'keyword', index: false, doc_values: false },
          where: { type: 'geo_point' },
          short: { type: 'alias', path: 'status' },
          user: { properties: { name: { type: 'keyword', ignore_above: 64 } } },
        },
      },
      b: { properties: { status: { type: 'keyword' }, user: { properties: { name: { type: 'keyword', ignore_above: 32 } } } } },
    });
    expect(cat.fields.get('message.keyword')).toMatchObject({ type: 'keyword', ignoreAbove: 256 });
    expect(cat.fields.get('rt')).toMatchObject({ type: 'number' });
    expect(cat.fields.get('rt')?.integer).toBeUndefined();
    expect(cat.fields.get('raw')).toMatchObject({ searchable: false, aggregatable: false });
    expect(cat.fields.get('where')?.type).toBe('other');
    expect(cat.fields.get('short')).toMatchObject({ type: 'number', integer: true });
    expect(cat.fields.get('user')?.type).toBe('object');
    expect(cat.fields.get('user.name')?.ignoreAbove).toBe(32);
    expect(cat.fields.get('status')?.conflicting).toEqual(['long', 'keyword']);
    expect(cat.patterns).toEqual([{ prefix: 'labels.', info: { type: 'keyword', mappingType: 'keyword', aggregatable: true } }]);
    expect(cat.freeForm).toBeUndefined();
  });

  it('the logs template on each engine', () => {
    expect(os.fields.get('fields')).toMatchObject({ type: 'flattened', mappingType: 'flat_object', subfieldsAggregatable: false });
    expect(es.fields.get('fields')).toMatchObject({ type: 'flattened', mappingType: 'flattened', subfieldsAggregatable: true });
    expect(os.fields.get('backlog.conflicts.value')?.ignoreAbove).toBe(8191);
    expect(os.freeForm).toBe('fields');
    expect(os.idField).toBe('event.id');
  });
});
