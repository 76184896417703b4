// The bulk delivery engine against real engines: the local stack's OpenSearch 2.19 and its
// Elasticsearch 8 node (ADR 0017). A request is split by the engine's request size cap (the shared node's
// http.max_content_length cannot be lowered for one test), mapping conflicts are moved and re-sent, a
// redelivery is 409 = delivered, and what cannot be fixed reaches the dead-letter callback.
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkDelivery, type DeliveryHooks, type Refusal, type RoundProgress, createSearch, type Json, type SearchPort } from './index';

const ES_URL = elasticsearchUrl();
const engines = [{ name: 'local stack engine', url: () => stackInfo().search.url }, ...(ES_URL ? [{ name: 'elasticsearch 8', url: () => ES_URL }] : [])];

interface Doc {
  id: string;
  doc: Json;
  bytes: number;
  rounds: number;
}

describe.each(engines)('bulk delivery: $name', ({ url }) => {
  const ns = testNamespace('delivery');
  const template = `${ns}-logs`;
  let search: SearchPort;

  beforeAll(async () => {
    search = await createSearch({ node: url() });
    await search.putIndexTemplate(template, {
      indexPatterns: [`logs-${ns}-*`],
      priority: 500,
      template: {
        settings: { number_of_shards: 1, number_of_replicas: 0 },
        mappings: { dynamic: true, properties: { '@timestamp': { type: 'date' }, event: { properties: { id: { type: 'keyword' } } }, count: { type: 'long' }, message: { type: 'text' } } },
      },
    });
  });

  afterAll(async () => {
    if (!search) return;
    await search.deleteIndices(`logs-${ns}-*`).catch(() => undefined);
    await search.deleteIndexTemplate(template).catch(() => undefined);
    await search.close();
  });

  const mk = (id: string, extra: Json = {}): Doc => {
    const doc = { '@timestamp': '2026-11-22T10:00:00Z', event: { id }, message: `m ${id}`, ...extra };
    return { id, doc, bytes: JSON.stringify(doc).length + 64, rounds: 0 };
  };

  function run(index: string, docs: Doc[], config: { maxRequestBytes?: number; maxConflictRounds?: number } = {}) {
    const engine = new BulkDelivery(search, {
      retry: { attempts: 3, initialBackoffMs: 10, maxBackoffMs: 50 },
      maxConflictRounds: config.maxConflictRounds ?? 2,
      onExhausted: 'fail',
      ...(config.maxRequestBytes ? { maxRequestBytes: config.maxRequestBytes } : {}),
    });
    const delivered = new Map<string, string>();
    const dead: [string, Refusal][] = [];
    const rounds: RoundProgress[] = [];
    const sizes: number[] = [];
    const hooks: DeliveryHooks<Doc> = {
      op: (d) => ({ op: 'create', index, id: d.id, doc: d.doc }),
      conflictDoc: (d) => d.doc,
      delivered: (d, outcome) => delivered.set(d.id, outcome),
      deadLetter: (d, refusal) => (dead.push([d.id, refusal]), undefined),
      progress: (r) => rounds.push(r),
      request: (_s, n, answered) => answered && sizes.push(n),
    };
    return { done: engine.deliver(docs, hooks), delivered, dead, rounds, sizes };
  }

  it('splits a request over the size cap until each part fits; a document over it alone is dead-lettered as too large', async () => {
    const index = `logs-${ns}-split`;
    const docs = Array.from({ length: 12 }, (_, i) => mk(`s${i}`, { message: `${'x'.repeat(400)} ${i}` }));
    const huge = mk('huge', { message: 'y'.repeat(5000) });
    docs.splice(5, 0, huge);
    const cap = 4 * (docs[0] as Doc).bytes;
    const r = run(index, docs, { maxRequestBytes: cap });
    expect(await r.done).toBe(true);
    expect(r.sizes.every((n) => n <= 4)).toBe(true);
    expect(r.sizes.reduce((a, n) => a + n, 0)).toBe(12);
    expect([...r.delivered.values()].filter((o) => o === 'indexed')).toHaveLength(12);
    expect(r.dead.map(([id, f]) => [id, f.kind, f.kind === 'request' ? f.error.code : ''])).toEqual([['huge', 'request', 'SEARCH_REQUEST_TOO_LARGE']]);
    await search.refresh(index);
    expect(await search.count(index)).toBe(12);
  });

  it('moves a conflicting value and re-sends it; a redelivery is already indexed; a conflict past the rounds is dead-lettered', async () => {
    const index = `logs-${ns}-conflict`;
    await search.createIndex(index);
    const first = run(index, [mk('c1', { count: 1 })]);
    expect(await first.done).toBe(true);
    const fix = mk('c2', { count: 'many' });
    const r = run(index, [mk('c1', { count: 1 }), fix, mk('c3', { count: 3 })]);
    expect(await r.done).toBe(true);
    expect(Object.fromEntries(r.delivered)).toEqual({ c1: 'already_indexed', c2: 'indexed', c3: 'indexed' });
    expect(r.rounds.map((x) => [x.docs, x.indexed, x.already, x.conflicted])).toEqual([
      [3, 1, 1, 1],
      [1, 1, 0, 0],
    ]);
    await search.refresh(index);
    const hit = await search.search<Json>({ index, query: { term: { 'event.id': 'c2' } } });
    expect(hit.hits[0]?.source).toMatchObject({ tags: ['mapping_conflict'], backlog: { conflicts: [{ field: 'count', value: '"many"' }] } });

    const none = run(index, [mk('c4', { count: 'lots' })], { maxConflictRounds: 0 });
    expect(await none.done).toBe(true);
    expect(none.dead).toHaveLength(1);
    expect(none.dead[0]?.[1]).toMatchObject({ kind: 'item', mapping: true, result: { status: 400 } });
    expect((none.dead[0]?.[1] as { detail: string }).detail).toMatch(/^400 (mapper|document)_parsing_exception: .*count/);
  });
});
