import { gzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { batchHeaders, decodeBatch, encodeBatch, readHeaders } from './batch';
import { CodecError } from './errors';

const ev = (ts: string, msg: string) => ({ '@timestamp': ts, host: { name: 'web-01' }, message: msg });

describe('h-<env> batches', () => {
  it('round-trips events with DESIGN.md headers', () => {
    const events = [ev('2026-11-22T10:00:01.000Z', 'a'), ev('2026-11-22T10:00:02.500Z', 'b')];
    const b = encodeBatch(events, { host: 'web-01', batchId: 'b1' });
    expect(b.key).toBe('web-01');
    expect(b.headers).toEqual({
      schema: '1',
      'content-encoding': 'gzip',
      count: '2',
      'min-ts': String(Date.parse(events[0]!['@timestamp'])),
      'max-ts': String(Date.parse(events[1]!['@timestamp'])),
      window: '3k9nc',
      host: 'web-01',
      'batch-id': 'b1',
    });
    const d = decodeBatch(b.value);
    expect(d.events).toEqual(events);
    expect(d.bad).toEqual([]);
  });

  it("builds the headers in one place: the window is the first event's, a batch id is made when none is given", () => {
    const t = Date.parse('2026-11-22T10:04:59.999Z');
    const h = batchHeaders({ count: 3, minTs: t, maxTs: t, host: 'web-01', batchId: 'x' });
    expect(h).toEqual({ schema: '1', 'content-encoding': 'gzip', count: '3', 'min-ts': String(t), 'max-ts': String(t), window: '3k9nc', host: 'web-01', 'batch-id': 'x' });
    expect(batchHeaders({ count: 1, minTs: t + 1, maxTs: t + 1, host: 'h' }).window).toBe('3k9nd');
    expect(batchHeaders({ count: 1, minTs: t, maxTs: t, host: 'h' })['batch-id']).toMatch(/^[0-9a-f-]{36}$/);
    // As Kafka hands them back (Buffer values), they read as the same strings.
    const wire = Object.fromEntries(Object.entries(h).map(([k, v]) => [k, Buffer.from(v)]));
    expect(readHeaders(wire)).toEqual(h);
  });

  it('refuses a batch that straddles a window boundary', () => {
    expect(() => encodeBatch([ev('2026-11-22T10:04:59.999Z', 'a'), ev('2026-11-22T10:05:00.000Z', 'b')], { host: 'h' })).toThrow(/straddles/);
  });

  it('returns bad lines instead of throwing', () => {
    const value = gzipSync(Buffer.from('{"@timestamp":"2026-11-22T10:00:00Z"}\nnot json\n[1,2]\n\n'));
    const d = decodeBatch(value);
    expect(d.events).toHaveLength(1);
    expect(d.bad.map((b) => [b.line, b.reason.split(':')[0]])).toEqual([
      [2, 'invalid JSON'],
      [3, 'not a JSON object'],
    ]);
  });

  it('caps the decompressed size (gzip bomb)', () => {
    const bomb = gzipSync(Buffer.alloc(8 * 1024 * 1024, 0x61));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const err = (() => {
      try {
        decodeBatch(bomb, { maxDecompressedBytes: 1024 * 1024 });
      } catch (e) {
        return e;
      }
    })();
    expect(err).toBeInstanceOf(CodecError);
    expect((err as CodecError).code).toBe('BATCH_TOO_LARGE');
  });

  it('flags a value that is not gzip, or is cut', () => {
    expect(() => decodeBatch(Buffer.from('{"a":1}'))).toThrow(expect.objectContaining({ code: 'BATCH_NOT_GZIP' }));
    const cut = gzipSync(Buffer.from('{"a":1}\n'.repeat(1000))).subarray(0, 40);
    expect(() => decodeBatch(cut)).toThrow(expect.objectContaining({ code: 'BATCH_CORRUPT' }));
  });
});
