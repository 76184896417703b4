// What backlog's searches and the coming query translation (terms, metrics, percentiles, cardinality,
// date histograms, top hits; term/wildcard/prefix/match/match_phrase/range/exists; point in time with
// search_after) need from the engine, checked on each engine of the stack: OpenSearch 2.19 and the
// Elasticsearch 8 node built from Maven Central jars (ADR 0017: all of this is in the server itself, none
// of it in a module missing there). Where the two engines differ — on free-form `fields.*` — the test
// pins what each does, so a translation that assumes otherwise fails here first.
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearch, type Json, type SearchEngine, type SearchPort, logsTemplate } from './index';

const es8 = elasticsearchUrl();
const engines: { engine: SearchEngine; url: () => string }[] = [{ engine: 'opensearch', url: () => stackInfo().search.url }, ...(es8 ? [{ engine: 'elasticsearch' as const, url: () => es8 }] : [])];

const T0 = Date.parse('2026-11-22T10:00:00Z');
const N = 30;
const doc = (i: number) => ({
  '@timestamp': new Date(T0 + i * 1000).toISOString(),
  event: { id: `c${String(i).padStart(2, '0')}` },
  host: { name: `web-0${i % 3}` },
  log: { level: i % 5 === 0 ? 'error' : 'info' },
  process: { pid: i },
  message: i % 2 ? 'upstream timed out while reading' : 'request done in time',
  fields: { user: i % 2 ? 'alice' : 'bob', n: String(i) },
});

async function raw(url: string, method: string, path: string, body?: unknown): Promise<{ status: number; body: Json }> {
  const res = await fetch(`${url}${path}`, {
    method,
    headers: body === undefined ? {} : { 'content-type': 'application/json' },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
  });
  return { status: res.status, body: (await res.json()) as Json };
}

/** Point in time: the same idea on both engines under two APIs (ES `_pit`, OpenSearch `_search/point_in_time`). */
const pit = {
  async open(engine: SearchEngine, url: string, index: string): Promise<string> {
    const r = await raw(url, 'POST', engine === 'elasticsearch' ? `/${index}/_pit?keep_alive=1m` : `/${index}/_search/point_in_time?keep_alive=1m`);
    expect(r.status).toBe(200);
    return String(engine === 'elasticsearch' ? r.body.id : r.body.pit_id);
  },
  async close(engine: SearchEngine, url: string, id: string): Promise<void> {
    const r = engine === 'elasticsearch' ? await raw(url, 'DELETE', '/_pit', { id }) : await raw(url, 'DELETE', '/_search/point_in_time', { pit_id: [id] });
    expect(r.status).toBe(200);
  },
};

describe.each(engines)('engine capabilities: $engine', ({ engine, url }) => {
  const ns = testNamespace('caps');
  const index = `logs-${ns}-recent-2026.11.22`;
  let search: SearchPort;
  const ids = async (query: Json) => (await search.search({ index, query, size: 100, sort: [{ 'event.id': 'asc' }], source: false })).hits.map((h) => h.id);
  const rejected = async (query: Json) => {
    const r = await raw(url(), 'POST', `/${index}/_search`, { query });
    return r.status === 200 ? undefined : JSON.stringify(r.body);
  };

  beforeAll(async () => {
    search = await createSearch({ node: url() });
    expect(search.engine).toBe(engine);
    await search.putIndexTemplate(`${ns}-logs`, logsTemplate({ patterns: [`logs-${ns}-*`], priority: 460, shards: 1, replicas: 0, refreshInterval: '1s', freeForm: search.freeFormObjectMapping() }));
    const r = await search.bulk(
      Array.from({ length: N }, (_, i) => ({ op: 'create' as const, index, id: doc(i).event.id, doc: doc(i) })),
      { refresh: true },
    );
    expect(r.failed).toBe(0);
  });

  afterAll(async () => {
    if (!search) return;
    await search.deleteIndices(`logs-${ns}-*`);
    await search.deleteIndexTemplate(`${ns}-logs`);
    await search.close();
  });

  it('filters on mapped fields: term, terms, wildcard, prefix, match, match_phrase, range, exists, bool', async () => {
    expect(await ids({ term: { 'host.name': 'web-01' } })).toHaveLength(10);
    expect(await ids({ terms: { 'log.level': ['error'] } })).toEqual(['c00', 'c05', 'c10', 'c15', 'c20', 'c25']);
    expect(await ids({ wildcard: { 'host.name': { value: 'WEB-01*', case_insensitive: true } } })).toHaveLength(10);
    expect(await ids({ prefix: { 'event.id': 'c2' } })).toHaveLength(10);
    expect(await ids({ match: { message: 'timed out' } })).toHaveLength(15);
    expect(await ids({ match_phrase: { message: 'done in time' } })).toHaveLength(15);
    expect(await ids({ match_phrase: { message: 'time in done' } })).toEqual([]);
    expect(await ids({ range: { '@timestamp': { gte: new Date(T0 + 25_000).toISOString(), lt: new Date(T0 + 27_000).toISOString() } } })).toEqual(['c25', 'c26']);
    expect(await ids({ range: { 'process.pid': { gt: 27 } } })).toEqual(['c28', 'c29']);
    expect(await ids({ exists: { field: 'process.pid' } })).toHaveLength(N);
    expect(await ids({ bool: { filter: [{ term: { 'host.name': 'web-00' } }], must_not: [{ term: { 'log.level': 'error' } }] } })).toEqual(['c03', 'c06', 'c09', 'c12', 'c18', 'c21', 'c24', 'c27']);
  });

  it('aggregates: terms, avg/min/max/sum, percentiles, cardinality, date_histogram, top_hits', async () => {
    const r = await search.search({
      index,
      size: 0,
      aggs: {
        hosts: { terms: { field: 'host.name', order: { _key: 'asc' } }, aggs: { last: { top_hits: { size: 1, sort: [{ '@timestamp': 'desc' }], _source: ['event.id'] } } } },
        avg: { avg: { field: 'process.pid' } },
        min: { min: { field: 'process.pid' } },
        max: { max: { field: 'process.pid' } },
        sum: { sum: { field: 'process.pid' } },
        p: { percentiles: { field: 'process.pid', percents: [50, 99] } },
        users: { cardinality: { field: 'host.name' } },
        per10s: { date_histogram: { field: '@timestamp', fixed_interval: '10s' } },
      },
    });
    const a = r.aggregations as Record<string, Json>;
    const hosts = (a.hosts as { buckets: { key: string; doc_count: number; last: { hits: { hits: { _source: { event: { id: string } } }[] } } }[] }).buckets;
    expect(hosts.map((b) => [b.key, b.doc_count, b.last.hits.hits[0]?._source.event.id])).toEqual([
      ['web-00', 10, 'c27'],
      ['web-01', 10, 'c28'],
      ['web-02', 10, 'c29'],
    ]);
    expect([a.avg, a.min, a.max, a.sum].map((x) => (x as { value: number }).value)).toEqual([14.5, 0, 29, 435]);
    const p = (a.p as { values: Record<string, number> }).values;
    expect(p['50.0']).toBeGreaterThanOrEqual(14);
    expect(p['50.0']).toBeLessThanOrEqual(15);
    expect(p['99.0']).toBeGreaterThanOrEqual(28);
    expect((a.users as { value: number }).value).toBe(3);
    expect((a.per10s as { buckets: { doc_count: number }[] }).buckets.map((b) => b.doc_count)).toEqual([10, 10, 10]);
  });

  it('pages through a point in time with search_after: every document once, in order', async () => {
    const id = await pit.open(engine, url(), index);
    try {
      const seen: string[] = [];
      let after: unknown[] | undefined;
      for (let page = 0; page < 10; page++) {
        const r = await raw(url(), 'POST', '/_search', {
          size: 7,
          pit: { id, keep_alive: '1m' },
          sort: [{ '@timestamp': 'asc' }, { 'event.id': 'asc' }],
          _source: ['event.id'],
          ...(after ? { search_after: after } : {}),
        });
        expect(r.status).toBe(200);
        const hits = (r.body.hits as { hits: { _source: { event: { id: string } }; sort: unknown[] }[] }).hits;
        if (!hits.length) break;
        seen.push(...hits.map((h) => h._source.event.id));
        after = hits[hits.length - 1]?.sort;
        // Documents added after the point in time was opened stay out of it.
        if (page === 0) await search.bulk([{ op: 'create', index, id: 'late', doc: { ...doc(99), event: { id: 'late' } } }], { refresh: true });
      }
      expect(seen).toEqual(Array.from({ length: N }, (_, i) => doc(i).event.id));
    } finally {
      await pit.close(engine, url(), id);
      await search.bulk([{ op: 'delete', index, id: 'late' }], { refresh: true });
    }
  });

  it('free-form fields.*: term, prefix, exists and match work on both engines; the rest differs and is pinned here', async () => {
    expect(await ids({ term: { 'fields.user': 'alice' } })).toHaveLength(15);
    expect(await ids({ prefix: { 'fields.user': 'al' } })).toHaveLength(15);
    expect(await ids({ exists: { field: 'fields.user' } })).toHaveLength(N);
    expect(await ids({ match: { 'fields.user': 'bob' } })).toHaveLength(15);
    // Values are keywords on both: a range compares strings, so bound it on both sides.
    expect(await ids({ range: { 'fields.n': { gte: '27', lte: '29' } } })).toEqual(['c27', 'c28', 'c29']);
    const wildcard = await rejected({ wildcard: { 'fields.user': 'al*' } });
    const openRange = await rejected({ range: { 'fields.n': { gte: '27' } } });
    const terms = await search.search({ index, size: 0, aggs: { u: { terms: { field: 'fields.user' } } } });
    const buckets = (terms.aggregations?.u as { buckets: { key: string }[] }).buckets.map((b) => b.key).sort();
    if (engine === 'elasticsearch') {
      // flattened: no wildcard on a key, no open-ended range, but aggregations work.
      expect(wildcard).toMatch(/\[wildcard\] queries are not currently supported on keyed \[flattened\] fields/);
      expect(openRange).toMatch(/\[range\] queries on keyed \[flattened\] fields must include both an upper and a lower bound/);
      expect(buckets).toEqual(['alice', 'bob']);
    } else {
      // flat_object: wildcard and open ranges work, but a terms aggregation on a key finds nothing (no error).
      expect(wildcard).toBeUndefined();
      expect(openRange).toBeUndefined();
      expect(buckets).toEqual([]);
    }
  });
});
