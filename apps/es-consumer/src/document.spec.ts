import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { decodeRecord, eventItem, truncateUtf8, type RecordLike } from './document';

const ctx = { env: 'dev', maxDecompressedBytes: 1024 * 1024, rawMaxBytes: 1024, now: () => Date.UTC(2026, 10, 22, 12) };
const rec = (value: Buffer | null, headers: Record<string, string> = {}): RecordLike => ({
  topic: 'h-dev',
  partition: 2,
  offset: '41',
  value,
  headers: Object.fromEntries(Object.entries(headers).map(([k, v]) => [k, Buffer.from(v)])),
  timestamp: Date.UTC(2026, 10, 22, 10),
});
const gz = (lines: string[]) => gzipSync(Buffer.from(lines.join('\n') + '\n'));

describe('decodeRecord', () => {
  it('turns events into create documents with _id = event.id in the UTC day of @timestamp', () => {
    const out = decodeRecord(rec(gz([JSON.stringify({ '@timestamp': '2026-11-22T23:59:59.999-01:00', event: { id: 'a' }, message: 'x' })])), ctx);
    expect(out.events).toBe(1);
    expect(out.items).toHaveLength(1);
    expect(out.items[0]).toMatchObject({ kind: 'event', id: 'a', index: 'logs-dev-recent-2026.11.23', origin: { partition: 2, offset: '41', line: 1 } });
  });

  it('dead-letters a record that is not gzip, a gzip bomb, an empty batch and a foreign schema', () => {
    expect(decodeRecord(rec(Buffer.from('hello')), ctx).items[0]?.source).toMatchObject({ backlog: { dlq: { reason: 'not_gzip', offset: '41' } } });
    const bomb = gzipSync(Buffer.alloc(2 * 1024 * 1024));
    const b = decodeRecord(rec(bomb), ctx).items[0];
    expect(b?.source).toMatchObject({ backlog: { dlq: { reason: 'too_large', raw_bytes: bomb.length } }, labels: { dlq_reason: 'too_large' } });
    expect(b?.index).toBe('logs-dev-dlq');
    expect(b?.id).toBe('dlq-h-dev-2-41');
    expect(decodeRecord(rec(gzipSync(Buffer.from('\n\n'))), ctx).items[0]?.source).toMatchObject({ backlog: { dlq: { reason: 'empty' } } });
    expect(decodeRecord(rec(gz(['{}']), { schema: '2' }), ctx).items[0]?.source).toMatchObject({ backlog: { dlq: { reason: 'unsupported_schema' } } });
    expect(decodeRecord(rec(gzipSync(Buffer.from('abc')).subarray(0, 12)), ctx).items[0]?.source).toMatchObject({ backlog: { dlq: { reason: 'corrupt' } } });
  });

  it('dead-letters bad lines one by one and keeps the good ones', () => {
    const out = decodeRecord(rec(gz(['{"event":{"id":"1"},"@timestamp":"2026-11-22T10:00:00Z"}', 'not json', '[1,2]', '{"event":{"id":"2"},"@timestamp":"2026-11-22T10:00:00Z"}'])), ctx);
    expect(out.events).toBe(2);
    const dlq = out.items.filter((i) => i.kind === 'dlq');
    expect(dlq.map((d) => (d.source.backlog as { dlq: { reason: string; line: number } }).dlq)).toMatchObject([
      { reason: 'invalid_json', line: 2 },
      { reason: 'not_object', line: 3 },
    ]);
    expect(dlq.map((d) => d.id)).toEqual(['dlq-h-dev-2-41-l2', 'dlq-h-dev-2-41-l3']);
    expect(dlq[0]?.source.event).toMatchObject({ original: 'not json' });
  });

  it('keeps at most rawMaxBytes of the raw line', () => {
    const long = 'é'.repeat(2000);
    const d = decodeRecord(rec(gz([long])), ctx).items[0];
    const orig = (d?.source.event as { original: string }).original;
    expect(Buffer.byteLength(orig)).toBeLessThanOrEqual(1024);
    expect(d?.source).toMatchObject({ backlog: { dlq: { truncated: true, raw_bytes: 4000 } } });
  });
});

describe('eventItem', () => {
  const origin = { topic: 'h-dev', partition: 0, offset: '7', line: 3 };
  it('files an event dated beyond the skew (an older harvester let it through) at event.created, kept and flagged (ADR 0015)', () => {
    const recTs = Date.UTC(2026, 10, 22, 10);
    const it = eventItem({ '@timestamp': '9999-12-31T00:00:00.000Z', event: { id: 'f', created: '2026-11-22T09:59:58.000Z' }, labels: { env: 'dev' }, message: 'm' }, 'dev', origin, recTs);
    expect(it.index).toBe('logs-dev-recent-2026.11.22');
    expect(it.replaced).toBe('future');
    expect(it.source).toMatchObject({ '@timestamp': '2026-11-22T09:59:58.000Z', labels: { env: 'dev', timestamp_original: '9999-12-31T00:00:00.000Z', timestamp_replaced: 'future' } });
    // Without event.created: the record's time. Before 1970: the same, reason before_epoch.
    expect(eventItem({ '@timestamp': '9999-12-31T00:00:00Z', event: { id: 'g' } }, 'dev', origin, recTs).index).toBe('logs-dev-recent-2026.11.22');
    const old = eventItem({ '@timestamp': '0001-01-01T00:00:00Z', event: { id: 'h' } }, 'dev', origin, recTs);
    expect(old.index).toBe('logs-dev-recent-2026.11.22');
    expect(old.replaced).toBe('before_epoch');
    // Within the skew: as it is; a smaller configured skew replaces it.
    const soon = { '@timestamp': '2026-11-23T09:00:00.000Z', event: { id: 'i' } };
    expect(eventItem({ ...soon }, 'dev', origin, recTs).index).toBe('logs-dev-recent-2026.11.23');
    expect(eventItem({ ...soon }, 'dev', origin, recTs, 3_600_000).index).toBe('logs-dev-recent-2026.11.22');
  });
  it('a redelivered record is filed the same way (the rule reads the record, not the clock)', () => {
    const mk = () => eventItem({ '@timestamp': '9999-12-31T00:00:00.000Z', event: { id: 'f' } }, 'dev', origin, Date.UTC(2026, 10, 22, 10));
    expect(mk()).toEqual(mk());
  });
  it('derives a stable id when the event has none (batch id first, else topic/partition/offset)', () => {
    const a = eventItem({ '@timestamp': '2026-11-22T10:00:00Z' }, 'dev', { ...origin, batchId: 'B' }, 0);
    expect(a.id).toBe('b-B-3');
    expect(a.source).toMatchObject({ event: { id: 'b-B-3' }, tags: ['id_derived'] });
    expect(eventItem({ '@timestamp': '2026-11-22T10:00:00Z', event: { id: 5 } }, 'dev', origin, 0).id).toBe('k-h-dev-0-7-3');
  });
  it('indexes an event without a usable @timestamp at the record time, keeping the value', () => {
    const it = eventItem({ '@timestamp': 'yesterday', event: { id: 'x' } }, 'dev', origin, Date.UTC(2026, 0, 2, 3));
    expect(it.index).toBe('logs-dev-recent-2026.01.02');
    expect(it.source).toMatchObject({ '@timestamp': '2026-01-02T03:00:00.000Z', tags: ['timestamp_invalid'], backlog: { conflicts: [{ field: '@timestamp', value: '"yesterday"' }] } });
  });
});

it('truncateUtf8 cuts on a character boundary', () => {
  expect(truncateUtf8('aé', 2)).toEqual({ text: 'a', truncated: true, bytes: 3 });
  expect(truncateUtf8('ab', 2)).toEqual({ text: 'ab', truncated: false, bytes: 2 });
});
