import { type Server, type Socket, createServer } from 'node:net';
import type { Producer } from '@backlog/adapter-kafka';
import type { Logger } from '@backlog/core-pipeline';
import {
  AckStatus, FrameReader, FrameType, ReplayWindow, SealedError, encodeFrame, encodeKey, openBatch, rejectReason, sealAck, sharedKey,
  type KeyPair,
} from '@backlog/core-sealed';
import type { GatewayMetrics } from './metrics';

export interface AllowedSender {
  /** A name for logs and the `sender-name` header (e.g. the harvester's host). */
  name: string;
  /** base64 public key. */
  publicKey: Uint8Array;
}

export interface GatewayOptions {
  host: string;
  port: number;
  topic: string;
  keys: KeyPair;
  allow: AllowedSender[];
  /** Largest frame accepted, bytes. Default 2 MiB. */
  maxFrameBytes: number;
  /** Sequence numbers remembered per sender for out-of-order arrival. Default 4096. */
  replayWindow: number;
  /** Frames whose sentAt is further than this from our clock are refused as stale (bounds replays to a fresh gateway), ms. Default 600 000. */
  maxClockSkewMs: number;
  /** Frames of one connection being produced at once; reading pauses above it (TCP pushes back). Default 16. */
  maxInFlightPerConnection: number;
  /** Open connections; more are refused. Default 1024. */
  maxConnections: number;
}

export const defaultGatewayOptions = { host: '127.0.0.1', port: 5516, maxFrameBytes: 2 * 1024 * 1024, replayWindow: 4096, maxClockSkewMs: 600_000, maxInFlightPerConnection: 16, maxConnections: 1024 };

interface SenderState {
  name: string;
  b64: string;
  shared: Uint8Array;
  window: ReplayWindow;
}

/**
 * Opens sealed batches from allowed harvesters and produces them to h-<env>, acknowledging each
 * frame only after Kafka did. Stateless apart from the in-memory replay windows: any number of
 * instances may sit behind one TCP address; a harvester that loses its connection resends its
 * unacknowledged batches (sealed again, new sequence numbers) to whichever instance it reaches.
 */
export class Gateway {
  private server: Server | undefined;
  private readonly senders = new Map<string, SenderState>();
  private readonly sockets = new Set<Socket>();
  private stopping: Promise<void> | undefined;
  private inflightTotal = 0;
  private readonly idle = new Set<() => void>();
  private producerReady: Promise<void> | undefined;

  constructor(
    private readonly opts: GatewayOptions,
    private readonly deps: { producer: Producer; metrics: GatewayMetrics; log: Logger },
  ) {
    for (const a of opts.allow) {
      const b64 = encodeKey(a.publicKey);
      // The X25519 agreement runs once per sender here, not once per frame.
      this.senders.set(b64, { name: a.name, b64, shared: sharedKey(a.publicKey, opts.keys.secretKey), window: new ReplayWindow(opts.replayWindow) });
    }
  }

  start(): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.onConnection(sock));
      server.maxConnections = this.opts.maxConnections;
      server.once('error', reject);
      server.listen(this.opts.port, this.opts.host, () => {
        server.off('error', reject);
        this.server = server;
        const addr = server.address();
        resolve({ port: typeof addr === 'object' && addr ? addr.port : this.opts.port });
      });
    });
  }

  get listening(): boolean {
    return Boolean(this.server?.listening);
  }

  /** Stops accepting, lets in-flight produces finish (and ack) until the deadline, then closes. Safe to call twice. */
  stop(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping ??= (async () => {
      await new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
      for (const s of this.sockets) s.pause();
      if (this.inflightTotal > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.max(0, deadline - Date.now()));
          this.idle.add(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      for (const s of this.sockets) s.destroy();
    })();
    return this.stopping;
  }

  private onConnection(sock: Socket): void {
    const { metrics, log } = this.deps;
    this.sockets.add(sock);
    metrics.connections.inc();
    sock.setNoDelay(true);
    const reader = new FrameReader(this.opts.maxFrameBytes);
    let inflight = 0;
    let dead = false;
    const reject = (err: unknown) => {
      const code = err instanceof SealedError ? err.code : 'FRAME_MALFORMED';
      metrics.rejected.inc({ reason: rejectReason(code) });
      log.warn('frame rejected; closing the connection', { reason: rejectReason(code), remote: sock.remoteAddress, err: (err as Error).message });
      // The stream cannot be trusted after a bad frame (framing may be out of step, or it is an attack).
      dead = true;
      sock.destroy();
    };
    sock.on('data', (chunk: Buffer) => {
      if (dead) return;
      metrics.bytes.inc(chunk.length);
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        reject(err);
        return;
      }
      for (const f of frames) {
        metrics.frames.inc();
        if (dead) return;
        try {
          if (f.type !== FrameType.Batch) throw new SealedError('FRAME_MALFORMED', `unexpected frame type ${f.type}`);
          const opened = openBatch(f.body, (b64) => this.senders.get(b64)?.shared);
          const sender = this.senders.get(opened.sender)!;
          if (Math.abs(Date.now() - opened.sentAtMs) > this.opts.maxClockSkewMs) throw new SealedError('STALE', `frame sealed at ${opened.sentAtMs} is outside ±${this.opts.maxClockSkewMs} ms`);
          // Only an authenticated frame may move the window, or a forger could push it forward.
          sender.window.accept(opened.seq);
          metrics.accepted.inc({ sender: sender.name });
          metrics.sealedBytes.inc(f.body.length);
          inflight++;
          this.inflightTotal++;
          if (inflight >= this.opts.maxInFlightPerConnection) sock.pause();
          void this.produce(sock, sender, opened).finally(() => {
            inflight--;
            this.inflightTotal--;
            if (inflight < this.opts.maxInFlightPerConnection && !dead && !this.stopping) sock.resume();
            if (this.inflightTotal === 0) for (const w of [...this.idle]) w();
          });
        } catch (err) {
          reject(err);
          return;
        }
      }
    });
    sock.on('end', () => {
      try {
        reader.end();
      } catch (err) {
        if (!dead) reject(err);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      this.sockets.delete(sock);
      metrics.connections.dec();
      // A connection that died inside a frame (the sender was killed, or cut it short) sent a truncated frame.
      if (!dead && reader.pending > 0) metrics.rejected.inc({ reason: 'truncated' });
    });
  }

  /** Connects lazily (and again after a failure), so the gateway serves, and fails acks, while Kafka is down. */
  private connectProducer(): Promise<void> {
    this.producerReady ??= this.deps.producer.connect().catch((err: unknown) => {
      this.producerReady = undefined;
      throw err;
    });
    return this.producerReady;
  }

  private async produce(sock: Socket, sender: SenderState, rec: ReturnType<typeof openBatch>): Promise<void> {
    const t0 = process.hrtime.bigint();
    // The verified sender overrides whatever the sealed headers claim: downstream can trust it.
    const headers = { ...rec.headers, sender: sender.b64, 'sender-name': sender.name };
    let status: (typeof AckStatus)[keyof typeof AckStatus] = AckStatus.Ok;
    let reason: string | undefined;
    try {
      await this.connectProducer();
      await this.deps.producer.send(this.opts.topic, [{ key: rec.key, value: Buffer.from(rec.value.buffer, rec.value.byteOffset, rec.value.byteLength), headers }]);
      this.deps.metrics.acked.inc();
      this.deps.metrics.ackedEvents.inc(Number(rec.headers.count) || 0);
      this.deps.metrics.produceLatency.observe(Number(process.hrtime.bigint() - t0) / 1e9);
    } catch (err) {
      status = AckStatus.Failed;
      // Reconnect on the next frame: kafkajs does not always recover a producer whose broker went away.
      this.producerReady = undefined;
      const code = (err as { code?: string }).code ?? 'unknown';
      reason = code;
      this.deps.metrics.produceErrors.inc({ code });
      this.deps.log.warn('produce failed; sender will resend', { sender: sender.name, seq: rec.seq, code });
    }
    if (!sock.destroyed) sock.write(encodeFrame(sealAck(sender.shared, { seq: rec.seq, status, ...(reason ? { reason } : {}) })));
  }
}
