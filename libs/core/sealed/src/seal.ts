import nacl from 'tweetnacl';
import { SealedError } from './errors';
import { FRAME_VERSION, FrameType } from './frame';
import { KEY_BYTES, encodeKey } from './keys';

/**
 * Sealed batch and ack bodies (docs/specs/sealed-transport.md).
 *
 * batch body: u8 version | u8 type=1 | sender public key (32) | nonce (24) | box(plaintext)
 * plaintext:  u64 seq | u64 sentAtMs | u16 keyLen | key | u32 headersLen | headers JSON | value
 * ack body:   u8 version | u8 type=2 | nonce (24) | box(u64 seq | u8 status | reason utf8)
 *
 * The sequence number sits inside the box, so only the holder of the sender's secret key can choose it:
 * the gateway's replay window trusts it. Nonces are 24 random bytes (XSalsa20's nonce is long enough
 * that random nonces never collide in practice), so no nonce state has to survive a restart.
 */
export const NONCE_BYTES = nacl.box.nonceLength; // 24
const BATCH_PREFIX = 2 + KEY_BYTES + NONCE_BYTES;
const ACK_PREFIX = 2 + NONCE_BYTES;

export interface SealedRecord {
  /** Per-sender sequence number, strictly increasing over the sender's life (restarts included). */
  seq: number;
  /** Sender's clock when it sealed, epoch ms (the gateway may refuse stale frames). */
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
  return dv.getUint32(off, false) * 2 ** 32 + dv.getUint32(off + 4, false);
}

/** Seals one record with a precomputed shared key (see sharedKey()). */
export function sealBatch(shared: Uint8Array, senderPublic: Uint8Array, rec: SealedRecord, nonce: Uint8Array = nacl.randomBytes(NONCE_BYTES)): Uint8Array {
  const key = te.encode(rec.key);
  const headers = te.encode(JSON.stringify(rec.headers));
  if (key.length > 0xffff) throw new RangeError('record key longer than 65535 bytes');
  const plain = new Uint8Array(8 + 8 + 2 + key.length + 4 + headers.length + rec.value.length);
  const dv = new DataView(plain.buffer);
  putU64(dv, 0, rec.seq);
  putU64(dv, 8, rec.sentAtMs);
  dv.setUint16(16, key.length, false);
  plain.set(key, 18);
  let off = 18 + key.length;
  dv.setUint32(off, headers.length, false);
  off += 4;
  plain.set(headers, off);
  plain.set(rec.value, off + headers.length);
  const box = nacl.box.after(plain, nonce, shared);
  const body = new Uint8Array(BATCH_PREFIX + box.length);
  body[0] = FRAME_VERSION;
  body[1] = FrameType.Batch;
  body.set(senderPublic, 2);
  body.set(nonce, 2 + KEY_BYTES);
  body.set(box, BATCH_PREFIX);
  return body;
}

/** The sender's public key of a batch body, read before opening so the gateway can pick the shared key. */
export function batchSender(body: Uint8Array): Uint8Array {
  if (body.length < BATCH_PREFIX + nacl.box.overheadLength) throw new SealedError('FRAME_TRUNCATED', `batch frame of ${body.length} bytes is shorter than its fixed part`);
  if (body[1] !== FrameType.Batch) throw new SealedError('FRAME_MALFORMED', `expected a batch frame, got type ${body[1]}`);
  return body.subarray(2, 2 + KEY_BYTES);
}

export interface OpenedBatch extends SealedRecord {
  /** base64 public key of the verified sender. */
  sender: string;
}

/**
 * Opens a batch body. `lookup` returns the shared key of an allowed sender (base64 public key), or
 * undefined: then UNKNOWN_SENDER. A box that does not authenticate (a flipped bit, a cut body, the
 * wrong gateway key) is TAMPERED; Poly1305 cannot tell these apart, and must not.
 */
export function openBatch(body: Uint8Array, lookup: (senderB64: string) => Uint8Array | undefined): OpenedBatch {
  const senderKey = batchSender(body);
  const sender = encodeKey(senderKey);
  const shared = lookup(sender);
  if (!shared) throw new SealedError('UNKNOWN_SENDER', `sender ${sender} is not on the allow list`);
  const nonce = body.subarray(2 + KEY_BYTES, BATCH_PREFIX);
  const plain = nacl.box.open.after(body.subarray(BATCH_PREFIX), nonce, shared);
  if (!plain) throw new SealedError('TAMPERED', 'box did not authenticate (tampered, cut, or sealed for another key)');
  // Authenticated from here on: a malformed layout means a buggy sender, not an attacker.
  const dv = new DataView(plain.buffer, plain.byteOffset, plain.byteLength);
  try {
    const seq = getU64(dv, 0);
    const sentAtMs = getU64(dv, 8);
    const keyLen = dv.getUint16(16, false);
    const key = td.decode(plain.subarray(18, 18 + keyLen));
    let off = 18 + keyLen;
    const hLen = dv.getUint32(off, false);
    off += 4;
    if (off + hLen > plain.length) throw new RangeError('headers overrun');
    const headers = JSON.parse(td.decode(plain.subarray(off, off + hLen))) as unknown;
    if (!headers || typeof headers !== 'object' || Array.isArray(headers) || Object.values(headers).some((v) => typeof v !== 'string')) throw new TypeError('headers are not a string map');
    return { sender, seq, sentAtMs, key, headers: headers as Record<string, string>, value: plain.subarray(off + hLen) };
  } catch (err) {
    throw new SealedError('FRAME_MALFORMED', `sealed payload layout: ${(err as Error).message}`);
  }
}

export const AckStatus = { Ok: 0, Failed: 1 } as const;

export interface Ack {
  seq: number;
  status: (typeof AckStatus)[keyof typeof AckStatus];
  reason?: string;
}

/** Acks are sealed too, so that nobody on the path can forge "acknowledged" and make a harvester drop a spooled batch. */
export function sealAck(shared: Uint8Array, ack: Ack, nonce: Uint8Array = nacl.randomBytes(NONCE_BYTES)): Uint8Array {
  const reason = te.encode((ack.reason ?? '').slice(0, 200));
  const plain = new Uint8Array(9 + reason.length);
  putU64(new DataView(plain.buffer), 0, ack.seq);
  plain[8] = ack.status;
  plain.set(reason, 9);
  const box = nacl.box.after(plain, nonce, shared);
  const body = new Uint8Array(ACK_PREFIX + box.length);
  body[0] = FRAME_VERSION;
  body[1] = FrameType.Ack;
  body.set(nonce, 2);
  body.set(box, ACK_PREFIX);
  return body;
}

export function openAck(shared: Uint8Array, body: Uint8Array): Ack {
  if (body.length < ACK_PREFIX + nacl.box.overheadLength + 9) throw new SealedError('FRAME_TRUNCATED', 'ack frame too short');
  if (body[1] !== FrameType.Ack) throw new SealedError('FRAME_MALFORMED', `expected an ack frame, got type ${body[1]}`);
  const plain = nacl.box.open.after(body.subarray(ACK_PREFIX), body.subarray(2, ACK_PREFIX), shared);
  if (!plain) throw new SealedError('TAMPERED', 'ack did not authenticate');
  const status = plain[8];
  if (status !== AckStatus.Ok && status !== AckStatus.Failed) throw new SealedError('FRAME_MALFORMED', `unknown ack status ${status}`);
  const reason = new TextDecoder().decode(plain.subarray(9));
  return { seq: getU64(new DataView(plain.buffer, plain.byteOffset, plain.byteLength), 0), status, ...(reason ? { reason } : {}) };
}
