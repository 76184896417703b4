// The BulkWriter against a scripted bulk port. A mock is used here only for faults the real engine
// cannot be made to produce on demand (per-item 429/503 in the middle of a bulk, a refused dead
// letter); outages, conflicts and malformed input run against the real OpenSearch in tests/es-consumer.
import { describe, expect, it } from 'vitest';
import { SearchError, type BulkItemResult, type BulkOp, type BulkResult } from '@backlog/adapter-search';
import { silentLogger } from '@backlog/core-pipeline';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { eventItem, type WriteItem } from './document';
import { esConsumerMetrics } from './metrics';
import { BulkWriter, type Outcome } from './writer';

const opts = { env: 'dev', rawMaxBytes: 4096, maxDocs: 2, maxBytes: 1 << 20, concurrency: 2, retry: { attempts: 2, initialBackoffMs: 1, maxBackoffMs: 4 }, maxConflictRounds: 2 };
const ev = (id: string, extra: Record<string, unknown> = {}): WriteItem =>
  eventItem({ '@timestamp': '2026-11-22T10:00:00Z', event: { id }, ...extra }, 'dev', { topic: 'h-dev', partition: 0, offset: id, line: 1 }, 0);
const res = (op: BulkOp, status: number, error?: { type: string; reason: string }): BulkItemResult => ({
  op: op.op,
  index: op.index,
  id: op.id,
  status,
  ok: status < 300,
  retriable: status === 429 || status >= 500,
  ...(error ? { error } : {}),
});
const bulkOf = (items: BulkItemResult[]): BulkResult => ({ tookMs: 1, errors: items.some((i) => !i.ok), items, succeeded: 0, failed: 0 });

function setup(answer: (ops: readonly BulkOp[], call: number) => BulkResult | Promise<BulkResult>) {
  const metrics = esConsumerMetrics(new MetricsRegistry());
  const calls: BulkOp[][] = [];
  const pauses: boolean[] = [];
  const writer = new BulkWriter({ bulk: async (ops) => (calls.push([...ops]), answer(ops, calls.length)) }, metrics, silentLogger, opts, {
    onPause: (p) => pauses.push(p),
    sleep: async () => undefined,
    random: () => 0.5,
  });
  const outcomes = new Map<string, Outcome>();
  const settle = (it: WriteItem, o: Outcome) => outcomes.set(it.id, o);
  return { writer, calls, pauses, outcomes, settle, metrics };
}

describe('BulkWriter', () => {
  it('chunks by count and writes with create, _id = event.id; 409 counts as delivered', async () => {
    const s = setup((ops) => bulkOf(ops.map((o) => res(o, o.id === 'b' ? 409 : 201))));
    expect(await s.writer.write([ev('a'), ev('b'), ev('c')], s.settle)).toBe(true);
    expect(s.calls.map((c) => c.map((o) => `${o.op}:${o.id}`))).toEqual([['create:a', 'create:b'], ['create:c']]);
    expect(Object.fromEntries(s.outcomes)).toEqual({ a: 'indexed', b: 'already_indexed', c: 'indexed' });
  });

  it('re-sends only the 429/5xx items, pauses after the fast attempts, resumes on success', async () => {
    const s = setup((ops, call) => bulkOf(ops.map((o) => res(o, o.id === 'b' && call < 5 ? (call % 2 ? 429 : 503) : 201))));
    expect(await s.writer.write([ev('a'), ev('b')], s.settle)).toBe(true);
    expect(s.calls.map((c) => c.map((o) => o.id).join())).toEqual(['a,b', 'b', 'b', 'b', 'b']);
    expect(s.pauses).toEqual([true, false]);
    expect(s.outcomes.get('b')).toBe('indexed');
    expect((await s.metrics.retried.get()).values.map((v) => [v.labels.reason, v.value])).toEqual([
      ['throttled', 2],
      ['server_error', 2],
    ]);
  });

  it('waits through transport failures (engine down) and can be aborted without settling', async () => {
    let down = true;
    const s = setup((ops) => {
      if (down) throw new SearchError('SEARCH_UNAVAILABLE', 'connect ECONNREFUSED');
      return bulkOf(ops.map((o) => res(o, 201)));
    });
    let n = 0;
    expect(await s.writer.write([ev('a')], s.settle, { aborted: () => ++n > 5 })).toBe(false);
    expect(s.outcomes.size).toBe(0);
    down = false;
    expect(await s.writer.write([ev('a')], s.settle)).toBe(true);
    expect(s.outcomes.get('a')).toBe('indexed');
  });

  it('moves a conflicting value and re-sends; dead-letters when rounds run out', async () => {
    const s = setup((ops) =>
      bulkOf(
        ops.map((o) =>
          o.op === 'create' && o.index.endsWith('-dlq')
            ? res(o, 201)
            : 'custom' in (o as { doc: Record<string, unknown> }).doc || 'other' in (o as { doc: Record<string, unknown> }).doc
              ? res(o, 400, { type: 'mapper_parsing_exception', reason: `failed to parse field [${'custom' in (o as { doc: Record<string, unknown> }).doc ? 'custom' : 'other'}] of type [long]` })
              : res(o, 201),
        ),
      ),
    );
    await s.writer.write([ev('a', { custom: 'x' }), ev('z', { other: 1, custom: 2 })], s.settle);
    expect(s.outcomes.get('a')).toBe('indexed');
    expect(s.outcomes.get('z')).toBe('indexed');
    const last = s.calls.at(-1)?.find((o) => o.id === 'z') as { doc: Record<string, unknown> };
    expect(last.doc).toMatchObject({
      tags: ['mapping_conflict'],
      backlog: {
        conflicts: [
          { field: 'custom', value: '2' },
          { field: 'other', value: '1' },
        ],
      },
    });
  });

  it('dead-letters what cannot be fixed; a refused dead letter is retried minimal, then dropped and counted', async () => {
    const s = setup((ops) => bulkOf(ops.map((o) => res(o, 400, { type: 'mapper_parsing_exception', reason: 'Limit of total fields [2000] has been exceeded' }))));
    await s.writer.write([ev('a')], s.settle);
    expect(s.calls.map((c) => c.map((o) => o.id).join())).toEqual(['a', 'dlq-a', 'dlq-a']);
    expect(s.outcomes.get('a')).toBe('dropped');
    expect((await s.metrics.dropped.get()).values[0]?.value).toBe(1);
  });

  it('halves a request the engine refuses as a whole', async () => {
    const s = setup((ops) => {
      if (ops.some((o) => o.id === 'bad') && ops.length > 1) throw new SearchError('SEARCH_REQUEST_TOO_LARGE', 'too large', { status: 413 });
      return bulkOf(ops.map((o) => res(o, o.id === 'bad' ? 413 : 201)));
    });
    await s.writer.write([ev('a'), ev('bad')], s.settle);
    expect(s.outcomes.get('a')).toBe('indexed');
    expect(s.outcomes.get('bad')).toBe('dead_lettered');
    expect(s.calls.at(-1)?.[0]?.id).toBe('dlq-bad');
  });
});
