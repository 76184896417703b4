import { execFile } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { gzipSync } from 'node:zlib';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '@backlog/testing';
import { CollectingSink, closed, expectAccounted, hostileRecord, rng, rssMiB, tcpConnect, testContext } from '../shared/test-kit';
import { type LogEvent, sourceEventId, sourceIdentity } from '@backlog/core-event';
import { type HttpInput, httpInput } from './index';

const run = promisify(execFile);
const inputs: HttpInput[] = [];
async function start(sink: CollectingSink, extra: Record<string, unknown> = {}) {
  const input = httpInput.create(httpInput.configSchema.parse({ type: 'http', port: 0, ...extra }), testContext(sink));
  inputs.push(input);
  await input.start();
  return { input, url: `http://127.0.0.1:${input.address()?.port ?? 0}` };
}
afterEach(async () => {
  for (const i of inputs.splice(0)) await i.stop(Date.now() + 2000);
});

const dir = mkdtempSync(join(tmpdir(), 'http-input-'));
function file(name: string, data: Buffer | string): string {
  const p = join(dir, name);
  writeFileSync(p, data);
  return p;
}

/** curl, the real client: returns status and body. */
async function curl(url: string, args: string[]): Promise<{ status: number; body: string; headers: string }> {
  const { stdout } = await run('curl', ['-sS', '-D', '-', '-o', '-', '-w', '\n%{http_code}', ...args, url], { maxBuffer: 64 * 1024 * 1024 });
  const lines = stdout.trimEnd().split('\n');
  const status = Number(lines.pop());
  const text = lines.join('\n');
  const split = text.indexOf('\r\n\r\n');
  return { status, headers: text.slice(0, split), body: text.slice(split + 4) };
}

describe('http', () => {
  it('defaults: 127.0.0.1:8080; bounded in size, records, concurrency, connections and time', () => {
    expect(httpInput.configSchema.parse({ type: 'http' })).toMatchObject({
      host: '127.0.0.1',
      port: 8080,
      maxBodyBytes: 10 * 1024 * 1024,
      maxDecompressedBytes: 8 * 1024 * 1024,
      maxRecordsPerRequest: 10_000,
      maxConcurrentRequests: 8,
      maxConnections: 1024,
      requestTimeoutMs: 30_000,
      headersTimeoutMs: 10_000,
      keepAliveTimeoutMs: 5_000,
    });
  });

  it('reads JSON, NDJSON and text content types (charset utf-8), and refuses others with 415 before reading the body', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink);
    const post = (type: string | undefined, body = '{"message":"m"}') => fetch(`${url}/logs`, { method: 'POST', headers: type === undefined ? {} : { 'content-type': type }, body: Buffer.from(body) });
    for (const type of [
      undefined,
      'application/json',
      'application/json; charset=UTF-8',
      'Application/JSON;charset="utf-8"',
      'application/vnd.acme.log+json',
      'application/x-ndjson',
      'application/ndjson',
      'application/jsonlines',
      'application/x-jsonlines',
      'application/jsonl',
      'text/plain',
      'text/plain; charset=us-ascii',
    ]) {
      const res = await post(type);
      expect([type, res.status, await res.json()]).toEqual([type, 202, { accepted: 1, flagged: 0 }]);
    }
    for (const type of [
      'application/x-www-form-urlencoded',
      'multipart/form-data; boundary=x',
      'application/octet-stream',
      'text/html',
      'application/json; charset=iso-8859-1',
      'text/plain; charset=utf-16',
    ]) {
      const res = await post(type);
      expect([type, res.status]).toEqual([type, 415]);
      expect(await res.json()).toMatchObject({ reason: 'unsupported_media_type', error: expect.stringMatching(/content-type|charset/) });
    }
    const gz = await fetch(`${url}/logs`, { method: 'POST', headers: { 'content-type': 'application/json', 'content-encoding': 'br' }, body: 'x' });
    expect(gz.status).toBe(415);
    expect(input.core.stats.dropped.get('unsupported_media_type')).toBe(7);
    expect(sink.events).toHaveLength(12);
    expectAccounted(input.core.stats);
  });

  it('refuses a request over maxRecordsPerRequest whole with 413 naming the reason and the limit; one at the limit is accepted', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink, { maxRecordsPerRequest: 100 });
    const post = async (path: string, type: string, body: Buffer | string, gzip = false) => {
      const res = await fetch(`${url}${path}`, { method: 'POST', headers: { 'content-type': type, ...(gzip ? { 'content-encoding': 'gzip' } : {}) }, body: gzip ? gzipSync(body) : Buffer.from(body) });
      return { status: res.status, body: (await res.json()) as Record<string, unknown> };
    };
    const lines = (n: number) => Array.from({ length: n }, (_, i) => `{"message":"r${i}"}\n`).join('');
    expect(await post('/logs', 'application/x-ndjson', lines(101))).toEqual({
      status: 413,
      body: { error: expect.stringContaining('at most 100'), reason: 'too_many_records', limit: 100, records: 101 },
    });
    expect(await post('/logs/batch', 'application/json', JSON.stringify(Array.from({ length: 101 }, (_, i) => ({ message: `e${i}` }))))).toMatchObject({
      status: 413,
      body: { reason: 'too_many_records', limit: 100, records: 101 },
    });
    // A million records from 3 KB of gzip are counted, never built.
    expect(await post('/logs/batch', 'application/json', `[${'{},'.repeat(999_999)}{}]`, true)).toMatchObject({ status: 413, body: { reason: 'too_many_records', records: 1_000_000 } });
    expect(await post('/logs', 'application/x-ndjson', '{}\n'.repeat(1_000_000), true)).toMatchObject({ status: 413, body: { reason: 'too_many_records', records: 1_000_000 } });
    expect(sink.events).toHaveLength(0);
    // Blank lines are not records; 100 records pass.
    expect(await post('/logs', 'application/x-ndjson', `\n \r\n${lines(100)}\n\n`)).toEqual({ status: 202, body: { accepted: 100, flagged: 0 } });
    expect(input.core.stats.dropped.get('too_many_records')).toBe(4);
    expect(expectAccounted(input.core.stats)).toMatchObject({ emitted: 100, dropped: 4 });
  });

  it('parses and writes a request in slices, and waits between slices while the sink says pause', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink);
    const sizes: number[] = [];
    // The sink fills up after the first slice of the request.
    sink.onWrite = (events) => {
      sizes.push(events.length);
      if (sizes.length === 1) sink.pause();
    };
    const body = Array.from({ length: 2000 }, (_, i) => ({ message: `s${i}` }));
    const answer = fetch(`${url}/logs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
    await waitFor('first slice', () => sizes.length === 1, 5000, 10);
    await sleep(300);
    // Still one slice in: the input waits for the sink instead of piling up the other 1,500 events.
    expect(sizes).toEqual([500]);
    sink.resume();
    const res = await answer;
    expect([res.status, await res.json()]).toEqual([202, { accepted: 2000, flagged: 0 }]);
    expect(sizes).toEqual([500, 500, 500, 500]);
    expect(sink.events.map((e) => e.message)).toEqual(body.map((b) => b.message));
    expectAccounted(input.core.stats);
  });

  it('answers 503 + Retry-After beyond maxConcurrentRequests, before reading the body, and counts it', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink, { maxConcurrentRequests: 1 });
    const { port } = input.address()!;
    // A request whose body is still arriving holds the only slot.
    const slow = await tcpConnect(port);
    slow.write('POST /logs HTTP/1.1\r\nhost: x\r\ncontent-type: application/x-ndjson\r\ncontent-length: 20\r\n\r\n{"message":');
    await waitFor('one request in progress', () => input.activeRequests === 1, 5000, 10);
    const refused = await fetch(`${url}/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"second"}' });
    expect(refused.status).toBe(503);
    expect(refused.headers.get('retry-after')).toBe('1');
    expect(await refused.json()).toMatchObject({ reason: 'too_many_requests' });
    let reply = '';
    slow.on('data', (d: Buffer) => (reply += d.toString()));
    slow.end('"first"}\n');
    await closed(slow);
    expect(reply).toMatch(/^HTTP\/1.1 202/);
    expect((await fetch(`${url}/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"second"}' })).status).toBe(202);
    expect(Object.fromEntries(input.refused)).toEqual({ too_many_requests: 1 });
    expect(sink.events.map((e) => e.message)).toEqual(['first', 'second']);
  });

  it('a sender that goes away mid-body frees its slot and is counted', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink, { maxConcurrentRequests: 1 });
    const { port } = input.address()!;
    for (const encoding of ['identity', 'gzip']) {
      const s = await tcpConnect(port);
      s.write(`POST /logs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-encoding: ${encoding}\r\ncontent-length: 1000\r\n\r\n`);
      s.write(encoding === 'gzip' ? gzipSync('{"message":"never all there"}').subarray(0, 12) : '{"message":"never');
      await waitFor('request in progress', () => input.activeRequests === 1, 5000, 10);
      s.destroy();
      await waitFor('slot freed', () => input.activeRequests === 0, 5000, 10);
    }
    expect((await fetch(`${url}/logs`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: '{"message":"next"}' })).status).toBe(202);
    expect(input.core.stats.dropped.get('bad_request')).toBe(2);
    expectAccounted(input.core.stats);
  });

  it('closes connections beyond maxConnections at once, and counts them', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink, { maxConnections: 2 });
    const { port } = input.address()!;
    const open = [await tcpConnect(port), await tcpConnect(port)];
    const third = await tcpConnect(port);
    await closed(third);
    await waitFor('refusal counted', () => input.refusedConnections === 1, 5000, 10);
    for (const s of open) s.destroy();
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) {
      await sleep(50);
      status = await fetch(`${url}/healthz`).then(
        (r) => r.status,
        () => 0,
      );
    }
    expect(status).toBe(200);
  });

  it('closes connections that send headers or bodies too slowly (408)', async () => {
    const sink = new CollectingSink();
    const { input } = await start(sink, { headersTimeoutMs: 300, requestTimeoutMs: 600 });
    const { port } = input.address()!;
    const reply = async (parts: string[]) => {
      const s = await tcpConnect(port);
      let text = '';
      s.on('data', (d: Buffer) => (text += d.toString()));
      for (const p of parts) s.write(p);
      await closed(s);
      return text;
    };
    expect(await reply(['POST /logs HTTP/1.1\r\nhost: x\r\n'])).toMatch(/^HTTP\/1.1 408/);
    expect(await reply(['POST /logs HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\ncontent-length: 100\r\n\r\n{"mess'])).toMatch(/^HTTP\/1.1 408/);
    expect(sink.events).toHaveLength(0);
  });

  it('a 4 MB array nested 2 million deep is one flagged record, not a crash', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink);
    const deep = `[${'['.repeat(2_000_000)}${']'.repeat(2_000_000)}]`;
    const res = await fetch(`${url}/logs/batch`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: deep });
    expect(res.status).toBe(202);
    expect(await res.json()).toEqual({ accepted: 1, flagged: 1 });
    expectAccounted(input.core.stats);
  });

  it('curl: JSON object, NDJSON, batch, gzip, healthz', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink);
    const h = ['-H', 'content-type: application/json'];
    expect(await curl(`${url}/logs`, [...h, '--data-binary', '{"message":"plain","level":"warn","service":"api"}'])).toMatchObject({ status: 202, body: '{"accepted":1,"flagged":0}\n' });
    expect(await curl(`${url}/logs`, ['-H', 'content-type: application/x-ndjson', '--data-binary', `@${file('a.ndjson', '{"message":"n1"}\n{"message":"n2"}\nbroken {\n')}`])).toMatchObject({
      status: 202,
      body: '{"accepted":3,"flagged":1}\n',
    });
    expect(await curl(`${url}/logs/batch`, [...h, '--data-binary', '[{"message":"b1"},{"message":"b2"},"<13>1 2026-11-22T10:00:00Z web-9 nginx 7 - - from a string"]'])).toMatchObject({
      status: 202,
      body: '{"accepted":3,"flagged":0}\n',
    });
    const gz = file('b.json.gz', gzipSync(JSON.stringify(Array.from({ length: 500 }, (_, i) => ({ message: `gz ${i}` })))));
    expect(await curl(`${url}/logs/batch`, [...h, '-H', 'content-encoding: gzip', '--data-binary', `@${gz}`])).toMatchObject({ status: 202, body: '{"accepted":500,"flagged":0}\n' });
    expect(await curl(`${url}/healthz`, [])).toMatchObject({ status: 200 });
    expect(sink.events.length).toBe(507);
    expect(sink.events[0]).toMatchObject({ message: 'plain', log: { level: 'warn' }, service: { name: 'api' }, labels: { input: 'http' } });
    expect(sink.events[3]).toMatchObject({ message: 'broken {' });
    expect(sink.events[6]).toMatchObject({ message: 'from a string', host: { name: 'web-9' }, service: { name: 'nginx' } });
    expect(expectAccounted(input.core.stats)).toMatchObject({ received: 507, emitted: 507 });
  });

  it('an unparsable line inside a batch becomes a flagged event; a non-JSON batch is read line by line', async () => {
    const sink = new CollectingSink();
    const { url } = await start(sink);
    const r = await curl(`${url}/logs/batch`, ['-H', 'content-type: application/json', '--data-binary', '{"message":"ok"}\n{"message": nope}\n']);
    expect(r).toMatchObject({ status: 202, body: '{"accepted":2,"flagged":1}\n' });
    expect(sink.events[1]).toMatchObject({ message: '{"message": nope}', labels: { parse_error: expect.any(String) } });
  });

  it('413 over the body limit (declared or streamed) and over the decompressed limit (gzip bomb); 503 with Retry-After while the sink is full', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink, { maxBodyBytes: 64 * 1024, maxDecompressedBytes: 1024 * 1024 });
    // A JSON content type: curl's default (a form post) is refused with 415 since issue 17 §2.
    const h = ['-H', 'content-type: application/json'];
    const big = file('big.json', `{"message":"${'x'.repeat(200_000)}"}`);
    expect((await curl(`${url}/logs`, [...h, '--data-binary', `@${big}`])).status).toBe(413);
    // chunked, no content-length: the cap applies while streaming
    expect((await curl(`${url}/logs`, [...h, '-H', 'transfer-encoding: chunked', '--data-binary', `@${big}`])).status).toBe(413);
    const bomb = file('bomb.gz', gzipSync(Buffer.alloc(50 * 1024 * 1024, 0x20))); // 50 MiB of spaces in ~50 KiB
    expect((await curl(`${url}/logs`, [...h, '-H', 'content-encoding: gzip', '--data-binary', `@${bomb}`])).status).toBe(413);
    expect((await curl(`${url}/logs`, [...h, '-H', 'content-encoding: gzip', '--data-binary', 'not gzip at all'])).status).toBe(400);
    expect((await curl(`${url}/logs`, ['-X', 'GET'])).status).toBe(405);
    expect((await curl(`${url}/nope`, ['--data-binary', 'x'])).status).toBe(404);
    sink.pause();
    const busy = await curl(`${url}/logs`, [...h, '--data-binary', '{"message":"later"}']);
    expect(busy.status).toBe(503);
    expect(busy.headers).toMatch(/retry-after: 2/i);
    sink.resume();
    expect((await curl(`${url}/logs`, [...h, '--data-binary', '{"message":"later"}'])).status).toBe(202);
    expect(input.core.stats.dropped.get('body_too_large')).toBe(3);
    expect(input.core.stats.dropped.get('bad_request')).toBe(1);
    expect(sink.events.map((e) => e.message)).toEqual(['later']);
    expectAccounted(input.core.stats);
  });

  it('hostile: 10,000 malformed records in NDJSON and batch bodies, some gzip', async () => {
    const sink = new CollectingSink(100);
    const { input, url } = await start(sink, { maxRecordBytes: 256 * 1024 });
    const rand = rng(9110);
    const rss0 = rssMiB();
    let expected = 0;
    let accepted = 0;
    for (let req = 0; req < 50; req++) {
      const recs: Buffer[] = [];
      for (let i = req * 200; i < req * 200 + 200; i++) recs.push(i % 1000 === 7 ? Buffer.alloc(2 * 1024 * 1024, 0x5b) : hostileRecord(rand, i));
      let body: Buffer;
      const batch = req % 3 === 0;
      if (batch) {
        // A JSON array of strings and objects.
        const arr = recs.map((r, i) => (i % 2 ? r.toString('latin1') : { message: r.toString('utf8'), n: i }));
        body = Buffer.from(JSON.stringify(arr));
        expected += arr.length;
      } else {
        body = Buffer.concat(recs.flatMap((r) => [r, Buffer.from('\n')]));
        expected += body
          .toString('latin1')
          .split('\n')
          .filter((l) => l.replace(/[ \t\r]/g, '').length > 0).length;
      }
      const gzip = req % 2 === 0;
      const res = await fetch(`${url}${batch ? '/logs/batch' : '/logs'}`, {
        method: 'POST',
        headers: { 'content-type': batch ? 'application/json' : 'application/x-ndjson', ...(gzip ? { 'content-encoding': 'gzip' } : {}) },
        body: gzip ? gzipSync(body) : body,
      });
      expect(res.status).toBe(202);
      accepted += ((await res.json()) as { accepted: number }).accepted;
    }
    const acc = expectAccounted(input.core.stats);
    expect(accepted).toBe(expected);
    expect(acc.received).toBe(expected);
    expect(sink.count).toBe(expected);
    expect(rssMiB() - rss0).toBeLessThan(400);
  });

  it('two senders naming the same event.id get two ids; a resend from the same sender the same id (ADR 0015)', async () => {
    const sink = new CollectingSink();
    const { url } = await start(sink);
    const body = ['-H', 'content-type: application/json', '--data-binary', '{"event":{"id":"order-42"},"message":"paid"}'];
    expect((await curl(`${url}/logs`, body)).status).toBe(202);
    expect((await curl(`${url}/logs`, ['--interface', '127.0.0.2', ...body])).status).toBe(202);
    expect((await curl(`${url}/logs`, body)).status).toBe(202); // a retry, on a new connection
    const [a, b, again] = sink.events as LogEvent[];
    expect(a?.event.id).not.toBe(b?.event.id);
    expect(again?.event.id).toBe(a?.event.id);
    expect(a?.event.id).toBe(sourceEventId(sourceIdentity('test-host', 'http', '127.0.0.1'), 'order-42'));
    expect(b?.event.id).toBe(sourceEventId(sourceIdentity('test-host', 'http', '127.0.0.2'), 'order-42'));
    for (const e of [a, b, again]) expect(e?.labels.source_event_id).toBe('order-42');
  });

  it('a time more than a day ahead is filed at the receive time, kept in labels and counted as flagged (ADR 0015)', async () => {
    const sink = new CollectingSink();
    const { input, url } = await start(sink);
    const before = Date.now();
    expect(await curl(`${url}/logs/batch`, ['-H', 'content-type: application/json', '--data-binary', '[{"@timestamp":"9999-12-31T23:59:59Z","message":"far"},{"message":"now"}]'])).toMatchObject({
      status: 202,
      body: '{"accepted":2,"flagged":1}\n',
    });
    const far = sink.events[0] as LogEvent;
    expect(Date.parse(far['@timestamp'])).toBeGreaterThanOrEqual(before - 1);
    expect(far['@timestamp']).toBe(far.event.created);
    expect(far.labels).toMatchObject({ timestamp_original: '9999-12-31T23:59:59.000Z', timestamp_replaced: 'future' });
    expect(input.core.stats.flagged.get('timestamp_replaced')).toBe(1);
  });
});
