// Contract tests of the search port against real engines: the local stack's OpenSearch 2.19 and its
// Elasticsearch 8 node (ADR 0017), or the Elasticsearch 8 that BACKLOG_TEST_ES_URL points at. Only
// when the stack runs without its Elasticsearch node (BACKLOG_ES8=off) and no URL is given is that
// engine NOT exercised, and this file says so (a warning and a skipped test), never a pass.
// Tests (not sources) of an adapter use the test stack; the tag rules have no spec exception yet.
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createSearch, isAlreadyIndexed, type SearchEngine, type SearchError, type SearchPort } from './index';

const ES_URL = elasticsearchUrl();

interface EngineCase {
  name: string;
  url: () => string;
  expected: () => SearchEngine;
}

const cases: EngineCase[] = [{ name: 'local stack engine', url: () => stackInfo().search.url, expected: () => stackInfo().search.engine }];
if (ES_URL) cases.push({ name: 'elasticsearch 8', url: () => ES_URL, expected: () => 'elasticsearch' });

async function rejection(p: Promise<unknown>): Promise<SearchError> {
  try {
    await p;
  } catch (e) {
    return e as SearchError;
  }
  throw new Error('expected a rejection');
}

describe.each(cases)('search contract: $name', (c) => {
  const ns = testNamespace('search');
  const template = `${ns}-logs`;
  const day = `logs-${ns}-recent-2026.11.22`;
  let search: SearchPort;

  beforeAll(async () => {
    search = await createSearch({ node: c.url(), engine: 'auto' });
    // Priority above Elasticsearch 8's built-in `logs` template (logs-*-*, priority 100), which
    // would otherwise turn these names into data streams.
    await search.putIndexTemplate(template, {
      indexPatterns: [`logs-${ns}-*`],
      priority: 500,
      template: {
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: {
          _meta: { owner: 'search.int.spec', schema: 1 },
          dynamic: true,
          properties: {
            '@timestamp': { type: 'date' },
            message: { type: 'text' },
            host: { properties: { name: { type: 'keyword', ignore_above: 1024 } } },
            count: { type: 'long' },
            fields: search.freeFormObjectMapping(),
          },
        },
      },
    });
  });

  afterAll(async () => {
    if (!search) return;
    await search.deleteIndices(`*${ns}*`);
    await search.deleteIndexTemplate(template);
    await search.close();
  });

  it('detects the engine from the server', () => {
    expect(search.engine).toBe(c.expected());
    expect(search.freeFormObjectMapping()).toEqual({ type: c.expected() === 'opensearch' ? 'flat_object' : 'flattened' });
  });

  it('reports cluster health', async () => {
    const h = await search.health();
    expect(['green', 'yellow']).toContain(h.status);
    expect(h.numberOfNodes).toBeGreaterThanOrEqual(1);
  });

  it('bulk returns per-item results for mixed success and failure, without throwing', async () => {
    const r = await search.bulk(
      [
        { op: 'create', index: day, id: 'a', doc: { '@timestamp': '2026-11-22T10:00:00Z', message: 'first', count: 1 } },
        { op: 'create', index: day, id: 'a', doc: { '@timestamp': '2026-11-22T10:00:01Z', message: 'again', count: 2 } },
        { op: 'index', index: day, id: 'bad', doc: { '@timestamp': '2026-11-22T10:00:02Z', count: 'not a number' } },
        { op: 'index', index: day, doc: { '@timestamp': '2026-11-22T10:00:03Z', message: 'no id' } },
        { op: 'delete', index: day, id: 'missing' },
      ],
      { refresh: true },
    );
    expect(r.items.map((i) => i.status)).toEqual([201, 409, 400, 201, 404]);
    expect(r.errors).toBe(true);
    expect(r.succeeded).toBe(2);
    expect(r.failed).toBe(3);
    const [created, dup, conflict, auto, missing] = r.items;
    expect(created).toMatchObject({ op: 'create', index: day, id: 'a', ok: true, result: 'created', retriable: false });
    expect(dup?.error?.type).toBe('version_conflict_engine_exception');
    expect(dup && isAlreadyIndexed(dup)).toBe(true);
    // ES 8 says document_parsing_exception, OpenSearch mapper_parsing_exception: both a 400 on this item only.
    expect(conflict?.error?.type).toMatch(/^(mapper|document)_parsing_exception$/);
    expect(conflict?.retriable).toBe(false);
    expect(auto?.ok).toBe(true);
    expect(auto?.id).toMatch(/.+/);
    expect(missing).toMatchObject({ op: 'delete', ok: false, result: 'not_found' });
    expect(await search.count(day)).toBe(2);
  });

  it('bulk sends raw source lines as they are, with the same per-item results', async () => {
    const index = `logs-${ns}-recent-2026.11.25`;
    const r = await search.bulk(
      [
        { op: 'create', index, id: 'r1', source: '{"@timestamp":"2026-11-25T00:00:00Z","message":"raw one","count":1}' },
        { op: 'create', index, id: 'r1', source: '{"@timestamp":"2026-11-25T00:00:01Z","message":"raw again","count":2}' },
        { op: 'create', index, id: 'r2', source: '{"@timestamp":"2026-11-25T00:00:02Z","count":"not a number"}' },
        { op: 'create', index, id: 'd1', doc: { '@timestamp': '2026-11-25T00:00:03Z', message: 'parsed' } },
      ],
      { refresh: true },
    );
    expect(r.items.map((i) => i.status)).toEqual([201, 409, 400, 201]);
    expect(r.items[1] && isAlreadyIndexed(r.items[1])).toBe(true);
    expect(r.items[2]?.error?.type).toMatch(/^(mapper|document)_parsing_exception$/);
    const res = await search.search<{ message: string }>({ index, query: { term: { _id: 'r1' } } });
    expect(res.hits.map((h) => h.source.message)).toEqual(['raw one']);
    const bad = await rejection(search.bulk([{ op: 'create', index, id: 'x', source: '{"a":1}\n{"b":2}' }]));
    expect(bad.code).toBe('SEARCH_BAD_REQUEST');
    expect(await search.count(index)).toBe(2);
  });

  it('new indices get the template: mappings, settings and _meta', async () => {
    const index = `logs-${ns}-recent-2026.11.23`;
    // Sources that disagree on the type of fields.x must both be accepted (free-form object).
    const r = await search.bulk(
      [
        { op: 'create', index, id: '1', doc: { '@timestamp': '2026-11-23T00:00:00Z', fields: { x: 1, y: 'a' } } },
        { op: 'create', index, id: '2', doc: { '@timestamp': '2026-11-23T00:00:01Z', fields: { x: { deep: true }, y: ['b', 'c'] } } },
        { op: 'create', index, id: '3', doc: { '@timestamp': '2026-11-23T00:00:02Z', fields: { x: 'text' } } },
      ],
      { refresh: true },
    );
    expect(r.items.map((i) => i.status)).toEqual([201, 201, 201]);
    expect(await search.getIndexMeta(index)).toEqual({ owner: 'search.int.spec', schema: 1 });
    // The template's explicit long mapping is in force: a string is a 400 on that item.
    const bad = await search.bulk([{ op: 'index', index, id: '4', doc: { count: 'x' } }]);
    expect(bad.items[0]?.status).toBe(400);
    const res = await search.search({ index, query: { term: { 'fields.y': 'b' } } });
    expect(res.hits.map((h) => h.id)).toEqual(['2']);
  });

  it('round-trips index _meta (put replaces the whole object)', async () => {
    const index = `logs-${ns}-history-meta`;
    expect(await search.createIndex(index)).toEqual({ created: true });
    expect(await search.createIndex(index)).toEqual({ created: false });
    await search.putIndexMeta(index, { expiresAt: 1_790_000_000_000, request: { env: 'dev', start: 1, end: 2 } });
    expect(await search.getIndexMeta(index)).toEqual({ expiresAt: 1_790_000_000_000, request: { env: 'dev', start: 1, end: 2 } });
    await search.putIndexMeta(index, { expiresAt: 1_790_000_360_000 });
    expect(await search.getIndexMeta(index)).toEqual({ expiresAt: 1_790_000_360_000 });
    const missing = await rejection(search.getIndexMeta(`logs-${ns}-nope`));
    expect(missing.code).toBe('SEARCH_INDEX_NOT_FOUND');
    expect(missing.retriable).toBe(false);
  });

  it('searches and counts', async () => {
    const index = `logs-${ns}-recent-2026.11.24`;
    const docs = Array.from({ length: 25 }, (_, i) => ({
      op: 'create' as const,
      index,
      id: `e${String(i).padStart(2, '0')}`,
      doc: {
        '@timestamp': new Date(Date.UTC(2026, 10, 24, 0, 0, i)).toISOString(),
        host: { name: i % 5 === 0 ? 'web-01' : 'web-02' },
        message: i % 2 ? 'upstream timed out' : 'request done',
      },
    }));
    const r = await search.bulk(docs);
    expect(r.failed).toBe(0);
    await search.refresh(index);
    expect(await search.count(index)).toBe(25);
    expect(await search.count(index, { term: { 'host.name': 'web-01' } })).toBe(5);
    const page1 = await search.search<{ host: { name: string } }>({
      index: `logs-${ns}-recent-*`,
      query: { bool: { filter: [{ term: { 'host.name': 'web-01' } }] } },
      sort: [{ '@timestamp': 'asc' }],
      size: 3,
      trackTotalHits: true,
    });
    expect(page1.total).toEqual({ value: 5, relation: 'eq' });
    expect(page1.hits.map((h) => h.id)).toEqual(['e00', 'e05', 'e10']);
    expect(page1.hits[0]?.source.host.name).toBe('web-01');
    const page2 = await search.search({
      index,
      query: { term: { 'host.name': 'web-01' } },
      sort: [{ '@timestamp': 'asc' }],
      size: 3,
      searchAfter: page1.hits[2]?.sort,
    });
    expect(page2.hits.map((h) => h.id)).toEqual(['e15', 'e20']);
    const text = await search.search({ index, query: { match: { message: 'timed out' } }, size: 0, trackTotalHits: true });
    expect(text.total.value).toBe(12);
  });

  it('lists and deletes indices by pattern', async () => {
    for (const n of ['b', 'a', 'c']) await search.createIndex(`logs-${ns}-history-x${n}`);
    await search.createIndex(`logs-${ns}-keep-1`);
    const listed = await search.listIndices(`logs-${ns}-history-x*`);
    expect(listed.map((i) => i.name)).toEqual([`logs-${ns}-history-xa`, `logs-${ns}-history-xb`, `logs-${ns}-history-xc`]);
    expect(listed[0]).toMatchObject({ status: 'open', docsCount: 0 });
    expect(listed[0]?.createdAt).toBeGreaterThan(Date.UTC(2024, 0, 1));
    expect(await search.listIndices(`logs-${ns}-nothing-*`)).toEqual([]);
    expect(await search.listIndices(`logs-${ns}-no-such-index`)).toEqual([]);
    const deleted = await search.deleteIndices(`logs-${ns}-history-x*`);
    expect(deleted).toHaveLength(3);
    expect(await search.listIndices(`logs-${ns}-history-x*`)).toEqual([]);
    expect((await search.listIndices(`logs-${ns}-keep-*`)).map((i) => i.name)).toEqual([`logs-${ns}-keep-1`]);
    expect(await search.deleteIndices(`logs-${ns}-history-x*`)).toEqual([]);
  });
});

describe('search contract: transport failures', () => {
  it('connection refused is a retriable SEARCH_UNAVAILABLE, both at detection and per request', async () => {
    const detect = await rejection(createSearch({ node: 'http://127.0.0.1:1', engine: 'auto', requestTimeoutMs: 2000 }));
    expect(detect).toMatchObject({ code: 'SEARCH_UNAVAILABLE', retriable: true });
    for (const engine of ['opensearch', 'elasticsearch'] as const) {
      const s = await createSearch({ node: 'http://127.0.0.1:1', engine, maxRetries: 0, requestTimeoutMs: 2000 });
      const e = await rejection(s.bulk([{ op: 'index', index: 'x', doc: {} }]));
      expect(e).toMatchObject({ code: 'SEARCH_UNAVAILABLE', retriable: true });
      await s.close();
    }
  });

  it('the Elasticsearch client against OpenSearch is a SEARCH_PRODUCT_MISMATCH', async (ctx) => {
    if (stackInfo().search.engine !== 'opensearch') ctx.skip();
    const s = await createSearch({ node: stackInfo().search.url, engine: 'elasticsearch' });
    const e = await rejection(s.health());
    expect(e).toMatchObject({ code: 'SEARCH_PRODUCT_MISMATCH', retriable: false });
    await s.close();
  });
});

// Declared only without an Elasticsearch: a describe body runs at collection even when skipped.
if (!ES_URL) {
  describe('search contract: elasticsearch engine', () => {
    console.warn(
      '[search] Elasticsearch 8 engine NOT exercised: the stack runs without its Elasticsearch node (BACKLOG_ES8=off) ' +
        'and BACKLOG_TEST_ES_URL is not set. The contract ran only against the local OpenSearch.',
    );
    it.skip('NOT exercised: unset BACKLOG_ES8=off, or set BACKLOG_TEST_ES_URL=http://<host>:9200 (Elasticsearch 8.x), to run this contract against it', () => undefined);
  });
}
