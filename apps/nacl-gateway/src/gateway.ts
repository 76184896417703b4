import { type Server, type Socket, createServer } from 'node:net';
import type { Producer } from '@backlog/adapter-kafka';
import type { Logger } from '@backlog/core-pipeline';
import {
  AckStatus, BATCH_HEADER_BYTES, FrameReader, type KeyPair, type OpenedBatch, ReplayWindow, type ReplayStore, SealedError, type SealedKeys, batchHeader,
  checkFresh, encodeFrame, encodeKey, openBatch, rejectReason, replayClaimTtlMs, sealAck, sealedKeys,
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
  /** The env this gateway serves: frames sealed for another env are refused (`wrong_env`). */
  env: string;
  topic: string;
  keys: KeyPair;
  allow: AllowedSender[];
  /** Largest frame accepted, bytes. Default 2 MiB. */
  maxFrameBytes: number;
  /** Sequence numbers remembered per sender in memory (a fast first replay check; Redis decides). Default 4096. */
  replayWindow: number;
  /** Frames whose sentAt is further than this from our clock are refused as stale; bounds the replay record's TTL, ms. Default 600 000. */
  maxClockSkewMs: number;
  /** Frames of one connection being produced at once; reading pauses above it (TCP pushes back). Default 16. */
  maxInFlightPerConnection: number;
  /** Open connections from all addresses; more are closed at once. Default 1024. */
  maxConnections: number;
  /** Open connections from one remote address; more are closed at once. Default 16. */
  maxConnectionsPerAddress: number;
  /** No byte received for this long and no produce in flight: the connection is closed, ms. Default 120 000. */
  idleTimeoutMs: number;
  /** A frame must complete this long after its first byte, ms. Default 30 000. */
  frameTimeoutMs: number;
}

export const defaultGatewayOptions = {
  host: '127.0.0.1', port: 5516, maxFrameBytes: 2 * 1024 * 1024, replayWindow: 4096, maxClockSkewMs: 600_000, maxInFlightPerConnection: 16,
  maxConnections: 1024, maxConnectionsPerAddress: 16, idleTimeoutMs: 120_000, frameTimeoutMs: 30_000,
};

interface SenderState {
  name: string;
  b64: string;
  keys: SealedKeys;
  window: ReplayWindow;
}

/** One connection's state, shared by the frame loop and the (async) admission of its frames. */
interface Conn {
  sock: Socket;
  dead: boolean;
  inflight: number;
  reject(err: unknown): void;
}

/**
 * Opens sealed batches from allowed harvesters and produces them to h-<env>, acknowledging each
 * frame only after Kafka did. Replicas share one replay record in Redis (the ReplayStore port), so a
 * frame accepted by any instance is refused by every other one and after a restart; besides that the
 * gateway holds no state, and any number of instances may sit behind one TCP address.
 *
 * Bounds (docs/specs/sealed-transport.md, "Listener bounds"): a frame's sender is checked against the
 * allow list from its 38 header bytes, before the body is buffered; a frame must complete within
 * frameTimeoutMs of its first byte; a connection idle for idleTimeoutMs is closed; connections are
 * capped per remote address and in total.
 */
export class Gateway {
  private server: Server | undefined;
  private readonly senders = new Map<string, SenderState>();
  private readonly sockets = new Set<Socket>();
  private readonly perAddress = new Map<string, number>();
  private stopping: Promise<void> | undefined;
  private inflightTotal = 0;
  private readonly idle = new Set<() => void>();
  private producerReady: Promise<void> | undefined;

  constructor(
    private readonly opts: GatewayOptions,
    private readonly deps: { producer: Producer; metrics: GatewayMetrics; log: Logger; replay: ReplayStore },
  ) {
    for (const a of opts.allow) {
      const b64 = encodeKey(a.publicKey);
      // The X25519 agreement and the key derivation run once per sender here, not once per frame.
      this.senders.set(b64, { name: a.name, b64, keys: sealedKeys(a.publicKey, opts.keys.secretKey), window: new ReplayWindow(opts.replayWindow) });
    }
  }

  start(): Promise<{ port: number }> {
    return new Promise((resolve, reject) => {
      const server = createServer((sock) => this.onConnection(sock));
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
    // Connection bounds first, before any byte is read: a flood from one address cannot take the
    // slots real harvesters need, and the total stays under maxConnections.
    const addr = sock.remoteAddress ?? 'unknown';
    const fromAddr = this.perAddress.get(addr) ?? 0;
    const over = this.sockets.size >= this.opts.maxConnections ? 'connection_limit' : fromAddr >= this.opts.maxConnectionsPerAddress ? 'address_limit' : undefined;
    if (over || this.stopping) {
      if (over) metrics.connectionsClosed.inc({ reason: over });
      sock.on('error', () => undefined);
      sock.destroy();
      return;
    }
    this.sockets.add(sock);
    this.perAddress.set(addr, fromAddr + 1);
    metrics.connections.inc();
    sock.setNoDelay(true);
    // The allow list is checked from the fixed header (version, type, sender key), before the body is buffered.
    const reader = new FrameReader(this.opts.maxFrameBytes, {
      bytes: BATCH_HEADER_BYTES,
      check: (head, length) => {
        const sender = encodeKey(batchHeader(head, length));
        if (!this.senders.has(sender)) throw new SealedError('UNKNOWN_SENDER', `sender ${sender} is not on the allow list`);
      },
    });
    let frameTimer: NodeJS.Timeout | undefined;
    let frameOrdinal = -1;
    let pausedByUs = false;
    const stopFrameTimer = () => {
      if (frameTimer) clearTimeout(frameTimer);
      frameTimer = undefined;
    };
    const c: Conn = {
      sock,
      dead: false,
      inflight: 0,
      reject: (err: unknown) => {
        if (c.dead) return;
        const reason = err instanceof SealedError ? rejectReason(err.code) : err === FRAME_TIMEOUT ? 'frame_timeout' : 'malformed';
        metrics.rejected.inc({ reason });
        log.warn('frame rejected; closing the connection', { reason, remote: sock.remoteAddress, err: (err as Error).message });
        // The stream cannot be trusted after a bad frame (framing may be out of step, or it is an attack).
        c.dead = true;
        stopFrameTimer();
        sock.destroy();
      },
    };
    // The frame deadline runs from a frame's first byte to its last; it restarts for each new frame,
    // and is suspended while the gateway itself has paused reading (Kafka pushing back is not the sender's fault).
    const armFrameTimer = () => {
      if (c.dead || pausedByUs || !reader.inFrame) {
        stopFrameTimer();
        return;
      }
      if (frameTimer && frameOrdinal === reader.frames) return;
      stopFrameTimer();
      frameOrdinal = reader.frames;
      frameTimer = setTimeout(() => c.reject(FRAME_TIMEOUT), this.opts.frameTimeoutMs);
    };
    // Idle: node's socket timeout fires after idleTimeoutMs without a read or a write.
    sock.setTimeout(this.opts.idleTimeoutMs);
    sock.on('timeout', () => {
      // A produce in flight owes this sender an ack; its write restarts the idle clock.
      if (c.dead || c.inflight > 0 || reader.inFrame) return;
      metrics.connectionsClosed.inc({ reason: 'idle_timeout' });
      c.dead = true;
      sock.destroy();
    });
    sock.on('data', (chunk: Buffer) => {
      if (c.dead) return;
      metrics.bytes.inc(chunk.length);
      let frames;
      try {
        frames = reader.push(chunk);
      } catch (err) {
        c.reject(err);
        return;
      }
      for (const f of frames) {
        metrics.frames.inc();
        if (c.dead) return;
        let opened: OpenedBatch;
        let sender: SenderState;
        try {
          opened = openBatch(f.body, (b64) => this.senders.get(b64)?.keys, { env: this.opts.env });
          sender = this.senders.get(opened.sender)!;
          checkFresh(opened.sentAtMs, Date.now(), this.opts.maxClockSkewMs);
          // Fast local refusal of what this instance saw; the shared record in Redis decides.
          sender.window.check(opened.seq);
        } catch (err) {
          c.reject(err);
          return;
        }
        c.inflight++;
        this.inflightTotal++;
        if (c.inflight >= this.opts.maxInFlightPerConnection) {
          pausedByUs = true;
          sock.pause();
        }
        void this.admit(c, sender, opened, f.body.length).finally(() => {
          c.inflight--;
          this.inflightTotal--;
          if (pausedByUs && c.inflight < this.opts.maxInFlightPerConnection && !c.dead && !this.stopping) {
            pausedByUs = false;
            frameOrdinal = -1; // a fresh deadline for a frame that waited on us
            sock.resume();
            armFrameTimer();
          }
          if (this.inflightTotal === 0) for (const w of [...this.idle]) w();
        });
      }
      armFrameTimer();
    });
    sock.on('end', () => {
      try {
        reader.end();
      } catch (err) {
        c.reject(err);
      }
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      stopFrameTimer();
      this.sockets.delete(sock);
      const n = (this.perAddress.get(addr) ?? 1) - 1;
      if (n > 0) this.perAddress.set(addr, n);
      else this.perAddress.delete(addr);
      metrics.connections.dec();
      // A connection that died inside a frame (the sender was killed, or cut it short) sent a truncated frame.
      if (!c.dead && reader.inFrame) metrics.rejected.inc({ reason: 'truncated' });
    });
  }

  /**
   * Claims the frame in the shared replay record, then produces it. Only an authenticated, fresh
   * frame gets here, so a forger cannot fill the record. Without an answer from Redis the frame is
   * refused (fail closed) with a failed ack: the sender keeps it spooled and resends it, sealed anew.
   */
  private async admit(c: Conn, sender: SenderState, rec: OpenedBatch, sealedBytes: number): Promise<void> {
    const { metrics, log } = this.deps;
    let claimed: boolean;
    try {
      claimed = await this.deps.replay.claim({ env: this.opts.env, sender: sender.b64, seq: rec.seq }, replayClaimTtlMs(rec.sentAtMs, Date.now(), this.opts.maxClockSkewMs));
    } catch (err) {
      metrics.rejected.inc({ reason: 'replay_store_unavailable' });
      log.warn('replay record unavailable; frame refused, the sender will resend', { sender: sender.name, seq: rec.seq, err: (err as Error).message });
      this.ack(c, sender, rec, AckStatus.Failed, 'REPLAY_STORE_UNAVAILABLE');
      return;
    }
    if (!claimed) {
      c.reject(new SealedError('REPLAY', `sequence ${rec.seq} of ${sender.name} was already accepted (by this or another gateway)`));
      return;
    }
    try {
      sender.window.accept(rec.seq);
    } catch {
      // The local window moved past it meanwhile; Redis has the record, which is what counts.
    }
    metrics.accepted.inc({ sender: sender.name });
    metrics.sealedBytes.inc(sealedBytes);
    await this.produce(c, sender, rec);
  }

  /** Connects lazily (and again after a failure), so the gateway serves, and fails acks, while Kafka is down. */
  private connectProducer(): Promise<void> {
    this.producerReady ??= this.deps.producer.connect().catch((err: unknown) => {
      this.producerReady = undefined;
      throw err;
    });
    return this.producerReady;
  }

  private async produce(c: Conn, sender: SenderState, rec: OpenedBatch): Promise<void> {
    const t0 = process.hrtime.bigint();
    // The verified sender overrides whatever the sealed headers claim: downstream can trust it.
    const headers = { ...rec.headers, sender: sender.b64, 'sender-name': sender.name };
    try {
      await this.connectProducer();
      await this.deps.producer.send(this.opts.topic, [{ key: rec.key, value: Buffer.from(rec.value.buffer, rec.value.byteOffset, rec.value.byteLength), headers }]);
      this.deps.metrics.acked.inc();
      this.deps.metrics.ackedEvents.inc(Number(rec.headers.count) || 0);
      this.deps.metrics.produceLatency.observe(Number(process.hrtime.bigint() - t0) / 1e9);
      this.ack(c, sender, rec, AckStatus.Ok);
    } catch (err) {
      // Reconnect on the next frame: kafkajs does not always recover a producer whose broker went away.
      this.producerReady = undefined;
      const code = (err as { code?: string }).code ?? 'unknown';
      this.deps.metrics.produceErrors.inc({ code });
      this.deps.log.warn('produce failed; sender will resend', { sender: sender.name, seq: rec.seq, code });
      this.ack(c, sender, rec, AckStatus.Failed, code);
    }
  }

  /** The sealed ack names the exact batch it answers: env, seq and the batch's nonce. */
  private ack(c: Conn, sender: SenderState, rec: OpenedBatch, status: (typeof AckStatus)[keyof typeof AckStatus], reason?: string): void {
    if (c.dead || c.sock.destroyed) return;
    c.sock.write(encodeFrame(sealAck(sender.keys, { env: this.opts.env, seq: rec.seq, batchNonce: rec.nonce, status, ...(reason ? { reason } : {}) })));
  }
}

/** The frame deadline's rejection (not a SealedError: it is about the connection's pace, not the bytes). */
const FRAME_TIMEOUT = new Error('frame not complete within frameTimeoutMs of its first byte');
