import { type Socket, connect } from 'node:net';
import {
  AckStatus,
  FrameReader,
  type KeyPair,
  SealedError,
  type SealedKeys,
  ackHeader,
  ackMatches,
  encodeFrame,
  openAck,
  randomNonce,
  rejectReason,
  sealBatch,
  sealedKeys,
} from '@backlog/core-sealed';
import type { ShippingMetrics } from './metrics';
import type { BatchSender } from './port';
import type { SeqStore } from './seq-store';

export interface SealedSenderOptions {
  host: string;
  port: number;
  keys: KeyPair;
  gatewayPublicKey: Uint8Array;
  seq: SeqStore;
  /** The env this harvester ships for: sealed into every batch, and required of every ack. */
  env: string;
  /** `rejectedAcks{reason}`: frames from the gateway refused as not an authenticated ack of a pending batch. */
  metrics?: Pick<ShippingMetrics, 'rejectedAcks'>;
  /** Connect timeout, ms. Default 5 000. */
  connectTimeoutMs?: number;
  /** How long a frame may wait for its ack before the connection is dropped and the batch resent, ms. Default 60 000. */
  ackTimeoutMs?: number;
  /** Cap on an incoming (ack) frame. Default 4 KiB: acks are tiny. */
  maxAckFrameBytes?: number;
}

export class GatewayError extends Error {
  readonly retriable = true;
  constructor(
    readonly code: 'GATEWAY_DISCONNECTED' | 'GATEWAY_FAILED' | 'GATEWAY_ACK_TIMEOUT' | 'GATEWAY_BAD_ACK',
    message: string,
  ) {
    super(message);
    this.name = 'GatewayError';
  }
}

interface Pending {
  /** The batch's nonce: an ack must name it (with the seq) to resolve this send. */
  nonce: Uint8Array;
  resolve: () => void;
  reject: (e: Error) => void;
  timer: NodeJS.Timeout;
}

/**
 * Ships closed batches to the nacl-gateway: each send seals the record with a fresh sequence number
 * and random nonce, writes one frame, and resolves when the gateway's sealed ack says Kafka
 * acknowledged it. A resend is sealed again with a new number, so a retried batch is never taken for
 * a replay. Frames are pipelined on one connection; an ack resolves a send only when it opens under
 * the ack key (never the batch key: a reflected batch is refused), carries our env, and names the
 * batch's sequence number and nonce. Anything else on the connection is counted, the connection is
 * dropped and every pending batch is resent: nothing leaves the spool on a frame that is not its ack.
 */
export class SealedSender implements BatchSender {
  private socket: Socket | undefined;
  private connecting: Promise<Socket> | undefined;
  private readonly pending = new Map<number, Pending>();
  private readonly keys: SealedKeys;
  private closed = false;
  connected = false;

  constructor(private readonly opts: SealedSenderOptions) {
    this.keys = sealedKeys(opts.gatewayPublicKey, opts.keys.secretKey);
  }

  async send(rec: { key: string; value: Buffer; headers: Record<string, string> }): Promise<void> {
    const sock = await this.ready();
    const seq = this.opts.seq.take();
    const nonce = randomNonce();
    const frame = encodeFrame(sealBatch(this.keys, this.opts.keys.publicKey, { env: this.opts.env, seq, sentAtMs: Date.now(), key: rec.key, headers: rec.headers, value: rec.value }, nonce));
    await new Promise<void>((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(seq);
        reject(new GatewayError('GATEWAY_ACK_TIMEOUT', `no ack for sequence ${seq} within ${this.opts.ackTimeoutMs ?? 60_000} ms`));
        // The stream's state is unknown: start over on a new connection.
        this.drop(sock, new GatewayError('GATEWAY_DISCONNECTED', 'ack timeout'));
      }, this.opts.ackTimeoutMs ?? 60_000);
      this.pending.set(seq, { nonce, resolve, reject, timer });
      sock.write(frame);
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.socket) this.drop(this.socket, new GatewayError('GATEWAY_DISCONNECTED', 'sender closed'));
  }

  private ready(): Promise<Socket> {
    if (this.closed) return Promise.reject(new GatewayError('GATEWAY_DISCONNECTED', 'sender closed'));
    if (this.socket) return Promise.resolve(this.socket);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const sock = connect({ host: this.opts.host, port: this.opts.port });
      sock.setNoDelay(true);
      // Version and type are checked on a frame's first 2 bytes: a batch sent to us is refused at once.
      const reader = new FrameReader(this.opts.maxAckFrameBytes ?? 4096, { bytes: 2, check: (head) => ackHeader(head) });
      const fail = (err: Error) => {
        this.connecting = undefined;
        sock.destroy();
        reject(new GatewayError('GATEWAY_DISCONNECTED', `connect to ${this.opts.host}:${this.opts.port}: ${err.message}`));
      };
      const t = setTimeout(() => fail(new Error('connect timeout')), this.opts.connectTimeoutMs ?? 5_000);
      sock.once('error', fail);
      sock.once('connect', () => {
        clearTimeout(t);
        sock.off('error', fail);
        this.connecting = undefined;
        this.socket = sock;
        this.connected = true;
        sock.on('data', (chunk: Buffer) => this.onData(sock, reader, chunk));
        sock.on('error', (err) => this.drop(sock, new GatewayError('GATEWAY_DISCONNECTED', err.message)));
        sock.on('close', () => this.drop(sock, new GatewayError('GATEWAY_DISCONNECTED', 'gateway closed the connection')));
        resolve(sock);
      });
    });
    return this.connecting;
  }

  private onData(sock: Socket, reader: FrameReader, chunk: Buffer): void {
    try {
      for (const f of reader.push(chunk)) {
        const ack = openAck(this.keys, f.body, { env: this.opts.env });
        const p = this.pending.get(ack.seq);
        if (!p) continue; // an ack of a send that timed out already (its resend is another frame)
        ackMatches(ack, { seq: ack.seq, nonce: p.nonce });
        this.pending.delete(ack.seq);
        clearTimeout(p.timer);
        if (ack.status === AckStatus.Ok) p.resolve();
        else p.reject(new GatewayError('GATEWAY_FAILED', `gateway could not produce: ${ack.reason ?? 'unknown'}`));
      }
    } catch (err) {
      // A forged, reflected, garbled or misdirected ack: trust nothing on this connection; every pending batch is resent.
      this.opts.metrics?.rejectedAcks.inc({ reason: err instanceof SealedError ? rejectReason(err.code) : 'malformed' });
      this.drop(sock, new GatewayError('GATEWAY_BAD_ACK', (err as Error).message));
    }
  }

  private drop(sock: Socket, err: GatewayError): void {
    if (this.socket === sock) this.socket = undefined;
    this.connected = false;
    sock.destroy();
    for (const [seq, p] of this.pending) {
      clearTimeout(p.timer);
      this.pending.delete(seq);
      p.reject(err);
    }
  }
}
