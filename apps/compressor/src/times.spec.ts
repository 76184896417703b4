import { windowOf } from '@backlog/core-codec';
import { describe, expect, it } from 'vitest';
import { PartitionAssembler } from './assembler';
import { BatchScanner } from './scan';

const scanner = new BatchScanner();
import { fileTimes } from './times';

const DAY = 86_400_000;
const REC = Date.parse('2026-11-22T10:00:05.000Z');
const ev = (ts: string, id: string, extra: Record<string, unknown> = {}) =>
  JSON.stringify({ '@timestamp': ts, event: { id, created: '2026-11-22T10:00:01.000Z' }, host: { name: 'web-1' }, message: `m ${id}`, labels: { env: 'dev', input: 'http' }, ...extra });
const batch = (lines: string[]) => scanner.rawBatchLines(Buffer.from(`${lines.join('\n')}\n`));
const text = (l: { line: string | Uint8Array }) => (typeof l.line === 'string' ? l.line : Buffer.from(l.line).toString('utf8'));

describe('fileTimes (ADR 0015)', () => {
  it('leaves a batch within the bounds as it is (its columns, no object per line)', () => {
    const b = batch([ev('2026-11-22T10:00:00.000Z', 'a'), ev('2026-11-23T10:00:05.000Z', 'b')]);
    const f = fileTimes(b, REC, DAY);
    expect(f.cols).toBe(b.cols);
    expect(f.slowLines).toBe(b.slowLines);
    expect(f.replaced.size).toBe(0);
  });

  it('files a 9999-12-31 event at its event.created, the claimed time kept and flagged; the other lines untouched', () => {
    const lines = [ev('2026-11-22T10:00:00.000Z', 'a'), ev('9999-12-31T23:59:59.000Z', 'far'), ev('0001-01-01T00:00:00.000Z', 'old')];
    const f = fileTimes(batch(lines), REC, DAY);
    expect(f.cols).toBeUndefined();
    expect(f.slowLines.map(text)[0]).toBe(lines[0]);
    const far = JSON.parse(text(f.slowLines[1]!)) as Record<string, any>;
    expect(far['@timestamp']).toBe('2026-11-22T10:00:01.000Z');
    expect(far.labels).toEqual({ env: 'dev', input: 'http', timestamp_original: '9999-12-31T23:59:59.000Z', timestamp_replaced: 'future' });
    expect(f.slowLines[1]).toMatchObject({ ts: Date.parse('2026-11-22T10:00:01.000Z'), id: 'far', host: 'web-1' });
    expect(JSON.parse(text(f.slowLines[2]!)).labels.timestamp_replaced).toBe('before_epoch');
    expect([...f.replaced]).toEqual([
      ['future', 1],
      ['before_epoch', 1],
    ]);
    // The same record read again gives the same bytes (exactly-once rewrites identical parts).
    expect(fileTimes(batch(lines), REC, DAY).slowLines.map(text)).toEqual(f.slowLines.map(text));
  });

  it('a line that took the JSON.parse path is checked too', () => {
    const f = fileTimes(batch([' {"@timestamp":"9999-01-01T00:00:00Z","event":{"id":"x"}}']), REC, DAY);
    expect(f.replaced.get('future')).toBe(1);
    expect(JSON.parse(text(f.slowLines[0]!))['@timestamp']).toBe('2026-11-22T10:00:05.000Z');
  });

  it('with it, a far-future event no longer opens a window that never closes (and holds the commit back)', () => {
    const asm = new PartitionAssembler({ partition: 0, graceMs: 0, maxFutureSkewMs: 300_000, lateLingerOffsets: 5, maxPartRawBytes: 1 << 30 }, { offset: 0n });
    const f = fileTimes(batch([ev('2026-11-22T10:00:00.000Z', 'a'), ev('9999-12-31T23:59:59.000Z', 'far')]), REC, DAY);
    asm.addRecord(0n, REC, f.slowLines, f.cols);
    expect(asm.buffers().map((b) => b.window)).toEqual([windowOf(REC)]);
    // The idle rule seals it once the wall clock passed its end, and the commit moves past the record.
    const sealed = asm.sealIdle(REC + 3_600_000);
    for (const b of sealed) asm.done(b);
    expect(asm.checkpoint().offset).toBe('1');
  });
});
