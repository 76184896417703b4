import { describe, expect, it } from 'vitest';
import { ByteScratch, compactWalChunks, decodeSegment, decodeWal, encodeSegment, encodeWalChunk, encodeWalChunkInto, encodeWalHeader, segmentFileName, segmentSeqOf } from './spool-format';

const meta = { batchId: 'b1', key: 'web-01', headers: { schema: '1', count: '2' }, count: 2, rawBytes: 10, createdAtMs: 1, positions: [{ source: 'file:/x', cursor: 42 }] };

describe('spool format', () => {
  it('round-trips a segment and refuses any damage', () => {
    const value = Buffer.from([0x1f, 0x8b, 1, 2, 3, 4]);
    const seg = encodeSegment(meta, value);
    const d = decodeSegment(seg);
    expect(d.meta).toEqual(meta);
    expect(d.value.equals(value)).toBe(true);
    for (let i = 0; i < seg.length; i += 7) {
      const t = Buffer.from(seg);
      t[i]! ^= 0x10;
      expect(() => decodeSegment(t)).toThrow();
    }
    expect(() => decodeSegment(seg.subarray(0, seg.length - 1))).toThrow(expect.objectContaining({ code: 'SPOOL_TRUNCATED' }));
  });

  it('reads a WAL up to a torn or corrupt tail', () => {
    const head = encodeWalHeader({ batchId: 'b1', window: 5984472, host: 'h', createdAtMs: 1 });
    const c1 = encodeWalChunk('{"a":1}\n{"a":2}\n', [{ source: 's', cursor: 1 }]);
    const c2 = encodeWalChunk('{"a":3}\n', []);
    const full = Buffer.concat([head, c1, c2]);
    expect(decodeWal(full)).toMatchObject({ lines: ['{"a":1}\n{"a":2}\n', '{"a":3}\n'], positions: [{ source: 's', cursor: 1 }], tail: 'clean', validBytes: full.length });
    expect(decodeWal(full.subarray(0, full.length - 2))).toMatchObject({ lines: ['{"a":1}\n{"a":2}\n'], tail: 'torn' });
    const bad = Buffer.from(full);
    bad[head.length + c1.length + 10]! ^= 1;
    expect(decodeWal(bad)).toMatchObject({ lines: ['{"a":1}\n{"a":2}\n'], tail: 'corrupt' });
    expect(() => decodeWal(head.subarray(0, 6))).toThrow();
  });

  it('names segments so that they sort in close order', () => {
    expect(segmentFileName(12)).toBe('0000000000000012.seg');
    expect(segmentSeqOf('0000000000000012.seg')).toBe(12);
    expect(segmentSeqOf('x.seg')).toBeUndefined();
  });
});

describe('encodeWalChunkInto', () => {
  it('writes the bytes of encodeWalChunk(lines joined), growing its scratch as needed', () => {
    const scratch = new ByteScratch(16);
    const cases: [string[], { source: string; cursor: string | number }[]][] = [
      [['{"a":1}', '{"a":2}'], [{ source: 's', cursor: 1 }]],
      [['{"m":"ü日本😀"}'], []],
      [Array.from({ length: 500 }, (_, i) => JSON.stringify({ i, pad: 'x'.repeat(i) })), [{ source: 'file:/var/log/a', cursor: 'c1' }]],
      [['{"a":3}'], []],
    ];
    for (const [lines, positions] of cases) {
      const got = Buffer.from(encodeWalChunkInto(scratch, lines, positions));
      expect(got.equals(encodeWalChunk(`${lines.join('\n')}\n`, positions))).toBe(true);
    }
    expect(scratch.buf.length).toBeGreaterThan(16);
  });
});

describe('compactWalChunks', () => {
  it('leaves the lines of consecutive chunks, in order, at the start of the range', () => {
    const scratch = new ByteScratch(8);
    const chunks: [string[], { source: string; cursor: number }[]][] = [
      [['{"a":1}', '{"a":2}'], [{ source: 's', cursor: 1 }]],
      [['{"b":"ü"}'], []],
      [['{"c":3}'], [{ source: 't', cursor: 9 }]],
    ];
    let at = 5;
    for (const [lines, positions] of chunks) at += encodeWalChunkInto(scratch, lines, positions, at).length;
    const head = Buffer.from(scratch.buf.subarray(0, 5));
    const out = compactWalChunks(scratch.buf, 5, at);
    expect(out.toString()).toBe('{"a":1}\n{"a":2}\n{"b":"ü"}\n{"c":3}\n');
    expect(out.byteOffset - scratch.buf.byteOffset).toBe(5);
    expect(scratch.buf.subarray(0, 5).equals(head)).toBe(true);
  });
});
