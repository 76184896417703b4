// The listener-wide byte budget of the TCP inputs (ADR 0020, addendum): however many connections each hold
// a large unfinished record (a slow-drip sender, or one that stopped mid-line), the bytes held across the
// listener stay within maxBufferedBytes plus one record. Past it the connection holding the most is closed
// (counted `max_buffered_bytes`) and what it sent becomes an event flagged `partial_frame`; senders that
// finish their records are served throughout. Real sockets over loopback.
import type { Socket } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { type JsonTcpInput, jsonTcpInput } from '../json_tcp';
import { type SyslogTcpInput, syslogTcpInput } from '../syslog_tcp';
import { sleep, waitFor } from '@backlog/testing';
import { CollectingSink, expectAccounted, tcpConnect, testContext } from './test-kit';

const started: (JsonTcpInput | SyslogTcpInput)[] = [];
const sockets: Socket[] = [];
afterEach(async () => {
  for (const s of sockets.splice(0)) s.destroy();
  for (const i of started.splice(0)) await i.stop(Date.now() + 2000);
});

/** Connects, writes `head` at once, then one more byte every 50 ms (never the end of the record) until closed. */
async function stallMidRecord(port: number, head: Buffer, dripByte: string): Promise<Socket> {
  const s = await tcpConnect(port);
  sockets.push(s);
  s.on('error', () => undefined);
  s.write(head);
  const t = setInterval(() => {
    if (!s.destroyed) s.write(dripByte);
  }, 50);
  s.on('close', () => clearInterval(t));
  return s;
}

/** Sends a complete line every 20 ms until stopped; resolves with how many it sent. */
function steady(sock: Socket, line: (i: number) => string): { stop(): Promise<number> } {
  let i = 0;
  const t = setInterval(() => sock.write(line(i++)), 20);
  return {
    stop: async () => {
      clearInterval(t);
      await sleep(50);
      return i;
    },
  };
}

describe('the TCP inputs hold unfinished records to a listener-wide byte budget', () => {
  it('json_tcp: eight senders each stalled mid-way through a 60 KiB line, budget 256 KiB: the largest are closed, their parts kept and flagged; a steady sender is served', async () => {
    const sink = new CollectingSink();
    const BUDGET = 256 * 1024;
    const MAX_LINE = 64 * 1024;
    const input = jsonTcpInput.create(
      jsonTcpInput.configSchema.parse({ type: 'json_tcp', port: 0, maxLineBytes: MAX_LINE, maxBufferedBytes: BUDGET, partialRecordTimeoutMs: 600_000, idleTimeoutMs: 0 }),
      testContext(sink),
    );
    started.push(input);
    await input.start();
    const port = input.address()?.port ?? 0;
    const ok = await tcpConnect(port);
    sockets.push(ok);
    const s = steady(ok, (i) => `{"message":"steady ${i}"}\n`);

    const head = Buffer.from(`{"message":"${'x'.repeat(60 * 1024)}`);
    for (let i = 0; i < 8; i++) {
      await stallMidRecord(port, head, 'y');
      // One at a time: each one's 60 KiB is read before the next connects.
      await waitFor(`sender ${i} read`, () => input.listener.bufferedBytes.now >= Math.min(i + 1, 4) * head.length, 5000, 10);
    }
    // 8 × 60 KiB would be 480 KiB; 4 × 60 KiB fit: four are closed, four go on dripping.
    await waitFor('four closed for the budget', () => (input.listener.closed.get('max_buffered_bytes') ?? 0) === 4, 5000, 10);
    await sleep(300);
    const sent = await s.stop();
    ok.end();
    await waitFor('every steady line', () => sink.events.filter((e) => e.message.startsWith('steady')).length === sent, 5000, 10);

    const b = input.listener.bufferedBytes;
    expect(b.limit).toBe(BUDGET);
    // Within the budget plus one record (the read that crossed it) at every moment, and within the budget now.
    expect(b.peak).toBeLessThanOrEqual(BUDGET + MAX_LINE);
    expect(b.now).toBeLessThanOrEqual(BUDGET);
    expect(b.now).toBeGreaterThanOrEqual(4 * head.length);
    expect(Object.fromEntries(input.listener.closed)).toMatchObject({ max_buffered_bytes: 4 });
    await waitFor('the steady sender gone, four stalled ones left', () => input.listener.connections === 4, 5000, 10);
    // What each closed sender sent of its line is kept, flagged: nothing accepted was dropped.
    const cut = sink.events.filter((e) => e.labels.partial_frame);
    expect(cut).toHaveLength(4);
    for (const e of cut) {
      expect(e.message.startsWith(head.toString())).toBe(true);
      expect(e.labels.parse_error).toBeDefined();
    }
    expect(sink.events.filter((e) => e.message.startsWith('steady') && e.labels.partial_frame === undefined)).toHaveLength(sent);
    expect(expectAccounted(input.core.stats).dropped).toBe(0);
  });

  it('syslog_tcp: octet-counted frames left unfinished by eight senders, budget 64 KiB: the same, with the frame kept as FRAME_EOF, flagged', async () => {
    const sink = new CollectingSink();
    const BUDGET = 64 * 1024;
    const MAX_FRAME = 16 * 1024;
    const input = syslogTcpInput.create(
      syslogTcpInput.configSchema.parse({ type: 'syslog_tcp', port: 0, maxFrameBytes: MAX_FRAME, maxBufferedBytes: BUDGET, partialRecordTimeoutMs: 600_000, idleTimeoutMs: 0 }),
      testContext(sink),
    );
    started.push(input);
    await input.start();
    const port = input.address()?.port ?? 0;
    const ok = await tcpConnect(port);
    sockets.push(ok);
    const msg = (text: string) => `<134>1 2026-12-07T10:00:00.000Z web-01 app 1 - - ${text}`;
    const s = steady(ok, (i) => {
      const m = msg(`steady ${i}`);
      return `${Buffer.byteLength(m)} ${m}`;
    });

    // Each announces a 16,000-byte frame and sends 12 KiB of it.
    const body = msg('z'.repeat(12 * 1024));
    const head = Buffer.from(`16000 ${body}`);
    for (let i = 0; i < 8; i++) {
      await stallMidRecord(port, head, 'z');
      await waitFor(`sender ${i} read`, () => input.listener.bufferedBytes.now >= Math.min(i + 1, 5) * head.length, 5000, 10);
    }
    // 8 × 12 KiB would be 96 KiB; five fit in 64 KiB: three are closed.
    await waitFor('three closed for the budget', () => (input.listener.closed.get('max_buffered_bytes') ?? 0) === 3, 5000, 10);
    await sleep(300);
    const sent = await s.stop();
    ok.end();
    await waitFor('every steady frame', () => sink.events.filter((e) => e.message.startsWith('steady')).length === sent, 5000, 10);

    const b = input.listener.bufferedBytes;
    expect(b.peak).toBeLessThanOrEqual(BUDGET + MAX_FRAME);
    expect(b.now).toBeLessThanOrEqual(BUDGET);
    await waitFor('the steady sender gone, five stalled ones left', () => input.listener.connections === 5, 5000, 10);
    const cut = sink.events.filter((e) => e.labels.partial_frame);
    expect(cut).toHaveLength(3);
    for (const e of cut) expect(e.message).toContain('z'.repeat(1000));
    expect(expectAccounted(input.core.stats).dropped).toBe(0);
  });

  it('the budget must hold two whole records; by default it is 16 MiB or 4 records', () => {
    const bad = jsonTcpInput.configSchema.safeParse({ type: 'json_tcp', maxLineBytes: 1024 * 1024, maxBufferedBytes: 1024 * 1024 });
    expect(bad.success).toBe(false);
    expect(bad.error?.issues.map((i) => [i.path.join('.'), i.message])).toEqual([['maxBufferedBytes', expect.stringContaining('at least twice maxLineBytes (2097152)')]]);
    expect(syslogTcpInput.configSchema.safeParse({ type: 'syslog_tcp', maxFrameBytes: 65_536, maxBufferedBytes: 100_000 }).success).toBe(false);
    expect(syslogTcpInput.configSchema.safeParse({ type: 'syslog_tcp', maxFrameBytes: 65_536, maxBufferedBytes: 131_072 }).success).toBe(true);
  });
});
