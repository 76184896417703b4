import { type Server, type Socket, createServer } from 'node:net';
import type { Producer } from '@backlog/adapter-kafka';
import type { Logger } from '@backlog/core-pipeline';
import {
  AckStatus,
  FrameReader,
  type KeyPair,
  type OpenedBatch,
  type ReplayStore,
  SealedError,
  checkFresh,
  encodeFrame,
  openBatch,
  rejectReason,
  replayClaimTtlMs,
  sealAck,
} from '@backlog/core-sealed';
import { type AllowedSender, AllowList, type SenderState } from './allow-list';
import { ByteBudget, defaultMaxBufferedBytes, pickFinisher } from './budget';
import type { GatewayMetrics } from './metrics';

export { type AllowedSender, defaultMaxBufferedBytes };

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
  /**
   * Bytes of frames held at once across all connections: frames being read plus frames opened and
   * waiting for Redis and Kafka. At it, reading stops on every socket (TCP pushes back) until it has
   * fallen to three quarters. Default: a quarter of V8's heap limit, at least 2 × maxFrameBytes
   * (defaultMaxBufferedBytes).
   */
  maxBufferedBytes?: number;
}

/** One connection's state, shared by the frame loop and the (async) admission of its frames. */
interface Conn {
  sock: Socket;
  reader: FrameReader;
  dead: boolean;
  inflight: number;
  /** Bytes of this connection's unfinished frame counted in the gateway's budget (its reader's pending bytes at the last read). */
  held: number;
  reject(err: unknown): void;
  /** Pauses or resumes reading to match the connection's and the gateway's state (and its frame deadline with it). */
  flow(): void;
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
 *
 * Memory (the same section, "Byte budget"): every byte of a frame is counted from the read that brought
 * it until its ack is written — while the frame is being read, and while it waits for Redis and Kafka.
 * When the count reaches maxBufferedBytes the gateway stops reading from every socket; the kernel's
 * receive windows fill and the harvesters wait in write() with their batches still in their spools.
 * Nothing is refused or dropped for it. Reading resumes at three quarters of the budget. Should the
 * budget be full of frames that are only half read while nothing waits for Kafka (which would otherwise
 * never end), one connection — the one furthest into its frame — is read until that frame is complete,
 * so the count stays under maxBufferedBytes plus one frame (and one socket read).
 */
export class Gateway {
  private server: Server | undefined;
  private readonly allow: AllowList;
  private readonly conns = new Set<Conn>();
  private readonly perAddress = new Map<string, number>();
  private stopping: Promise<void> | undefined;
  /** Set at once by stop(): no socket is read any more. */
  private closing = false;
  private inflightTotal = 0;
  private readonly idle = new Set<() => void>();
  private producerReady: Promise<void> | undefined;
  /** Bytes counted against maxBufferedBytes: unfinished frames (Conn.held) plus opened frames not yet answered (inflightBytes). */
  private readonly budget: ByteBudget;
  private inflightBytes = 0;
  /** While the budget is paused with nothing in flight: the one connection read until its frame is complete. */
  private finisher: { conn: Conn; frame: number } | undefined;

  constructor(
    private readonly opts: GatewayOptions,
    private readonly deps: { producer: Producer; metrics: GatewayMetrics; log: Logger; replay: ReplayStore },
  ) {
    this.allow = new AllowList(opts.allow, opts.keys.secretKey, opts.replayWindow);
    this.budget = new ByteBudget(opts.maxBufferedBytes ?? defaultMaxBufferedBytes(opts.maxFrameBytes), deps.metrics);
    deps.metrics.bufferedBytesLimit.set(this.budget.limit);
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

  /** The byte budget's state (for /healthz and tests). */
  get buffered(): { bytes: number; peak: number; limit: number; paused: boolean } {
    return this.budget.state;
  }

  /** Stops accepting, lets in-flight produces finish (and ack) until the deadline, then closes. Safe to call twice. */
  stop(deadline = Date.now() + 10_000): Promise<void> {
    this.stopping ??= (async () => {
      this.closing = true;
      // The server's close callback waits for every connection to end: ours are ended below, so wait for it last.
      const closed = new Promise<void>((r) => (this.server ? this.server.close(() => r()) : r()));
      for (const c of this.conns) c.flow();
      if (this.inflightTotal > 0) {
        await new Promise<void>((r) => {
          const t = setTimeout(r, Math.max(0, deadline - Date.now()));
          this.idle.add(() => {
            clearTimeout(t);
            r();
          });
        });
      }
      for (const c of this.conns) c.sock.destroy();
      await closed;
    })();
    return this.stopping;
  }

  /** Adds (or, negative, removes) bytes counted against the budget. */
  private count(delta: number): void {
    this.budget.add(delta);
  }

  /**
   * Stops or restarts reading for the byte budget after the count changed, and keeps one connection
   * reading while the budget is full of unfinished frames and nothing is in flight (else nothing would
   * ever free a byte: no frame could complete and no ack could come).
   */
  private balance(): void {
    const change = this.budget.step();
    if (change === 'pause') {
      this.deps.metrics.readPauses.inc({ reason: 'max_buffered_bytes' });
      for (const c of this.conns) c.flow();
    } else if (change === 'resume') {
      this.finisher = undefined;
      for (const c of this.conns) c.flow();
      return;
    }
    if (!this.budget.isPaused) return;
    const f = this.finisher;
    // The finisher is done once its frame is complete (it is then in flight) or the connection is gone.
    if (f && (f.conn.dead || f.conn.sock.destroyed || f.conn.reader.frames !== f.frame || !f.conn.reader.inFrame)) {
      this.finisher = undefined;
      f.conn.flow();
    }
    if (this.finisher || this.inflightBytes > 0) return;
    const best = pickFinisher(this.conns, this.opts.maxInFlightPerConnection);
    if (!best) return;
    this.finisher = { conn: best, frame: best.reader.frames };
    best.flow();
  }

  private onConnection(sock: Socket): void {
    const { metrics, log } = this.deps;
    // Connection bounds first, before any byte is read: a flood from one address cannot take the
    // slots real harvesters need, and the total stays under maxConnections.
    const addr = sock.remoteAddress ?? 'unknown';
    const fromAddr = this.perAddress.get(addr) ?? 0;
    const over = this.conns.size >= this.opts.maxConnections ? 'connection_limit' : fromAddr >= this.opts.maxConnectionsPerAddress ? 'address_limit' : undefined;
    if (over || this.closing) {
      if (over) metrics.connectionsClosed.inc({ reason: over });
      sock.on('error', () => undefined);
      sock.destroy();
      return;
    }
    this.perAddress.set(addr, fromAddr + 1);
    metrics.connections.inc();
    sock.setNoDelay(true);
    // The allow list is checked from the fixed header (version, type, sender key), before the body is buffered.
    const reader = new FrameReader(this.opts.maxFrameBytes, this.allow.headerCheck);
    // The frame deadline: frameTimeoutMs of reading from a frame's first byte to its last. It runs only
    // while the gateway reads this socket: a pause of ours (Kafka pushing back, the byte budget) is not
    // the sender's fault, so the clock stops and goes on where it stopped when reading resumes.
    let frameTimer: NodeJS.Timeout | undefined;
    let frameOrdinal = -1;
    let frameLeftMs = 0;
    let frameDue = 0;
    let inflightPaused = false;
    let reading = true;
    const stopFrameTimer = () => {
      if (frameTimer) clearTimeout(frameTimer);
      frameTimer = undefined;
    };
    const c: Conn = {
      sock,
      reader,
      dead: false,
      inflight: 0,
      held: 0,
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
      flow: () => {
        const want = !c.dead && !this.closing && !inflightPaused && (!this.budget.isPaused || this.finisher?.conn === c);
        if (want !== reading) {
          reading = want;
          if (want) {
            sock.resume();
            // The idle clock starts again: the silence while we did not read was ours.
            sock.setTimeout(this.opts.idleTimeoutMs);
          } else sock.pause();
        }
        armFrameTimer();
      },
    };
    this.conns.add(c);
    const armFrameTimer = () => {
      if (c.dead || !reader.inFrame) {
        stopFrameTimer();
        frameOrdinal = -1;
        return;
      }
      if (frameOrdinal !== reader.frames) {
        // A new frame began: its full deadline.
        stopFrameTimer();
        frameOrdinal = reader.frames;
        frameLeftMs = this.opts.frameTimeoutMs;
      }
      if (!reading) {
        if (frameTimer) {
          frameLeftMs = Math.max(0, frameDue - Date.now());
          stopFrameTimer();
        }
        return;
      }
      if (frameTimer) return;
      frameDue = Date.now() + frameLeftMs;
      frameTimer = setTimeout(() => c.reject(FRAME_TIMEOUT), frameLeftMs);
    };
    // Idle: node's socket timeout fires after idleTimeoutMs without a read or a write.
    sock.setTimeout(this.opts.idleTimeoutMs);
    sock.on('timeout', () => {
      // A produce in flight owes this sender an ack; its write restarts the idle clock. While we do not
      // read, the silence is ours; flow() restarts the clock when reading resumes.
      if (c.dead || c.inflight > 0 || reader.inFrame || !reading) return;
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
          opened = openBatch(f.body, (b64) => this.allow.keysOf(b64), { env: this.opts.env });
          sender = this.allow.get(opened.sender)!;
          checkFresh(opened.sentAtMs, Date.now(), this.opts.maxClockSkewMs);
          // Fast local refusal of what this instance saw; the shared record in Redis decides.
          sender.window.check(opened.seq);
        } catch (err) {
          c.reject(err);
          return;
        }
        // Counted from here until the ack is written (or the frame refused): the opened batch is held meanwhile.
        const bytes = f.body.length;
        this.inflightBytes += bytes;
        this.count(bytes);
        c.inflight++;
        this.inflightTotal++;
        if (c.inflight >= this.opts.maxInFlightPerConnection && !inflightPaused) {
          inflightPaused = true;
          metrics.readPauses.inc({ reason: 'max_in_flight_per_connection' });
          c.flow();
        }
        void this.admit(c, sender, opened, f.body.length).finally(() => {
          c.inflight--;
          this.inflightTotal--;
          this.inflightBytes -= bytes;
          this.count(-bytes);
          if (inflightPaused && c.inflight < this.opts.maxInFlightPerConnection) {
            inflightPaused = false;
            c.flow();
          }
          this.balance();
          if (this.inflightTotal === 0) for (const w of [...this.idle]) w();
        });
      }
      // What the reader still holds is this connection's share of the budget (the frames it completed moved to inflightBytes).
      this.count(reader.pending - c.held);
      c.held = reader.pending;
      this.balance();
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
      this.conns.delete(c);
      const n = (this.perAddress.get(addr) ?? 1) - 1;
      if (n > 0) this.perAddress.set(addr, n);
      else this.perAddress.delete(addr);
      metrics.connections.dec();
      // A connection that died inside a frame (the sender was killed, or cut it short) sent a truncated frame.
      if (!c.dead && reader.inFrame) metrics.rejected.inc({ reason: 'truncated' });
      c.dead = true;
      this.count(-c.held);
      c.held = 0;
      this.balance();
    });
    // A new connection reads only when the budget allows (or it is the one to finish a frame).
    reading = true;
    c.flow();
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
