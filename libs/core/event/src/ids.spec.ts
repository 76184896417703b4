import { createHash } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { COUNTER_BITS, EventIdGenerator, MAX_ID_OFFSET, idStreamTag, isUuidV7, isUuidV8, keyedEventId, offsetEventId, sourceEventId, sourceIdentity, uuidV7Timestamp } from './ids';

const bytes = (id: string) => Buffer.from(id.replace(/-/g, ''), 'hex');

describe('EventIdGenerator (UUIDv7, RFC 9562)', () => {
  it('sets version 7 and variant 0b10', () => {
    const g = new EventIdGenerator();
    for (let i = 0; i < 1000; i++) {
      const id = g.next();
      expect(isUuidV7(id)).toBe(true);
      const b = bytes(id);
      expect(b.readUInt8(6) >> 4).toBe(7);
      expect(b.readUInt8(8) >> 6).toBe(0b10);
    }
  });

  it('puts unix milliseconds in the first 48 bits', () => {
    const g = new EventIdGenerator({ now: () => 1_763_805_600_123 });
    expect(uuidV7Timestamp(g.next())).toBe(1_763_805_600_123);
    expect(g.next().startsWith('019aa')).toBe(true);
  });

  it('1,000,000 ids are unique and strictly increasing', () => {
    const g = new EventIdGenerator();
    const seen = new Set<string>();
    let prev = '';
    let ordered = true;
    for (let i = 0; i < 1_000_000; i++) {
      const id = g.next();
      if (!(id > prev)) ordered = false;
      prev = id;
      seen.add(id);
    }
    expect(ordered).toBe(true);
    expect(seen.size).toBe(1_000_000);
  });

  it('keeps the per-run value in the last 48 bits and a counter after the timestamp', () => {
    const g = new EventIdGenerator({ now: () => 1000, runId: new Uint8Array([1, 2, 3, 4, 5, 6]) });
    const a = g.next();
    const b = g.next();
    expect(a.endsWith('-010203040506')).toBe(true);
    expect(b.endsWith('-010203040506')).toBe(true);
    expect(a.slice(15, 23)).toBe('000-8000');
    expect(b.slice(15, 23)).toBe('000-8001');
  });

  it('two generators (runs) differ in the run bits', () => {
    const a = new EventIdGenerator({ now: () => 5 });
    const b = new EventIdGenerator({ now: () => 5 });
    expect(a.runHex).not.toBe(b.runHex);
    expect(a.next()).not.toBe(b.next());
  });

  it('stays monotonic when the clock goes backwards', () => {
    let t = 10_000;
    const g = new EventIdGenerator({ now: () => t });
    const ids = [g.next()];
    t = 9_000; // NTP step back
    ids.push(g.next(), g.next());
    t = 9_500;
    ids.push(g.next());
    t = 10_001;
    ids.push(g.next());
    expect([...ids].sort()).toEqual(ids);
    expect(new Set(ids).size).toBe(ids.length);
    expect(ids.map(uuidV7Timestamp)).toEqual([10_000, 10_000, 10_000, 10_000, 10_001]);
  });

  it('on counter overflow moves the timestamp ahead instead of repeating', () => {
    const g = new EventIdGenerator({ now: () => 42, initialCounter: 2 ** COUNTER_BITS - 2 });
    const a = g.next(); // counter max
    const b = g.next(); // overflow → ts 43, counter 0
    const c = g.next(); // clock still at 42: stays on 43
    expect(a.slice(15, 23)).toBe('fff-bfff');
    expect(uuidV7Timestamp(b)).toBe(43);
    expect(b.slice(15, 23)).toBe('000-8000');
    expect(uuidV7Timestamp(c)).toBe(43);
    expect(b > a && c > b).toBe(true);
  });

  it('rejects a run id that is not 48 bits', () => {
    expect(() => new EventIdGenerator({ runId: new Uint8Array(4) })).toThrowError(expect.objectContaining({ code: 'RUN_ID_INVALID' }));
  });
});

describe('deterministic ids for re-readable sources (ADR 0008)', () => {
  it('offsetEventId: a UUIDv7 with the base time, the same for the same (base, tag, offset), ordered by offset', () => {
    const tag = idStreamTag('web-01', 'file', '2049:1234', 0, 1_763_805_600_123);
    const a = offsetEventId(1_763_805_600_123, tag, 0)!;
    const b = offsetEventId(1_763_805_600_123, tag, 17)!;
    const c = offsetEventId(1_763_805_600_123, tag, MAX_ID_OFFSET)!;
    for (const id of [a, b, c]) {
      expect(isUuidV7(id)).toBe(true);
      expect(uuidV7Timestamp(id)).toBe(1_763_805_600_123);
    }
    expect(offsetEventId(1_763_805_600_123, tag, 17)).toBe(b);
    expect(a < b && b < c).toBe(true);
    // The last 42 bits are the offset; the tag fills rand_a and the top of rand_b.
    const n = BigInt(`0x${b.replace(/-/g, '')}`);
    expect(Number(n & ((1n << 42n) - 1n))).toBe(17);
    expect(Number((n >> 64n) & 0xfffn)).toBe(tag >>> 20);
    expect(Number((n >> 62n) & 3n)).toBe(2);
    expect(Number((n >> 42n) & 0xfffffn)).toBe(tag & 0xfffff);
    expect(offsetEventId(1_763_805_600_123, tag, MAX_ID_OFFSET + 1)).toBeUndefined();
    expect(offsetEventId(1_763_805_600_123, tag, -1)).toBeUndefined();
    // Another stream (tag) starting in the same millisecond never shares an id.
    const other = idStreamTag('web-01', 'file', '2049:1235', 0, 1_763_805_600_123);
    expect(other).not.toBe(tag);
    expect(offsetEventId(1_763_805_600_123, other, 17)).not.toBe(b);
  });

  it('keyedEventId: a UUIDv7 with the record time, a function of the key', () => {
    const id = keyedEventId(1_763_805_600_123, 's=abc;i=1;b=def');
    expect(isUuidV7(id)).toBe(true);
    expect(uuidV7Timestamp(id)).toBe(1_763_805_600_123);
    expect(keyedEventId(1_763_805_600_123, 's=abc;i=1;b=def')).toBe(id);
    expect(keyedEventId(1_763_805_600_123, 's=abc;i=2;b=def')).not.toBe(id);
  });
});

describe('sourceEventId (ADR 0015: UUIDv8, SHA-256 name-based, RFC 9562 B.2)', () => {
  it('is a UUIDv8 with the RFC 9562 variant, a function of (source, id) only', () => {
    const id = sourceEventId('web-01\0http\u000010.0.0.1', 'order-42');
    expect(isUuidV8(id)).toBe(true);
    expect(isUuidV7(id)).toBe(false);
    const b = bytes(id);
    expect(b.readUInt8(6) >> 4).toBe(8);
    expect(b.readUInt8(8) >> 6).toBe(0b10);
    expect(sourceEventId('web-01\0http\u000010.0.0.1', 'order-42')).toBe(id);
    // The first 16 bytes of SHA-256 over the documented name, version and variant bits set.
    const d = createHash('sha256').update('backlog/source-event-id\0web-01\0http\u000010.0.0.1\0order-42').digest();
    d[6] = 0x80 | (d[6]! & 0x0f);
    d[8] = 0x80 | (d[8]! & 0x3f);
    expect(id.replace(/-/g, '')).toBe(d.subarray(0, 16).toString('hex'));
  });

  it('differs by source and by id, and cannot be steered by moving text between them', () => {
    const ids = new Set([
      sourceEventId(sourceIdentity('h', 'http', '10.0.0.1'), 'x'),
      sourceEventId(sourceIdentity('h', 'http', '10.0.0.2'), 'x'),
      sourceEventId(sourceIdentity('h', 'http', '10.0.0.1'), 'y'),
      sourceEventId(sourceIdentity('h2', 'http', '10.0.0.1'), 'x'),
      sourceEventId(sourceIdentity('h', 'json_tcp', '10.0.0.1'), 'x'),
      sourceEventId(sourceIdentity('h', 'http', ''), '10.0.0.1\0x'),
    ]);
    expect(ids.size).toBe(6);
  });
});
