import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '@backlog/testing';
import { CollectingSink, closed, drip, expectAccounted, hostileRecord, rng, rssMiB, tcpConnect, testContext } from '../shared/test-kit';
import { type LogEvent, sourceEventId, sourceIdentity } from '@backlog/core-event';
import { type JsonTcpInput, jsonTcpInput } from './index';

const inputs: JsonTcpInput[] = [];
async function start(sink: CollectingSink, extra: Record<string, unknown> = {}) {
  const input = jsonTcpInput.create(jsonTcpInput.configSchema.parse({ type: 'json_tcp', port: 0, ...extra }), testContext(sink));
  inputs.push(input);
  await input.start();
  return { input, port: input.address()?.port ?? 0 };
}
afterEach(async () => {
  for (const i of inputs.splice(0)) await i.stop(Date.now() + 2000);
});

function send(port: number, data: Buffer | string): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => s.end(data));
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

describe('json_tcp', () => {
  it('defaults: 127.0.0.1:5170, json; bounded in connections (in all and per address) and in time (idle, partial line)', () => {
    expect(jsonTcpInput.configSchema.parse({ type: 'json_tcp' })).toMatchObject({
      host: '127.0.0.1',
      port: 5170,
      format: 'json',
      maxConnections: 1024,
      maxConnectionsPerAddress: 256,
      idleTimeoutMs: 300_000,
      partialRecordTimeoutMs: 30_000,
    });
  });

  it('slow drip: a line sent one byte per write over a real socket is held in one growable buffer, copied linearly', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { maxLineBytes: 64 * 1024, partialRecordTimeoutMs: 600_000 });
    const line = Buffer.from(JSON.stringify({ message: `drip ${'x'.repeat(3960)}` }));
    const sock = await tcpConnect(port);
    await drip(sock, line);
    await waitFor('every byte read', () => (input.listener.connectionStats()[0]?.length ?? 0) === line.length, 5000, 10);
    const [c] = input.listener.connectionStats();
    // The test is only meaningful if the bytes really came as many small reads.
    expect(c!.reads).toBeGreaterThan(line.length / 4);
    // One buffer, grown geometrically: a handful of allocations, not one per read, and capacity ≤ 2 × the line.
    expect(c!.allocations).toBeLessThanOrEqual(8);
    expect(c!.capacity).toBeLessThanOrEqual(2 * line.length);
    // Linear work: every byte copied a bounded number of times (append + growth moves), whatever the read count.
    expect(c!.copiedBytes).toBeLessThanOrEqual(3 * line.length);
    sock.end('\n');
    await waitFor('the line', () => sink.events.length === 1, 5000, 10);
    expect(sink.events[0]).toMatchObject({ message: `drip ${'x'.repeat(3960)}` });
    expect(sink.events[0]?.labels.partial_frame).toBeUndefined();
    expectAccounted(input.core.stats);
  });

  it('a line started and not finished within partialRecordTimeoutMs closes the connection; what came is kept, flagged; complete lines sent slowly are fine', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { partialRecordTimeoutMs: 300, idleTimeoutMs: 0 });
    const slow = await tcpConnect(port);
    const steady = await tcpConnect(port);
    slow.write('{"message":"never fin');
    for (let i = 0; i < 6; i++) {
      steady.write(`{"message":"steady ${i}"}\n`);
      await sleep(100);
    }
    await closed(slow);
    await sleep(400);
    expect(steady.destroyed).toBe(false);
    expect(input.listener.connections).toBe(1);
    await waitFor('seven events', () => sink.events.length === 7, 5000, 10);
    const cut = sink.events.find((e) => e.labels.partial_frame);
    expect(cut).toMatchObject({ message: '{"message":"never fin', labels: { partial_frame: 'true', parse_error: expect.any(String) } });
    expect(Object.fromEntries(input.listener.closed)).toEqual({ partial_timeout: 1 });
    steady.end();
    await closed(steady);
    expect(Object.fromEntries(input.listener.closed)).toEqual({ partial_timeout: 1, end: 1 });
    expectAccounted(input.core.stats);
  });

  it('an idle connection is closed after idleTimeoutMs and counted', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { idleTimeoutMs: 200 });
    const sock = await tcpConnect(port);
    sock.write('{"message":"then silence"}\n');
    await closed(sock);
    expect(Object.fromEntries(input.listener.closed)).toEqual({ idle_timeout: 1 });
    expect(sink.events.map((e) => e.message)).toEqual(['then silence']);
  });

  it('refuses connections beyond the per-address and global caps, counting each by reason', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { maxConnections: 3, maxConnectionsPerAddress: 2 });
    const a = [await tcpConnect(port, '127.0.0.1'), await tcpConnect(port, '127.0.0.1')];
    await waitFor('two connections', () => input.listener.connections === 2, 5000, 10);
    const third = await tcpConnect(port, '127.0.0.1');
    await closed(third);
    expect(Object.fromEntries(input.listener.refused)).toEqual({ max_connections_per_address: 1 });
    const other = await tcpConnect(port, '127.0.0.2');
    await waitFor('three connections', () => input.listener.connections === 3, 5000, 10);
    const over = await tcpConnect(port, '127.0.0.3');
    await closed(over);
    await waitFor('second refusal', () => input.listener.refusedConnections === 2, 5000, 10);
    expect(Object.fromEntries(input.listener.refused)).toEqual({ max_connections_per_address: 1, max_connections: 1 });
    // The served connections still work.
    other.end('{"message":"still served"}\n');
    await waitFor('an event', () => sink.events.length === 1, 5000, 10);
    for (const s of a) s.destroy();
  });

  it('reads NDJSON (CRLF too, blank lines skipped, a last line without LF kept) and flags what is not JSON', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink);
    await send(port, '{"message":"one","level":"error","service":"api"}\r\n\n{"msg":"two","host":"web-02","user":"ann"}\nnot json\n{"message":"last"}');
    await waitFor('four events', () => sink.events.length === 4, 5000, 10);
    const [a, b, c, d] = sink.events;
    expect(a).toMatchObject({ message: 'one', log: { level: 'error' }, service: { name: 'api' }, labels: { input: 'json_tcp' } });
    expect(b).toMatchObject({ message: 'two', host: { name: 'web-02' }, fields: { user: 'ann' } });
    expect(c).toMatchObject({ message: 'not json', labels: { parse_error: expect.stringMatching(/^json:/) } });
    expect(d).toMatchObject({ message: 'last' });
    expect(d?.labels.partial_frame).toBeUndefined();
    expect(expectAccounted(input.core.stats)).toMatchObject({ received: 4, emitted: 4 });
  });

  it('truncates and flags an oversized line, and the next line is intact', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { maxLineBytes: 1024 });
    await send(port, `{"message":"${'x'.repeat(100_000)}"}\n{"message":"after"}\n`);
    await waitFor('two events', () => sink.events.length === 2, 5000, 10);
    expect(sink.events[0]?.labels).toMatchObject({ truncated: expect.stringContaining('line'), original_bytes: '100014' });
    expect(sink.events[1]).toMatchObject({ message: 'after' });
    expectAccounted(input.core.stats);
  });

  it('hostile: 10,000 malformed lines over 10 connections', async () => {
    const sink = new CollectingSink(100);
    const { input, port } = await start(sink, { maxLineBytes: 256 * 1024 });
    const rand = rng(8259);
    const rss0 = rssMiB();
    let expected = 0;
    await Promise.all(
      Array.from({ length: 10 }, (_, c) => {
        const parts: Buffer[] = [];
        for (let i = c; i < 10_000; i += 10) {
          let rec = hostileRecord(rand, i);
          if (i % 1000 === 5) rec = Buffer.alloc(3 * 1024 * 1024, 0x7b); // 3 MB of '{'
          // A record made only of LFs or blanks is no record; everything else is one line.
          const lines = rec
            .toString('latin1')
            .split('\n')
            .filter((l) => l.replace(/[ \t\r]/g, '').length > 0);
          expected += lines.length;
          parts.push(rec, Buffer.from('\n'));
        }
        return send(port, Buffer.concat(parts));
      }),
    );
    const t0 = Date.now();
    await waitFor(`${expected} lines`, () => input.core.stats.received >= expected, 15_000, 10).catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(input.core.stats)} after ${Date.now() - t0} ms`);
    });
    await waitFor('closed', () => input.listener.connections === 0, 5000, 10);
    const acc = expectAccounted(input.core.stats);
    expect(acc.received).toBe(expected);
    expect(acc.dropped).toBe(0);
    expect(sink.count).toBe(expected);
    expect(input.core.stats.flagged.get('parse_error') ?? 0).toBeGreaterThan(expected / 2);
    expect(rssMiB() - rss0).toBeLessThan(400);
  });

  it('the namespace of an id a line names is the remote address of its connection (ADR 0015)', async () => {
    const sink = new CollectingSink();
    const { port } = await start(sink);
    const line = '{"event":{"id":"same"},"message":"x"}\n';
    for (const localAddress of ['127.0.0.1', '127.0.0.2']) {
      await new Promise<void>((resolve, reject) => {
        const s = connect({ host: '127.0.0.1', port, localAddress }, () => s.end(line));
        s.on('close', () => resolve());
        s.on('error', reject);
      });
    }
    await waitFor('two events', () => sink.events.length === 2, 10_000, 10);
    const ids = sink.events.map((e) => (e as LogEvent).event.id);
    expect(ids).toEqual([sourceEventId(sourceIdentity('test-host', 'json_tcp', '127.0.0.1'), 'same'), sourceEventId(sourceIdentity('test-host', 'json_tcp', '127.0.0.2'), 'same')]);
  });
});
