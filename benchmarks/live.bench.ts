// benchmarks/live.bench.ts — the live path's latency and capacity (issue 9):
//   harvester LiveSender ──UDP──▶ live-receiver (its own process; Redis SET NX dedupe + pub/sub) ──WebSocket──▶ clients
// Cases:
//   ws-<rate>/s       p50/p95/p99 from the datagram's `sent` (harvester send) to a WebSocket client's receipt,
//                     at 1,000, 10,000 and 50,000 events/s (target p95 < 250 ms at 10,000/s)
//   browser-<rate>/s  the same to the live page in headless Chromium drawing its view with the event
//                     (the page records it in __live.latencies; the bench reads it back), at 1k/10k/50k/s
//   sustained-10-ws-clients  the highest rate (of a ladder) that 10 WebSocket clients all receive with
//                     ≥ 99 % delivery, no "dropped" marker and p95 < 250 ms
//   sustained-10-browsers    the same with 10 live pages (10 browser contexts in one Chromium)
//   baseline          bare loopback UDP, sender → a dgram socket in this process, at 10,000/s
//                     (the floor: what the OS and Node's event loop cost without the receiver)
// The sender runs in a child process (this file with --sender) so that sending does not delay the
// clients' event loop. Last stdout line: {"name":"live","results":[…]}.
// Knobs (env): BACKLOG_BENCH_LIVE_SECONDS (per case, default 5), BACKLOG_BENCH_LIVE_MAX_RATE (ladder top, 80000),
// BACKLOG_BENCH_LIVE_BROWSER (1 = run the browser cases, default 1), BACKLOG_BENCH_LIVE_CASES (ws,browser,ladder,browsers10),
// BACKLOG_REDIS_URL.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { loadavg } from 'node:os';
import { chromium, type Browser, type Page } from 'playwright-core';
import WebSocket from 'ws';
import { generateToken } from '@backlog/platform-config';
import { createLiveSender } from '../apps/harvester/src/live';
import { sleep } from '@backlog/testing';

const ROOT = join(import.meta.dirname, '..');
// A real random token: placeholders and made-up values are refused at start.
const TOKEN = generateToken();
const SECONDS = Number(process.env.BACKLOG_BENCH_LIVE_SECONDS ?? 5);
const MAX_RATE = Number(process.env.BACKLOG_BENCH_LIVE_MAX_RATE ?? 80_000);
const BROWSER = (process.env.BACKLOG_BENCH_LIVE_BROWSER ?? '1') !== '0' && existsSync('/usr/bin/chromium');
/** Which groups to run: ws, browser, ladder (default all). */
const CASES = new Set((process.env.BACKLOG_BENCH_LIVE_CASES ?? 'ws,browser,ladder,browsers10').split(','));
const DEADLINE = Date.now() + 10 * 60_000; // hard stop for the whole script
const log = (s: string) => process.stderr.write(`${s}\n`);
const load = () =>
  loadavg()
    .map((n) => n.toFixed(2))
    .join(' ');

// ---- sender mode: paced LiveSender in its own process --------------------------------------
async function senderMain(): Promise<void> {
  const [targets, rateS, secondsS, run] = process.argv.slice(3) as [string, string, string, string];
  const rate = Number(rateS);
  const seconds = Number(secondsS);
  const sender = createLiveSender({ enabled: true, targets: targets.split(','), maxQueuedDatagrams: 4096 }, { host: 'bench', run });
  const total = Math.round(rate * seconds);
  const t0 = performance.now();
  let sent = 0;
  const event = (i: number) => ({
    '@timestamp': new Date().toISOString(),
    event: { id: `0193a1f2-0000-7000-8000-${i.toString(16).padStart(12, '0')}` },
    host: { name: 'web-01' },
    service: { name: 'nginx' },
    log: { level: i % 10 === 0 ? 'error' : 'info' },
    message: `GET /api/v1/items/${i} 200 ${i % 997} ms upstream=10.0.0.${i % 255}`,
    labels: { env: 'bench', input: 'syslog_udp' },
  });
  // Pace in 2 ms slices: at each slice send what the schedule says is due (bursts ≤ rate/500).
  while (sent < total) {
    const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
    while (sent < due) sender.send(event(sent++));
    await sleep(2);
  }
  await sleep(200);
  process.stdout.write(`${JSON.stringify({ sent: sender.stats.sent, dropped: sender.stats.dropped, seconds: (performance.now() - t0) / 1000 })}\n`);
  await sender.stop();
}

function runSender(targets: string, rate: number, seconds: number, run: string): Promise<{ sent: number; seconds: number; dropped: Record<string, number> }> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'benchmarks/live.bench.ts'), '--sender', targets, String(rate), String(seconds), run], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => child.kill('SIGKILL'), (seconds + 30) * 1000);
    child.once('exit', (code) => {
      clearTimeout(t);
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() ?? ''));
      } catch {
        reject(new Error(`sender exited ${code}: ${out}`));
      }
    });
  });
}

// ---- the receiver under test ------------------------------------------------------------------
interface Rx {
  child: ChildProcess;
  udpPort: number;
  httpPort: number;
  metricsPort: number;
}

function startReceiver(env: string): Promise<Rx> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/live-receiver/src/main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      BACKLOG_ENV: env,
      BACKLOG_LIVE_RECEIVER_UDP_PORT: '0',
      BACKLOG_LIVE_RECEIVER_HTTP_PORT: '0',
      BACKLOG_LIVE_RECEIVER_METRICS_PORT: '0',
      BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: TOKEN,
      BACKLOG_LIVE_RECEIVER_CLIENTS_QUEUE_EVENTS: '20000',
    },
  });
  let text = '';
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`receiver not ready:\n${text}`)), 30_000);
    const onData = (d: Buffer) => {
      text += d.toString();
      const m = /"msg":"listening".*?"udpPort":(\d+),"httpPort":(\d+),"metricsPort":(\d+)/.exec(text);
      if (m) {
        clearTimeout(t);
        resolve({ child, udpPort: Number(m[1]), httpPort: Number(m[2]), metricsPort: Number(m[3]) });
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => reject(new Error(`receiver exited ${code}:\n${text}`)));
  });
}

/** Waits until the receiver has worked off what it was sent (its fan-out count stops moving), ≤ 20 s. */
async function settle(rx: Rx): Promise<void> {
  const count = async () => {
    const text = await (await fetch(`http://127.0.0.1:${rx.metricsPort}/metrics`)).text();
    return Number(/^live_receiver_fanout_events_total (\d+)/m.exec(text)?.[1] ?? 0);
  };
  const until = Date.now() + 20_000;
  let last = -1;
  while (Date.now() < until) {
    const now = await count();
    if (now === last) return;
    last = now;
    await sleep(700);
  }
}

/** The receiver's own view of a case: how much it fanned out and how late (send → its fan-out). */
interface RxSnap {
  fanout: number;
  buckets: [number, number][];
}
async function rxSnap(rx: Rx): Promise<RxSnap> {
  const text = await (await fetch(`http://127.0.0.1:${rx.metricsPort}/metrics`)).text();
  const buckets: [number, number][] = [];
  for (const m of text.matchAll(/^live_receiver_latency_seconds_bucket\{le="([^"]+)"\} (\d+)/gm)) buckets.push([m[1] === '+Inf' ? Infinity : Number(m[1]) * 1000, Number(m[2])]);
  return { fanout: Number(/^live_receiver_fanout_events_total (\d+)/m.exec(text)?.[1] ?? 0), buckets };
}
/** Share of the sent events the receiver fanned out, and the histogram bucket holding its p95 (ms, "≤"). */
function rxFigures(a: RxSnap, b: RxSnap, sent: number): { rx_fanout_pct: number; rx_p95_le_ms: number | null } {
  const d = b.buckets.map(([le, n], i) => [le, n - (a.buckets[i]?.[1] ?? 0)] as [number, number]);
  const total = d.at(-1)?.[1] ?? 0;
  const p95 = total ? (d.find(([, n]) => n >= total * 0.95)?.[0] ?? null) : null;
  return { rx_fanout_pct: Math.round(((b.fanout - a.fanout) / Math.max(1, sent)) * 1000) / 10, rx_p95_le_ms: p95 === Infinity ? null : p95 };
}

// ---- measuring ---------------------------------------------------------------------------------
interface Collector {
  latencies: number[];
  received: number;
  dropped: number;
  runs: Set<string>;
  close(): void;
}

function wsCollector(rx: Rx, run: string): Promise<Collector> {
  // A program authenticates with the token in a header (a token in the URL is refused).
  const ws = new WebSocket(`ws://127.0.0.1:${rx.httpPort}/ws`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const c: Collector = { latencies: [], received: 0, dropped: 0, runs: new Set(), close: () => ws.terminate() };
  return new Promise((resolve, reject) => {
    ws.on('error', reject);
    // Ten clients in one process must not measure this process's JSON.parse: read the header fields
    // with a regex (the receiver passes the harvester's datagram bytes through unchanged).
    const EVENT = /"run":"([^"]+)","seq":\d+,"sent":(\d+)/g;
    ws.on('message', (data) => {
      const now = Date.now();
      const text = data.toString();
      if (text.startsWith('{"type":"events"')) {
        for (const m of text.matchAll(EVENT)) {
          if (m[1] !== run) continue;
          c.received++;
          c.latencies.push(now - Number(m[2]));
        }
      } else {
        const msg = JSON.parse(text) as { type: string; count?: number };
        if (msg.type === 'hello') resolve(c);
        else if (msg.type === 'dropped') c.dropped += msg.count ?? 0;
      }
    });
  });
}

const pct = (xs: number[], p: number): number | null => {
  if (!xs.length) return null;
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))] as number;
};
const summary = (lat: number[]) => ({ p50_ms: pct(lat, 50), p95_ms: pct(lat, 95), p99_ms: pct(lat, 99) });

async function wsCase(
  rx: Rx,
  rate: number,
  clients: number,
): Promise<{
  rate: number;
  sent: number;
  offeredPerS: number;
  minDeliveredPct: number;
  dropped: number;
  p50_ms: number | null;
  p95_ms: number | null;
  p99_ms: number | null;
  rx_fanout_pct: number;
  rx_p95_le_ms: number | null;
}> {
  await settle(rx);
  const run = `b${randomBytes(5).toString('hex')}`;
  const cs = await Promise.all(Array.from({ length: clients }, () => wsCollector(rx, run)));
  const snap0 = await rxSnap(rx);
  const res = await runSender(`127.0.0.1:${rx.udpPort}`, rate, SECONDS, run);
  // Wait for stragglers (bounded).
  const until = Date.now() + 3000;
  while (Date.now() < until && cs.some((c) => c.received + c.dropped < res.sent)) await sleep(50);
  for (const c of cs) c.close();
  const rxf = rxFigures(snap0, await rxSnap(rx), res.sent);
  const all = cs.flatMap((c) => c.latencies);
  const minDelivered = Math.min(...cs.map((c) => c.received / Math.max(1, res.sent)));
  return {
    rate,
    sent: res.sent,
    offeredPerS: Math.round(res.sent / res.seconds),
    minDeliveredPct: Math.round(minDelivered * 1000) / 10,
    dropped: cs.reduce((s, c) => s + c.dropped, 0),
    ...summary(all),
    ...rxf,
  };
}

// ---- browsers: the live page in headless Chromium ------------------------------------------------
// The page records, for every event, (time of the frame that drew the view with it − `sent`) into
// `__live.latencies`, and (time its WebSocket message was parsed − `sent`) into `__live.arrivals`,
// once the bench sets them to arrays; the bench reads them back (no observer in the page's way).
interface LivePage {
  __live: { state: string; dropped: number; shown: number; frames: number; latencies: number[] | null; arrivals: number[] | null };
  document: { visibilityState: string };
}

async function launchBrowser(): Promise<Browser> {
  return chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: [
      '--headless',
      '--no-sandbox',
      '--disable-gpu',
      '--disable-quic',
      '--no-first-run',
      '--disable-background-networking',
      '--disable-component-update',
      '--disable-sync',
      // Ten pages at once: none of them may be treated as a background tab (no frames, slowed timers).
      '--disable-background-timer-throttling',
      '--disable-renderer-backgrounding',
      '--disable-backgrounding-occluded-windows',
    ],
  });
}

interface OpenPage {
  page: Page;
  perf(): Promise<Record<string, number>>;
}

/** n pages on the receiver, each in its own browser context (its own renderer), connected. */
async function openPages(browser: Browser, rx: Rx, n: number): Promise<OpenPage[]> {
  return Promise.all(
    Array.from({ length: n }, async () => {
      const ctx = await browser.newContext({ viewport: { width: 1280, height: 720 } });
      const page = await ctx.newPage();
      // Signed in through the page's form (the token is posted once for a session cookie).
      await page.goto(`http://127.0.0.1:${rx.httpPort}/`);
      await page.waitForSelector('#signin:not([hidden])', { timeout: 30_000 });
      await page.fill('#secret', TOKEN);
      await page.click('#signin-submit');
      await page.waitForFunction(() => (globalThis as unknown as LivePage).__live.state === 'connected', undefined, { timeout: 30_000 });
      const cdp = await ctx.newCDPSession(page);
      await cdp.send('Performance.enable');
      const perf = async () => Object.fromEntries(((await cdp.send('Performance.getMetrics')) as { metrics: { name: string; value: number }[] }).metrics.map((m) => [m.name, m.value]));
      return { page, perf };
    }),
  );
}

interface PagesResult {
  rate: number;
  sent: number;
  offeredPerS: number;
  minDeliveredPct: number;
  dropped: number;
  shown: ReturnType<typeof summary>;
  arrived: ReturnType<typeof summary>;
  pageBusyPct: number;
  framesPerS: number;
  visibility: string;
  load: string;
  rx_fanout_pct: number;
  rx_p95_le_ms: number | null;
}

async function pagesCase(rx: Rx, pages: OpenPage[], rate: number): Promise<PagesResult> {
  await settle(rx);
  const before = await Promise.all(
    pages.map(async (p) => ({
      live: await p.page.evaluate(() => {
        const l = (globalThis as unknown as LivePage).__live;
        l.latencies = [];
        l.arrivals = [];
        return { dropped: l.dropped, frames: l.frames, visibility: (globalThis as unknown as LivePage).document.visibilityState };
      }),
      perf: await p.perf(),
    })),
  );
  const t0 = Date.now();
  const snap0 = await rxSnap(rx);
  const res = await runSender(`127.0.0.1:${rx.udpPort}`, rate, SECONDS, `b${randomBytes(5).toString('hex')}`);
  // Wait for stragglers (bounded): every page has drawn or been told it lost each event.
  const state = () =>
    Promise.all(
      pages.map((p) =>
        p.page.evaluate(() => ({
          n: (globalThis as unknown as LivePage).__live.latencies?.length ?? 0,
          dropped: (globalThis as unknown as LivePage).__live.dropped,
          frames: (globalThis as unknown as LivePage).__live.frames,
        })),
      ),
    );
  const until = Date.now() + 3000;
  let now = await state();
  while (Date.now() < until && now.some((s, i) => s.n + s.dropped - (before[i]?.live.dropped ?? 0) < res.sent)) {
    await sleep(100);
    now = await state();
  }
  const wall = (Date.now() - t0) / 1000;
  const after = await Promise.all(pages.map((p) => p.perf()));
  const rxf = rxFigures(snap0, await rxSnap(rx), res.sent);
  const lat: number[] = [];
  const arr: number[] = [];
  let minDelivered = Infinity;
  let dropped = 0;
  let busy = 0;
  let frames = 0;
  for (const [i, p] of pages.entries()) {
    const got = await p.page.evaluate(() => {
      const l = (globalThis as unknown as LivePage).__live;
      const out = { latencies: l.latencies ?? [], arrivals: l.arrivals ?? [] };
      l.latencies = null;
      l.arrivals = null;
      return out;
    });
    for (const x of got.latencies) lat.push(x);
    for (const x of got.arrivals) arr.push(x);
    minDelivered = Math.min(minDelivered, got.latencies.length / Math.max(1, res.sent));
    dropped += (now[i]?.dropped ?? 0) - (before[i]?.live.dropped ?? 0);
    frames += (now[i]?.frames ?? 0) - (before[i]?.live.frames ?? 0);
    busy += ((after[i]?.TaskDuration ?? 0) - (before[i]?.perf.TaskDuration ?? 0)) / wall;
  }
  return {
    rate,
    sent: res.sent,
    offeredPerS: Math.round(res.sent / res.seconds),
    minDeliveredPct: Math.round(minDelivered * 1000) / 10,
    dropped,
    shown: summary(lat),
    arrived: summary(arr),
    pageBusyPct: Math.round((busy / pages.length) * 100),
    framesPerS: Math.round(frames / pages.length / wall),
    visibility: [...new Set(before.map((b) => b.live.visibility))].join(','),
    load: load(),
    ...rxf,
  };
}

async function baselineCase(rate: number): Promise<Record<string, number | string | null>> {
  const sock = createSocket('udp4');
  const lat: number[] = [];
  sock.on('message', (m) => {
    const now = Date.now();
    const sent = /"sent":(\d+)/.exec(m.toString('latin1'))?.[1];
    if (sent) lat.push(now - Number(sent));
  });
  await new Promise<void>((r) => sock.bind(0, '127.0.0.1', () => r()));
  const res = await runSender(`127.0.0.1:${sock.address().port}`, rate, SECONDS, `b${randomBytes(5).toString('hex')}`);
  await sleep(300);
  sock.close();
  return { case: `baseline-udp-${rate}/s`, sent: res.sent, offered_per_s: Math.round(res.sent / res.seconds), received: lat.length, ...summary(lat) };
}

const LADDER = [5_000, 10_000, 15_000, 20_000, 30_000, 40_000, 60_000, 80_000];
/** Ten browsers on a small machine: start lower, so that a loaded machine still gives a figure. */
const LADDER_BROWSERS = [1_000, 2_000, ...LADDER];
const passes = (r: { minDeliveredPct: number; dropped: number }, p95: number | null) => r.minDeliveredPct >= 99 && r.dropped === 0 && (p95 ?? Infinity) < 250;

async function main(): Promise<void> {
  const env = `bench${randomBytes(3).toString('hex')}`;
  const hard = setTimeout(() => {
    log('live bench: hard deadline reached');
    process.exit(2);
  }, DEADLINE - Date.now());
  hard.unref();
  const loadAtStart = load();
  const rx = await startReceiver(env);
  const results: Record<string, unknown>[] = [];
  const wsP95: Record<number, number | null> = {};
  try {
    const base = await baselineCase(10_000);
    log(JSON.stringify(base));
    for (const rate of CASES.has('ws') ? [1_000, 10_000, 50_000] : []) {
      const r = await wsCase(rx, rate, 1);
      wsP95[rate] = r.p95_ms;
      const row: Record<string, unknown> = {
        case: `ws-${rate}/s`,
        p50_ms: r.p50_ms,
        p95_ms: r.p95_ms,
        p99_ms: r.p99_ms,
        sent: r.sent,
        offered_per_s: r.offeredPerS,
        delivered_pct: r.minDeliveredPct,
        dropped_marker_events: r.dropped,
        rx_fanout_pct: r.rx_fanout_pct,
        rx_p95_le_ms: r.rx_p95_le_ms,
        load_1_5_15: load(),
      };
      if (rate === 10_000) {
        row.target = 'p95 < 250 ms';
        row.baseline = { p95_ms: base.p95_ms as number };
        row.ratio = base.p95_ms ? Math.round(((r.p95_ms ?? 0) / Math.max(1, base.p95_ms as number)) * 10) / 10 : null;
      }
      log(JSON.stringify(row));
      results.push(row);
    }
    if (BROWSER && CASES.has('browser')) {
      // One page: harvester send → the page drew the view with the event, at 1k, 10k and 50k/s.
      const browser = await launchBrowser();
      try {
        const pages = await openPages(browser, rx, 1);
        for (const rate of [1_000, 10_000, 50_000]) {
          const r = await pagesCase(rx, pages, rate);
          const row: Record<string, unknown> = {
            case: `browser-${rate}/s`,
            p50_ms: r.shown.p50_ms,
            p95_ms: r.shown.p95_ms,
            p99_ms: r.shown.p99_ms,
            sent: r.sent,
            offered_per_s: r.offeredPerS,
            delivered_pct: r.minDeliveredPct,
            dropped_marker_events: r.dropped,
            arrived_p95_ms: r.arrived.p95_ms,
            page_busy_pct: r.pageBusyPct,
            page_frames_per_s: r.framesPerS,
            rx_fanout_pct: r.rx_fanout_pct,
            rx_p95_le_ms: r.rx_p95_le_ms,
            load_1_5_15: r.load,
          };
          if (rate === 10_000) {
            row.target = 'p95 < 250 ms';
            // Side by side: a plain WebSocket client on the same receiver, same run, same rate.
            if (wsP95[rate] !== undefined) {
              row.baseline = { ws_p95_ms: wsP95[rate] };
              row.ratio = wsP95[rate] ? Math.round(((r.shown.p95_ms ?? 0) / Math.max(1, wsP95[rate] ?? 1)) * 10) / 10 : null;
            }
          }
          log(JSON.stringify({ ...row, visibility: r.visibility }));
          results.push(row);
        }
      } finally {
        await browser.close();
      }
    }
    // Ladders with 10 clients: highest rate where every client gets ≥ 99 %, no marker, p95 < 250 ms.
    if (CASES.has('ladder')) {
      let best = 0;
      let bestRow: Awaited<ReturnType<typeof wsCase>> | undefined;
      for (const rate of LADDER.filter((x) => x <= MAX_RATE)) {
        if (Date.now() > DEADLINE - 120_000) break;
        const r = await wsCase(rx, rate, 10);
        log(JSON.stringify({ ladder: 'ws', load: load(), ...r }));
        if (!passes(r, r.p95_ms)) break;
        best = rate;
        bestRow = r;
      }
      results.push({
        case: 'sustained-10-ws-clients',
        max_rate_per_s: best,
        offered_per_s: bestRow?.offeredPerS ?? null,
        p50_ms: bestRow?.p50_ms ?? null,
        p95_ms: bestRow?.p95_ms ?? null,
        p99_ms: bestRow?.p99_ms ?? null,
        delivered_pct: bestRow?.minDeliveredPct ?? null,
        load_1_5_15: load(),
      });
    }
    if (BROWSER && CASES.has('browsers10')) {
      const browser = await launchBrowser();
      try {
        const pages = await openPages(browser, rx, 10);
        let best = 0;
        let bestRow: PagesResult | undefined;
        let failed: PagesResult | undefined;
        for (const rate of LADDER_BROWSERS.filter((x) => x <= MAX_RATE)) {
          if (Date.now() > DEADLINE - 60_000) break;
          const r = await pagesCase(rx, pages, rate);
          log(JSON.stringify({ ladder: 'browsers', ...r }));
          if (!passes(r, r.shown.p95_ms)) {
            failed = r;
            break;
          }
          best = rate;
          bestRow = r;
        }
        results.push({
          case: 'sustained-10-browsers',
          max_rate_per_s: best,
          offered_per_s: bestRow?.offeredPerS ?? null,
          p50_ms: bestRow?.shown.p50_ms ?? null,
          p95_ms: bestRow?.shown.p95_ms ?? null,
          p99_ms: bestRow?.shown.p99_ms ?? null,
          delivered_pct: bestRow?.minDeliveredPct ?? null,
          page_busy_pct: bestRow?.pageBusyPct ?? null,
          page_frames_per_s: bestRow?.framesPerS ?? null,
          next_step: failed
            ? `${failed.rate}/s: ${failed.minDeliveredPct} % drawn, ${failed.dropped} dropped, p95 ${failed.shown.p95_ms} ms; receiver fanned out ${failed.rx_fanout_pct} %, its p95 ≤ ${failed.rx_p95_le_ms ?? '>2500'} ms`
            : null,
          load_1_5_15: load(),
        });
      } finally {
        await browser.close();
      }
    }
    results.push(base);
  } finally {
    rx.child.kill('SIGTERM');
    await new Promise((r) => rx.child.once('exit', r));
  }
  process.stdout.write(
    `${JSON.stringify({
      name: 'live',
      results,
      target: 'p95 < 250 ms at 10,000 events/s (harvester send → the page drew it)',
      notes: [
        "latency = time − the datagram's `sent` (stamped by the harvester's live output as it takes the event from the input), same host clock; ws-*: a WebSocket client's receipt; browser-*: the animation frame at which the live page drew its view with the event (the page records it; the bench reads it back); arrived_p95_ms: the page's parse of the WebSocket message",
        "the page keeps the last 5,000 events in a ring and draws only the rows in its window (a fixed pool, ≤ ~30 redraws/s, fewer when flooded or when frames come late; docs/adr/0010-live-page-rendering.md): page_busy_pct = the renderer main thread's busy time (CDP TaskDuration) / wall time",
        'one live-receiver process, one Redis; sender in its own process; 2-core machines make the sender, receiver, Redis, clients and Chromium share CPU',
        'delivered_pct = events drawn (browsers) or received (ws) by the slowest client / events sent; UDP loss at the kernel counts against it',
        "rx_fanout_pct, rx_p95_le_ms: the receiver's own figures for the case (events it fanned out / sent; the bucket of its send → fan-out histogram holding the p95): when these are already bad, the clients are not what fell behind",
        'offered_per_s = the rate the sender really reached (a loaded machine may not reach the nominal rate)',
        'ladders (ws: 5k, 10k, 15k, 20k, 30k, 40k, 60k, 80k/s; browsers: 1k, 2k, then the same) stop at the first rate that fails ≥ 99 % delivery, no dropped marker and p95 < 250 ms; sustained-10-browsers: 10 pages, each in its own browser context, in one headless Chromium; next_step says why the next rate failed',
        `load average (1/5/15 min) at start: ${loadAtStart}; per case in load_1_5_15 (the machine may be shared; compare figures of one run)`,
      ],
      params: { seconds_per_case: SECONDS, ladder_top: MAX_RATE, browser: BROWSER, cases: [...CASES].join(',') },
    })}\n`,
  );
}

if (process.argv[2] === '--sender') void senderMain();
else
  void main().catch((err: Error) => {
    log(`live bench failed: ${err.stack ?? err.message}`);
    process.exit(1);
  });
