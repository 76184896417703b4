// The indexer API's defaults against abuse (issue 17 §7), each against the real indexer process over
// loopback: a placeholder token refused at start; request/keep-alive timeouts; a cap on concurrent
// loads (503 busy); DELETE only for the envs it serves; 500s without internal messages; and, with no
// token, only Host names that are loopback (a DNS-rebinding defence).
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import type { RedisPort } from '@backlog/adapter-redis';
import type { SearchPort } from '@backlog/adapter-search';
import { generateToken } from '@backlog/platform-config';
import { type StackInfo, stackInfo, testNamespace } from '@backlog/testing';
import { type IndexerProc, freePort, redisOf, searchOf, startIndexer, waitFor } from './helpers';

const iso = (ms: number) => new Date(ms).toISOString();
const HOUR = 3_600_000;

let info: StackInfo;
let ix: IndexerProc | undefined;
let search: SearchPort;
let redis: RedisPort;
let blackhole: Server;
const held: Socket[] = [];
const env = testNamespace('ixapi');
const other = testNamespace('ixother');

/** A raw HTTP/1.1 request with the Host header we choose (fetch does not allow setting it). */
function rawGet(port: number, path: string, host: string): Promise<{ status: number; body: string }> {
  return new Promise((resolve, reject) => {
    const req = httpRequest({ host: '127.0.0.1', port, path, headers: { host }, agent: false }, (res) => {
      let body = '';
      res.setEncoding('utf8');
      res.on('data', (d: string) => (body += d));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.on('error', reject);
    req.end();
  });
}

/** Resolves with what the server wrote and when, once it closed the connection (or after `maxMs`). */
function untilClosed(sock: Socket, maxMs: number): Promise<{ closed: boolean; afterMs: number; data: string }> {
  const t0 = Date.now();
  let data = '';
  sock.setEncoding('utf8');
  sock.on('data', (d: string) => (data += d));
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve({ closed: false, afterMs: Date.now() - t0, data }), maxMs);
    sock.once('close', () => {
      clearTimeout(timer);
      resolve({ closed: true, afterMs: Date.now() - t0, data });
    });
  });
}

beforeAll(async () => {
  info = stackInfo();
  search = await searchOf(info);
  redis = redisOf(info, env);
  // An S3 endpoint that accepts connections and never answers: the loads this indexer starts stay
  // "running" (planning waits on S3) for as long as the test needs. A stalled S3 is a fault the real
  // S3 server cannot be made to produce, hence this stand-in (loopback only).
  blackhole = createServer((s) => held.push(s));
  await new Promise<void>((r) => blackhole.listen(0, '127.0.0.1', () => r()));
  ix = await startIndexer(info, env, {
    BACKLOG_S3_ENDPOINT: `http://127.0.0.1:${(blackhole.address() as { port: number }).port}`,
    BACKLOG_INDEXER_HISTORY_REAPER: 'false',
    BACKLOG_INDEXER_COMPRESSED_TOPIC_ENABLED: 'false',
    BACKLOG_INDEXER_LOAD_MAX_CONCURRENT_JOBS: '1',
    BACKLOG_INDEXER_API_REQUEST_TIMEOUT_MS: '1000',
    BACKLOG_INDEXER_API_KEEP_ALIVE_TIMEOUT_MS: '500',
    BACKLOG_INDEXER_STOP_TIMEOUT_MS: '3000',
  });
}, 120_000);

afterAll(async () => {
  await ix?.stop();
  for (const s of held) s.destroy();
  await new Promise<void>((r) => blackhole?.close(() => r()));
  await search?.deleteIndices(`logs-${other}-history-*`).catch(() => undefined);
  await search?.deleteIndices(`logs-${env}-history-*`).catch(() => undefined);
  await search?.close();
  await redis?.quit();
}, 60_000);

describe('indexer API hardening', () => {
  it('without a token: answers only Host names that are loopback (421 otherwise, before any route)', async () => {
    const port = Number(new URL((ix as IndexerProc).url).port);
    for (const host of [`127.0.0.1:${port}`, `localhost:${port}`, 'LOCALHOST', `127.0.0.53:${port}`]) {
      expect((await rawGet(port, '/v1/history', host)).status, host).toBe(200);
    }
    for (const host of [`attacker.example:${port}`, 'attacker.example', `127.0.0.1.attacker.example:${port}`, `localhost.attacker.example`, `10.0.0.1:${port}`]) {
      const r = await rawGet(port, '/v1/history', host);
      expect(r.status, host).toBe(421);
      expect(JSON.parse(r.body)).toMatchObject({ error: 'misdirected' });
      expect((await rawGet(port, '/openapi.json', host)).status, `${host} /openapi.json`).toBe(421);
    }
  });

  it('DELETE (and extend) only for history indices of the envs it serves: 403 for another env, and that index stays', async () => {
    const theirs = `logs-${other}-history-1-2`;
    await search.createIndex(theirs);
    const del = await (ix as IndexerProc).call('DELETE', `/v1/history/${theirs}`);
    expect(del.status).toBe(403);
    expect(del.body).toMatchObject({ error: 'forbidden' });
    expect((await (ix as IndexerProc).call('POST', `/v1/history/${theirs}/extend`, { hours: 1 })).status).toBe(403);
    expect((await search.listIndices(theirs)).map((i) => i.name)).toEqual([theirs]);
    // Not a history index name at all: unknown (and never handed to the search engine's delete).
    for (const name of ['logs-*', '_all', `logs-${env}-recent-2026.01.01`]) expect((await (ix as IndexerProc).call('DELETE', `/v1/history/${encodeURIComponent(name)}`)).status, name).toBe(404);
    // Its own env: allowed (404 when there is nothing under the name).
    expect((await (ix as IndexerProc).call('DELETE', `/v1/history/logs-${env}-history-1-2`)).status).toBe(404);
  });

  it('a 500 says only "internal error" and an error id; the detail is in the log under that id', async () => {
    const index = `logs-${env}-history-3-4`;
    // A job document that is not JSON (what a bug or a foreign writer could leave): reading it throws.
    await redis.set(`job:${index}`, '{"v":1,"index":"not json', { ttlMs: 60_000 });
    const r = await (ix as IndexerProc).call('GET', `/v1/history/${index}`);
    expect(r.status).toBe(500);
    expect(r.body.error).toBe('internal');
    const errorId = r.body.errorId as string;
    expect(errorId).toMatch(/^[0-9a-f]{12}$/);
    expect(JSON.stringify(r.body)).not.toMatch(/JSON|Unexpected|SyntaxError|position|at \w+ \(/);
    await waitFor('the log line with the error id', async () => (ix as IndexerProc).output().includes(errorId), 5_000, 50);
    const line = (ix as IndexerProc)
      .output()
      .split('\n')
      .find((l) => l.includes(errorId)) as string;
    expect(line).toMatch(/JSON|Unterminated|Unexpected/);
    await redis.del(`job:${index}`);
  });

  it('caps concurrent loads: a load beyond load.maxConcurrentJobs is 503 busy with Retry-After, nothing recorded; the running one is still answered', async () => {
    const t0 = Math.floor(Date.now() / HOUR) * HOUR - 48 * HOUR;
    const first = await (ix as IndexerProc).call('POST', '/v1/history', { env, start: iso(t0), end: iso(t0 + HOUR) });
    expect(first.status).toBe(202);
    const res = await fetch(`${(ix as IndexerProc).url}/v1/history`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ env, start: iso(t0 + 2 * HOUR), end: iso(t0 + 3 * HOUR) }),
    });
    expect(res.status).toBe(503);
    expect(res.headers.get('retry-after')).toBe('30');
    const body = (await res.json()) as { error: string; message: string; index?: string };
    expect(body.error).toBe('busy');
    expect(body.message).toContain('load.maxConcurrentJobs');
    // Nothing was recorded for the refused range.
    const list = await (ix as IndexerProc).call('GET', `/v1/history?env=${env}`);
    expect((list.body.indices as { index: string }[]).map((i) => i.index)).toEqual([first.body.index]);
    // The same (running) load asked again is not refused: requests are idempotent.
    expect((await (ix as IndexerProc).call('POST', '/v1/history', { env, start: iso(t0), end: iso(t0 + HOUR) })).status).toBe(202);
    expect((ix as IndexerProc).output()).not.toContain('"ready":false');
  });

  it('a request that stalls is cut at api.requestTimeoutMs (408, closed); an idle kept-alive connection at api.keepAliveTimeoutMs', async () => {
    const port = Number(new URL((ix as IndexerProc).url).port);
    // Headers started, never finished (slowloris).
    const slow = connect(port, '127.0.0.1');
    await new Promise((r) => slow.once('connect', r));
    slow.write(`GET /v1/history HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\nX-Slow: `);
    const cut = await untilClosed(slow, 8_000);
    expect(cut.closed).toBe(true);
    expect(cut.afterMs).toBeLessThan(8_000);
    expect(cut.data).toMatch(/^HTTP\/1\.1 408/);
    // A whole request, then silence on a kept-alive connection: closed after the keep-alive timeout.
    const idle = connect(port, '127.0.0.1');
    await new Promise((r) => idle.once('connect', r));
    idle.write(`GET /v1/history HTTP/1.1\r\nHost: 127.0.0.1:${port}\r\n\r\n`);
    const done = await untilClosed(idle, 8_000);
    expect(done.data).toMatch(/^HTTP\/1\.1 200/);
    expect(done.data.toLowerCase()).toContain('keep-alive');
    expect(done.closed).toBe(true);
  });
});

describe('indexer token', () => {
  it('refuses a placeholder token at start (exit 78), naming the setting and how to make one, without echoing it', async () => {
    const placeholder = 'REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN';
    const err = await startIndexer(stackInfo(), env, { BACKLOG_INDEXER_API_HOST: '0.0.0.0', BACKLOG_INDEXER_API_TOKEN: placeholder, BACKLOG_INDEXER_API_PORT: String(await freePort()) }).then(
      async (p) => {
        await p.stop();
        return 'started';
      },
      (e: Error) => e.message,
    );
    expect(err).toContain('indexer exited 78');
    expect(err).toContain('api.token: the token looks like a placeholder');
    expect(err).toContain('openssl rand -hex 32');
    expect(err).toContain('[env BACKLOG_INDEXER_API_TOKEN]');
    expect(err).not.toContain(placeholder);
  });

  it('takes the token from api.tokenFile (0600), and refuses such a file when others may read it', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'ix-token-'));
    const file = join(dir, 'indexer.token');
    const token = generateToken();
    writeFileSync(file, `${token}\n`, { mode: 0o600 });
    const p = await startIndexer(stackInfo(), env, { BACKLOG_INDEXER_API_TOKEN_FILE: file, BACKLOG_INDEXER_HISTORY_REAPER: 'false' });
    try {
      expect((await p.call('GET', '/v1/history')).status).toBe(401);
      expect((await p.call('GET', '/v1/history', undefined, token)).status).toBe(200);
      expect(p.output()).not.toContain(token);
    } finally {
      await p.stop();
    }
    chmodSync(file, 0o644);
    const err = await startIndexer(stackInfo(), env, { BACKLOG_INDEXER_API_TOKEN_FILE: file }).then(
      async (q) => {
        await q.stop();
        return 'started';
      },
      (e: Error) => e.message,
    );
    expect(err).toContain('indexer exited 78');
    expect(err).toContain(`api.tokenFile: permissions 0644 for '${file}' are too open`);
  });
});
