import nacl from 'tweetnacl';
import { SealedError } from './errors';
import { FRAME_VERSION, FrameType, checkVersion } from './frame';
import { KEY_BYTES, type SealedKeys, encodeKey, equalBytes } from './keys';

/**
 * Sealed batch and ack bodies, frame version 2 (docs/specs/sealed-transport.md, docs/adr/0014).
 *
 * batch body: u8 version=2 | u8 type=1 | sender public key (32) | nonce (24) | secretbox(plaintext, K_batch)
 * ack body:   u8 version=2 | u8 type=2 | nonce (24) | secretbox(plaintext, K_ack)
 *
 * Every plaintext starts with the same authenticated context, `u8 version | u8 type | u8 direction |
 * u8 envLen | env`, followed by
 *   batch: u64 seq | u64 sentAtMs | u16 keyLen | key | u32 headersLen | headers JSON | value
 *   ack:   u64 seq | batch nonce (24) | u8 status | reason UTF-8 (≤ 200 bytes)
 *
 * Direction, type and env are inside the box, and each direction has its own key (sealedKeys), so
 * neither a frame reflected back to its sender nor a frame of another env can pass; an ack names the
 * exact batch it answers by the batch's sequence number and nonce. The sender key stays in clear in
 * the batch header so that a gateway can refuse a stranger before it buffers the body.
 *
 * Nonces are 24 random bytes (XSalsa20's nonce is long enough that random nonces never collide in
 * practice), so no nonce state has to survive a restart; a batch's nonce is therefore also its identity.
 */
export const NONCE_BYTES = nacl.secretbox.nonceLength; // 24
const BOX_OVERHEAD = nacl.secretbox.overheadLength; // 16
/** Bytes of a batch body before its box: version, type, sender key, nonce. */
export const BATCH_PREFIX_BYTES = 2 + KEY_BYTES + NONCE_BYTES;
/** The batch header a gateway checks before buffering the body: version, type, sender key. */
export const BATCH_HEADER_BYTES = 2 + KEY_BYTES;
const ACK_PREFIX_BYTES = 2 + NONCE_BYTES;
const MAX_REASON_BYTES = 200;
/**
 * A frame at most this long that fails to open under its own direction's key is tried under the other
 * direction's key, only to tell a reflected frame (`wrong_direction`) from a forged one (`tampered`).
 * Acks are a few hundred bytes, so this costs at most one extra MAC over 4 KiB per refused frame.
 */
export const REFLECTION_PROBE_MAX_BYTES = 4096;

/** A fresh random nonce (a batch's identity; see sealBatch). */
export function randomNonce(): Uint8Array {
  return nacl.randomBytes(NONCE_BYTES);
}

export const Direction = { HarvesterToGateway: 1, GatewayToHarvester: 2 } as const;

export interface SealedRecord {
  /** The env the record is for; a gateway refuses any other than its own (WRONG_ENV). */
  env: string;
  /** Per-sender sequence number, strictly increasing over the sender's life (restarts included). */
  seq: number;
  /** Sender's clock when it sealed, epoch ms (the gateway refuses stale frames). */
  sentAtMs: number;
  /** Kafka record key (the host name). */
  key: string;
  /** Kafka record headers as DESIGN.md lists them. */
  headers: Record<string, string>;
  /** The gzip NDJSON batch, unchanged. */
  value: Uint8Array;
}

const te = new TextEncoder();
const td = new TextDecoder('utf-8', { fatal: true });

function putU64(dv: DataView, off: number, n: number): void {
  if (!Number.isSafeInteger(n) || n < 0) throw new RangeError(`not a u64-safe integer: ${n}`);
  dv.setUint32(off, Math.floor(n / 2 ** 32), false);
  dv.setUint32(off + 4, n >>> 0, false);
}

function getU64(dv: DataView, off: number): number {
  const hi = dv.getUint32(off, false);
  // Above 2^53 a number cannot be represented exactly; no honest sender produces one.
  if (hi >= 2 ** 21) throw new RangeError('u64 above 2^53');
  return hi * 2 ** 32 + dv.getUint32(off + 4, false);
}

function encodeEnv(env: string): Uint8Array {
  const e = te.encode(env);
  if (e.length < 1 || e.length > 255) throw new RangeError(`env must be 1-255 bytes, got ${e.length}`);
  return e;
}

/** Writes the authenticated context (version, type, direction, env) at the start of a plaintext; returns its length. */
function putContext(plain: Uint8Array, type: number, direction: number, env: Uint8Array): number {
  plain[0] = FRAME_VERSION;
  plain[1] = type;
  plain[2] = direction;
  plain[3] = env.length;
  plain.set(env, 4);
  return 4 + env.length;
}

/**
 * Reads and checks the authenticated context. The version and type inside must equal those outside
 * (the outer bytes only route the frame), the direction must be the one expected, and the env must be
 * the reader's: otherwise WRONG_DIRECTION / WRONG_ENV.
 */
function readContext(plain: Uint8Array, outer: Uint8Array, type: number, direction: number, env: string | undefined): { env: string; off: number } {
  if (plain.length < 5) throw new SealedError('FRAME_MALFORMED', 'sealed payload shorter than its context');
  if (plain[0] !== outer[0]) throw new SealedError('FRAME_MALFORMED', `sealed version ${plain[0]} differs from the frame's ${outer[0]}`);
  if (plain[1] !== type || plain[2] !== direction || outer[1] !== type) {
    throw new SealedError('WRONG_DIRECTION', `sealed as type ${plain[1]} direction ${plain[2]}, read as type ${type} direction ${direction}`);
  }
  const envLen = plain[3]!;
  if (envLen < 1 || 4 + envLen > plain.length) throw new SealedError('FRAME_MALFORMED', 'sealed env length out of range');
  let got: string;
  try {
    got = td.decode(plain.subarray(4, 4 + envLen));
  } catch {
    throw new SealedError('FRAME_MALFORMED', 'sealed env is not UTF-8');
  }
  if (env !== undefined && got !== env) throw new SealedError('WRONG_ENV', `sealed for env ${JSON.stringify(got)}, this end serves ${JSON.stringify(env)}`);
  return { env: got, off: 4 + envLen };
}

/** Seals one record with the pair's keys (see sealedKeys()). */
export function sealBatch(keys: SealedKeys, senderPublic: Uint8Array, rec: SealedRecord, nonce: Uint8Array = nacl.randomBytes(NONCE_BYTES)): Uint8Array {
  const env = encodeEnv(rec.env);
  const key = te.encode(rec.key);
  const headers = te.encode(JSON.stringify(rec.headers));
  if (key.length > 0xffff) throw new RangeError('record key longer than 65535 bytes');
  const plain = new Uint8Array(4 + env.length + 8 + 8 + 2 + key.length + 4 + headers.length + rec.value.length);
  const dv = new DataView(plain.buffer);
  let off = putContext(plain, FrameType.Batch, Direction.HarvesterToGateway, env);
  putU64(dv, off, rec.seq);
  putU64(dv, off + 8, rec.sentAtMs);
  dv.setUint16(off + 16, key.length, false);
  plain.set(key, off + 18);
  off += 18 + key.length;
  dv.setUint32(off, headers.length, false);
  off += 4;
  plain.set(headers, off);
  plain.set(rec.value, off + headers.length);
  const box = nacl.secretbox(plain, nonce, keys.batch);
  const body = new Uint8Array(BATCH_PREFIX_BYTES + box.length);
  body[0] = FRAME_VERSION;
  body[1] = FrameType.Batch;
  body.set(senderPublic, 2);
  body.set(nonce, 2 + KEY_BYTES);
  body.set(box, BATCH_PREFIX_BYTES);
  return body;
}

/**
 * Checks a batch frame's fixed header (version, type, sender key) as soon as its first
 * BATCH_HEADER_BYTES have arrived, and returns the sender's public key: the gateway looks it up on its
 * allow list before it buffers the rest of the body. A frame typed as an ack is WRONG_DIRECTION.
 */
export function batchHeader(head: Uint8Array, length = head.length): Uint8Array {
  checkVersion(head[0]);
  if (head.length >= 2 && head[1] === FrameType.Ack) throw new SealedError('WRONG_DIRECTION', 'an ack frame sent to a gateway');
  if (head.length >= 2 && head[1] !== FrameType.Batch) throw new SealedError('FRAME_MALFORMED', `expected a batch frame, got type ${head[1]}`);
  if (length < BATCH_PREFIX_BYTES + BOX_OVERHEAD || head.length < BATCH_HEADER_BYTES) {
    throw new SealedError('FRAME_TRUNCATED', `batch frame of ${length} bytes is shorter than its fixed part`);
  }
  return head.subarray(2, 2 + KEY_BYTES);
}

/** The sender's public key of a whole batch body (see batchHeader). */
export function batchSender(body: Uint8Array): Uint8Array {
  return batchHeader(body.subarray(0, Math.min(body.length, BATCH_HEADER_BYTES)), body.length);
}

export interface OpenedBatch extends SealedRecord {
  /** base64 public key of the verified sender. */
  sender: string;
  /** The batch's nonce: its identity, echoed in the ack (a copy). */
  nonce: Uint8Array;
}

/**
 * Opens a batch body. `lookup` returns the keys of an allowed sender (base64 public key), or
 * undefined: then UNKNOWN_SENDER. A box that does not authenticate (a flipped bit, a cut body, the
 * wrong gateway key) is TAMPERED — Poly1305 cannot tell these apart, and must not — unless a small one
 * opens under the ack key: a reflected ack, WRONG_DIRECTION. With `env`, a batch sealed for another
 * env is WRONG_ENV.
 */
export function openBatch(body: Uint8Array, lookup: (senderB64: string) => SealedKeys | undefined, opts: { env?: string } = {}): OpenedBatch {
  const sender = encodeKey(batchSender(body));
  const keys = lookup(sender);
  if (!keys) throw new SealedError('UNKNOWN_SENDER', `sender ${sender} is not on the allow list`);
  const nonce = body.subarray(2 + KEY_BYTES, BATCH_PREFIX_BYTES);
  const box = body.subarray(BATCH_PREFIX_BYTES);
  const plain = nacl.secretbox.open(box, nonce, keys.batch);
  if (!plain) {
    if (body.length <= REFLECTION_PROBE_MAX_BYTES && nacl.secretbox.open(box, nonce, keys.ack)) throw new SealedError('WRONG_DIRECTION', 'an ack sealed by the gateway, sent back to it as a batch');
    throw new SealedError('TAMPERED', 'box did not authenticate (tampered, cut, or sealed for another key)');
  }
  const { env, off: start } = readContext(plain, body, FrameType.Batch, Direction.HarvesterToGateway, opts.env);
  // Authenticated from here on: a malformed layout means a buggy sender, not an attacker.
  const dv = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  try {
    const seq = getU64(dv, start);
    const sentAtMs = getU64(dv, start + 8);
    const keyLen = dv.getUint16(start + 16, false);
    let off = start + 18;
    if (off + keyLen > plain.length) throw new RangeError('key overruns');
    const key = td.decode(plain.subarray(off, off + keyLen));
    off += keyLen;
    const hLen = dv.getUint32(off, false);
    off += 4;
    if (off + hLen > plain.length) throw new RangeError('headers overrun');
    const headers = JSON.parse(td.decode(plain.subarray(off, off + hLen))) as unknown;
    if (!headers || typeof headers !== 'object' || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) throw new TypeError('headers are not a string map');
    return { sender, env, seq, sentAtMs, key, headers: headers as Record<string, string>, value: plain.subarray(off + hLen), nonce: nonce.slice() };
  } catch (err) {
    throw new SealedError('FRAME_MALFORMED', `sealed payload layout: ${(err as Error).message}`);
  }
}

export const AckStatus = { Ok: 0, Failed: 1 } as const;

export interface Ack {
  env: string;
  /** The answered batch's sequence number. */
  seq: number;
  /** The answered batch's nonce (24 bytes): binds the ack to that exact batch. */
  batchNonce: Uint8Array;
  status: (typeof AckStatus)[keyof typeof AckStatus];
  reason?: string;
}

/** Acks are sealed too, so that nobody on the path can forge "acknowledged" and make a harvester drop a spooled batch. */
export function sealAck(keys: SealedKeys, ack: Ack, nonce: Uint8Array = nacl.randomBytes(NONCE_BYTES)): Uint8Array {
  if (ack.batchNonce.length !== NONCE_BYTES) throw new RangeError(`batchNonce must be ${NONCE_BYTES} bytes`);
  const env = encodeEnv(ack.env);
  let reason = te.encode(ack.reason ?? '');
  if (reason.length > MAX_REASON_BYTES) reason = te.encode(new TextDecoder().decode(reason.subarray(0, MAX_REASON_BYTES)).replace(/\uFFFD$/, ''));
  const plain = new Uint8Array(4 + env.length + 8 + NONCE_BYTES + 1 + reason.length);
  const off = putContext(plain, FrameType.Ack, Direction.GatewayToHarvester, env);
  putU64(new DataView(plain.buffer), off, ack.seq);
  plain.set(ack.batchNonce, off + 8);
  plain[off + 8 + NONCE_BYTES] = ack.status;
  plain.set(reason, off + 9 + NONCE_BYTES);
  const box = nacl.secretbox(plain, nonce, keys.ack);
  const body = new Uint8Array(ACK_PREFIX_BYTES + box.length);
  body[0] = FRAME_VERSION;
  body[1] = FrameType.Ack;
  body.set(nonce, 2);
  body.set(box, ACK_PREFIX_BYTES);
  return body;
}

/**
 * Checks an incoming frame's header on the harvester side (version, and that it is an ack at all):
 * a frame typed as a batch is WRONG_DIRECTION. Runs on the body's first 2 bytes.
 */
export function ackHeader(head: Uint8Array): void {
  checkVersion(head[0]);
  if (head.length < 2) return;
  if (head[1] === FrameType.Batch) throw new SealedError('WRONG_DIRECTION', 'a batch frame sent to a harvester');
  if (head[1] !== FrameType.Ack) throw new SealedError('FRAME_MALFORMED', `expected an ack frame, got type ${head[1]}`);
}

/**
 * Opens an ack body. A box that does not authenticate is TAMPERED, unless it opens under the batch key:
 * then it is one of our own batches reflected back (WRONG_DIRECTION). With `env`, an ack sealed for
 * another env is WRONG_ENV. The caller must still check the binding with ackMatches().
 */
export function openAck(keys: SealedKeys, body: Uint8Array, opts: { env?: string } = {}): Ack {
  ackHeader(body.subarray(0, 2));
  if (body.length < ACK_PREFIX_BYTES + BOX_OVERHEAD) throw new SealedError('FRAME_TRUNCATED', 'ack frame too short');
  const nonce = body.subarray(2, ACK_PREFIX_BYTES);
  const box = body.subarray(ACK_PREFIX_BYTES);
  const plain = nacl.secretbox.open(box, nonce, keys.ack);
  if (!plain) {
    if (body.length <= REFLECTION_PROBE_MAX_BYTES && nacl.secretbox.open(box, nonce, keys.batch))
      throw new SealedError('WRONG_DIRECTION', 'a batch sealed by this harvester, reflected back to it as an ack');
    throw new SealedError('TAMPERED', 'ack did not authenticate');
  }
  const { env, off } = readContext(plain, body, FrameType.Ack, Direction.GatewayToHarvester, opts.env);
  if (plain.length < off + 8 + NONCE_BYTES + 1) throw new SealedError('FRAME_MALFORMED', 'sealed ack shorter than its fixed part');
  const status = plain[off + 8 + NONCE_BYTES];
  if (status !== AckStatus.Ok && status !== AckStatus.Failed) throw new SealedError('FRAME_MALFORMED', `unknown ack status ${status}`);
  let seq: number;
  let reason: string;
  try {
    seq = getU64(new DataView(plain.buffer, plain.byteOffset, plain.byteLength), off);
    reason = td.decode(plain.subarray(off + 9 + NONCE_BYTES));
  } catch (err) {
    throw new SealedError('FRAME_MALFORMED', `sealed ack layout: ${(err as Error).message}`);
  }
  return { env, seq, batchNonce: plain.slice(off + 8, off + 8 + NONCE_BYTES), status, ...(reason ? { reason } : {}) };
}

/** Throws WRONG_BATCH unless the ack answers exactly the batch sealed with (seq, nonce). */
export function ackMatches(ack: Ack, batch: { seq: number; nonce: Uint8Array }): void {
  if (ack.seq !== batch.seq || !equalBytes(ack.batchNonce, batch.nonce)) {
    throw new SealedError('WRONG_BATCH', `ack for sequence ${ack.seq} does not name the batch sent with that sequence number`);
  }
}
