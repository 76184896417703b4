import { createHash, randomBytes, timingSafeEqual } from 'node:crypto';
import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { readFileSync } from 'node:fs';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { isIP } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { silentLogger, type Logger } from '@backlog/core-pipeline';
import { startTelemetryServer, type TelemetryServer } from '@backlog/platform-telemetry';
import { RedisLiveBus, type LiveBus } from './bus';
import { ClientHub, type Client, type FanoutItem } from './clients';
import type { LiveReceiverConfig } from './config';
import { decodeDatagram, readHeader } from './datagram';
import { Deduper } from './dedupe';
import { parseClientFilter } from './filter';
import { GapCounter } from './gaps';
import { LogIoForwarder } from './logio';
import { createLiveMetrics, type LiveMetrics } from './metrics';

export interface ReceiverDeps {
  /** Replaces the Redis bus (tests of a Redis outage use a real Redis that goes away instead). */
  bus?: LiveBus;
  log?: Logger;
}

export interface ReceiverAddresses {
  udpPort: number;
  httpPort: number;
  metricsPort: number;
  /** The access token (generated when the config has none). */
  token: string;
  id: string;
}

const PAGE_DIR = new URL('./page/', import.meta.url);
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
    this.token = cfg.auth.token ?? randomBytes(18).toString('base64url');
    this.tokenDigest = digest(this.token);
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

    this.http = createServer((req, res) => {
      const path = (req.url ?? '/').split('?')[0];
      const headers = {
        'cache-control': 'no-store',
        'x-content-type-options': 'nosniff',
        // The page needs nothing but itself and its own WebSocket.
        'content-security-policy': "default-src 'none'; script-src 'self'; style-src 'unsafe-inline'; connect-src 'self'; img-src 'self' data:",
      };
      if (req.method === 'GET' && (path === '/' || path === '/index.html')) {
        res.writeHead(200, { ...headers, 'content-type': 'text/html; charset=utf-8' }).end(this.page.html);
      } else if (req.method === 'GET' && path === '/app.js') {
        res.writeHead(200, { ...headers, 'content-type': 'text/javascript; charset=utf-8' }).end(this.page.js);
      } else if (req.method === 'GET' && path === '/healthz') {
        const h = this.health();
        res.writeHead(h.ok ? 200 : 503, { 'content-type': 'application/json' }).end(JSON.stringify(h));
      } else res.writeHead(404, headers).end('not found');
    });
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
      const h = readHeader(raw);
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
    // Browsers that vanished without a close (sleeping laptop) are found by an unanswered ping.
    for (const ws of this.wss?.clients ?? []) {
      const alive = ws as WebSocket & { backlogAlive?: boolean };
      if (alive.backlogAlive === false) {
        ws.terminate();
        continue;
      }
      alive.backlogAlive = false;
      ws.ping();
    }
  }

  private authorized(req: IncomingMessage, url: URL): boolean {
    const bearer = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '')?.[1];
    const given = url.searchParams.get('token') ?? bearer;
    // Compare digests: equal length, constant time, whatever the caller sent.
    return given !== undefined && given !== null && timingSafeEqual(digest(given), this.tokenDigest);
  }

  private onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = new URL(req.url ?? '/', 'http://receiver');
    const refuse = (status: number, text: string, reason: string) => {
      this.metrics.clientsRejected.inc({ reason });
      socket.end(`HTTP/1.1 ${status} ${text}\r\nconnection: close\r\ncontent-length: 0\r\n\r\n`);
    };
    if (url.pathname !== '/ws') return refuse(404, 'Not Found', 'path');
    if (!this.authorized(req, url)) return refuse(401, 'Unauthorized', 'token');
    if (this.stopping) return refuse(503, 'Service Unavailable', 'stopping');
    if (this.hub.size >= this.cfg.http.maxClients) return refuse(503, 'Service Unavailable', 'max_clients');
    this.wss?.handleUpgrade(req, socket, head, (ws) => this.onClient(ws, url));
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
      }
      else if (m.type === 'filter') {
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
      setTimeout(() => {
        for (const ws of this.wss?.clients ?? []) ws.terminate();
        http?.closeAllConnections();
      }, Math.min(500, left())).unref();
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
