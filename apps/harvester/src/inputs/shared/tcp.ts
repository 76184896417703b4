import { type Server, type Socket, createServer } from 'node:net';
import type { Logger, SourceSink } from '@backlog/core-pipeline';
import { settleBy } from '@backlog/core-pipeline';

/** What a TCP input does with one connection's bytes. */
export interface ConnectionHandler {
  /** A chunk arrived. Returns false when the sink asked to pause: the listener stops reading every socket. */
  data(chunk: Buffer): boolean;
  /** The connection ended (peer closed, reset, idle timeout, or our stop): flush any partial record. */
  end(reason: 'end' | 'error' | 'timeout' | 'stop'): void;
}

export interface TcpListenerOptions {
  host: string;
  port: number;
  /** Connections served at once; Node refuses further ones (server.maxConnections). */
  maxConnections: number;
  /** Close a connection after this long without data, ms; 0 = never. */
  idleTimeoutMs: number;
  logger: Logger;
  sink: SourceSink<unknown>;
  onConnection(socket: Socket): ConnectionHandler;
}

/**
 * A TCP server with the backpressure the pipeline needs: when the sink says "pause", every socket stops
 * reading (socket.pause()), Node stops pulling from the kernel once its small readable buffer
 * (highWaterMark) is full, the kernel's receive window closes and the senders block in write() — TCP flow
 * control does the pushing back for us, and each connection's memory stays bounded by that buffer plus its
 * decoder's max frame size. Reading resumes when the sink calls onWritable.
 */
export class TcpListener {
  private server?: Server;
  private readonly conns = new Map<Socket, (reason: 'end' | 'error' | 'timeout' | 'stop') => void>();
  private paused = false;
  private unsubscribe?: () => void;
  private stopping = false;
  refusedConnections = 0;

  constructor(private readonly opts: TcpListenerOptions) {}

  get connections(): number {
    return this.conns.size;
  }
  get isPaused(): boolean {
    return this.paused;
  }

  async start(): Promise<void> {
    const server = createServer({ pauseOnConnect: true }, (socket) => this.accept(socket));
    this.server = server;
    server.maxConnections = this.opts.maxConnections;
    server.on('drop', () => {
      this.refusedConnections++;
      this.opts.logger.warn('connection refused: maxConnections reached', { maxConnections: this.opts.maxConnections });
    });
    this.unsubscribe = this.opts.sink.onWritable(() => this.resumeAll());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        server.on('error', (err) => this.opts.logger.error('tcp server error', { err }));
        resolve();
      });
    });
  }

  address(): { host: string; port: number } | undefined {
    const a = this.server?.address();
    return a && typeof a === 'object' ? { host: a.address, port: a.port } : undefined;
  }

  private accept(socket: Socket): void {
    if (this.stopping) return void socket.destroy();
    const handler = this.opts.onConnection(socket);
    let ended = false;
    const finish = (reason: 'end' | 'error' | 'timeout' | 'stop') => {
      if (ended) return;
      ended = true;
      try {
        handler.end(reason);
      } catch (err) {
        this.opts.logger.error('connection handler failed at end', { err });
      }
    };
    this.conns.set(socket, finish);
    socket.setKeepAlive(true, 60_000);
    socket.setNoDelay(true);
    if (this.opts.idleTimeoutMs > 0) socket.setTimeout(this.opts.idleTimeoutMs, () => (finish('timeout'), socket.destroy()));
    socket.on('data', (chunk: Buffer) => {
      let ok = true;
      try {
        ok = handler.data(chunk);
      } catch (err) {
        // A decoder bug must cost one connection, never the process.
        this.opts.logger.error('connection handler failed', { err });
        finish('error');
        socket.destroy();
        return;
      }
      if (!ok) this.pauseAll();
    });
    socket.on('end', () => {
      finish('end');
      socket.end();
    });
    socket.on('error', (err) => {
      this.opts.logger.debug('connection error', { err });
      finish('error');
    });
    socket.on('close', () => {
      finish('error');
      this.conns.delete(socket);
    });
    // pauseOnConnect: read only once registered, and not at all while the sink is full.
    if (!this.paused) socket.resume();
  }

  private pauseAll(): void {
    if (this.paused) return;
    this.paused = true;
    for (const s of this.conns.keys()) s.pause();
    // The sink may have drained between write() and here; never stay paused without a wake-up.
    if (this.opts.sink.writable) queueMicrotask(() => this.resumeAll());
  }

  private resumeAll(): void {
    if (!this.paused || this.stopping) return;
    this.paused = false;
    for (const s of this.conns.keys()) s.resume();
  }

  /** Stops accepting, flushes every connection's partial record, closes the sockets. */
  async stop(deadline: number): Promise<void> {
    this.stopping = true;
    this.unsubscribe?.();
    const server = this.server;
    if (!server) return;
    const closed = new Promise<void>((resolve) => server.close(() => resolve()));
    for (const [socket, finish] of this.conns) {
      socket.pause();
      finish('stop');
      socket.destroy();
    }
    await settleBy(closed, deadline);
  }
}
