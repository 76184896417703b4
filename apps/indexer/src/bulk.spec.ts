// The history bulk's own parts: the slots parts share, how a part cuts its requests, and what it does
// with a line the engine refuses as stored. A scripted bulk port answers here only what a real engine
// cannot be made to answer on demand (a 413 for one request); tests/indexer/bulk.test.ts runs the
// same writer against OpenSearch and Elasticsearch 8.
import { type BulkItemResult, type BulkOp, type BulkResult, SearchError } from '@backlog/adapter-search';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { describe, expect, it } from 'vitest';
import { type BulkDoc, HistoryBulk, Slots } from './bulk';
import { indexerMetrics } from './metrics';

const opts = { maxDocs: 4, firstDocs: 4, maxBytes: 1 << 20, concurrency: 1, attempts: 2, initialBackoffMs: 1, maxBackoffMs: 2, maxConflictRounds: 2 };
const line = (id: string) => `{"@timestamp":"2026-11-20T10:00:00.000Z","event":{"id":"${id}"},"message":"m"}`;
const raw = (id: string, text = line(id)): BulkDoc => ({ id, line: text, bytes: text.length + 64, rounds: 0 });
const ok = (ops: readonly BulkOp[]): BulkResult => ({
  tookMs: 1,
  errors: false,
  items: ops.map((o): BulkItemResult => ({ op: o.op, index: o.index, id: o.id, status: 201, ok: true, retriable: false })),
  succeeded: ops.length,
  failed: 0,
});
const value = async (c: { get(): Promise<{ values: { value: number }[] }> }) => (await c.get()).values.reduce((a, v) => a + v.value, 0);

describe('Slots', () => {
  it('gives out its slots at once, then serves waiters in arrival order', async () => {
    const slots = new Slots(1);
    expect(slots.acquire()).toBeUndefined();
    const order: string[] = [];
    const a = slots.acquire()?.then(() => order.push('a'));
    const b = slots.acquire()?.then(() => order.push('b'));
    slots.release();
    await a;
    slots.release();
    await b;
    expect(order).toEqual(['a', 'b']);
    slots.release();
    expect(slots.acquire()).toBeUndefined();
  });
});

describe('HistoryBulk', () => {
  it("a part's first request is small (the first documents are searchable soon), the next ones full", async () => {
    const sizes: number[] = [];
    const bulk = new HistoryBulk({ bulk: async (ops) => (sizes.push(ops.length), ok(ops)) }, indexerMetrics(new MetricsRegistry()), { ...opts, maxDocs: 8, firstDocs: 2 });
    const t = await bulk.write(
      'logs-dev-history-a-b',
      Array.from({ length: 19 }, (_, i) => raw(`e${i}`)),
    );
    expect(sizes).toEqual([2, 8, 8, 1]);
    expect(t).toEqual({ indexed: 19, already: 0, rejected: 0 });
  });

  it('sends archived lines as stored; a line refused as a whole request alone is sent again parsed', async () => {
    const metrics = indexerMetrics(new MetricsRegistry());
    const sent: BulkOp[][] = [];
    const bulk = new HistoryBulk(
      {
        bulk: async (ops) => {
          sent.push([...ops]);
          if (ops.some((o) => 'source' in o && o.id === 'big')) throw new SearchError('SEARCH_REQUEST_TOO_LARGE', 'too large', { status: 413 });
          return ok(ops);
        },
      },
      metrics,
      opts,
    );
    const t = await bulk.write('logs-dev-history-a-b', [raw('a'), raw('big'), raw('c')]);
    expect(t).toEqual({ indexed: 3, already: 0, rejected: 0 });
    expect(sent.map((r) => r.map((o) => `${o.id}:${'source' in o ? 'raw' : 'doc'}`))).toEqual([['a:raw', 'big:raw', 'c:raw'], ['a:raw', 'big:raw'], ['a:raw'], ['big:raw'], ['big:doc'], ['c:raw']]);
    expect((sent[4]?.[0] as { doc: unknown }).doc).toEqual(JSON.parse(line('big')));
    expect(await value(metrics.indexed)).toBe(3);
  });

  it('a document refused as too large in every form is counted as rejected with its reason', async () => {
    const metrics = indexerMetrics(new MetricsRegistry());
    const bulk = new HistoryBulk(
      {
        bulk: async (ops) => {
          if (ops.some((o) => o.id === 'big')) throw new SearchError('SEARCH_REQUEST_TOO_LARGE', 'too large', { status: 413 });
          return ok(ops);
        },
      },
      metrics,
      opts,
    );
    const t = await bulk.write('logs-dev-history-a-b', [raw('a'), raw('big'), raw('not-json', 'not json')]);
    expect(t).toMatchObject({ indexed: 2, rejected: 1, firstRejection: 'SEARCH_REQUEST_TOO_LARGE: too large' });
    expect((await metrics.rejected.get()).values.map((v) => [v.labels.reason, v.value])).toEqual([['too_large', 1]]);
  });
});
