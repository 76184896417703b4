import { describe, expect, it } from 'vitest';
import {
  DEFAULT_MAX_DATAGRAM_BYTES,
  MAX_ACCEPTED_DATAGRAM_BYTES,
  type DatagramHeader,
  type LiveEventLike,
  decodeDatagram,
  encodeDatagram,
  encodeDatagramJson,
  readDatagramHeader,
} from './live-datagram';

const header: DatagramHeader = { host: 'web-01', run: 'r-01_x', seq: 42, sent: 1_795_341_600_123 };
const event: LiveEventLike = {
  '@timestamp': '2026-11-22T10:00:00.123Z',
  message: 'GET /index.html 200 "quoted" \\ é ☃ 😀',
  host: { name: 'web-01' },
  service: { name: 'nginx' },
  log: { level: 'info' },
  labels: { env: 'dev' },
};

function decoded(buf: Buffer) {
  const r = decodeDatagram(buf);
  if (typeof r === 'string') throw new Error(`rejected: ${r}`);
  return r;
}

describe('live datagram: what the encoder writes the decoder reads back', () => {
  it('round-trips header and event, and the fast header read agrees with the full decode', () => {
    const enc = encodeDatagram(event, header);
    if (!enc.ok) throw new Error('not encoded');
    expect(enc.truncated).toBe(false);
    const { d, raw } = decoded(enc.buf);
    expect(d).toEqual({ ...header, event });
    expect(raw).toBe(enc.buf);
    expect(readDatagramHeader(enc.buf)).toEqual(header);
  });

  it('the pre-serialized path writes the same bytes, and they decode the same', () => {
    const a = encodeDatagram(event, header);
    const b = encodeDatagramJson(JSON.stringify(event), () => event, header);
    expect(a.ok && b.ok && a.buf.equals(b.buf)).toBe(true);
  });

  it('a cut event still decodes, within the byte cap, and says how long its message was', () => {
    const big: LiveEventLike = { ...event, message: 'x'.repeat(5000), event: { original: 'y'.repeat(3000) }, fields: { a: 'z'.repeat(2000) } };
    const enc = encodeDatagram(big, header);
    if (!enc.ok) throw new Error('not encoded');
    expect(enc.buf.length).toBeLessThanOrEqual(DEFAULT_MAX_DATAGRAM_BYTES);
    const raw = JSON.parse(enc.buf.toString('utf8')) as { truncated?: number; stripped?: string[] };
    expect(raw.truncated).toBe(5000);
    expect(raw.stripped).toEqual(expect.arrayContaining(['event.original', 'fields']));
    const { d } = decoded(enc.buf);
    expect(d.host).toBe(header.host);
    expect(d.seq).toBe(header.seq);
    expect(String(d.event.message)).toMatch(/^x+$/);
    expect(readDatagramHeader(enc.buf)).toEqual(header);
  });

  it('a host name with characters JSON escapes takes the slow header path and still reads back', () => {
    const h = { ...header, host: 'wéb "01"' };
    const enc = encodeDatagram(event, h);
    if (!enc.ok) throw new Error('not encoded');
    expect(decoded(enc.buf).d.host).toBe(h.host);
    expect(readDatagramHeader(enc.buf)).toMatchObject(h);
  });

  it('an event that cannot fit is not encoded; what no encoder writes is rejected with its reason', () => {
    expect(encodeDatagram(event, { ...header, host: 'h'.repeat(2000) })).toEqual({ ok: false, reason: 'oversize' });
    const enc = encodeDatagram(event, header);
    if (!enc.ok) throw new Error('not encoded');
    const text = enc.buf.toString('utf8');
    expect(decodeDatagram(Buffer.from(text.replace('"v":1', '"v":2')))).toBe('version');
    expect(decodeDatagram(Buffer.from(text.replace('"run":"r-01_x"', '"run":"a:b"')))).toBe('header');
    expect(decodeDatagram(Buffer.from(text.replace('"seq":42', '"seq":-1')))).toBe('header');
    expect(decodeDatagram(Buffer.from(text.slice(0, -1)))).toBe('not_json');
    expect(decodeDatagram(Buffer.from('{"v":1,"host":"h","run":"r","seq":1,"sent":2,"event":[]}'))).toBe('event');
    expect(decodeDatagram(Buffer.alloc(MAX_ACCEPTED_DATAGRAM_BYTES + 1, 0x20))).toBe('too_large');
    expect(readDatagramHeader(Buffer.from('nope'))).toBeUndefined();
  });
});
