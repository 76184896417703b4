import { connect } from 'node:net';
import { afterEach, describe, expect, it } from 'vitest';
import { CollectingSink, expectAccounted, hostileRecord, rng, rssMiB, testContext, waitFor } from '../shared/test-kit';
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
  it('defaults: 127.0.0.1:5170, json', () => {
    expect(jsonTcpInput.configSchema.parse({ type: 'json_tcp' })).toMatchObject({ host: '127.0.0.1', port: 5170, format: 'json' });
  });

  it('reads NDJSON (CRLF too, blank lines skipped, a last line without LF kept) and flags what is not JSON', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink);
    await send(port, '{"message":"one","level":"error","service":"api"}\r\n\n{"msg":"two","host":"web-02","user":"ann"}\nnot json\n{"message":"last"}');
    await waitFor(() => sink.events.length === 4, 5000, 'four events');
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
    await waitFor(() => sink.events.length === 2, 5000, 'two events');
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
          const lines = rec.toString('latin1').split('\n').filter((l) => l.replace(/[ \t\r]/g, '').length > 0);
          expected += lines.length;
          parts.push(rec, Buffer.from('\n'));
        }
        return send(port, Buffer.concat(parts));
      }),
    );
    const t0 = Date.now();
    await waitFor(() => input.core.stats.received >= expected, 15_000, `${expected} lines`).catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(input.core.stats)} after ${Date.now() - t0} ms`);
    });
    await waitFor(() => input.listener.connections === 0, 5000, 'closed');
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
    await waitFor(() => sink.events.length === 2);
    const ids = sink.events.map((e) => (e as LogEvent).event.id);
    expect(ids).toEqual([sourceEventId(sourceIdentity('test-host', 'json_tcp', '127.0.0.1'), 'same'), sourceEventId(sourceIdentity('test-host', 'json_tcp', '127.0.0.2'), 'same')]);
  });
});
