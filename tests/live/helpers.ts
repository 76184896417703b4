import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket, type Socket } from 'node:dgram';
import { join } from 'node:path';
import WebSocket from 'ws';
import { generateToken } from '@backlog/platform-config';

export const ROOT = join(import.meta.dirname, '..', '..');
/** A real random token for this run (placeholders and made-up values are refused at start). */
export const TOKEN = generateToken();

export interface Proc {
  child: ChildProcess;
  /** The JSON lines the process wrote (stdout and stderr). */
  lines: Record<string, unknown>[];
  /** Everything written, for failure messages. */
  output(): string;
  exited: Promise<number | null>;
}

/** Spawns `node --import tsx <entry>` and resolves once a line satisfies `ready` (or rejects with its output). */
export function spawnTs(entry: string, env: Record<string, string>, ready: (line: Record<string, unknown>) => boolean, timeoutMs = 20_000): Promise<Proc> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const lines: Record<string, unknown>[] = [];
  let text = '';
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`${entry} not ready in ${timeoutMs} ms:\n${text}`)), timeoutMs);
    let done = false;
    const onData = (chunk: Buffer) => {
      text += chunk.toString();
      for (const l of chunk.toString().split('\n')) {
        if (!l.trim().startsWith('{')) continue;
        try {
          const obj = JSON.parse(l) as Record<string, unknown>;
          lines.push(obj);
          if (!done && ready(obj)) {
            done = true;
            clearTimeout(timer);
            resolve({ child, lines, output: () => text, exited });
          }
        } catch {
          /* a partial line; the ready line is short and arrives whole */
        }
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    void exited.then((code) => {
      if (!done) {
        clearTimeout(timer);
        reject(new Error(`${entry} exited ${code} before ready:\n${text}`));
      }
    });
  });
}

export interface Receiver extends Proc {
  udpPort: number;
  httpPort: number;
  metricsPort: number;
}

/** Starts a live-receiver process on free loopback ports, in the Redis namespace `env`. */
export async function startReceiver(env: string, extra: Record<string, string> = {}): Promise<Receiver> {
  const p = await spawnTs(
    'apps/live-receiver/src/main.ts',
    {
      BACKLOG_ENV: env,
      BACKLOG_LIVE_RECEIVER_UDP_PORT: '0',
      BACKLOG_LIVE_RECEIVER_HTTP_PORT: '0',
      BACKLOG_LIVE_RECEIVER_METRICS_PORT: '0',
      BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: TOKEN,
      ...extra,
    },
    (l) => l.msg === 'listening',
  );
  const l = p.lines.find((x) => x.msg === 'listening') as { udpPort: number; httpPort: number; metricsPort: number };
  return { ...p, udpPort: l.udpPort, httpPort: l.httpPort, metricsPort: l.metricsPort };
}

export async function stopProc(p: Proc | undefined, signal: NodeJS.Signals = 'SIGTERM'): Promise<number | null> {
  if (!p || p.child.exitCode !== null || p.child.signalCode !== null) return p?.child.exitCode ?? null;
  p.child.kill(signal);
  const timer = setTimeout(() => p.child.kill('SIGKILL'), 8000);
  const code = await p.exited;
  clearTimeout(timer);
  return code;
}

/** One metric's value (summed over label sets matching `labelMatch`). */
export async function metric(r: Receiver, name: string, labelMatch = ''): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${r.metricsPort}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const rest = line.slice(name.length);
    if (!(rest.startsWith(' ') || rest.startsWith('{'))) continue;
    if (labelMatch && !rest.includes(labelMatch)) continue;
    sum += Number(line.split(' ').pop());
  }
  return sum;
}

export interface WsClient {
  ws: WebSocket;
  events: { seq: number; host: string; run: string; sent: number; event: Record<string, unknown> }[];
  dropped: number;
  close(): void;
}

/** A WebSocket client of a receiver, collecting events; resolves on the server's hello. */
export function wsClient(r: { httpPort: number }, filter: Record<string, string> = {}): Promise<WsClient> {
  // A program authenticates with the token in a header; a token in the URL is refused.
  const q = new URLSearchParams(filter);
  const ws = new WebSocket(`ws://127.0.0.1:${r.httpPort}/ws?${q}`, { headers: { authorization: `Bearer ${TOKEN}` } });
  const c: WsClient = { ws, events: [], dropped: 0, close: () => ws.terminate() };
  return new Promise((resolve, reject) => {
    ws.on('error', reject);
    ws.on('message', (data) => {
      const msg = JSON.parse(data.toString()) as { type: string; events?: WsClient['events']; count?: number };
      if (msg.type === 'hello') resolve(c);
      else if (msg.type === 'events') c.events.push(...(msg.events ?? []));
      else if (msg.type === 'dropped') c.dropped += msg.count ?? 0;
    });
  });
}

/**
 * Waits until `read()` has stopped moving for `quietMs` and `ok(value)` holds; returns the value. A
 * count that holds still for two quick polls is not settled on a loaded machine (a Redis round trip
 * in flight, a receiver descheduled), hence the quiet period.
 */
export async function waitSettled(read: () => Promise<number>, ok: (n: number) => boolean, timeoutMs: number, what: () => string, quietMs = 1000): Promise<number> {
  const until = Date.now() + timeoutMs;
  let last = Number.NaN;
  let since = Date.now();
  while (Date.now() < until) {
    const n = await read();
    if (n !== last) {
      last = n;
      since = Date.now();
    } else if (Date.now() - since >= quietMs && ok(n)) return n;
    await new Promise((r) => setTimeout(r, 50));
  }
  throw new Error(`timed out after ${timeoutMs} ms waiting for ${what()} (last count ${last})`);
}

export function udpSocket(): Socket {
  return createSocket('udp4');
}

/** What the page functions below touch in the browser (the workspace is typechecked without the DOM lib). */
interface SignInGlobals {
  __live: { state: string };
}

/**
 * Signs a browser page in the way a person does: open the page, type the token (or a one-time code)
 * into its sign-in form, submit; resolves once the live view is connected.
 */
export async function signIn(page: import('playwright-core').Page, r: { httpPort: number }, query = '', secret = TOKEN): Promise<void> {
  await page.goto(`http://127.0.0.1:${r.httpPort}/${query}`);
  await page.waitForSelector('#signin:not([hidden])', { timeout: 10_000 });
  await page.fill('#secret', secret);
  await page.click('#signin-submit');
  await page.waitForFunction(() => (globalThis as unknown as SignInGlobals).__live.state === 'connected', undefined, { timeout: 10_000 });
}
