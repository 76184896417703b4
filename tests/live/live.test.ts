// The live view end to end, against the real Redis and real processes (issue 9):
//   a syslog line sent with util-linux `logger` reaches a browser page (headless Chromium) within a second;
//   two receivers that both get every datagram show each event once; one killed, the other goes on;
//   10,000 malformed datagrams are counted and change nothing; config problems fail fast; SIGTERM is graceful;
//   the log.io forwarder speaks log.io's TCP input protocol.
// `logger` talks to the real harvester (apps/harvester/src/main.ts, its `live` section on). The
// artifact live-view.json keeps the measured logger-to-page time.
import { execFile } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { createServer as createHttpServer } from 'node:http';
import { createServer, type Server } from 'node:net';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { chromium, type Browser, type Page } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import WebSocket from 'ws';
import { testNamespace, waitFor } from '@backlog/testing';
import { createLiveSender, type LiveSender } from '../../apps/harvester/src/live';
import { liveReceiverConfigSchema } from '../../apps/live-receiver/src/config';
import { LiveReceiver } from '../../apps/live-receiver/src/receiver';
import { ROOT, TOKEN, metric, signIn, spawnTs, startReceiver, stopProc, udpSocket, waitSettled, wsClient, type Proc, type Receiver } from './helpers';

const run = promisify(execFile);

/** What the page functions below touch in the browser (the workspace is typechecked without the DOM lib). */
interface PageGlobals {
  __live: { state: string; held: number; shown: number; dropped: number; items(): { host?: string; seq?: number; marker?: number }[] };
  document: {
    getElementById(id: string): { textContent: string | null } | null;
    querySelectorAll(selector: string): { length: number };
  };
}
const ARTIFACTS = join(ROOT, '.backlog', 'artifacts');
const ns = testNamespace('live');
let a: Receiver | undefined;
let b: Receiver | undefined;
let harvester: (Proc & { port: number }) | undefined;
let browser: Browser | undefined;
let page: Page | undefined;
const senders: LiveSender[] = [];
/** Every URL a browser of this file asked for (pages, scripts, fetches, WebSockets): none may hold the token. */
const seenUrls: string[] = [];
function watchUrls(p: Page): void {
  p.on('request', (r) => seenUrls.push(r.url()));
  p.on('websocket', (w) => seenUrls.push(w.url()));
}

/** Who sent the datagrams (kept in the live-view.json artifact). */
const via = 'apps/harvester/src/main.ts';

beforeAll(async () => {
  a = await startReceiver(ns);
  const stateDir = mkdtempSync(join(tmpdir(), 'live-harvester-'));
  const h = await spawnTs(
    'apps/harvester/src/main.ts',
    {
      BACKLOG_ENV: ns,
      BACKLOG_HARVESTER_INPUTS: JSON.stringify([{ type: 'syslog_udp', host: '127.0.0.1', port: 0 }]),
      BACKLOG_HARVESTER_METRICS_PORT: '0',
      BACKLOG_HARVESTER_STATE_DIR: stateDir,
      BACKLOG_HARVESTER_HOST_NAME: 'harvester-1',
      BACKLOG_HARVESTER_LIVE_ENABLED: 'true',
      BACKLOG_HARVESTER_LIVE_TARGETS: `127.0.0.1:${a.udpPort}`,
      // This test is about the live copy only: no Kafka shipping, no spool shared with other runs.
      BACKLOG_HARVESTER_OUTPUT: 'stdout',
    },
    (l) => l.msg === 'started',
    30_000,
  );
  const started = h.lines.find((l) => l.msg === 'started') as { inputs?: { port?: number }[] };
  const port = started.inputs?.find((i) => typeof i.port === 'number')?.port;
  if (!port) throw new Error(`harvester started without a syslog_udp port: ${JSON.stringify(started)}`);
  harvester = { ...h, port };
  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 60_000);

afterAll(async () => {
  await page?.close().catch(() => undefined);
  await browser?.close().catch(() => undefined);
  for (const s of senders) await s.stop();
  await stopProc(harvester);
  await stopProc(b);
  await stopProc(a);
}, 30_000);

describe('live view', () => {
  it('a line sent with logger appears on the page within a second (screenshot kept)', async () => {
    if (!a || !browser || !harvester) throw new Error('setup failed');
    page = await browser.newPage({ viewport: { width: 1280, height: 600 } });
    watchUrls(page);
    // Signed in through the page's form: the token is posted once, the session is a cookie.
    await signIn(page, a, `?env=${ns}`);
    const session = (await page.context().cookies()).find((c) => c.name === 'backlog_live');
    expect(session).toMatchObject({ httpOnly: true, sameSite: 'Strict', secure: false, path: '/' });
    expect(session?.value).not.toContain(TOKEN);
    // HttpOnly: the page's scripts cannot read it.
    expect(await page.evaluate(() => (globalThis as unknown as { document: { cookie: string } }).document.cookie)).toBe('');
    expect(page.url()).not.toContain(TOKEN);

    const nonce = `hello live ${Date.now().toString(36)}`;
    const t0 = Date.now();
    await run('logger', ['-d', '-n', '127.0.0.1', '-P', String(harvester.port), '--rfc5424', '-t', 'checkout', '-p', 'user.err', nonce]);
    await page.waitForFunction((text) => (globalThis as unknown as PageGlobals).document.getElementById('log')?.textContent?.includes(text) ?? false, nonce, { timeout: 5_000, polling: 10 });
    const elapsed = Date.now() - t0;
    const row = page.locator('.row', { hasText: nonce });
    // log.level as normalize() sets it from syslog severity 3 (DESIGN.md's example: "level": "error").
    await expect(row.locator('.l').textContent()).resolves.toBe('error');
    await expect(row.locator('.s').textContent()).resolves.toBe('checkout');
    expect(await row.getAttribute('class')).toContain('lv-3'); // error colour

    // Some traffic around it, so the screenshot shows levels, a cut line and the counters.
    const levels = ['info', 'warning', 'debug', 'notice', 'crit'];
    for (let i = 0; i < 10; i++) {
      await run('logger', [
        '-d',
        '-n',
        '127.0.0.1',
        '-P',
        String(harvester.port),
        '--rfc5424',
        '-t',
        ['api', 'db', 'nginx'][i % 3] as string,
        '-p',
        `user.${levels[i % 5]}`,
        `request ${i} handled in ${i * 7} ms`,
      ]);
    }
    await run('logger', ['-d', '-n', '127.0.0.1', '-P', String(harvester.port), '--rfc5424', '-t', 'api', '--size', '4000', `long ${'x'.repeat(3000)}`]);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.querySelectorAll('.row[data-seq]').length >= 12, undefined, { timeout: 5_000 });
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).document.getElementById('rate')?.textContent !== '0', undefined, { timeout: 3_000 }).catch(() => undefined);
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'live-view.png') });
    writeFileSync(join(ARTIFACTS, 'live-view.json'), `${JSON.stringify({ loggerToPageMs: elapsed, via, at: new Date().toISOString() })}\n`);
    expect(elapsed, `logger → page took ${elapsed} ms`).toBeLessThan(1000);
  });

  it('pause holds events and resume shows them; the filter hides what it excludes', async () => {
    if (!page || !harvester) throw new Error('setup failed');
    await page.click('#pause');
    await run('logger', ['-d', '-n', '127.0.0.1', '-P', String(harvester.port), '--rfc5424', '-t', 'api', 'while paused']);
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).__live.held >= 1, undefined, { timeout: 3_000 });
    expect(await page.locator('.row', { hasText: 'while paused' }).count()).toBe(0);
    await page.click('#pause');
    await page.locator('.row', { hasText: 'while paused' }).waitFor({ timeout: 3_000 });

    await page.selectOption('#f-level', 'error');
    await page.click('#apply');
    await page.waitForTimeout(200);
    await run('logger', ['-d', '-n', '127.0.0.1', '-P', String(harvester.port), '--rfc5424', '-t', 'api', '-p', 'user.info', 'filtered-out info']);
    await run('logger', ['-d', '-n', '127.0.0.1', '-P', String(harvester.port), '--rfc5424', '-t', 'api', '-p', 'user.err', 'kept error']);
    await page.locator('.row', { hasText: 'kept error' }).waitFor({ timeout: 3_000 });
    expect(await page.locator('.row', { hasText: 'filtered-out info' }).count()).toBe(0);
    await page.selectOption('#f-level', '');
    await page.click('#apply');
  });

  it('two receivers that both get every datagram: each event shown once, on either; one killed, the other goes on', async () => {
    if (!a || !page) throw new Error('setup failed');
    b = await startReceiver(ns);
    const wonBefore = await metric(a, 'live_receiver_emitted_events_total');
    const dupsBefore = await metric(a, 'live_receiver_dropped_events_total', 'reason="duplicate"');
    const [ca, cb] = await Promise.all([wsClient(a, { host: 'twice' }), wsClient(b, { host: 'twice' })]);
    const sender = createLiveSender({ enabled: true, targets: [`127.0.0.1:${a.udpPort}`, `127.0.0.1:${b.udpPort}`] }, { host: 'harvester-2', run: `both${Date.now()}` });
    senders.push(sender);
    const N = 2000;
    for (let i = 0; i < N; i++) {
      sender.send({ '@timestamp': new Date().toISOString(), host: { name: 'twice' }, service: { name: 'svc' }, log: { level: 'info' }, message: `dual ${i}`, labels: { env: ns } });
      if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5)); // a burst, not a flood: loopback UDP is lossless at this pace
    }
    await waitFor(`${N} events on both clients (a ${ca.events.length}, b ${cb.events.length})`, () => ca.events.length >= N && cb.events.length >= N, 10_000, 20);
    await new Promise((r) => setTimeout(r, 300)); // a duplicate would arrive by now
    for (const c of [ca, cb]) {
      const seqs = c.events.map((e) => e.seq);
      expect(new Set(seqs).size).toBe(N);
      expect(seqs.length).toBe(N);
    }
    // Each receiver claimed a share; together exactly N, and the other N copies were dropped as duplicates.
    const won = (await metric(a, 'live_receiver_emitted_events_total')) - wonBefore + (await metric(b, 'live_receiver_emitted_events_total'));
    const dups = (await metric(a, 'live_receiver_dropped_events_total', 'reason="duplicate"')) - dupsBefore + (await metric(b, 'live_receiver_dropped_events_total', 'reason="duplicate"'));
    expect({ won, dups }).toEqual({ won: N, dups: N });
    // The browser (connected to a) shows each of them once: its ring (what the view draws from and
    // scrolls back through; only the rows in the window are elements) holds each seq once, and the
    // rows drawn at the tail are the newest of them.
    await page.waitForFunction((n) => (globalThis as unknown as PageGlobals).__live.items().filter((d) => d.host === 'harvester-2').length >= n, N, { timeout: 10_000 });
    const inRing = await page.evaluate(() =>
      (globalThis as unknown as PageGlobals).__live
        .items()
        .filter((d) => d.host === 'harvester-2')
        .map((d) => d.seq),
    );
    expect(inRing).toHaveLength(N);
    expect(new Set(inRing).size).toBe(N);
    // The next frame draws the tail (renders follow the ring, at most one per frame).
    await page.waitForFunction(
      (last) => {
        const rows = (globalThis as unknown as PageGlobals).document.querySelectorAll('.row[data-host="harvester-2"]:not([hidden])') as unknown as ArrayLike<{
          getAttribute(n: string): string | null;
        }>;
        return rows.length > 0 && Number(rows[rows.length - 1]?.getAttribute('data-seq')) === last;
      },
      inRing[inRing.length - 1],
      { timeout: 5_000 },
    );
    const drawn = await page.locator('.row[data-host="harvester-2"]:not([hidden])').evaluateAll((rows) => rows.map((r) => Number(r.getAttribute('data-seq'))));
    expect(drawn.length).toBeGreaterThan(5);
    expect(new Set(drawn).size).toBe(drawn.length);
    expect(drawn).toEqual(inRing.slice(-drawn.length));

    // Kill b hard (no goodbye): a goes on with every event, still once.
    await stopProc(b, 'SIGKILL');
    cb.close();
    ca.events.length = 0;
    for (let i = 0; i < 500; i++) sender.send({ host: { name: 'twice' }, message: `after kill ${i}`, labels: { env: ns } });
    await waitFor(`500 events after the kill (got ${ca.events.length})`, () => ca.events.length >= 500, 10_000, 20);
    await new Promise((r) => setTimeout(r, 200));
    expect(new Set(ca.events.map((e) => e.seq)).size).toBe(500);
    expect(ca.events.length).toBe(500);
    ca.close();
  });

  it('a page that cannot keep up gets "N dropped" from the receiver (its window of unacknowledged messages), not a backlog', async () => {
    if (!a || !browser) throw new Error('setup failed');
    const ctx = await browser.newContext();
    try {
      const slow = await ctx.newPage();
      watchUrls(slow);
      await signIn(slow, a as Receiver, '?host=flowtest');
      // The reference: a plain client (no window) with the same filter gets everything fanned out.
      const ref = await wsClient(a, { host: 'flowtest' });
      const sender = createLiveSender({ enabled: true, targets: [`127.0.0.1:${a.udpPort}`] }, { host: 'harvester-3', run: `flow${Date.now()}` });
      senders.push(sender);
      const fannedBefore = await metric(a, 'live_receiver_fanout_events_total');
      // The page's thread is stopped in the debugger (at its next line of script) while 20,000
      // events go out: it acknowledges nothing, so the receiver stops after the page's window,
      // queues up to clients.queueEvents (5,000) and drops the rest into a marker.
      const cdp = await ctx.newCDPSession(slow);
      await cdp.send('Debugger.enable');
      await cdp.send('Debugger.pause');
      const N = 20_000;
      for (let i = 0; i < N; i++) {
        sender.send({ host: { name: 'flowtest' }, service: { name: 'svc' }, message: `flow ${i}`, labels: { env: ns } });
        if (i % 200 === 199) await new Promise((r) => setTimeout(r, 5));
      }
      // Settled: the receiver's fan-out count stopped moving and the reference has all of it.
      const expected = await waitSettled(
        async () => (await metric(a as Receiver, 'live_receiver_fanout_events_total')) - fannedBefore,
        (n) => ref.events.length + ref.dropped === n,
        20_000,
        () => `the reference client to get every fanned-out event: ${ref.events.length} + ${ref.dropped}`,
      );
      await cdp.send('Debugger.resume');
      await cdp.send('Debugger.disable');
      const counts = () =>
        slow.evaluate(() => {
          const l = (globalThis as unknown as PageGlobals).__live;
          return { shown: l.shown, dropped: l.dropped, markersInRing: l.items().filter((d) => d.marker !== undefined).length };
        });
      await waitFor(
        `the page to account for ${expected} events`,
        async () => {
          const c = await counts();
          return c.shown + c.dropped >= expected;
        },
        15_000,
        20,
      ).catch(async (e: Error) => {
        throw new Error(`${e.message}: ${JSON.stringify(await counts())}`);
      });
      // Every event is on the page or counted in a marker there (the ring keeps only the last
      // 5,000 rows, so the counters are the reference); the marker is where the loss was.
      const c = await counts();
      expect(c.dropped).toBeGreaterThan(0);
      expect(c.shown + c.dropped).toBe(expected);
      // What reached the page while it was stopped is bounded: its window (4 messages of at most
      // clients.maxBatch = 1,000 events) plus its queue at the receiver (5,000); no backlog beyond.
      expect(c.shown).toBeLessThanOrEqual(4 * 1000 + 5000);
      expect(c.markersInRing).toBeGreaterThan(0);
      expect(ref.dropped).toBe(0);
      expect(await metric(a, 'live_receiver_client_dropped_events_total')).toBeGreaterThanOrEqual(c.dropped);
      // The page shows each event it got once, in order.
      const seqs = await slow.evaluate(() =>
        (globalThis as unknown as PageGlobals).__live
          .items()
          .filter((d) => d.host === 'harvester-3')
          .map((d) => d.seq as number),
      );
      expect(seqs).toEqual([...seqs].sort((x, y) => x - y));
      expect(new Set(seqs).size).toBe(seqs.length);
      ref.close();
    } finally {
      await ctx.close();
    }
  });

  it('a browser that stops reading gets "N dropped" markers; a reading one on the same receiver is not held up', async () => {
    // Default per-client limits (5,000 events, 1 MiB unsent): the stalled client overflows them, the reader does not.
    const r = await startReceiver(ns);
    try {
      const fast = await wsClient(r, { host: 'slowtest' });
      const slow = await wsClient(r, { host: 'slowtest' });
      // Stop reading: the kernel buffers fill, then the receiver's socket buffer, then its queue for this client.
      (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.pause();
      const s = createLiveSender({ enabled: true, targets: [`127.0.0.1:${r.udpPort}`] }, { host: 'slow-test' });
      senders.push(s);
      const N = 30_000;
      const pad = 'p'.repeat(600); // bigger events fill the socket buffers sooner
      for (let i = 0; i < N; i++) {
        s.send({ host: { name: 'slowtest' }, message: `slow ${i} ${pad}`, labels: { env: ns } });
        if (i % 200 === 199) await new Promise((res) => setTimeout(res, 5));
      }
      // The reader gets what the receiver fanned out (UDP may lose some on a busy machine: the
      // receiver's count, not N, is the reference) while the other client is stalled. This test
      // process is itself the reader and the sender, so on a loaded machine it may fall behind for a
      // moment too: it must then see markers, never silence, and far fewer than the stalled one.
      const delivered = await waitSettled(
        () => metric(r, 'live_receiver_fanout_events_total'),
        (n) => fast.events.length + fast.dropped === n,
        20_000,
        () => `the reading client to account for every fanned-out event: ${fast.events.length} + ${fast.dropped} dropped`,
      );
      expect(await metric(r, 'live_receiver_client_dropped_events_total')).toBeGreaterThan(0);
      (slow.ws as unknown as { _socket: { pause(): void; resume(): void } })._socket.resume();
      await waitFor(`slow client: ${slow.events.length} events + ${slow.dropped} dropped of ${delivered}`, () => slow.events.length + slow.dropped >= delivered, 10_000, 20);
      expect(slow.dropped).toBeGreaterThan(0);
      expect(fast.dropped).toBeLessThan(slow.dropped / 10);
      expect(slow.events.length + slow.dropped).toBe(delivered);
      expect(new Set(slow.events.map((e) => e.seq)).size).toBe(slow.events.length);
      fast.close();
      slow.close();
    } finally {
      await stopProc(r);
    }
  });

  it('10,000 malformed datagrams are counted, nothing crashes, and valid events still flow', async () => {
    if (!a) throw new Error('setup failed');
    const before = await metric(a, 'live_receiver_dropped_events_total', 'reason="invalid_');
    const sock = udpSocket();
    const bad = [
      Buffer.from('not json at all'),
      Buffer.from('{"v":1,"host":"h","run":"r","seq":'),
      Buffer.from('{"v":9,"host":"h","run":"r","seq":1,"sent":1,"event":{}}'),
      Buffer.from('{"v":1,"host":"","run":"r","seq":1,"sent":1,"event":{}}'),
      Buffer.from('{"v":1,"host":"h","run":"r:x","seq":1,"sent":1,"event":{}}'),
      Buffer.from('{"v":1,"host":"h","run":"r","seq":1.5,"sent":1,"event":{}}'),
      Buffer.from('{"v":1,"host":"h","run":"r","seq":1,"sent":1,"event":null}'),
      Buffer.from([0xff, 0xfe, 0x00, 0x7b]),
      Buffer.from('[]'),
      Buffer.alloc(20_000, 0x7b),
    ];
    const client = await wsClient(a);
    const t0 = Date.now();
    for (let i = 0; i < 10_000; i++) {
      sock.send(bad[i % bad.length] as Buffer, a.udpPort, '127.0.0.1');
      // Paced so that the kernel's receive buffer (net.core.rmem_max caps it) never overflows: every
      // datagram must reach the receiver for the count to be exact.
      if (i % 100 === 99) await new Promise((r) => setTimeout(r, 5));
    }
    let counted = 0;
    await waitFor(
      '10,000 invalid datagrams counted',
      async () => (counted = (await metric(a as Receiver, 'live_receiver_dropped_events_total', 'reason="invalid_')) - before) >= 10_000,
      15_000,
      20,
    ).catch((e: Error) => {
      throw new Error(`${e.message}: ${counted} counted`);
    });
    expect(counted).toBe(10_000);
    expect(Date.now() - t0).toBeLessThan(15_000);
    expect(a.child.exitCode).toBeNull();
    expect((await fetch(`http://127.0.0.1:${a.metricsPort}/healthz`)).status).toBe(200);
    expect(client.events).toHaveLength(0); // nothing malformed reached a browser
    const s = createLiveSender({ enabled: true, targets: [`127.0.0.1:${a.udpPort}`] }, { host: 'after-flood' });
    senders.push(s);
    s.send({ message: 'still alive', labels: { env: ns } });
    await waitFor('a valid event after the flood', () => client.events.some((e) => e.event.message === 'still alive'), 5_000, 20);
    client.close();
    sock.close();
  });

  it('refuses a WebSocket without credentials, with a wrong token, and with the right token in the URL', async () => {
    if (!a) throw new Error('setup failed');
    const upgrade = (query: string, headers: Record<string, string> = {}) =>
      new Promise<number | undefined>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${(a as Receiver).httpPort}/ws${query}`, { headers });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
        ws.on('open', () => {
          ws.terminate();
          resolve(101);
        });
        ws.on('error', () => resolve(undefined));
      });
    const tokenBefore = await metric(a, 'live_receiver_clients_rejected_total', 'reason="token"');
    const queryBefore = await metric(a, 'live_receiver_clients_rejected_total', 'reason="query_token"');
    expect(await upgrade('')).toBe(401);
    expect(await upgrade('', { authorization: 'Bearer wrong' })).toBe(401);
    // A token in a URL lands in logs and histories: refused even when it is the right one.
    expect(await upgrade(`?token=${TOKEN}`)).toBe(401);
    expect(await upgrade(`?token=${TOKEN}`, { authorization: `Bearer ${TOKEN}` })).toBe(401);
    expect(await upgrade('', { authorization: `Bearer ${TOKEN}` })).toBe(101);
    expect(await metric(a, 'live_receiver_clients_rejected_total', 'reason="token"')).toBe(tokenBefore + 2);
    expect(await metric(a, 'live_receiver_clients_rejected_total', 'reason="query_token"')).toBe(queryBefore + 2);
  });

  it('a page of another origin cannot open the WebSocket or sign in, even though the browser holds a session (same site, other port)', async () => {
    if (!a || !browser) throw new Error('setup failed');
    // Another web server on this host: to the browser it is the same *site* as the receiver (ports do
    // not count), so the SameSite=Strict session cookie goes along with its requests to the receiver.
    const other = createHttpServer((_req, res) => res.writeHead(200, { 'content-type': 'text/html' }).end('<!doctype html><title>another origin</title>'));
    await new Promise<void>((r) => other.listen(0, '127.0.0.1', () => r()));
    const ctx = await browser.newContext();
    try {
      const p = await ctx.newPage();
      watchUrls(p);
      await signIn(p, a);
      await p.goto(`http://127.0.0.1:${(other.address() as { port: number }).port}/`);
      const originBefore = await metric(a, 'live_receiver_clients_rejected_total', 'reason="origin"');
      const opened = await p.evaluate(
        (port) =>
          new Promise<string>((resolve) => {
            const W = (globalThis as unknown as { WebSocket: new (u: string) => { onopen: () => void; onerror: () => void; close(): void } }).WebSocket;
            const ws = new W(`ws://127.0.0.1:${port}/ws`);
            ws.onopen = () => {
              ws.close();
              resolve('open');
            };
            ws.onerror = () => resolve('refused');
          }),
        a.httpPort,
      );
      expect(opened).toBe('refused');
      expect(await metric(a, 'live_receiver_clients_rejected_total', 'reason="origin"')).toBe(originBefore + 1);
      // Signing in from there: a JSON POST needs a CORS preflight the receiver never grants, and a
      // "simple" cross-origin POST is refused on its Origin.
      const signIns = await p.evaluate(
        async ([port, token]) => {
          const f = (globalThis as unknown as { fetch: (u: string, o: unknown) => Promise<{ status: number }> }).fetch;
          const json = await f(`http://127.0.0.1:${port}/auth/login`, {
            method: 'POST',
            credentials: 'include',
            headers: { 'content-type': 'application/json' },
            body: JSON.stringify({ token }),
          }).then(
            (r) => r.status,
            () => 'blocked',
          );
          const simple = await f(`http://127.0.0.1:${port}/auth/login`, { method: 'POST', mode: 'no-cors', credentials: 'include', body: JSON.stringify({ token }) }).then(
            () => 'sent',
            () => 'blocked',
          );
          return { json, simple };
        },
        [a.httpPort, 'not-the-token'] as const,
      );
      expect(signIns.json).toBe('blocked');
      expect(signIns.simple).toBe('sent'); // sent, and refused by the receiver:
      await waitFor('the cross-origin sign-in to be counted as refused', async () => (await metric(a as Receiver, 'live_receiver_logins_total', 'result="origin"')) >= 1, 5_000, 20);
    } finally {
      await ctx.close();
      await new Promise<void>((r) => other.close(() => r()));
    }
  });

  it('a one-time login code: issued to the token holder, typed into the page, good once', async () => {
    if (!a || !browser) throw new Error('setup failed');
    const url = `http://127.0.0.1:${a.httpPort}/auth/code`;
    expect((await fetch(url, { method: 'POST' })).status).toBe(401);
    const res = await fetch(url, { method: 'POST', headers: { authorization: `Bearer ${TOKEN}` } });
    expect(res.status).toBe(201);
    const { code } = (await res.json()) as { code: string };
    expect(code).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
    const first = await browser.newContext();
    const second = await browser.newContext();
    try {
      const p = await first.newPage();
      watchUrls(p);
      await signIn(p, a, '', code.toLowerCase().replace('-', ''));
      // The same code again, in another browser: refused (single use, in Redis across receivers).
      const q = await second.newPage();
      watchUrls(q);
      await q.goto(`http://127.0.0.1:${a.httpPort}/`);
      await q.waitForSelector('#signin:not([hidden])');
      await q.fill('#secret', code);
      await q.click('#signin-submit');
      await q.waitForFunction(
        () =>
          ((globalThis as unknown as { document: { getElementById(id: string): { textContent: string | null } | null } }).document.getElementById('signin-error')?.textContent ?? '').includes('wrong'),
        undefined,
        { timeout: 5_000 },
      );
      expect(await metric(a, 'live_receiver_logins_total', 'result="code"')).toBeGreaterThanOrEqual(1);
    } finally {
      await first.close();
      await second.close();
    }
  });

  it('sessions: the cookie holds no token, is Secure behind TLS, cannot be tampered with, and sign-out ends it', async () => {
    if (!a) throw new Error('setup failed');
    const base = `http://127.0.0.1:${a.httpPort}`;
    const login = await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-proto': 'https' }, body: JSON.stringify({ token: TOKEN }) });
    expect(login.status).toBe(200);
    const setCookie = login.headers.get('set-cookie') ?? '';
    expect(setCookie).toMatch(/^backlog_live=v1\.[^;]+; Path=\/; Max-Age=43200; HttpOnly; SameSite=Strict; Secure$/);
    expect(setCookie).not.toContain(TOKEN);
    const cookie = setCookie.split(';')[0] as string;
    expect((await fetch(`${base}/auth/session`, { headers: { cookie } })).status).toBe(200);
    const tampered = cookie.replace(/\.(\d+)\./, (_m, exp: string) => `.${Number(exp) + 86_400}.`);
    expect((await fetch(`${base}/auth/session`, { headers: { cookie: tampered } })).status).toBe(401);
    const upgrade = (c: string) =>
      new Promise<number | undefined>((resolve) => {
        const ws = new WebSocket(`ws://127.0.0.1:${(a as Receiver).httpPort}/ws`, { headers: { cookie: c, origin: base } });
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode));
        ws.on('open', () => {
          ws.terminate();
          resolve(101);
        });
        ws.on('error', () => resolve(undefined));
      });
    expect(await upgrade(cookie)).toBe(101);
    expect(await upgrade(tampered)).toBe(401);
    const out = await fetch(`${base}/auth/logout`, { method: 'POST', headers: { cookie, origin: base } });
    expect(out.status).toBe(204);
    expect(out.headers.get('set-cookie')).toMatch(/^backlog_live=; Path=\/; Max-Age=0; HttpOnly; SameSite=Strict/);
    // A wrong token is a failed sign-in (counted; enough of them lock sign-in for a minute).
    expect((await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: 'nope' }) })).status).toBe(401);
    // A form post (not JSON) is refused.
    expect((await fetch(`${base}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: `token=${TOKEN}` })).status).toBe(415);
  });

  it('without a configured token: the one made for the run goes to a 0600 file (the log names the file), never into the log', async () => {
    const r = await startReceiver(ns, { BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: '' });
    try {
      // What it logs right after it listens: the page's address, and never a token in a link.
      await new Promise((res) => setTimeout(res, 1000));
      expect(r.output()).not.toMatch(/[?#&]token=/);
      await waitFor('the live page line', () => r.lines.some((l) => l.msg === 'live page'), 5_000, 20);
      const line = r.lines.find((l) => l.msg === 'live page') as { page: string; signIn: string };
      const file = /token is in (\S+) \(mode 0600\)/.exec(line.signIn)?.[1] as string;
      expect(file, line.signIn).toBeDefined();
      expect(statSync(file).mode & 0o777).toBe(0o600);
      const generated = readFileSync(file, 'utf8').trim();
      expect(generated).toMatch(/^[0-9a-f]{64}$/);
      expect(r.output()).not.toContain(generated);
      expect(line.page).toBe(`http://127.0.0.1:${r.httpPort}/`);
      // It works as the token.
      const res = await fetch(`http://127.0.0.1:${r.httpPort}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: generated }) });
      expect(res.status).toBe(200);
      expect(await stopProc(r)).toBe(0);
      expect(existsSync(file)).toBe(false); // removed at stop
    } finally {
      await stopProc(r);
    }
  });

  it('config problems fail fast, all listed, before any socket is opened', async () => {
    const p = await spawnTs(
      'apps/live-receiver/src/main.ts',
      { BACKLOG_ENV: ns, BACKLOG_LIVE_RECEIVER_UDP_PORT: '99999', BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: 'short', BACKLOG_LIVE_RECEIVER_HTTP_PROT: '1' },
      () => false,
      15_000,
    ).catch((e: Error) => e);
    expect(p).toBeInstanceOf(Error);
    const msg = (p as Error).message;
    expect(msg).toMatch(/exited 78/);
    expect(msg).toMatch(/udp\.port/);
    expect(msg).toMatch(/auth\.token/);
    expect(msg).toMatch(/BACKLOG_LIVE_RECEIVER_HTTP_PORT/); // the typo's suggestion
  });

  it('SIGTERM: browsers are told, the process exits 0 within its deadline', async () => {
    const r = await startReceiver(ns);
    const c = await wsClient(r);
    const closed = new Promise<number>((res) => c.ws.once('close', (code) => res(code)));
    const t0 = Date.now();
    expect(await stopProc(r, 'SIGTERM')).toBe(0);
    expect(Date.now() - t0).toBeLessThan(6_000);
    expect(await closed).toBe(1001);
  });

  it('forwards deduplicated events to a log.io server over its TCP input protocol', async () => {
    const got: string[] = [];
    let buf = '';
    const server: Server = createServer((s) =>
      s.on('data', (d) => {
        buf += d.toString();
        const parts = buf.split('\0');
        buf = parts.pop() ?? '';
        got.push(...parts);
      }),
    );
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const cfg = liveReceiverConfigSchema.parse({
      env: ns,
      udp: { port: 0 },
      http: { port: 0 },
      metrics: { port: 0 },
      auth: { token: TOKEN },
      logio: { enabled: true, port, stream: 'backlog-{env}' },
    });
    const r = new LiveReceiver(cfg);
    const addr = await r.start();
    const s = createLiveSender({ enabled: true, targets: [`127.0.0.1:${addr.udpPort}`, `127.0.0.1:${addr.udpPort}`] }, { host: 'hv' });
    senders.push(s);
    s.send({ host: { name: 'web|01' }, service: { name: 'nginx' }, log: { level: 'warn' }, message: 'pipe | and nul \0 inside', labels: { env: 'prod' } });
    await waitFor('a +msg frame', () => got.some((m) => m.startsWith('+msg|')), 5_000, 20);
    await r.stop(2000);
    await new Promise<void>((res) => server.close(() => res()));
    expect(got).toEqual(['+input|backlog-prod|web_01', '+msg|backlog-prod|web_01|WARN nginx: pipe | and nul  inside']);
  });

  it('no token in any line a process logged, nor in any URL a browser asked for', async () => {
    if (!a || !harvester) throw new Error('setup failed');
    expect(seenUrls.length).toBeGreaterThan(10);
    expect(seenUrls.filter((u) => u.includes(TOKEN))).toEqual([]);
    expect(seenUrls.some((u) => u.includes('/ws'))).toBe(true);
    for (const [name, out] of [
      ['receiver', a.output()],
      ['harvester', harvester.output()],
    ] as const) {
      expect(out.length, name).toBeGreaterThan(0);
      expect(out.includes(TOKEN), `${name} logged the token`).toBe(false);
    }
    // The receiver logged where to sign in, without a token in it.
    expect(a.lines.some((l) => l.msg === 'live page' && typeof l.page === 'string' && !(l.page as string).includes('token'))).toBe(true);
  });
});
