import { describe, expect, it } from 'vitest';
import { chunkNames } from './drivers/driver';
import { bulkBody, bulkLines, classifyServer, createSearch, detectEngine, errorFromResponse, freeFormObjectMapping, parseBulkResponse, searchConfigSchema, type BulkOp } from './index';

describe('bulk lines and results', () => {
  const ops: BulkOp[] = [
    { op: 'create', index: 'i', id: '1', doc: { a: 1 } },
    { op: 'index', index: 'i', doc: { b: 2 } },
    { op: 'update', index: 'i', id: '2', doc: { c: 3 }, docAsUpsert: true },
    { op: 'delete', index: 'i', id: '3' },
  ];

  it('writes one action line per op and a source line except for delete', () => {
    expect(bulkLines(ops)).toEqual([
      { create: { _index: 'i', _id: '1' } },
      { a: 1 },
      { index: { _index: 'i' } },
      { b: 2 },
      { update: { _index: 'i', _id: '2' } },
      { doc: { c: 3 }, doc_as_upsert: true },
      { delete: { _index: 'i', _id: '3' } },
    ]);
  });

  it('copies a raw source line as it is, beside serialized documents', () => {
    const raw: BulkOp[] = [
      { op: 'create', index: 'i', id: 'r1', source: '{"n":12345678901234567890,"b":"x"}' },
      { op: 'create', index: 'i', id: 'd1', doc: { a: 1 } },
    ];
    expect(bulkBody(raw)).toBe('{"create":{"_index":"i","_id":"r1"}}\n{"n":12345678901234567890,"b":"x"}\n{"create":{"_index":"i","_id":"d1"}}\n{"a":1}\n');
    expect(bulkBody(ops)).toBe(
      bulkLines(ops)
        .map((l) => `${JSON.stringify(l)}\n`)
        .join(''),
    );
  });

  it('refuses a raw source holding a newline (it could not be told from an action line)', () => {
    const bad: BulkOp[] = [{ op: 'create', index: 'i', id: 'x', source: '{"a":1}\n{"delete":{"_index":"i","_id":"y"}}' }];
    expect(() => bulkBody(bad)).toThrow(expect.objectContaining({ code: 'SEARCH_BAD_REQUEST' }));
  });

  it('maps item statuses, errors and retriability in request order', () => {
    const r = parseBulkResponse(ops, {
      took: 7,
      errors: true,
      items: [
        { create: { _index: 'i', _id: '1', status: 409, error: { type: 'version_conflict_engine_exception', reason: 'exists' } } },
        { index: { _index: 'i', _id: 'gen', status: 429, error: { type: 'es_rejected_execution_exception', reason: 'queue full' } } },
        {
          update: {
            _index: 'i',
            _id: '2',
            status: 400,
            error: { type: 'mapper_parsing_exception', reason: 'bad', caused_by: { type: 'number_format_exception', reason: 'x' } },
          },
        },
        { delete: { _index: 'i', _id: '3', status: 200, result: 'deleted' } },
      ],
    });
    expect(r).toMatchObject({ tookMs: 7, errors: true, succeeded: 1, failed: 3 });
    expect(r.items.map((i) => [i.status, i.ok, i.retriable])).toEqual([
      [409, false, false],
      [429, false, true],
      [400, false, false],
      [200, true, false],
    ]);
    expect(r.items[1]?.id).toBe('gen');
    expect(r.items[2]?.error?.causedBy).toEqual({ type: 'number_format_exception', reason: 'x' });
  });

  it('rejects an answer whose items do not line up with the request', () => {
    expect(() => parseBulkResponse(ops, { items: [] })).toThrow(expect.objectContaining({ code: 'SEARCH_RESPONSE_INVALID' }));
    const swapped = [{ index: { status: 201 } }, { create: { status: 201 } }, { update: { status: 200 } }, { delete: { status: 200 } }];
    expect(() => parseBulkResponse(ops, { items: swapped })).toThrow(expect.objectContaining({ code: 'SEARCH_RESPONSE_INVALID' }));
  });
});

describe('errors', () => {
  it.each([
    [429, {}, 'SEARCH_THROTTLED', true],
    [503, { error: { type: 'cluster_block_exception', reason: 'x' } }, 'SEARCH_SERVER_ERROR', true],
    [404, { error: { type: 'index_not_found_exception', reason: 'no such index' } }, 'SEARCH_INDEX_NOT_FOUND', false],
    [404, { error: 'template missing' }, 'SEARCH_NOT_FOUND', false],
    [400, { error: { type: 'resource_already_exists_exception', reason: 'x' } }, 'SEARCH_ALREADY_EXISTS', false],
    [400, { error: { type: 'parsing_exception', reason: 'x' } }, 'SEARCH_BAD_REQUEST', false],
    [401, {}, 'SEARCH_AUTH', false],
    [413, {}, 'SEARCH_REQUEST_TOO_LARGE', false],
  ] as const)('HTTP %i → %s', (status, body, code, retriable) => {
    const e = errorFromResponse(status, body, 'op');
    expect(e).toMatchObject({ code, retriable, status });
  });

  it('a search that failed on every shard names its root cause', () => {
    const body = { error: { type: 'search_phase_execution_exception', reason: 'all shards failed', root_cause: [{ type: 'query_shard_exception', reason: 'failed to create query: x' }] } };
    expect(errorFromResponse(400, body, 'search').message).toBe('search failed: search_phase_execution_exception: all shards failed — query_shard_exception: failed to create query: x');
  });
});

describe('engine detection', () => {
  it('reads version.distribution', () => {
    expect(classifyServer({ version: { distribution: 'opensearch', number: '2.19.1' } })).toEqual({ engine: 'opensearch', version: '2.19.1' });
    expect(classifyServer({ version: { number: '8.19.2', build_flavor: 'default' } })).toEqual({ engine: 'elasticsearch', version: '8.19.2' });
  });
  it('refuses Elasticsearch 7 and answers without a version', () => {
    expect(() => classifyServer({ version: { number: '7.17.0' } })).toThrow(expect.objectContaining({ code: 'SEARCH_PRODUCT_MISMATCH' }));
    expect(() => classifyServer({ tagline: 'x' })).toThrow(expect.objectContaining({ code: 'SEARCH_RESPONSE_INVALID' }));
  });
  // The answers below are the local Elasticsearch 8.19 node's (no rest-root module), recorded; the same
  // path runs against that real node in search.int.spec.ts. Scripted here only to pin the branching.
  const rootless = () =>
    new Response('{"error":"Incorrect HTTP method for uri [/] and method [GET], allowed: [DELETE]","status":405}', {
      status: 405,
      headers: { 'x-elastic-product': 'Elasticsearch', 'content-type': 'application/json' },
    });
  const cfg = searchConfigSchema.parse({ node: 'http://127.0.0.1:9201' });
  it('asks an Elasticsearch without GET / (no rest-root module) for its version through GET /_nodes/_local', async () => {
    const urls: string[] = [];
    const fake = (async (url: string) => {
      urls.push(url);
      return url.endsWith('/') ? rootless() : Response.json({ nodes: { DvU1cuNfTASXT4BB5_4Arg: { version: '8.19.21' } } });
    }) as unknown as typeof fetch;
    expect(await detectEngine(cfg, fake)).toEqual({ engine: 'elasticsearch', version: '8.19.21' });
    expect(urls).toEqual(['http://127.0.0.1:9201/', 'http://127.0.0.1:9201/_nodes/_local/_none?filter_path=nodes.*.version']);
  });
  it('takes a server without GET / for Elasticsearch only when it says so in X-Elastic-Product', async () => {
    const urls: string[] = [];
    const fake = (async (url: string) => {
      urls.push(url);
      return new Response('{}', { status: 405 });
    }) as unknown as typeof fetch;
    await expect(detectEngine(cfg, fake)).rejects.toMatchObject({ code: 'SEARCH_RESPONSE_INVALID', status: 405 });
    expect(urls).toEqual(['http://127.0.0.1:9201/']);
  });
  it('refuses invalid config with every problem listed', async () => {
    await expect(createSearch({ node: 'not a url', engine: 'solr' as never, extra: 1 } as never)).rejects.toMatchObject({
      code: 'SEARCH_CONFIG_INVALID',
    });
  });
});

describe('engine differences', () => {
  it('free-form objects are flattened on Elasticsearch, flat_object on OpenSearch', () => {
    expect(freeFormObjectMapping('elasticsearch')).toEqual({ type: 'flattened' });
    expect(freeFormObjectMapping('opensearch')).toEqual({ type: 'flat_object' });
  });
});

describe('deleteIndices guard', () => {
  it('refuses catch-all patterns before any request', async () => {
    const { SearchAdapter } = await import('./adapter');
    const never = new Proxy({}, { get: () => () => Promise.reject(new Error('no request expected')) });
    const s = new SearchAdapter(Object.assign(never, { engine: 'opensearch' }) as never);
    for (const p of ['*', '_all', '', '*,*', '-logs-x']) {
      await expect(s.deleteIndices(p)).rejects.toMatchObject({ code: 'SEARCH_BAD_REQUEST' });
    }
  });
});

describe('chunkNames', () => {
  it('keeps each group under the limit and every name once', () => {
    const names = Array.from({ length: 100 }, (_, i) => `logs-dev-history-${i}`);
    const groups = chunkNames(names, 200);
    expect(groups.flat()).toEqual(names);
    for (const g of groups) expect(g.join(',').length).toBeLessThanOrEqual(200);
  });
});
