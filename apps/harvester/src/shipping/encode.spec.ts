import { describe, expect, it } from 'vitest';
import { decodeBatch, encodeBatch } from '@backlog/core-codec';
import { encodeLines, encodeRawWithinCapAsync, encodeWithinCap, encodeWithinCapAsync, lineStarts, sortRaw, splitRecord } from './encode';

const ev = (ts: string, i: number) => ({ '@timestamp': ts, host: { name: 'web-01' }, message: `m${i} ${'x'.repeat(i % 50)}`, event: { id: `id-${i}` } });

describe('encodeLines', () => {
  it('matches core-codec encodeBatch byte for byte', () => {
    const events = [ev('2026-11-22T10:00:03.000Z', 1), ev('2026-11-22T10:00:01.000Z', 2), ev('2026-11-22T10:00:02.000Z', 3)];
    const sorted = [...events].sort((a, b) => Date.parse(a['@timestamp']) - Date.parse(b['@timestamp']));
    const ref = encodeBatch(sorted, { host: 'web-01', batchId: 'b' });
    const mine = encodeLines(
      events.map((e) => ({ ts: Date.parse(e['@timestamp']), line: JSON.stringify(e) })),
      { host: 'web-01', batchId: 'b' },
    );
    expect(mine.headers).toEqual(ref.headers);
    expect(mine.value.equals(ref.value)).toBe(true);
    expect(decodeBatch(mine.value).events.map((e) => e['@timestamp'])).toEqual(sorted.map((e) => e['@timestamp']));
  });

  it('refuses a straddling batch and splits one over the cap', () => {
    expect(() =>
      encodeLines(
        [
          { ts: Date.parse('2026-11-22T10:04:59.999Z'), line: '{}' },
          { ts: Date.parse('2026-11-22T10:05:00Z'), line: '{}' },
        ],
        { host: 'h' },
      ),
    ).toThrow(/straddles/);
    // Random-ish content that gzip cannot shrink much, so that the cap forces several pieces.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed.toString(36));
    const lines = Array.from({ length: 4000 }, (_, i) => ({ ts: Date.parse('2026-11-22T10:00:00Z') + i, line: JSON.stringify({ m: rnd() + rnd() + rnd(), i }) }));
    let n = 0;
    const pieces = encodeWithinCap(lines, { host: 'h', maxRecordBytes: 16 * 1024 }, () => `p${n++}`);
    expect(pieces.length).toBeGreaterThan(2);
    for (const p of pieces) expect(p.value.length).toBeLessThanOrEqual(16 * 1024);
    expect(pieces.reduce((s, p) => s + Number(p.headers.count), 0)).toBe(4000);
    expect(new Set(pieces.map((p) => p.headers['batch-id'])).size).toBe(pieces.length);
  });

  it('a batch read back from its WAL bytes (sortRaw + encodeRawWithinCapAsync) gives the same records as the lines path', async () => {
    let seed = 11;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) & 0x7fffffff), seed.toString(36));
    const base = Date.parse('2026-11-22T10:00:00Z');
    // Out of order with ties: the sort must be stable like encodeLines'.
    const lines = Array.from({ length: 3000 }, (_, i) => ({ ts: base + ((i * 7919) % 1000), line: JSON.stringify({ m: rnd() + rnd() + rnd(), i, s: 'é\u2028' }) }));
    const raw = Buffer.from(lines.map((l) => `${l.line}\n`).join(''));
    const ts = Float64Array.from(lines, (l) => l.ts);
    const opts = { host: 'h', level: 3, maxRecordBytes: 16 * 1024 };
    let a = 0;
    let b = 0;
    const ref = await encodeWithinCapAsync(lines, opts, () => `p${a++}`);
    const mine = await encodeRawWithinCapAsync(sortRaw(raw, ts), opts, () => `p${b++}`);
    expect(ref.length).toBeGreaterThan(2);
    expect(mine.map((p) => p.headers)).toEqual(ref.map((p) => p.headers));
    expect(mine.map((p) => p.value.toString('base64'))).toEqual(ref.map((p) => p.value.toString('base64')));
    // Already sorted: no copy.
    const inOrder = Buffer.from('{"a":1}\n{"a":2}\n');
    expect(sortRaw(inOrder, Float64Array.of(base, base + 1)).raw).toBe(inOrder);
  });

  it('lineStarts refuses bytes that do not hold exactly the expected lines', () => {
    expect(Array.from(lineStarts(Buffer.from('a\nbb\n'), 2))).toEqual([0, 2, 5]);
    expect(() => lineStarts(Buffer.from('a\nbb\n'), 3)).toThrow(/expected 3 lines/);
    expect(() => lineStarts(Buffer.from('a\nbb\nc'), 2)).toThrow(/more bytes/);
  });
});

describe('splitRecord', () => {
  it('halves a record by events: same key, window and host, headers true to each half, batch ids derived from the parent', () => {
    const events = Array.from({ length: 7 }, (_, i) => ev(`2026-11-22T10:00:0${i}.000Z`, i));
    const parent = encodeBatch(events, { host: 'web-01', batchId: 'run1-000004.1' });
    const [a, b] = splitRecord(parent.value, parent.headers, { host: 'web-01' });
    expect([a.headers['batch-id'], b.headers['batch-id']]).toEqual(['run1-000004.1.s0', 'run1-000004.1.s1']);
    expect([a.headers.count, b.headers.count]).toEqual(['3', '4']);
    expect([a.headers['min-ts'], a.headers['max-ts'], b.headers['min-ts'], b.headers['max-ts']]).toEqual(
      ['10:00:00', '10:00:02', '10:00:03', '10:00:06'].map((t) => String(Date.parse(`2026-11-22T${t}.000Z`))),
    );
    for (const h of [a, b]) expect([h.key, h.headers.window, h.headers.host, h.headers.schema]).toEqual(['web-01', parent.headers.window, 'web-01', '1']);
    // The events keep their bytes and order.
    expect([...decodeBatch(a.value).events, ...decodeBatch(b.value).events]).toEqual(events);
    // Deterministic: a resend of the same spool splits the same way.
    expect(splitRecord(parent.value, parent.headers, { host: 'web-01' })[1].value.equals(b.value)).toBe(true);
    expect(() => splitRecord(encodeBatch([events[0]!], { host: 'web-01' }).value, parent.headers, { host: 'web-01' })).toThrow(RangeError);
  });
});
