import { type Server, type Socket, createServer } from 'node:net';
import type { Logger, SourceSink } from '@backlog/core-pipeline';
import { settleBy } from '@backlog/core-pipeline';
import type { ByteQueueStats } from '@backlog/core-parse';
import type { MetricsRegistry } from '@backlog/platform-telemetry';

/** Why a connection ended; each is a `reason` label of harvester_input_connections_closed_total. */
export type CloseReason =
  | 'end' // the peer closed cleanly
  | 'error' // reset or socket error
  | 'idle_timeout' // no data for idleTimeoutMs
  | 'partial_timeout' // a record was started and not finished within partialRecordTimeoutMs
  | 'handler_error' // a decoder bug: it costs one connection, never the process
  | 'max_buffered_bytes' // the listener's byte budget was full and this connection held the most of it
  | 'stop'; // the input stopped

/** Why a connection was refused; each is a `reason` label of harvester_input_connections_refused_total. */
export type RefuseReason = 'max_connections' | 'max_connections_per_address' | 'stopping';

/** What a TCP input does with one connection's bytes. */
export interface ConnectionHandler {
  /** A chunk arrived. Returns false when the sink asked to pause: the listener stops reading every socket. */
  data(chunk: Buffer): boolean;
  /** The connection ended (peer closed, reset, a deadline, or our stop): flush any partial record, flagged unless `end`. */
  end(reason: CloseReason): void;
  /** A record is in progress: bytes of an unfinished line/frame are held, or an oversized one is being skipped. */
  readonly partial: boolean;
  /** Records finished on this connection so far (lines, frames): a new one started when it moves. */
  readonly completed: number;
  /** Bytes of the unfinished record held in memory (what the listener's byte budget counts). */
  readonly buffered: number;
  /** The connection's decoding buffer (memory bound and copy accounting; /healthz and tests). */
  stats(): ByteQueueStats;
}

export interface TcpListenerOptions {
  host: string;
  port: number;
  /** Connections served at once; Node refuses further ones (server.maxConnections). */
  maxConnections: number;
  /** Connections from one remote address at once; further ones are closed at once. */
  maxConnectionsPerAddress: number;
  /** Close a connection after this long without data, ms; 0 = never. */
  idleTimeoutMs: number;
  /** Close a connection whose record in progress was started this long ago, ms; 0 = never. */
  partialRecordTimeoutMs: number;
  /**
   * Bytes of unfinished records held across all connections at most; past it the connection holding the
   * most is closed (`max_buffered_bytes`) and its part of a record kept as an event flagged `partial_frame`.
   */
  maxBufferedBytes: number;
  logger: Logger;
  sink: SourceSink<unknown>;
  metrics: MetricsRegistry;
  /** `input` and `name` labels of the connection metrics. */
  labels: { input: string; name: string };
  onConnection(socket: Socket): ConnectionHandler;
}

interface Conn {
  socket: Socket;
  handler: ConnectionHandler;
  remote: string;
  /** Last time data arrived (or reading resumed after a pause), epoch ms. */
  lastData: number;
  /** When the record in progress started (0: none), epoch ms. */
  partialSince: number;
  completed: number;
  reads: number;
  /** This connection's share of the listener's buffered bytes (its handler's `buffered` after the last read). */
  buffered: number;
  finish(reason: CloseReason): void;
}

/** The connection metrics of the listening inputs (TCP, and HTTP's refusals) — ARCHITECTURE.md habit 6: named beside the component. */
export function connectionMetrics(registry: MetricsRegistry) {
  const labels = ['input', 'name'] as const;
  return {
    open: registry.gauge('harvester_input_connections', 'Connections open on a TCP input', labels),
    closed: registry.counter(
      'harvester_input_connections_closed_total',
      'Connections of a TCP input that ended, by reason (end, error, idle_timeout, partial_timeout, max_buffered_bytes, handler_error, stop)',
      [...labels, 'reason'],
    ),
    refused: registry.counter('harvester_input_connections_refused_total', 'Connections a TCP input refused, by reason (max_connections, max_connections_per_address, stopping)', [
      ...labels,
      'reason',
    ]),
    buffered: registry.gauge(
      'harvester_input_buffered_bytes',
      "Bytes of unfinished records (a line or frame not yet complete) held across a TCP input's connections; bounded by maxBufferedBytes",
      labels,
    ),
  };
}

/** A warning at most once a minute, with how often it happened meanwhile (no log line per refused connection). */
class ThrottledWarning {
  private last = 0;
  private suppressed = 0;
  constructor(private readonly logger: Logger) {}
  warn(msg: string, fields: Record<string, unknown>): void {
    const now = Date.now();
    if (now - this.last < 60_000) {
      this.suppressed++;
      return;
    }
    this.logger.warn(msg, { ...fields, ...(this.suppressed ? { sinceLastWarning: this.suppressed } : {}) });
    this.last = now;
    this.suppressed = 0;
  }
}

/**
 * A TCP server with the bounds and the backpressure the pipeline needs.
 *
 * Backpressure: when the sink says "pause", every socket stops reading (socket.pause()), Node stops pulling
 * from the kernel once its small readable buffer (highWaterMark) is full, the kernel's receive window
 * closes and the senders block in write() — TCP flow control does the pushing back for us. Reading resumes
 * when the sink calls onWritable.
 *
 * Bounds: each connection's memory is its decoder's one growable buffer (≤ the input's max record size)
 * plus Node's read buffer; connections are capped in all and per remote address; a connection is closed
 * after `idleTimeoutMs` without data and when a record it started is not finished within
 * `partialRecordTimeoutMs` (a slow-drip sender holds a buffer for that long at most). Both deadlines are
 * checked by one sweep per listener (no timer per read) and are suspended while we ourselves pause reading.
 * Every close and refusal is counted with its reason.
 *
 * Listener-wide byte budget: the unfinished records of all connections together are held to
 * `maxBufferedBytes`. Past it, the connection holding the most is closed (`max_buffered_bytes`) and what
 * it sent of its record becomes an event flagged `partial_frame` — as Redis does with `maxmemory-clients`
 * (the clients using the most memory are disconnected first). Pausing would not do: an unfinished record
 * is freed only by reading more of it, and a paused sender's deadlines must stop (the silence is ours), so
 * slow-drip senders could keep the budget full for as long as they liked (ADR 0020, addendum).
 */
export class TcpListener {
  private server?: Server;
  private readonly conns = new Set<Conn>();
  private readonly perAddress = new Map<string, number>();
  private paused = false;
  private unsubscribe?: () => void;
  private sweepTimer?: NodeJS.Timeout;
  private stopping = false;
  private readonly m: ReturnType<typeof connectionMetrics>;
  private readonly refusedWarning: ThrottledWarning;
  private readonly budgetWarning: ThrottledWarning;
  private bufferedTotal = 0;
  private bufferedPeak = 0;
  /** Counts behind the metrics, for health and tests. */
  readonly closed = new Map<CloseReason, number>();
  readonly refused = new Map<RefuseReason, number>();

  constructor(private readonly opts: TcpListenerOptions) {
    this.m = connectionMetrics(opts.metrics);
    this.m.open.set(opts.labels, 0);
    this.refusedWarning = new ThrottledWarning(opts.logger);
    this.budgetWarning = new ThrottledWarning(opts.logger);
    this.m.buffered.set(opts.labels, 0);
  }

  /** Bytes of unfinished records held across all connections now, and at most so far (tests, health). */
  get bufferedBytes(): { now: number; peak: number; limit: number } {
    return { now: this.bufferedTotal, peak: this.bufferedPeak, limit: this.opts.maxBufferedBytes };
  }

  get connections(): number {
    return this.conns.size;
  }
  get isPaused(): boolean {
    return this.paused;
  }
  /** Refused connections in all (every reason). */
  get refusedConnections(): number {
    let n = 0;
    for (const v of this.refused.values()) n += v;
    return n;
  }

  /** Each open connection's decoding buffer and read count (tests, health). */
  connectionStats(): (ByteQueueStats & { remote: string; reads: number })[] {
    return [...this.conns].map((c) => ({ remote: c.remote, reads: c.reads, ...c.handler.stats() }));
  }

  async start(): Promise<void> {
    const server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    server.maxConnections = this.opts.maxConnections;
    server.on('drop', () => this.refuse('max_connections'));
    this.unsubscribe = this.opts.sink.onWritable(() => this.resumeAll());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.logger.error('tcp server error', { err }));
        resolve();
      });
    });
    const deadlines = [this.opts.idleTimeoutMs, this.opts.partialRecordTimeoutMs].filter((t) => t > 0);
    if (deadlines.length) {
      // A deadline is met within a quarter of itself (at most 1 s late).
      const every = Math.max(25, Math.min(1000, Math.floor(Math.min(...deadlines) / 4)));
      this.sweepTimer = setInterval(() => this.sweep(), every);
      this.sweepTimer.unref();
    }
  }

  address(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  private refuse(reason: RefuseReason, socket?: Socket): void {
    socket?.destroy();
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    this.m.refused.inc({ ...this.opts.labels, reason });
    if (reason !== 'stopping') this.refusedWarning.warn('connection refused', { reason, maxConnections: this.opts.maxConnections, maxConnectionsPerAddress: this.opts.maxConnectionsPerAddress });
  }

  private accept(socket: Socket): void {
    if (this.stopping) return this.refuse('stopping', socket);
    const remote = socket.remoteAddress ?? '';
    const fromRemote = this.perAddress.get(remote) ?? 0;
    if (fromRemote >= this.opts.maxConnectionsPerAddress) return this.refuse('max_connections_per_address', socket);
    this.perAddress.set(remote, fromRemote + 1);
    const handler = this.opts.onConnection(socket);
    const now = Date.now();
    const conn: Conn = {
      socket,
      handler,
      remote,
      lastData: now,
      partialSince: 0,
      completed: 0,
      reads: 0,
      buffered: 0,
      finish: (reason) => {
        if (!this.conns.delete(conn)) return;
        this.countBuffered(-conn.buffered);
        conn.buffered = 0;
        const left = (this.perAddress.get(remote) ?? 1) - 1;
        if (left > 0) this.perAddress.set(remote, left);
        else this.perAddress.delete(remote);
        this.closed.set(reason, (this.closed.get(reason) ?? 0) + 1);
        this.m.closed.inc({ ...this.opts.labels, reason });
        this.m.open.set(this.opts.labels, this.conns.size);
        try {
          handler.end(reason);
        } catch (err) {
          this.opts.logger.error('connection handler failed at end', { err });
        }
      },
    };
    this.conns.add(conn);
    this.m.open.set(this.opts.labels, this.conns.size);
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
    socket.on('data', (chunk: Buffer) => {
      let ok = true;
      conn.reads++;
      conn.lastData = Date.now();
      try {
        ok = handler.data(chunk);
      } catch (err) {
        this.opts.logger.error('connection handler failed', { err });
        conn.finish('handler_error');
        socket.destroy();
        return;
      }
      // The deadline of a record in progress runs from the read in which it started.
      if (!handler.partial) conn.partialSince = 0;
      else if (conn.partialSince === 0 || handler.completed !== conn.completed) conn.partialSince = conn.lastData;
      conn.completed = handler.completed;
      this.countBuffered(handler.buffered - conn.buffered);
      conn.buffered = handler.buffered;
      if (this.bufferedTotal > this.opts.maxBufferedBytes) this.evict();
      if (!ok) this.pauseAll();
    });
    socket.on('end', () => {
      conn.finish('end');
      socket.end();
    });
    socket.on('error', (err) => {
      this.opts.logger.debug('connection error', { err });
      conn.finish('error');
    });
    socket.on('close', () => conn.finish('error'));
    // pauseOnConnect: read only once registered, and not at all while the sink is full.
    if (!this.paused) socket.resume();
  }

  private countBuffered(delta: number): void {
    if (delta === 0) return;
    this.bufferedTotal += delta;
    if (this.bufferedTotal > this.bufferedPeak) this.bufferedPeak = this.bufferedTotal;
    this.m.buffered.set(this.opts.labels, this.bufferedTotal);
  }

  /**
   * The byte budget is exceeded: closes the connections holding the most (the oldest record first among
   * equals) until it is met. Each one's record so far is emitted, flagged, by its handler's end().
   */
  private evict(): void {
    while (this.bufferedTotal > this.opts.maxBufferedBytes) {
      let worst: Conn | undefined;
      for (const c of this.conns) {
        if (c.buffered > 0 && (!worst || c.buffered > worst.buffered || (c.buffered === worst.buffered && c.partialSince < worst.partialSince))) worst = c;
      }
      if (!worst) return;
      this.budgetWarning.warn("closing the connection holding the most bytes of an unfinished record: the listener's byte budget is full", {
        remote: worst.remote,
        bytes: worst.buffered,
        bufferedBytes: this.bufferedTotal,
        maxBufferedBytes: this.opts.maxBufferedBytes,
      });
      worst.finish('max_buffered_bytes');
      worst.socket.destroy();
    }
  }

  /** Closes connections past their idle or partial-record deadline. */
  private sweep(): void {
    // While we do not read, silence is ours, not the sender's.
    if (this.paused || this.stopping) return;
    const now = Date.now();
    const { idleTimeoutMs: idle, partialRecordTimeoutMs: partial } = this.opts;
    for (const c of [...this.conns]) {
      let reason: CloseReason | undefined;
      if (idle > 0 && now - c.lastData >= idle) reason = 'idle_timeout';
      else if (partial > 0 && c.partialSince > 0 && now - c.partialSince >= partial) reason = 'partial_timeout';
      if (!reason) continue;
      this.opts.logger.debug('closing connection', { reason, remote: c.remote });
      c.finish(reason);
      c.socket.destroy();
    }
  }

  private pauseAll(): void {
    if (this.paused) return;
    this.paused = true;
    for (const c of this.conns) c.socket.pause();
    // The sink may have drained between write() and here; never stay paused without a wake-up.
    if (this.opts.sink.writable) queueMicrotask(() => this.resumeAll());
  }

  private resumeAll(): void {
    if (!this.paused || this.stopping) return;
    this.paused = false;
    // The deadlines were suspended while we did not read: they start again now.
    const now = Date.now();
    for (const c of this.conns) {
      c.lastData = now;
      if (c.partialSince > 0) c.partialSince = now;
      c.socket.resume();
    }
  }

  /** Stops accepting, flushes every connection's partial record, closes the sockets. */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const c of [...this.conns]) {
      c.socket.pause();
      c.finish('stop');
      c.socket.destroy();
    }
    await settleBy(closed, deadline);
  }
}
