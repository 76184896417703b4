// The query language against the real engines (the local stack's OpenSearch 2.19 and its Elasticsearch 8
// node, ADR 0017; or BACKLOG_TEST_ES_URL): a few thousand varied synthetic events are indexed into an
// index made by backlog's real `logs-*` template, and every query's engine answer (ids, in order, and
// aggregation numbers) must equal the in-process evaluator's answer over the same events in memory.
// The engine is the reference: where they differ, the evaluator is wrong (or the difference is
// documented in docs/adr/0016-query-language.md and asserted here as such).
import { analyze, evaluateQuery, parseRequest, planQuery, type Cell, type FieldCatalogue, type QueryResult, type StatsResult } from '@backlog/core-query';
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearch, fetchFieldCatalogue, logsCatalogue, logsTemplate, readQueryResult, translateQuery, type SearchEngine, type SearchPort } from '../index';

const es8 = elasticsearchUrl();
const cases: Array<{ name: string; url: () => string }> = [{ name: 'opensearch', url: () => stackInfo().search.url }, ...(es8 ? [{ name: 'elasticsearch', url: () => es8 }] : [])];

const NOW = Date.parse('2026-11-22T12:00:00.000Z');
const N = 3000;

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

const MESSAGES = [
  'upstream timed out while reading response header',
  'Upstream TIMEOUT!',
  'connection refused by 10.0.0.1:5432',
  'GET /api/v1/users 500 12ms',
  'GET /api/v1/users/42 200 3ms',
  'user_id=42 logged in from web-1',
  "don't panic: disk at 91%",
  'Straße gesperrt — ÜBERLAUF',
  '日本語のログ メッセージ カタカナ',
  'deploy 🔥 done v1.2.3',
  'TIMEOUT after 3,000 ms; retrying',
  'timed out: upstream',
  'a.b.c example.com x@y.org',
  'error: java.lang.NullPointerException at com.example.Foo.bar(Foo.java:42)',
  '',
  'health check ok',
  'ÉTÉ İstanbul ΟΔΟΣ',
  'foo:bar baz_qux 1.a a.1',
];

type Ev = Record<string, unknown>;

function makeEvents(seed: number): Ev[] {
  const r = rng(seed);
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(r() * xs.length)] as T;
  const hosts = ['web-1', 'web-2', 'web-10', 'db-1', 'Web-1', 'cache-a'];
  const services = ['api', 'web', 'worker', 'api gateway', 'auth'];
  const levels = ['error', 'warn', 'info', 'info', 'info', 'debug', 'ERROR'];
  const ips = ['10.0.0.1', '10.1.2.3', '192.168.1.7', '::1', '2001:db8::5', '172.16.0.9', '10.255.255.255'];
  const endpoints = ['/api/users', '/api/orders', '/web/home', '/api/users/42', '/health'];
  const out: Ev[] = [];
  for (let i = 0; i < N; i++) {
    const ts = NOW - Math.floor(r() * 2 * 3_600_000) - (r() < 0.02 ? 3 * 3_600_000 : 0);
    const e: Ev = {
      '@timestamp': new Date(ts).toISOString(),
      event: { id: `e${String(i).padStart(5, '0')}`, created: new Date(ts + 50).toISOString() },
      message: r() < 0.03 ? [pick(MESSAGES), pick(MESSAGES)] : r() < 0.3 ? `${pick(MESSAGES)} ${pick(MESSAGES)}` : pick(MESSAGES),
      labels: { env: r() < 0.7 ? 'prod' : 'staging', input: pick(['syslog_udp', 'http', 'file']) },
    };
    if (r() < 0.92) e.host = { name: r() < 0.04 ? [pick(hosts), pick(hosts)] : r() < 0.01 ? `web-${'x'.repeat(1100)}` : pick(hosts), ...(r() < 0.6 ? { ip: pick(ips) } : {}) };
    if (r() < 0.9) e.service = { name: r() < 0.02 ? 42 : pick(services) };
    if (r() < 0.95)
      e.log = {
        level: pick(levels),
        ...(r() < 0.3 ? { syslog: { priority: Math.floor(r() * 191), facility: { code: 4, name: pick(['auth', 'daemon', 'local0']) }, severity: { code: Math.floor(r() * 8), name: 'err' } } } : {}),
      };
    if (r() < 0.8) e.process = { pid: r() < 0.05 ? String(Math.floor(r() * 40000)) : r() < 0.03 ? [Math.floor(r() * 40000), Math.floor(r() * 40000)] : Math.floor(r() * 40000) };
    if (r() < 0.7) {
      const f: Ev = { endpoint: pick(endpoints), status: pick([200, 200, 404, 500, 60, 503]), duration_ms: r() < 0.1 ? String(Math.round(r() * 2000)) : Math.round(r() * 2000) };
      if (r() < 0.3) f.user = { id: String(Math.floor(r() * 100)) };
      if (r() < 0.1) f['a.b'] = pick(['x', 'y']);
      if (r() < 0.1) f.a = { b: pick(['x', 'z']) };
      if (r() < 0.1) f.arr = ['p', pick(['q', 'r'])];
      if (r() < 0.1) f.flag = r() < 0.5;
      if (r() < 0.05) f.note = null;
      e.fields = f;
    }
    if (r() < 0.05) e.tags = pick([['alpha'], ['alpha', 'beta'], ['beta'], []]);
    if (r() < 0.05) e.error = { message: pick(['Failed to connect', 'failed: timeout', 'disk full']), type: 'IOError' };
    if (r() < 0.03) e.backlog = { dlq: { reason: 'parse', truncated: r() < 0.5 } };
    out.push(e);
  }
  return out;
}

const RANGE = { from: '2026-11-22T10:00:00Z', to: '2026-11-22T12:00:00Z' };

/** Filters: each runs with and without the range. */
const FILTERS = [
  '',
  '*',
  'level:error',
  'level:ERROR',
  'level:error AND service:api',
  'level:error OR level:warn',
  'level:error or level:warn and service:web',
  'NOT level:debug',
  '-level:debug',
  'level:(error OR warn)',
  'service:api level:error',
  'service:"api gateway"',
  'service:42',
  'host:web-*',
  'host:web-?',
  'host:*-1',
  'host.name:"web-1"',
  'host:Web-1',
  'host:*',
  'NOT host:*',
  'host.name>=web-1',
  'host.name:[db-1 TO web-1}',
  'message:timeout',
  'timeout',
  'TIMEOUT',
  '"upstream timed out"',
  '"timed upstream"',
  'message:time*',
  'message:tim?d',
  'message:"connection refused"',
  'refused AND NOT connection',
  'message:web-1',
  'message:10.0.0.1',
  'message:user_id',
  "message:don't",
  'message:*',
  'NOT message:*',
  'message:"GET /api/v1/users"',
  'message:straße',
  'message:ÜBERLAUF',
  'message:"日本"',
  'message:カタカナ',
  'message:🔥',
  'message:"3,000"',
  'message:example.com',
  'message:"foo:bar"',
  'message:istanbul',
  'message:οδοσ',
  'message:ok AND message:health',
  'process.pid>=30000',
  'process.pid<100',
  'process.pid:[100 TO 20000]',
  'process.pid:{100 TO 20000}',
  'pid:*',
  'NOT pid:*',
  '@timestamp>=now-15m',
  '@timestamp<now-1h',
  '@timestamp:[now-30m TO now-10m]',
  'host.ip:10.0.0.0/8',
  'host.ip>=10.1.0.0',
  'host.ip:"::1"',
  'host.ip:"2001:db8::/32"',
  'host.ip:*',
  'labels.env:prod',
  'env:staging AND input:http',
  'labels.nothing:x',
  'fields.endpoint:/api/users',
  'endpoint:/api/users',
  'fields.endpoint:/api*',
  'fields.endpoint:*users*',
  'fields.status:500',
  'fields.status:(500 OR 503)',
  'fields.user.id:42',
  'fields.a.b:x',
  'fields.arr:q',
  'fields:x',
  'fields:*',
  'fields.endpoint:*',
  'NOT fields.endpoint:*',
  'fields.user.id:*',
  'fields.flag:true',
  'fields.note:*',
  'fields.endpoint>="/api/p"',
  'fields.endpoint<"/api/p"',
  'fields.endpoint:["/api/o" TO "/api/v"]',
  'fields.endpoint:*users* OR fields.endpoint:/health',
  'NOT fields.user.id:?',
  'log.syslog.severity.code<=3',
  'log.syslog.facility.name:auth',
  'log.syslog:*',
  'log:*',
  'backlog.dlq.truncated:true',
  'backlog.dlq.truncated:false',
  'error.message:failed',
  'error.message:"failed to"',
  'tags:alpha',
  'tags:alpha AND tags:beta',
  'tags:*',
  '(level:error OR level:warn) AND NOT (service:api OR host:db-1)',
  'host.name:web-xxxxxxxx*',
  'NOT (NOT level:info)',
] as const;

const STATS = [
  '| stats count()',
  'level:error | stats count() by service',
  '| stats count() by service, host',
  '| stats count() by interval(5m)',
  '| stats count() by service, interval(10m)',
  '| stats count(), avg(process.pid), min(process.pid), max(process.pid), sum(process.pid) by service',
  '| stats distinct(host) by service',
  '| stats p50(process.pid), p90(process.pid), p99(process.pid)',
  '| top 3 host',
  '| stats count() by endpoint',
  '| stats count() by endpoint, level',
  '| stats avg(fields.duration_ms), max(fields.duration_ms) by service',
  '| stats count(fields.endpoint) by level',
  '| stats count() by level | sort level',
  '| stats avg(process.pid) as p by service | sort -p',
  '| stats count() by host.ip',
  '| stats count() by backlog.dlq.truncated',
  '| stats min(@timestamp), max(@timestamp)',
  '| stats distinct(fields.endpoint), distinct(labels.env)',
  '| stats count() by labels.env, interval(30m) | sort -@timestamp',
  'message:timeout | stats count() by interval(15m)',
  '| stats sum(process.pid) by process.pid | sort -count | limit 5',
  '| stats count() by tags',
  '| stats count(host) by service | sort -count(host)',
  '| stats count() by fields.user.id | limit 4',
  // Several groups: multi_terms on OpenSearch, a composite on Elasticsearch (ordered and cut by the reader).
  '| stats count(), avg(process.pid) by service, host, interval(30m)',
  '| stats count() by endpoint, level | sort -count | limit 5',
  '| stats count() by service, level | sort service',
  '| stats avg(process.pid) as p by service, labels.env | sort -p | limit 3',
  '| stats avg(fields.duration_ms), sum(fields.duration_ms) by endpoint, service',
  'fields.endpoint:*users* | stats count() by fields.endpoint, host',
] as const;

function closeCells(a: Cell, b: Cell, tolerance: number): boolean {
  if (typeof a === 'number' && typeof b === 'number') return Math.abs(a - b) <= tolerance * Math.max(1, Math.abs(a), Math.abs(b));
  return a === b;
}

describe.each(cases)('query language: engine vs evaluator ($name)', (c) => {
  const ns = testNamespace('query');
  const index = `logs-${ns}-recent-2026.11.22`;
  const templateName = `${ns}-logs`;
  let search: SearchPort;
  let engine: SearchEngine;
  let catalogue: FieldCatalogue;
  const events = makeEvents(19);

  beforeAll(async () => {
    search = await createSearch({ node: c.url(), engine: 'auto' });
    engine = search.engine;
    expect(engine).toBe(c.name);
    // The project's real template, with a priority above Elasticsearch 8's built-in `logs` template.
    await search.putIndexTemplate(templateName, logsTemplate({ patterns: [`logs-${ns}-*`], priority: 500, shards: 1, replicas: 0, refreshInterval: '1s', freeForm: search.freeFormObjectMapping() }));
    for (let i = 0; i < events.length; i += 1000) {
      const res = await search.bulk(
        events.slice(i, i + 1000).map((doc) => ({ op: 'create' as const, index, id: (doc.event as { id: string }).id, doc })),
        { refresh: i + 1000 >= events.length },
      );
      expect(res.failed, JSON.stringify(res.items.find((x) => !x.ok))).toBe(0);
    }
    catalogue = await fetchFieldCatalogue(search, `logs-${ns}-*`);
  }, 120_000);

  afterAll(async () => {
    if (!search) return;
    await search.deleteIndices(`logs-${ns}-*`);
    await search.deleteIndexTemplate(templateName);
    await search.close();
  });

  it('reads the field catalogue from the mapping: the template fields, dynamic labels.*, the free-form object', () => {
    expect(catalogue.fields.get('message')?.type).toBe('text');
    expect(catalogue.fields.get('host.name')).toMatchObject({ type: 'keyword', ignoreAbove: 1024 });
    expect(catalogue.fields.get('process.pid')).toMatchObject({ type: 'number', integer: true });
    expect(catalogue.fields.get('@timestamp')?.type).toBe('date');
    expect(catalogue.fields.get('host.ip')?.type).toBe('ip');
    expect(catalogue.fields.get('event.original')?.searchable).toBe(false);
    expect(catalogue.fields.get('fields')).toMatchObject({ type: 'flattened', subfieldsAggregatable: engine === 'elasticsearch' });
    expect(catalogue.patterns.find((p) => p.prefix === 'labels.')?.info.type).toBe('keyword');
    expect(catalogue.freeForm).toBe('fields');
    expect(catalogue.idField).toBe('event.id');
    // The live mapping and the template's catalogue agree on every template field.
    const fromTemplate = logsCatalogue(engine);
    for (const [name, info] of fromTemplate.fields) expect(catalogue.fields.get(name), name).toEqual(info);
  });

  it('tokenizes text as the engine standard analyzer does', async () => {
    const texts = [
      ...MESSAGES,
      ...events
        .slice(0, 300)
        .flatMap((e) => (Array.isArray(e.message) ? e.message : [e.message]))
        .map(String),
      "it's 3.14 v2.0-rc1 x:y:z _a a_ __ 1,000,000 a,b ü.ü ab12cd a1.b2 0x1F ...",
      'x'.repeat(300),
    ];
    for (const text of [...new Set(texts)]) {
      const res = await fetch(`${c.url()}/_analyze`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ analyzer: 'standard', text }) });
      const body = (await res.json()) as { tokens: Array<{ token: string }> };
      expect(analyze(text), text).toEqual(body.tokens.map((t) => t.token));
    }
  });

  const compareFilter = async (q: string, withRange: boolean) => {
    const plan = planQuery(`${q} | limit 10000`, catalogue, { now: NOW, ...(withRange ? { range: RANGE } : {}) });
    const { request } = translateQuery(plan, catalogue, engine);
    // Only ids are compared here: the engine need not send the sources back.
    const engineAnswer = readQueryResult(
      plan,
      await search.search({ ...request, index, source: false }).catch((e: Error) => {
        throw new Error(`${q}: ${e.message} ${JSON.stringify(request)}`);
      }),
    );
    const memory = evaluateQuery(plan, events);
    if (engineAnswer.kind !== 'hits' || memory.kind !== 'hits') throw new Error('expected hits');
    const a = engineAnswer.hits.map((h) => h.id);
    const b = memory.hits.map((h) => h.id);
    const sa = new Set(a);
    const sb = new Set(b);
    const onlyEngine = a.filter((x) => !sb.has(x)).slice(0, 3);
    const onlyMemory = b.filter((x) => !sa.has(x)).slice(0, 3);
    const show = (ids: string[]) => ids.map((id) => JSON.stringify(events.find((e) => (e.event as { id: string }).id === id)).slice(0, 400));
    expect({ total: engineAnswer.total, onlyEngine: show(onlyEngine), onlyMemory: show(onlyMemory) }, `${q} ${JSON.stringify(request.query)}`).toEqual({
      total: memory.total,
      onlyEngine: [],
      onlyMemory: [],
    });
    // Same order too (time descending, then event id).
    expect(a).toEqual(b);
    return memory.total;
  };

  it(`filters: ${FILTERS.length} queries × (with and without a time range) — engine hits equal the evaluator's`, async () => {
    let nonTrivial = 0;
    for (const q of FILTERS) {
      for (const withRange of [false, true]) {
        const n = await compareFilter(q, withRange);
        if (n > 0 && n < events.length) nonTrivial++;
      }
    }
    // The table is only a test if the queries actually split the events.
    expect(nonTrivial).toBeGreaterThan(FILTERS.length);
  });

  it('hits: sort, limit and fields agree (order and projected sources)', async () => {
    for (const q of [
      'level:error | sort process.pid | limit 25 | fields process.pid, host.name, fields.endpoint',
      'service:api | sort -host.name | limit 40',
      '| sort host.ip | limit 30 | fields host',
      'timeout | limit 7',
    ]) {
      const plan = planQuery(q, catalogue, { now: NOW, range: RANGE });
      const { request } = translateQuery(plan, catalogue, engine);
      const engineAnswer = readQueryResult(plan, await search.search({ ...request, index }));
      const memory = evaluateQuery(plan, events);
      if (engineAnswer.kind !== 'hits' || memory.kind !== 'hits') throw new Error('expected hits');
      expect(
        engineAnswer.hits.map((h) => [h.id, h.source]),
        q,
      ).toEqual(memory.hits.map((h) => [h.id, h.source]));
      expect(engineAnswer.total).toBe(memory.total);
    }
  });

  it(`aggregations: ${STATS.length} queries — engine numbers equal the evaluator's`, async () => {
    for (const q of STATS) {
      const plan = planQuery(q, catalogue, { now: NOW, range: RANGE });
      const { request } = translateQuery(plan, catalogue, engine);
      const engineAnswer = readQueryResult(
        plan,
        await search.search({ ...request, index }).catch((e: Error) => {
          throw new Error(`${q}: ${e.message} ${JSON.stringify(request).slice(0, 600)}`);
        }),
      ) as StatsResult;
      const memory = evaluateQuery(plan, events) as StatsResult;
      expect(engineAnswer.columns, q).toEqual(memory.columns);
      expect(engineAnswer.total, q).toBe(memory.total);
      expect(engineAnswer.rows.length, `${q}: ${JSON.stringify(engineAnswer.rows.slice(0, 5))} vs ${JSON.stringify(memory.rows.slice(0, 5))}`).toBe(memory.rows.length);
      const pct = plan.stats?.metrics.map((m) => m.fn === 'percentiles') ?? [];
      const offset = memory.columns.length - pct.length;
      engineAnswer.rows.forEach((row, i) => {
        const mine = memory.rows[i] as Cell[];
        row.forEach((cell, j) => {
          // Percentiles: the engine's t-digest is approximate (2% of the value range).
          const tol = j >= offset && pct[j - offset] ? 0.02 : 1e-9;
          expect(closeCells(cell, mine[j] as Cell, tol), `${q} row ${i} col ${memory.columns[j]?.name}: engine ${JSON.stringify(row)} vs memory ${JSON.stringify(mine)}`).toBe(true);
        });
      });
      expect(memory.rows.length, `${q} answers something`).toBeGreaterThan(0);
    }
  });

  it('DATA-001 examples work as written', async () => {
    const req = parseRequest({ query: 'level:error AND service:api', aggregation: { type: 'count', field: 'endpoint', interval: '5m' }, time_range: 'last 1 hour' });
    const plan = planQuery(req.query, catalogue, { now: NOW, ...(req.range ? { range: req.range } : {}) });
    const { request } = translateQuery(plan, catalogue, engine);
    const engineAnswer = readQueryResult(plan, await search.search({ ...request, index })) as StatsResult;
    const memory = evaluateQuery(plan, events) as StatsResult;
    expect(engineAnswer).toEqual(memory);
    expect(engineAnswer.total).toBeGreaterThan(0);
    // Rows are (5-minute bucket, endpoint, count) within the last hour.
    expect(engineAnswer.columns.map((x) => x.name)).toEqual(['@timestamp', 'endpoint', 'count']);
    for (const row of engineAnswer.rows) expect(row[0] as number).toBeGreaterThanOrEqual(NOW - 3_600_000 - 300_000);
    const fromOnly = planQuery('level:error AND service:api', catalogue, { now: NOW, range: { from: '1h' } });
    const r1 = readQueryResult(fromOnly, await search.search({ ...translateQuery(fromOnly, catalogue, engine).request, index })) as QueryResult;
    expect(r1.total).toBe(evaluateQuery(fromOnly, events).total);
    expect(r1.total).toBeGreaterThan(0);
  });
});
