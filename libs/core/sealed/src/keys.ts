import nacl from 'tweetnacl';
import { SealedError } from './errors';

/** A Curve25519 key pair for NaCl box (X25519 + XSalsa20-Poly1305). */
export interface KeyPair {
  publicKey: Uint8Array;
  secretKey: Uint8Array;
}

export const KEY_BYTES = nacl.box.publicKeyLength; // 32

/** Fresh key pair from tweetnacl's CSPRNG (node's crypto.randomBytes underneath). */
export function generateKeyPair(): KeyPair {
  const kp = nacl.box.keyPair();
  return { publicKey: kp.publicKey, secretKey: kp.secretKey };
}

/** The public key that belongs to a secret key (key files store only the secret key). */
export function publicKeyOf(secretKey: Uint8Array): Uint8Array {
  return nacl.box.keyPair.fromSecretKey(checkKey(secretKey, 'secret')).publicKey;
}

/** Keys travel as standard base64 (44 characters), the form `backlog keys generate` prints. */
export function encodeKey(key: Uint8Array): string {
  return Buffer.from(key).toString('base64');
}

export function decodeKey(text: string, what = 'key'): Uint8Array {
  const trimmed = text.trim();
  if (!/^[A-Za-z0-9+/]{43}=$/.test(trimmed)) throw new SealedError('KEY_INVALID', `${what} is not a base64 32-byte key`);
  return checkKey(new Uint8Array(Buffer.from(trimmed, 'base64')), what);
}

function checkKey(key: Uint8Array, what: string): Uint8Array {
  if (!(key instanceof Uint8Array) || key.length !== KEY_BYTES) throw new SealedError('KEY_INVALID', `${what} must be ${KEY_BYTES} bytes`);
  return key;
}

/**
 * The precomputed shared key of one (local secret, remote public) pair: nacl.box.before runs the
 * X25519 scalar multiplication once, so sealing/opening each batch costs only XSalsa20-Poly1305.
 * It is symmetric: before(gwPub, senderSec) equals before(senderPub, gwSec).
 */
export function sharedKey(theirPublic: Uint8Array, mySecret: Uint8Array): Uint8Array {
  return nacl.box.before(checkKey(theirPublic, 'public key'), checkKey(mySecret, 'secret key'));
}

/**
 * The two secretbox keys of one harvester–gateway pair, one per direction (docs/adr/0014): a batch
 * (harvester → gateway) and an ack (gateway → harvester) are sealed under different keys, so a frame
 * of one direction can never open as a frame of the other, whatever an attacker does to the bytes
 * around the box. Both derive from the X25519 shared key by SHA-512 (nacl.hash) over a distinct label.
 */
export interface SealedKeys {
  /** Seals batches (harvester → gateway). */
  batch: Uint8Array;
  /** Seals acks (gateway → harvester). */
  ack: Uint8Array;
}

const te = new TextEncoder();
export const BATCH_KEY_LABEL = 'backlog sealed v2: batch harvester->gateway';
export const ACK_KEY_LABEL = 'backlog sealed v2: ack gateway->harvester';

function derive(label: string, shared: Uint8Array): Uint8Array {
  const l = te.encode(label);
  const input = new Uint8Array(l.length + 1 + shared.length);
  input.set(l, 0);
  // A 0 byte ends the label, so no label is a prefix of another's input.
  input.set(shared, l.length + 1);
  return nacl.hash(input).slice(0, nacl.secretbox.keyLength);
}

/** Per-direction keys of one (local secret, remote public) pair; the same on both ends. Compute once per peer. */
export function sealedKeys(theirPublic: Uint8Array, mySecret: Uint8Array): SealedKeys {
  const shared = sharedKey(theirPublic, mySecret);
  return { batch: derive(BATCH_KEY_LABEL, shared), ack: derive(ACK_KEY_LABEL, shared) };
}

/** Key files: one JSON object, so that a human can tell a public file from a secret one. */
export interface KeyFile {
  kind: 'backlog-nacl-keypair';
  role: 'harvester' | 'gateway';
  name: string;
  publicKey: string;
  secretKey?: string;
  createdAt: string;
}

export function keyFileOf(kp: KeyPair, role: KeyFile['role'], name: string, now = new Date()): KeyFile {
  return { kind: 'backlog-nacl-keypair', role, name, publicKey: encodeKey(kp.publicKey), secretKey: encodeKey(kp.secretKey), createdAt: now.toISOString() };
}

/** Parses a key file and checks that its secret key matches its public key. */
export function parseKeyFile(text: string): KeyPair & { role: string; name: string } {
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch {
    throw new SealedError('KEY_INVALID', 'key file is not JSON');
  }
  const f = v as Partial<KeyFile>;
  if (f?.kind !== 'backlog-nacl-keypair' || typeof f.publicKey !== 'string' || typeof f.secretKey !== 'string') {
    throw new SealedError('KEY_INVALID', 'not a backlog key pair file (kind, publicKey, secretKey)');
  }
  const secretKey = decodeKey(f.secretKey, 'secretKey');
  const publicKey = decodeKey(f.publicKey, 'publicKey');
  if (!equalBytes(publicKeyOf(secretKey), publicKey)) throw new SealedError('KEY_INVALID', 'publicKey does not belong to secretKey');
  return { publicKey, secretKey, role: String(f.role ?? ''), name: String(f.name ?? '') };
}

export function equalBytes(a: Uint8Array, b: Uint8Array): boolean {
  if (a.length !== b.length) return false;
  let d = 0;
  for (let i = 0; i < a.length; i++) d |= a[i]! ^ b[i]!;
  return d === 0;
}
