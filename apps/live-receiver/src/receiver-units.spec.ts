import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { generateToken } from '@backlog/platform-config';
import { ClientHub, type ClientSocket } from './clients';
import { configuredToken, liveReceiverConfigSchema, loadLiveReceiverConfig } from './config';
import { decodeDatagram, readDatagramHeader as readHeader } from '@backlog/core-codec';
import { dedupeId } from './dedupe';
import { compileClientFilter, parseClientFilter } from './filter';
import { GapCounter } from './gaps';
import { logIoText } from './logio';

const tick = () => new Promise((r) => setImmediate(r));

describe('decodeDatagram', () => {
  it('reads a datagram as the spec shows it', () => {
    // The harvester's encoder is checked against this decoder in tests/live (an app may not import another app).
    const r = decodeDatagram(Buffer.from(JSON.stringify({ v: 1, host: 'h1', run: 'run_1', seq: 3, sent: 5, event: { message: 'a\nb', host: { name: 'x' } } })));
    if (typeof r === 'string') throw new Error(r);
    expect(r.d).toMatchObject({ host: 'h1', run: 'run_1', seq: 3, sent: 5, event: { message: 'a\nb' } });
    expect(dedupeId(r.d)).toBe('run_1:3:h1');
  });
  it.each([
    ['garbage', Buffer.from('\x00\xff garbage'), 'not_json'],
    ['array', Buffer.from('[1,2]'), 'not_json'],
    ['version', Buffer.from('{"v":2,"host":"h","run":"r","seq":1,"sent":1,"event":{}}'), 'version'],
    ['negative seq', Buffer.from('{"v":1,"host":"h","run":"r","seq":-1,"sent":1,"event":{}}'), 'header'],
    ['run with colon', Buffer.from('{"v":1,"host":"h","run":"a:b","seq":1,"sent":1,"event":{}}'), 'header'],
    ['no event', Buffer.from('{"v":1,"host":"h","run":"r","seq":1,"sent":1,"event":"x"}'), 'event'],
    ['huge', Buffer.alloc(20_000, 32), 'too_large'],
  ])('rejects %s', (_n, buf, reason) => {
    expect(decodeDatagram(buf)).toBe(reason);
  });
  it('turns whitespace newlines into spaces (the fan-out separator)', () => {
    const r = decodeDatagram(Buffer.from('{"v":1,\n"host":"h","run":"r","seq":1,"sent":1,"event":{}}'));
    expect(typeof r !== 'string' && !r.raw.includes(0x0a)).toBe(true);
  });
});

describe('readHeader', () => {
  it('reads the harvester layout without parsing, and any other layout by parsing', () => {
    expect(readHeader(Buffer.from('{"v":1,"host":"web-01","run":"r1","seq":42,"sent":1700000000000,"event":{}}'))).toEqual({ host: 'web-01', run: 'r1', seq: 42, sent: 1_700_000_000_000 });
    expect(readHeader(Buffer.from('{"event":{},"seq":1,"sent":2,"run":"r","host":"h\\u00e9","v":1}'))).toMatchObject({ host: 'hé', seq: 1 });
    expect(readHeader(Buffer.from('nope'))).toBeUndefined();
  });
});

describe('client filter', () => {
  const e = { message: 'Upstream TIMED out', host: { name: 'web-01' }, service: { name: 'nginx' }, log: { level: 'warn' }, labels: { env: 'prod' } };
  it('matches lists, level and text', () => {
    expect(compileClientFilter({})(e)).toBe(true);
    expect(compileClientFilter({ env: 'dev, prod', host: 'web-01', service: 'nginx', level: 'warning', text: 'timed' })(e)).toBe(true);
    expect(compileClientFilter({ level: 'error' })(e)).toBe(false);
    expect(compileClientFilter({ text: 'nope' })(e)).toBe(false);
    expect(compileClientFilter({ host: 'web-02' })(e)).toBe(false);
  });
  it('ignores what is not a filter', () => {
    expect(parseClientFilter({ env: 'prod', token: 'secret', level: 5, text: 'x'.repeat(1000) })).toEqual({ env: 'prod' });
  });
});

describe('GapCounter', () => {
  it('counts skipped and late sequence numbers per run', () => {
    const g = new GapCounter();
    for (const s of [10, 11, 14, 12, 15]) g.observe('h', 'r', s);
    g.observe('h', 'r2', 0);
    expect({ skipped: g.skipped, late: g.late, missing: g.missing, runs: g.runs }).toEqual({ skipped: 2, late: 1, missing: 1, runs: 2 });
  });
  it('is bounded', () => {
    const g = new GapCounter(3);
    for (let i = 0; i < 10; i++) g.observe('h', `r${i}`, 0);
    expect(g.runs).toBe(3);
    g.sweep(Date.now() + 3_600_000);
    expect(g.runs).toBe(0);
  });
});

describe('ClientHub', () => {
  class FakeSocket implements ClientSocket {
    bufferedAmount = 0;
    readonly sent: unknown[] = [];
    send(data: string | Buffer) {
      this.sent.push(JSON.parse(data.toString()));
    }
  }
  const ev = (i: number, level = 'info') => ({ raw: Buffer.from(JSON.stringify({ seq: i, event: { message: `m${i}`, log: { level } } })) });

  it('sends matching events in one message per turn', async () => {
    const hub = new ClientHub({ queueEvents: 100, highWaterBytes: 1000, maxBatch: 50 });
    const a = new FakeSocket();
    const b = new FakeSocket();
    hub.add(a, {});
    hub.add(b, { level: 'error' });
    hub.deliver([ev(1), ev(2, 'error'), ev(3)]);
    await tick();
    expect(a.sent).toEqual([{ type: 'events', events: [{ seq: 1, event: { message: 'm1', log: { level: 'info' } } }, expect.objectContaining({ seq: 2 }), expect.objectContaining({ seq: 3 })] }]);
    expect(b.sent).toEqual([{ type: 'events', events: [expect.objectContaining({ seq: 2 })] }]);
    hub.close();
  });

  it('coalesces under load: at most one message per flushIntervalMs, the first event after a quiet spell at once', async () => {
    const hub = new ClientHub({ queueEvents: 1000, highWaterBytes: 1 << 20, maxBatch: 1000, flushIntervalMs: 500 });
    const a = new FakeSocket();
    hub.add(a, {});
    hub.deliver([ev(0)]);
    await tick();
    expect(a.sent).toHaveLength(1); // not held back
    for (let i = 1; i <= 10; i++) {
      hub.deliver([ev(i)]);
      await tick();
    }
    expect(a.sent).toHaveLength(1); // within the interval: queued
    const t0 = Date.now();
    while (a.sent.length < 2 && Date.now() - t0 < 3000) await new Promise((r) => setTimeout(r, 10));
    expect(a.sent).toHaveLength(2);
    expect((a.sent[1] as { events: { seq: number }[] }).events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    hub.close();
  });

  it('a client with a window gets at most that many unacknowledged messages; beyond, its queue and then a marker', async () => {
    const hub = new ClientHub({ queueEvents: 5, highWaterBytes: 1 << 20, maxBatch: 2 });
    const page = new FakeSocket();
    const plain = new FakeSocket();
    const p = hub.add(page, {});
    hub.add(plain, {});
    hub.setWindow(p, 2);
    for (let i = 0; i < 12; i++) {
      hub.deliver([ev(i)]);
      await tick();
    }
    // Two messages out, unacknowledged; five queued; the rest dropped into one marker.
    expect(page.sent.map((m) => (m as { events: { seq: number }[] }).events.map((e) => e.seq))).toEqual([[0], [1]]);
    expect(plain.sent.flatMap((m) => (m as { events: unknown[] }).events)).toHaveLength(12); // no window: not held back
    hub.ack(p, 2);
    await tick();
    expect(page.sent).toHaveLength(4); // the window again: two more messages (2 events each)
    hub.ack(p, 10);
    await tick();
    const seen = page.sent.map((m) => m as { type: string; count?: number; events?: { seq: number }[] });
    expect(seen.flatMap((m) => m.events?.map((e) => e.seq) ?? [])).toEqual([0, 1, 2, 3, 4, 5, 6]);
    expect(seen.at(-1)).toEqual({ type: 'dropped', count: 5 });
    hub.close();
  });

  it('framing "lines": the datagrams one per line under a one-line header, bytes unchanged', async () => {
    const hub = new ClientHub({ queueEvents: 100, highWaterBytes: 1 << 20, maxBatch: 50 });
    const raw: string[] = [];
    const c = hub.add({ bufferedAmount: 0, send: (d) => raw.push(d.toString()) }, {});
    hub.setFraming(c, 'lines');
    hub.deliver([ev(1), ev(2, 'error')]);
    await tick();
    expect(raw).toEqual([`{"type":"lines"}\n${ev(1).raw.toString()}\n${ev(2, 'error').raw.toString()}`]);
    const [head, ...lines] = (raw[0] as string).split('\n');
    expect(JSON.parse(head as string)).toEqual({ type: 'lines' });
    expect(lines.map((l) => (JSON.parse(l) as { seq: number }).seq)).toEqual([1, 2]);
    hub.close();
  });

  it('a stalled client gets a "N dropped" marker at the place of the loss; others are not held up', async () => {
    const dropped: number[] = [];
    const hub = new ClientHub({ queueEvents: 10, highWaterBytes: 1000, maxBatch: 4, onDropped: (n) => dropped.push(n) });
    const slow = new FakeSocket();
    const fast = new FakeSocket();
    slow.bufferedAmount = 5000; // the browser is not reading
    hub.add(slow, {});
    hub.add(fast, {});
    for (let i = 0; i < 25; i++) {
      hub.deliver([ev(i)]);
      await tick();
    }
    expect(fast.sent.flatMap((m) => (m as { events: unknown[] }).events)).toHaveLength(25);
    expect(slow.sent).toHaveLength(0);
    slow.bufferedAmount = 0; // it reads again: the retry timer drains its queue
    await new Promise((r) => setTimeout(r, 60));
    hub.deliver([ev(100)]); // arrives after the loss
    await tick();
    const seen = slow.sent.map((m) => m as { type: string; count?: number; events?: { seq: number }[] });
    expect(seen.map((m) => m.type)).toEqual(['events', 'events', 'events', 'dropped', 'events']);
    expect(seen.flatMap((m) => m.events?.map((e) => e.seq) ?? [])).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 100]);
    expect(seen[3]?.count).toBe(15);
    expect(dropped.reduce((x, y) => x + y, 0)).toBe(15);
    hub.close();
  });
});

describe('config', () => {
  it('defaults to loopback and DESIGN.md ports', () => {
    const c = liveReceiverConfigSchema.parse({});
    expect([c.udp.host, c.udp.port, c.http.host, c.http.port, c.metrics.port]).toEqual(['127.0.0.1', 5515, '127.0.0.1', 8082, 9106]);
  });
  it('takes the token from auth.tokenFile (0600 only), not both token and tokenFile', () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-token-'));
    const file = join(dir, 'token');
    const token = generateToken();
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    expect(configuredToken(loadLiveReceiverConfig({ BACKLOG_LIVE_RECEIVER_AUTH_TOKEN_FILE: file }))).toBe(token);
    expect(() => loadLiveReceiverConfig({ BACKLOG_LIVE_RECEIVER_AUTH_TOKEN_FILE: file, BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: generateToken() })).toThrow(/not both/);
    chmodSync(file, 0o640);
    expect(() => configuredToken(loadLiveReceiverConfig({ BACKLOG_LIVE_RECEIVER_AUTH_TOKEN_FILE: file }))).toThrow(/auth\.tokenFile: permissions 0640/);
    expect(() => loadLiveReceiverConfig({ BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: 'REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN' })).toThrow(/auth\.token: the token looks like a placeholder/);
  });
  it('lists every problem at once', () => {
    const r = liveReceiverConfigSchema.safeParse({ udp: { port: -1 }, auth: { token: 'short' }, nope: 1 });
    expect(r.success).toBe(false);
    expect(r.error?.issues.length).toBeGreaterThanOrEqual(3);
  });
});

describe('logIoText', () => {
  it('drops NUL bytes, the protocol terminator', () => {
    expect(logIoText({ host: 'h', run: 'r', seq: 1, sent: 1, event: { message: 'a\0b', service: { name: 'svc' }, log: { level: 'warn' } } })).toBe('WARN svc: ab');
  });
});
