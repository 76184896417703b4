// The indexer's bulk writer against the real search engine: archive lines go to `_bulk` as stored
// (no re-serialization), and every item is judged exactly as for a parsed document — 409 on its own
// id is delivered, a value the mapping refuses is moved to backlog.conflicts, a line the engine
// refuses as stored is sent again as the parsed document. On each engine of the stack: OpenSearch 2.19
// and Elasticsearch 8 (ADR 0017).
import { createSearch, logsTemplate, type SearchPort } from '@backlog/adapter-search';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { BulkAbortedError, type BulkDoc, HistoryBulk } from '../../apps/indexer/src/bulk';
import { indexerMetrics } from '../../apps/indexer/src/metrics';

const opts = { maxDocs: 2, maxBytes: 1 << 20, concurrency: 2, attempts: 3, initialBackoffMs: 10, maxBackoffMs: 50, maxConflictRounds: 3 };

function doc(line: string, id: string): BulkDoc {
  return { id, doc: JSON.parse(line) as Record<string, unknown>, line, bytes: line.length + 64, rounds: 0 };
}

const value = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values.reduce((a, v) => a + v.value, 0);

const es8 = elasticsearchUrl();
const engines = [{ engine: 'OpenSearch', url: () => stackInfo().search.url }, ...(es8 ? [{ engine: 'Elasticsearch 8', url: () => es8 }] : [])];

describe.each(engines)('history bulk on $engine: raw archive lines', ({ url }) => {
  const ns = testNamespace('ixbulk');
  const index = `logs-${ns}-history-a-b`;
  let search: SearchPort;

  beforeAll(async () => {
    search = await createSearch({ node: url() });
    await search.putIndexTemplate(`${ns}-logs`, logsTemplate({ patterns: [`logs-${ns}-*`], priority: 480, shards: 1, replicas: 0, refreshInterval: '1s', freeForm: search.freeFormObjectMapping() }));
    await search.createIndex(index);
  });

  afterAll(async () => {
    await search.deleteIndices(`logs-${ns}-*`).catch(() => undefined);
    await search.deleteIndexTemplate(`${ns}-logs`).catch(() => undefined);
    await search.close();
  });

  const lines = {
    plain: '{"@timestamp":"2026-11-20T10:00:00.000Z","event":{"id":"e1"},"message":"kept as stored","fields":{"n":12345678901234567890}}',
    other: '{"@timestamp":"2026-11-20T10:00:01.000Z","event":{"id":"e2"},"message":"second"}',
    conflict: '{"@timestamp":"2026-11-20T10:00:02.000Z","event":{"id":"e3"},"log":{"syslog":{"priority":"high"}},"message":"conflict"}',
    dupKey: '{"@timestamp":"2026-11-20T10:00:03.000Z","event":{"id":"e4"},"message":"first","message":"last"}',
  };

  it('indexes stored lines, moves a refused value to backlog.conflicts, and re-sends a line refused as stored as the parsed document', async () => {
    const metrics = indexerMetrics(new MetricsRegistry());
    const bulk = new HistoryBulk(search, metrics, opts);
    const docs = [doc(lines.plain, 'e1'), doc(lines.other, 'e2'), doc(lines.conflict, 'e3'), doc(lines.dupKey, 'e4')];
    const t = await bulk.write(index, docs);
    expect(t).toEqual({ indexed: 4, already: 0, rejected: 0 });
    expect(await value(metrics.conflicted)).toBe(1);
    await search.refresh(index);
    const hits = await search.search<Record<string, unknown>>({ index, size: 10, sort: ['@timestamp'] });
    const byId = new Map(hits.hits.map((h) => [h.id, h.source]));
    // The stored text reached the engine untouched (a parse and re-serialization would round this number).
    const stored = await (await fetch(`${url().replace(/\/+$/, '')}/${index}/_source/e1`)).text();
    expect(stored).toBe(lines.plain);
    expect(byId.get('e3')).toMatchObject({ tags: ['mapping_conflict'], backlog: { conflicts: [{ field: 'log.syslog.priority', value: '"high"' }] } });
    expect(byId.get('e4')).toMatchObject({ message: 'last' });
  });

  it('a second load of the same lines is 409 per document: delivered, never duplicated', async () => {
    const metrics = indexerMetrics(new MetricsRegistry());
    const bulk = new HistoryBulk(search, metrics, opts);
    const t = await bulk.write(index, [doc(lines.plain, 'e1'), doc(lines.other, 'e2'), doc(lines.conflict, 'e3'), doc(lines.dupKey, 'e4')]);
    expect(t).toEqual({ indexed: 0, already: 4, rejected: 0 });
    await search.refresh(index);
    expect(await search.count(index)).toBe(4);
  });

  it('a value that cannot be moved is still counted as rejected with its reason', async () => {
    const metrics = indexerMetrics(new MetricsRegistry());
    const bulk = new HistoryBulk(search, metrics, opts);
    // event.id is pinned: a conflict on it cannot be resolved.
    const line = '{"@timestamp":"2026-11-20T10:00:04.000Z","event":{"id":{"nested":true}},"message":"bad id"}';
    const t = await bulk.write(index, [doc(line, 'e5')]);
    expect(t.indexed).toBe(0);
    expect(t.rejected).toBe(1);
    expect(t.firstRejection).toMatch(/event e5: 400/);
    expect(await value(metrics.rejected)).toBe(1);
  });

  it("parts stream documents into requests that share the writer's slots; each part gets its own tally; an abort is thrown", async () => {
    const metrics = indexerMetrics(new MetricsRegistry());
    const bulk = new HistoryBulk(search, metrics, { ...opts, maxDocs: 3, maxInFlight: 2 });
    const line = (p: string, i: number) => `{"@timestamp":"2026-11-20T11:00:${String(i).padStart(2, '0')}.000Z","event":{"id":"${p}${i}"},"message":"m"}`;
    const part = async (p: string, n: number) => {
      const w = bulk.writer(index);
      for (let i = 0; i < n; i++) {
        const wait = w.add(doc(line(p, i), `${p}${i}`));
        if (wait) await wait;
      }
      return w.finish();
    };
    const [a, b] = await Promise.all([part('pa', 25), part('pb', 11)]);
    expect(a).toEqual({ indexed: 25, already: 0, rejected: 0 });
    expect(b).toEqual({ indexed: 11, already: 0, rejected: 0 });
    expect(await value(metrics.indexed)).toBe(36);
    let stop = false;
    const w = bulk.writer(index, () => stop);
    for (let i = 0; i < 3; i++) await w.add(doc(line('pc', i), `pc${i}`));
    stop = true;
    w.add(doc(line('pc', 3), 'pc3'));
    await expect(w.finish()).rejects.toBeInstanceOf(BulkAbortedError);
    await search.refresh(index);
    expect(await search.count(index, { prefix: { 'event.id': 'pa' } })).toBe(25);
  });
});
