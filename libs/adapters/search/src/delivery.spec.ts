// The bulk delivery engine's pure parts, and its decisions against a scripted bulk port: only for what
// a real engine cannot be made to answer on demand (per-item 429/503 mid-bulk, a 413 for one request).
// The same engine against the real OpenSearch / Elasticsearch 8: delivery.int.spec.ts.
import { describe, expect, it } from 'vitest';
import { BulkDelivery, BulkExhaustedError, type BulkDeliveryConfig, type DeliveryHooks, type Refusal, backoffMs, classifyItem, cutRequests, halves, itemDetail, retryReason } from './delivery';
import { SearchError } from './errors';
import type { BulkItemResult, BulkOp, BulkResult, Json } from './port';

const result = (status: number, error?: BulkItemResult['error'], op: BulkItemResult['op'] = 'create'): BulkItemResult => ({
  op,
  index: 'logs-x',
  id: 'a',
  status,
  ok: status >= 200 && status < 300,
  retriable: status === 429 || status >= 500,
  ...(error ? { error } : {}),
});

describe('classifyItem', () => {
  it('2xx indexed, 409 on create already there, 429/5xx retry, 400 mapping errors, anything else refused', () => {
    expect(classifyItem(result(201))).toBe('indexed');
    expect(classifyItem(result(200, undefined, 'index'))).toBe('indexed');
    expect(classifyItem(result(409, { type: 'version_conflict_engine_exception', reason: '' }))).toBe('already_indexed');
    expect(classifyItem(result(409, { type: 'version_conflict_engine_exception', reason: '' }, 'update'))).toBe('refused');
    expect(classifyItem(result(429, { type: 'es_rejected_execution_exception', reason: '' }))).toBe('retry');
    expect(classifyItem(result(503, { type: 'unavailable_shards_exception', reason: '' }))).toBe('retry');
    expect(classifyItem(result(400, { type: 'document_parsing_exception', reason: '[1:2] failed to parse field [a] of type [long]' }))).toBe('mapping');
    expect(classifyItem(result(400, { type: 'mapper_parsing_exception', reason: 'failed to parse field [a]' }))).toBe('mapping');
    expect(classifyItem(result(400, { type: 'illegal_argument_exception', reason: 'Document contains at least one immense term' }))).toBe('mapping');
    expect(classifyItem(result(400, { type: 'action_request_validation_exception', reason: 'id is too long' }))).toBe('refused');
    expect(classifyItem(result(413))).toBe('refused');
    expect(classifyItem(result(404, { type: 'index_not_found_exception', reason: 'no such index' }))).toBe('refused');
  });

  it('names retry reasons and refused items as the metrics and dead letters show them', () => {
    expect(retryReason(result(429))).toBe('throttled');
    expect(retryReason(result(502))).toBe('server_error');
    expect(retryReason(new SearchError('SEARCH_UNAVAILABLE', 'down'))).toBe('unavailable');
    expect(retryReason(new SearchError('SEARCH_TIMEOUT', 'slow'))).toBe('timeout');
    expect(itemDetail(result(400, { type: 'mapper_parsing_exception', reason: 'failed', causedBy: { type: 'number_format_exception', reason: 'For input string: "x"' } }))).toBe(
      '400 mapper_parsing_exception: failed (number_format_exception: For input string: "x")',
    );
    expect(itemDetail(result(413))).toBe('413 error: ');
  });
});

describe('splitting and cutting', () => {
  it('halves keep order, the first half the larger', () => {
    expect(halves([1, 2, 3, 4, 5])).toEqual([
      [1, 2, 3],
      [4, 5],
    ]);
    expect(halves([1, 2])).toEqual([[1], [2]]);
  });

  it('cuts requests by count and approximate bytes; a document over the byte limit goes alone', () => {
    const d = (bytes: number, n: number) => ({ bytes, n });
    const cut = cutRequests([d(10, 1), d(10, 2), d(10, 3), d(50, 4), d(5, 5), d(5, 6)], 2, 30);
    expect(cut.map((r) => r.map((x) => x.n))).toEqual([[1, 2], [3], [4], [5, 6]]);
    expect(cutRequests([], 2, 30)).toEqual([]);
  });

  it('back-off doubles from the initial value up to the cap, jittered within its upper half', () => {
    const r = { initialBackoffMs: 100, maxBackoffMs: 1000 };
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, r, () => 1))).toEqual([100, 200, 400, 800, 1000]);
    expect([1, 2, 3, 4, 5].map((a) => backoffMs(a, r, () => 0))).toEqual([50, 100, 200, 400, 500]);
  });
});

interface Doc {
  id: string;
  doc: Json;
  bytes: number;
  rounds: number;
}

const doc = (id: string, extra: Json = {}, bytes = 100): Doc => ({ id, doc: { event: { id }, ...extra }, bytes, rounds: 0 });
const bulkOf = (items: BulkItemResult[]): BulkResult => ({ tookMs: 1, errors: items.some((i) => !i.ok), items, succeeded: 0, failed: 0 });
const res = (o: BulkOp, status: number, error?: BulkItemResult['error']): BulkItemResult => ({ ...result(status, error, o.op), index: o.index, id: o.id });

function setup(answer: (ops: readonly BulkOp[], call: number) => BulkResult, config: Partial<BulkDeliveryConfig> = {}) {
  const calls: string[][] = [];
  const events: string[] = [];
  const refusals: [string, Refusal][] = [];
  const engine = new BulkDelivery(
    {
      bulk: async (ops) => {
        calls.push(ops.map((o) => o.id ?? ''));
        return answer(ops, calls.length);
      },
    },
    { retry: { attempts: 3, initialBackoffMs: 1, maxBackoffMs: 2 }, maxConflictRounds: 2, onExhausted: 'fail', sleep: async () => undefined, ...config },
  );
  const hooks: DeliveryHooks<Doc> = {
    op: (d) => ({ op: 'create', index: 'logs-x', id: d.id, doc: d.doc }),
    conflictDoc: (d) => d.doc,
    delivered: (d, outcome) => events.push(`${outcome}:${d.id}`),
    deadLetter: (d, refusal) => {
      refusals.push([d.id, refusal]);
      events.push(`dead:${d.id}`);
      return undefined;
    },
    conflicted: (d, field) => events.push(`conflict:${d.id}:${field}`),
    retried: (reason, n) => events.push(`retry:${reason}:${n}`),
    stalled: (why, failures) => events.push(`stalled:${failures}:${why}`),
    recovered: () => events.push('recovered'),
  };
  return { engine, hooks, calls, events, refusals };
}

describe('BulkDelivery', () => {
  it('delivers in request order, re-sends only the retriable items, and reports each round', async () => {
    const rounds: unknown[] = [];
    const s = setup((ops, call) => bulkOf(ops.map((o) => res(o, o.id === 'b' && call === 1 ? 429 : o.id === 'c' ? 409 : 201))));
    expect(await s.engine.deliver([doc('a'), doc('b'), doc('c')], { ...s.hooks, progress: (r) => rounds.push(r) })).toBe(true);
    expect(s.calls).toEqual([['a', 'b', 'c'], ['b']]);
    expect(s.events).toEqual(['indexed:a', 'retry:throttled:1', 'already_indexed:c', 'indexed:b', 'recovered']);
    expect(rounds).toEqual([
      { docs: 3, indexed: 1, already: 1, retriable: 1, conflicted: 0, refused: 0 },
      { docs: 1, indexed: 1, already: 0, retriable: 0, conflicted: 0, refused: 0 },
    ]);
  });

  it('moves a refused value to backlog.conflicts and re-sends, up to maxConflictRounds; then the dead-letter callback', async () => {
    const s = setup((ops) =>
      bulkOf(
        ops.map((o) => {
          const d = (o as { doc: Json }).doc;
          const bad = ['x', 'y', 'z'].find((f) => f in d);
          return bad ? res(o, 400, { type: 'mapper_parsing_exception', reason: `failed to parse field [${bad}] of type [long]` }) : res(o, 201);
        }),
      ),
    );
    const ok = doc('a', { x: 'one' });
    const tooMany = doc('b', { x: 1, y: 2, z: 3 });
    expect(await s.engine.deliver([ok, tooMany], s.hooks)).toBe(true);
    expect(s.events.filter((e) => e !== 'recovered')).toEqual(['conflict:a:x', 'conflict:b:x', 'indexed:a', 'conflict:b:y', 'dead:b']);
    expect(ok.doc).toMatchObject({ tags: ['mapping_conflict'], backlog: { conflicts: [{ field: 'x', value: '"one"' }] } });
    expect(tooMany.rounds).toBe(2);
    const [, refusal] = s.refusals[0] as [string, Refusal];
    expect(refusal).toMatchObject({ kind: 'item', mapping: true, detail: expect.stringContaining('400 mapper_parsing_exception: failed to parse field [z]') });
  });

  it("sends what the dead-letter callback hands back in the refused document's place", async () => {
    const s = setup((ops) => bulkOf(ops.map((o) => res(o, o.id === 'a' ? 400 : 201, { type: 'action_request_validation_exception', reason: 'no' }))));
    const hooks: DeliveryHooks<Doc> = {
      ...s.hooks,
      conflictDoc: () => undefined,
      deadLetter: (d, refusal) => (s.events.push(`dead:${d.id}:${refusal.kind}`), d.id === 'a' ? doc('dlq-a') : undefined),
    };
    expect(await s.engine.deliver([doc('a'), doc('b')], hooks)).toBe(true);
    expect(s.calls).toEqual([['a', 'b'], ['dlq-a']]);
    expect(s.events).toEqual(['dead:a:item', 'indexed:b', 'recovered', 'indexed:dlq-a', 'recovered']);
  });

  it('halves a request the engine refuses as a whole (413) until the culprit stands alone', async () => {
    const s = setup((ops) => {
      if (ops.some((o) => o.id === 'big')) throw new SearchError('SEARCH_REQUEST_TOO_LARGE', 'request too large', { status: 413 });
      return bulkOf(ops.map((o) => res(o, 201)));
    });
    expect(await s.engine.deliver([doc('a'), doc('b'), doc('big'), doc('c'), doc('d')], s.hooks)).toBe(true);
    expect(s.calls).toEqual([['a', 'b', 'big', 'c', 'd'], ['a', 'b', 'big'], ['a', 'b'], ['big'], ['c', 'd']]);
    expect(s.events.filter((e) => !e.startsWith('recovered'))).toEqual(['indexed:a', 'indexed:b', 'dead:big', 'indexed:c', 'indexed:d']);
    expect(s.refusals[0]?.[1]).toMatchObject({ kind: 'request', error: { code: 'SEARCH_REQUEST_TOO_LARGE' } });
  });

  it('splits a request over maxRequestBytes before sending it; one document over it is refused as too large', async () => {
    const s = setup((ops) => bulkOf(ops.map((o) => res(o, 201))), { maxRequestBytes: 250 });
    expect(await s.engine.deliver([doc('a'), doc('b'), doc('c'), doc('huge', {}, 300), doc('d')], s.hooks)).toBe(true);
    expect(s.calls).toEqual([['a', 'b'], ['c'], ['d']]);
    expect(s.events.filter((e) => e !== 'recovered')).toEqual(['indexed:a', 'indexed:b', 'indexed:c', 'dead:huge', 'indexed:d']);
    expect(s.refusals[0]?.[1]).toMatchObject({ kind: 'request', error: { code: 'SEARCH_REQUEST_TOO_LARGE', status: 413 } });
  });

  it('onExhausted fail: throws BulkExhaustedError after the attempts; fatal codes are thrown at once', async () => {
    const s = setup((ops) => bulkOf(ops.map((o) => res(o, 503, { type: 'unavailable_shards_exception', reason: '' }))));
    const err = await s.engine.deliver([doc('a')], s.hooks).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(BulkExhaustedError);
    expect((err as Error).message).toBe('search engine keeps failing items: 503 unavailable_shards_exception (after 3 attempts)');
    expect(s.calls).toHaveLength(3);

    const gone = setup(
      () => {
        throw new SearchError('SEARCH_INDEX_NOT_FOUND', 'no such index', { status: 404 });
      },
      { fatalCodes: ['SEARCH_INDEX_NOT_FOUND'] },
    );
    await expect(gone.engine.deliver([doc('a')], gone.hooks)).rejects.toMatchObject({ code: 'SEARCH_INDEX_NOT_FOUND' });
    expect(gone.calls).toHaveLength(1);
  });

  it('onExhausted probe: keeps going through an outage, says it stalled, and recovers', async () => {
    const s = setup(
      (ops, call) => {
        if (call <= 4) throw new SearchError('SEARCH_UNAVAILABLE', 'connect ECONNREFUSED');
        return bulkOf(ops.map((o) => res(o, 201)));
      },
      { onExhausted: 'probe' },
    );
    expect(await s.engine.deliver([doc('a'), doc('b')], s.hooks)).toBe(true);
    expect(s.events).toEqual([
      'retry:unavailable:2',
      'retry:unavailable:2',
      'retry:unavailable:2',
      'stalled:3:connect ECONNREFUSED',
      'retry:unavailable:2',
      'stalled:4:connect ECONNREFUSED',
      'indexed:a',
      'indexed:b',
      'recovered',
    ]);
  });

  it('an abort ends the delivery without settling the rest; the wait between retries heart-beats', async () => {
    let beats = 0;
    let n = 0;
    const s = setup(
      () => {
        throw new SearchError('SEARCH_TIMEOUT', 'slow');
      },
      { onExhausted: 'probe', retry: { attempts: 2, initialBackoffMs: 20, maxBackoffMs: 20 }, random: () => 1 },
    );
    const ok = await s.engine.deliver([doc('a')], s.hooks, { aborted: () => ++n > 6, heartbeat: async () => void beats++ });
    expect(ok).toBe(false);
    expect(s.events.some((e) => e.startsWith('indexed'))).toBe(false);
    expect(beats).toBeGreaterThan(0);
  });
});
