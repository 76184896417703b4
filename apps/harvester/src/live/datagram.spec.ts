import { describe, expect, it } from 'vitest';
import { cutToFit, encodeDatagram, encodeDatagramJson, type LiveEventLike } from '@backlog/core-codec';
import { compileLiveFilter } from './filter';

const header = { host: 'web-01', run: 'r1', seq: 7, sent: 1_700_000_000_000 };
const ev = (message: string, extra: Partial<LiveEventLike> = {}): LiveEventLike => ({
  '@timestamp': '2026-11-22T10:00:00.123Z',
  event: { id: '0193a1f2-0000-7000-8000-000000000000' },
  host: { name: 'web-01' },
  service: { name: 'nginx' },
  log: { level: 'error' },
  message,
  labels: { env: 'prod', input: 'syslog_udp' },
  ...extra,
});

describe('encodeDatagram', () => {
  it('keeps a small event whole, header first', () => {
    const r = encodeDatagram(ev('upstream timed out'), header);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.truncated).toBe(false);
    const d = JSON.parse(r.buf.toString());
    expect(d).toMatchObject({ v: 1, host: 'web-01', run: 'r1', seq: 7, sent: header.sent, event: { message: 'upstream timed out' } });
    expect(d.truncated).toBeUndefined();
    expect(r.buf.toString().startsWith('{"v":1,"host":"web-01"')).toBe(true);
  });

  it.each([
    ['ascii', 'x'.repeat(5000)],
    ['quotes and control chars', '"\\\n\t\u0001'.repeat(2000)],
    ['multi-byte', 'é漢🙂'.repeat(1000)],
  ])('cuts a long message (%s) to fit 1,400 bytes and flags it', (_name, message) => {
    const r = encodeDatagram(ev(message), header);
    expect(r.ok).toBe(true);
    if (!r.ok) return;
    expect(r.buf.length).toBeLessThanOrEqual(1400);
    expect(r.buf.length).toBeGreaterThan(1300); // the cut uses the room there is
    expect(r.truncated).toBe(true);
    const d = JSON.parse(r.buf.toString('utf8'));
    expect(d.truncated).toBe(Buffer.byteLength(message));
    expect(message.startsWith(d.event.message)).toBe(true);
    expect(d.event.message).not.toMatch(/[\uD800-\uDBFF]$/);
  });

  it('strips event.original and fields before cutting the message', () => {
    const r = encodeDatagram(ev('short message', { event: { id: 'x', original: 'o'.repeat(3000) }, fields: { big: 'f'.repeat(3000) } }), header);
    expect(r.ok && r.truncated).toBe(true);
    if (!r.ok) return;
    const d = JSON.parse(r.buf.toString());
    expect(d.event.message).toBe('short message');
    expect(d.stripped).toEqual(['event.original', 'fields']);
    expect(d.event.event.original).toBeUndefined();
  });

  it('refuses an event that cannot fit even with an empty message', () => {
    expect(encodeDatagram(ev('m', { host: { name: 'h'.repeat(2000) } }), header)).toEqual({ ok: false, reason: 'oversize' });
  });

  it('honours a smaller limit', () => {
    const r = encodeDatagram(ev('y'.repeat(2000)), header, 600);
    expect(r.ok && r.buf.length <= 600).toBe(true);
  });
});

describe('cutToFit', () => {
  it('never exceeds the budget', () => {
    for (const s of ['abc', '"'.repeat(100), '🙂'.repeat(100), '\u0000'.repeat(50)]) {
      for (const budget of [0, 1, 5, 17, 100]) {
        const cut = cutToFit(s, budget);
        expect(Buffer.byteLength(JSON.stringify(cut)) - 2).toBeLessThanOrEqual(budget);
        expect(s.startsWith(cut)).toBe(true);
      }
    }
  });
});

describe('compileLiveFilter', () => {
  it('matches everything by default', () => {
    expect(compileLiveFilter()(ev('a'))).toBe(true);
  });
  it('combines env, host, service, level and regex', () => {
    const f = compileLiveFilter({ env: ['prod'], host: ['web-01'], service: ['nginx'], minLevel: 'warning', message: 'time[d]? out' });
    expect(f(ev('upstream timed out'))).toBe(true);
    expect(f(ev('upstream timed out', { log: { level: 'info' } }))).toBe(false);
    expect(f(ev('upstream timed out', { log: { level: 'WARN' } }))).toBe(true);
    expect(f(ev('all good'))).toBe(false);
    expect(f(ev('upstream timed out', { labels: { env: 'dev' } }))).toBe(false);
    expect(f(ev('upstream timed out', { service: { name: 'x' } }))).toBe(false);
  });
  it('rejects a bad regex and an unknown level', () => {
    expect(() => compileLiveFilter({ message: '(' })).toThrow(/regular expression/);
    expect(() => compileLiveFilter({ minLevel: 'loud' })).toThrow(/unknown level/);
  });
});

describe('encodeDatagramJson (an event that is already its JSON line)', () => {
  it.each([
    ['fits', ev('upstream timed out')],
    ['cut', ev('y'.repeat(5000), { fields: { a: '1' }, log: { level: 'error', syslog: { hostname: 'web-01' } } })],
    ['unicode cut', ev('ü😀'.repeat(900))],
  ])('gives the bytes encodeDatagram gives (%s), parsing the line only when it must cut', (_name, e) => {
    let parsed = 0;
    const json = JSON.stringify(e);
    const r = encodeDatagramJson(json, () => (parsed++, JSON.parse(json) as LiveEventLike), header);
    const want = encodeDatagram(e, header);
    expect(r).toEqual(want);
    expect(parsed).toBe(Buffer.byteLength(json) + 80 <= 1400 ? 0 : 1);
  });
});
