import { createHash, randomBytes } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { silentLogger, type Logger } from '@backlog/core-pipeline';
import { generateToken } from '@backlog/platform-config';
import { startTelemetryServer, type TelemetryServer } from '@backlog/platform-telemetry';
import { LoginLimiter, SESSION_COOKIE, Sessions, cookieValue, loginCodeKey, newLoginCode, normalizeLoginCode, originAllowed, overTls, sameSecret, sessionCookie } from './auth';
import { RedisLiveBus, type LiveBus } from '@backlog/adapter-redis';
import { ClientHub, type Client, type FanoutItem } from './clients';
import type { LiveReceiverConfig } from './config';
import { decodeDatagram, readDatagramHeader } from '@backlog/core-codec';
import { Deduper } from './dedupe';
import { parseClientFilter } from './filter';
import { GapCounter } from './gaps';
import { LogIoForwarder } from './logio';
import { createLiveMetrics, type LiveMetrics } from './metrics';

export interface ReceiverDeps {
  /** Replaces the Redis bus (tests of a Redis outage use a real Redis that goes away instead). */
  bus?: LiveBus;
  log?: Logger;
  /** The token, when main.ts read it from `auth.tokenFile` (else `auth.token`, else one is made). */
  token?: string;
}

export interface ReceiverAddresses {
  udpPort: number;
  httpPort: number;
  metricsPort: number;
  /** The access token (generated when the config has none): for the process that started us, never for a log. */
  token: string;
  id: string;
}

const PAGE_DIR = new URL('./page/', import.meta.url);

/** A browser's socket, with what the receiver keeps on it. */
type LiveSocket = WebSocket & { backlogAlive?: boolean; backlogUntil?: number };
const digest = (s: string) => createHash('sha256').update(s).digest();

/**
 * One live-receiver: UDP in → validate → dedupe + publish through Redis → (every receiver) gap
 * count → per-browser filter and bounded queue → WebSocket. `start()` binds everything; `stop()`
 * stops intake first, lets the claims in flight finish, says goodbye to the browsers, and keeps to
 * its deadline. It never throws on input: every bad datagram or message is counted.
 */
export class LiveReceiver {
  readonly metrics: LiveMetrics = createLiveMetrics();
  readonly id = randomBytes(4).toString('hex');
  private readonly log: Logger;
  private readonly token: string;
  private readonly tokenDigest: Buffer;
  private readonly sessions: Sessions;
  private readonly limiter: LoginLimiter;
  private readonly bus: LiveBus;
  private readonly ownsBus: boolean;
  private readonly hub: ClientHub;
  private readonly gaps = new GapCounter();
  private readonly deduper: Deduper;
  private readonly logio: LogIoForwarder | undefined;
  private udp: UdpSocket | undefined;
  private http: Server | undefined;
  private wss: WebSocketServer | undefined;
  private telemetry: TelemetryServer | undefined;
  private timers: NodeJS.Timeout[] = [];
  private stopping: Promise<void> | undefined;
  private readonly page: { html: Buffer; js: Buffer };

  constructor(
    private readonly cfg: LiveReceiverConfig,
    deps: ReceiverDeps = {},
  ) {
    this.log = deps.log ?? silentLogger;
    this.token = deps.token ?? cfg.auth.token ?? generateToken();
    this.tokenDigest = digest(this.token);
    this.sessions = new Sessions(this.token);
    this.limiter = new LoginLimiter(cfg.auth.maxLoginFailuresPerMinute);
    this.ownsBus = !deps.bus;
    this.bus = deps.bus ?? new RedisLiveBus(cfg.redis.url, (err) => this.onRedisError(err));
    const m = this.metrics;
    this.hub = new ClientHub({ ...cfg.clients, onDropped: (n) => m.clientDropped.inc(n) });
    if (cfg.logio.enabled) {
      this.logio = new LogIoForwarder({ ...cfg.logio, onDropped: (n) => m.logioDropped.inc(n), onSent: (n) => m.logioSent.inc(n) });
    }
    this.deduper = new Deduper({
      bus: this.bus,
      prefix: `${cfg.env}:live:d:`,
      channel: this.channel,
      ...cfg.dedupe,
      onWon: (won) => {
        m.emitted.inc(won.length);
        this.logio?.forward(won);
      },
      onDuplicates: (n) => m.dropped.inc({ reason: 'duplicate' }, n),
      onDropped: (reason, n) => m.dropped.inc({ reason }, n),
      onError: (err) => this.onRedisError(err),
    });
    this.page = {
      html: readFileSync(new URL('index.html', PAGE_DIR)),
      js: readFileSync(new URL('app.js', PAGE_DIR)),
    };
  }

  /** The pub/sub channel shared by all receivers of this env. */
  get channel(): string {
    return `${this.cfg.env}:live:events`;
  }

  private lastRedisError = 0;
  private onRedisError(err: Error): void {
    // ioredis reports every failed reconnect; one line per 10 s is enough to see an outage.
    const now = Date.now();
    if (now - this.lastRedisError > 10_000) this.log.warn('redis error', { error: err.message });
    this.lastRedisError = now;
  }

  health(): { ok: boolean; redis: boolean; clients: number; id: string } {
    const redis = this.bus.ready();
    return { ok: redis && !this.stopping, redis, clients: this.hub.size, id: this.id };
  }

  async start(): Promise<ReceiverAddresses> {
    const { cfg } = this;
    if (this.bus instanceof RedisLiveBus) await this.bus.connect();
    await this.bus.subscribe(this.channel, (msg) => this.onFanout(msg));

    this.telemetry = await startTelemetryServer({ registry: this.metrics.registry, health: () => this.health(), host: cfg.metrics.host, port: cfg.metrics.port });

    // Bounds of the page's listener: a request must arrive whole within requestTimeoutMs (Node checks
    // once a second), and connections beyond the browsers allowed plus some room for page loads are closed.
    const t = cfg.http.requestTimeoutMs;
    this.http = createServer({ requestTimeout: t, headersTimeout: t, connectionsCheckingInterval: Math.min(1000, t) }, (req, res) => void this.onRequest(req, res));
    this.http.maxConnections = cfg.http.maxClients + 64;
    this.wss = new WebSocketServer({ noServer: true, maxPayload: 16 * 1024, perMessageDeflate: false });
    this.http.on('upgrade', (req, socket, head) => this.onUpgrade(req, socket, head));
    await listen(this.http, cfg.http.port, cfg.http.host);

    this.udp = createSocket({ type: isIP(cfg.udp.host) === 6 ? 'udp6' : 'udp4', recvBufferSize: cfg.udp.recvBufferBytes });
    this.udp.on('message', (buf) => this.onDatagram(buf));
    this.udp.on('error', (err) => this.log.error('udp socket error', { error: err.message }));
    await new Promise<void>((resolve, reject) => {
      this.udp?.once('error', reject);
      this.udp?.bind(cfg.udp.port, cfg.udp.host, () => {
        this.udp?.off('error', reject);
        resolve();
      });
    });
    this.logio?.start();

    this.timers.push(setInterval(() => this.tick(), 1000));
    this.timers.push(setInterval(() => this.gaps.sweep(), 60_000));
    this.timers.push(setInterval(() => this.heartbeat(), 30_000));
    for (const t of this.timers) t.unref();

    return {
      udpPort: this.udp.address().port,
      httpPort: (this.http.address() as AddressInfo).port,
      metricsPort: this.telemetry.port,
      token: this.token,
      id: this.id,
    };
  }

  // Hot-path counts are plain numbers, moved into the Prometheus counters once a second (tick):
  // prom-client's inc() per datagram costs more than the rest of the intake.
  private intake = { received: 0, bytes: 0 };
  private onDatagram(buf: Buffer): void {
    this.intake.received++;
    this.intake.bytes += buf.length;
    const r = decodeDatagram(buf);
    if (typeof r === 'string') {
      this.metrics.dropped.inc({ reason: `invalid_${r}` });
      return;
    }
    this.deduper.offer(r.d, r.raw);
  }

  private fanoutSeen = 0;
  private onFanout(message: Buffer): void {
    const now = Date.now();
    const out: FanoutItem[] = [];
    // Datagrams joined by \n (a newline never occurs inside one: see decodeDatagram). subarray: no copies.
    let start = 0;
    while (start < message.length) {
      let end = message.indexOf(0x0a, start);
      if (end < 0) end = message.length;
      const raw = message.subarray(start, end);
      start = end + 1;
      const h = readDatagramHeader(raw);
      if (!h) continue; // only receivers publish here, after validating; anything else is ignored
      this.gaps.observe(h.host, h.run, h.seq, now);
      // One in 8 events feeds the latency histogram: prom-client's observe() is costly at 50k/s,
      // and a 1/8 sample keeps every quantile that matters.
      if ((this.fanoutSeen++ & 7) === 0) this.metrics.latency.observe(Math.max(0, now - h.sent) / 1000);
      out.push({ raw });
    }
    this.metrics.fannedIn.inc(out.length);
    this.hub.deliver(out);
  }

  private lastSkipped = 0;
  private lastLate = 0;
  private tick(): void {
    this.metrics.received.inc(this.intake.received);
    this.metrics.bytes.inc(this.intake.bytes);
    this.intake.received = 0;
    this.intake.bytes = 0;
    // The gap counter is plain numbers on the hot path; move the growth into the counters once a second.
    this.metrics.skipped.inc(this.gaps.skipped - this.lastSkipped);
    this.metrics.late.inc(this.gaps.late - this.lastLate);
    this.lastSkipped = this.gaps.skipped;
    this.lastLate = this.gaps.late;
    this.metrics.clients.set(this.hub.size);
    const missing = this.gaps.missing;
    this.hub.broadcast(() => `{"type":"stats","receiver":"${this.id}","clients":${this.hub.size},"missing":${missing}}`);
  }

  private heartbeat(): void {
    const now = Date.now();
    // Browsers that vanished without a close (sleeping laptop) are found by an unanswered ping.
    for (const ws of this.wss?.clients ?? []) {
      const alive = ws as LiveSocket;
      // A session ends when it expires, not when its browser hangs up: the page then signs in again.
      if ((alive.backlogUntil ?? Infinity) <= now) {
        this.metrics.sessionsEnded.inc();
        ws.close(4001, 'session expired');
        continue;
      }
      if (alive.backlogAlive === false) {
        ws.terminate();
        continue;
      }
      alive.backlogAlive = false;
      ws.ping();
    }
  }

  /**
   * The page, its script, and the sign-in API (auth.ts says why it is shaped this way):
   *   GET  /auth/session  200 {expiresAt} with a live session cookie, else 401
   *   POST /auth/login    {"token": …} | {"code": …} | Authorization: Bearer → 200 + session cookie
   *   POST /auth/logout   204, cookie cleared
   *   POST /auth/code     Authorization: Bearer <token> → 201 {code, expiresAt}: a one-time login code
   */
  private async onRequest(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    const headers = {
      'cache-control': 'no-store',
      'x-content-type-options': 'nosniff',
      'referrer-policy': 'no-referrer',
      // The page needs nothing but itself, its own WebSocket and its own sign-in API.
      'content-security-policy':
        "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:; form-action 'none'; frame-ancestors 'none'; base-uri 'none'",
    };
    const json = (status: number, body: unknown, extra: Record<string, string> = {}) => {
      res.writeHead(status, { ...headers, 'content-type': 'application/json', ...extra }).end(body === undefined ? undefined : JSON.stringify(body));
    };
    try {
      if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
        res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(this.page.html);
      } else if (req.method === 'GET' && path === '/app.js') {
        res.writeHead(200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' }).end(this.page.js);
      } else if (req.method === 'GET' && path === '/healthz') {
        const h = this.health();
        json(h.ok ? 200 : 503, h);
      } else if (req.method === 'GET' && path === '/auth/session') {
        const expiresAt = this.sessions.verify(cookieValue(req.headers.cookie, SESSION_COOKIE));
        if (expiresAt === undefined) json(401, { error: 'unauthorized', message: 'sign in: POST /auth/login' });
        else json(200, { expiresAt });
      } else if (req.method === 'POST' && path === '/auth/login') {
        await this.login(req, json);
      } else if (req.method === 'POST' && path === '/auth/logout') {
        if (!originAllowed(req, this.cfg.http.allowedOrigins)) return json(403, { error: 'forbidden', message: 'cross-origin request refused' });
        json(204, undefined, { 'set-cookie': sessionCookie('', 0, this.secureCookie(req)) });
      } else if (req.method === 'POST' && path === '/auth/code') {
        if (!originAllowed(req, this.cfg.http.allowedOrigins)) return json(403, { error: 'forbidden', message: 'cross-origin request refused' });
        if (!this.bearer(req)) return json(401, { error: 'unauthorized', message: 'send Authorization: Bearer <auth.token>' });
        const code = newLoginCode();
        const ttlMs = this.cfg.auth.loginCodeMinutes * 60_000;
        try {
          await this.bus.putOnce(loginCodeKey(this.cfg.env, code.replace('-', '')), ttlMs);
        } catch {
          return json(503, { error: 'unavailable', message: 'login codes are kept in Redis, which does not answer; sign in with the token' });
        }
        json(201, { code, expiresAt: Date.now() + ttlMs });
      } else res.writeHead(404, headers).end('not found');
    } catch (err) {
      this.log.error('page request failed', { path, error: (err as Error).message });
      if (!res.headersSent) json(500, { error: 'internal' });
    }
  }

  private secureCookie(req: IncomingMessage): boolean {
    const mode = this.cfg.auth.secureCookie;
    return mode === 'always' || (mode === 'auto' && overTls(req));
  }

  /** The request carries the token as `Authorization: Bearer`. */
  private bearer(req: IncomingMessage): boolean {
    const given = /^Bearer\s+(\S+)\s*$/i.exec(req.headers.authorization ?? '')?.[1];
    return given !== undefined && sameSecret(given, this.tokenDigest);
  }

  private async login(req: IncomingMessage, json: (status: number, body: unknown, extra?: Record<string, string>) => void): Promise<void> {
    const m = this.metrics.logins;
    if (!originAllowed(req, this.cfg.http.allowedOrigins)) {
      m.inc({ result: 'origin' });
      return json(403, { error: 'forbidden', message: 'cross-origin sign-in refused' });
    }
    if (this.limiter.blocked()) {
      m.inc({ result: 'limited' });
      return json(429, { error: 'too_many_attempts', message: 'too many failed sign-ins; try again in a minute' }, { 'retry-after': '60' });
    }
    const body = await readSmallBody(req, 4096);
    if (body === 'too_large') return json(413, { error: 'too_large', message: 'the sign-in body is at most 4 KiB' });
    let given: { token?: unknown; code?: unknown } = {};
    if (body.length) {
      // JSON only: a cross-site HTML form cannot send it, and a cross-origin fetch of it needs a preflight we never grant.
      if (!/^application\/json\b/i.test(req.headers['content-type'] ?? '')) {
        m.inc({ result: 'bad_request' });
        return json(415, { error: 'unsupported_media_type', message: 'send {"token": …} or {"code": …} as application/json' });
      }
      try {
        given = JSON.parse(body.toString('utf8')) as typeof given;
      } catch {
        m.inc({ result: 'bad_request' });
        return json(400, { error: 'bad_request', message: 'the body is not JSON' });
      }
      if (typeof given !== 'object' || given === null) given = {};
    }
    let via: 'token' | 'code' | undefined;
    if (this.bearer(req) || (typeof given.token === 'string' && sameSecret(given.token, this.tokenDigest))) via = 'token';
    else if (typeof given.code === 'string') {
      const canonical = normalizeLoginCode(given.code);
      if (canonical) {
        try {
          if (await this.bus.takeOnce(loginCodeKey(this.cfg.env, canonical))) via = 'code';
        } catch {
          return json(503, { error: 'unavailable', message: 'login codes are kept in Redis, which does not answer; sign in with the token' });
        }
      }
    }
    if (!via) {
      this.limiter.failed();
      m.inc({ result: 'refused' });
      return json(401, { error: 'unauthorized', message: 'wrong token or login code (a code works once, for a few minutes)' });
    }
    m.inc({ result: via });
    const ttlMs = this.cfg.auth.sessionMinutes * 60_000;
    const s = this.sessions.issue(ttlMs);
    json(200, { expiresAt: s.expiresAt }, { 'set-cookie': sessionCookie(s.value, ttlMs, this.secureCookie(req)) });
  }

  /** When the upgrade's credentials end (epoch ms; Infinity for the token), or undefined when there are none. */
  private credentials(req: IncomingMessage): number | undefined {
    if (this.bearer(req)) return Infinity;
    return this.sessions.verify(cookieValue(req.headers.cookie, SESSION_COOKIE));
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const refuse = (status: number, text: string, reason: string) => {
      this.metrics.clientsRejected.inc({ reason });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/ws') return refuse(404, 'Not Found', 'path');
    // A token in a URL ends up in logs and histories: refused even when right (docs/adr/0019-defaults-tokens-sessions-and-bounds.md).
    if (url.searchParams.has('token')) return refuse(401, 'Unauthorized', 'query_token');
    // Cross-site WebSocket hijacking: a browser sends the session cookie to us from any page of the same
    // site (another port of this host is the same site), so the page's origin must be ours or allowed.
    if (!originAllowed(req, this.cfg.http.allowedOrigins)) return refuse(403, 'Forbidden', 'origin');
    const until = this.credentials(req);
    if (until === undefined) return refuse(401, 'Unauthorized', 'token');
    if (this.stopping) return refuse(503, 'Service Unavailable', 'stopping');
    if (this.hub.size >= this.cfg.http.maxClients) return refuse(503, 'Service Unavailable', 'max_clients');
    this.wss?.handleUpgrade(req, socket, head, (ws) => {
      (ws as LiveSocket).backlogUntil = until;
      this.onClient(ws, url);
    });
  }

  private onClient(ws: WebSocket, url: URL): void {
    const filter = parseClientFilter(Object.fromEntries(url.searchParams));
    // A closed socket can still be in the hub for a moment: sending then must be a no-op, not a throw.
    const client: Client = this.hub.add(
      {
        get bufferedAmount() {
          return ws.bufferedAmount;
        },
        send: (data) => {
          // binary: false — a Buffer here is the UTF-8 of a JSON text message.
          if (ws.readyState === ws.OPEN) ws.send(data, { binary: false });
        },
      },
      filter,
    );
    this.metrics.clients.set(this.hub.size);
    (ws as WebSocket & { backlogAlive?: boolean }).backlogAlive = true;
    ws.on('pong', () => {
      (ws as WebSocket & { backlogAlive?: boolean }).backlogAlive = true;
    });
    ws.on('message', (data, isBinary) => {
      if (isBinary) return;
      let msg: unknown;
      try {
        msg = JSON.parse(data.toString());
      } catch {
        return;
      }
      if (typeof msg !== 'object' || msg === null) return;
      const m = msg as { type?: unknown; filter?: unknown; n?: unknown; window?: unknown; framing?: unknown };
      if (m.type === 'ack' && typeof m.n === 'number') this.hub.ack(client, m.n);
      else if (m.type === 'flow') {
        if (m.framing === 'lines' || m.framing === 'json') this.hub.setFraming(client, m.framing);
        if (typeof m.window === 'number') this.hub.setWindow(client, m.window);
      } else if (m.type === 'filter') {
        const f = parseClientFilter((m.filter ?? {}) as Record<string, unknown>);
        this.hub.setFilter(client, f);
        ws.send(JSON.stringify({ type: 'filter', filter: f }));
      }
    });
    const bye = () => {
      this.hub.remove(client);
      this.metrics.clients.set(this.hub.size);
    };
    ws.on('close', bye);
    ws.on('error', bye);
    ws.send(JSON.stringify({ type: 'hello', receiver: this.id, connectedAt: Date.now(), filter }));
  }

  /** Stops intake, finishes the claims in flight, closes browsers (1001) and servers; never exceeds `deadlineMs`. */
  stop(deadlineMs = this.cfg.stopTimeoutMs): Promise<void> {
    this.stopping ??= (async () => {
      const until = Date.now() + deadlineMs;
      const left = () => Math.max(0, until - Date.now());
      const within = <T>(p: Promise<T>, share = 1) => Promise.race([p, new Promise<void>((r) => setTimeout(r, left() * share).unref())]);
      for (const t of this.timers) clearInterval(t);
      const udp = this.udp;
      this.udp = undefined;
      if (udp) await within(new Promise<void>((r) => udp.close(() => r())), 0.2);
      await within(this.deduper.drain(), 0.5);
      // Let the last fan-out reach the browsers, then say goodbye.
      await within(new Promise<void>((r) => setTimeout(r, 50)), 0.2);
      this.hub.flush();
      for (const ws of this.wss?.clients ?? []) ws.close(1001, 'receiver stopping');
      this.hub.close();
      await within(this.logio?.stop() ?? Promise.resolve(), 0.3);
      const closeServer = (s: Server | undefined) => (s ? new Promise<void>((r) => s.close(() => r())) : Promise.resolve());
      const http = this.http;
      setTimeout(
        () => {
          for (const ws of this.wss?.clients ?? []) ws.terminate();
          http?.closeAllConnections();
        },
        Math.min(500, left()),
      ).unref();
      await within(Promise.all([closeServer(this.http), this.telemetry?.close()]), 0.8);
      this.wss?.close();
      if (this.ownsBus) await within(this.bus.close());
    })();
    return this.stopping;
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
}

/** The request body when it is at most `max` bytes; 'too_large' (and the rest unread) otherwise. */
function readSmallBody(req: IncomingMessage, max: number): Promise<Buffer | 'too_large'> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let n = 0;
    req.on('data', (c: Buffer) => {
      n += c.length;
      if (n > max) {
        req.removeAllListeners('data');
        req.resume();
        resolve('too_large');
      } else chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}
