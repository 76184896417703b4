import { BATCH_HEADER_BYTES, type FrameHeaderCheck, ReplayWindow, SealedError, type SealedKeys, batchHeader, encodeKey, sealedKeys } from '@backlog/core-sealed';

export interface AllowedSender {
  /** A name for logs and the `sender-name` header (e.g. the harvester's host). */
  name: string;
  /** base64 public key. */
  publicKey: Uint8Array;
}

/** What the gateway holds for one allowed sender. */
export interface SenderState {
  name: string;
  /** The sender's public key, base64: how frames name it. */
  b64: string;
  keys: SealedKeys;
  /** The fast local replay check (the shared record in Redis decides). */
  window: ReplayWindow;
}

/**
 * The senders a gateway accepts frames from (config `allow`), by base64 public key. The X25519
 * agreement and the key derivation run once per sender here, not once per frame. `headerCheck` is the
 * FrameReader hook that refuses a frame from anyone else from its fixed header (version, type, sender
 * key), before its body is buffered (docs/specs/sealed-transport.md, "Listener bounds").
 */
export class AllowList {
  private readonly senders = new Map<string, SenderState>();

  constructor(allow: readonly AllowedSender[], gatewaySecretKey: Uint8Array, replayWindow: number) {
    for (const a of allow) {
      const b64 = encodeKey(a.publicKey);
      this.senders.set(b64, { name: a.name, b64, keys: sealedKeys(a.publicKey, gatewaySecretKey), window: new ReplayWindow(replayWindow) });
    }
  }

  get size(): number {
    return this.senders.size;
  }

  /** The sender of base64 key `b64`, or undefined when it is not on the list. */
  get(b64: string): SenderState | undefined {
    return this.senders.get(b64);
  }

  /** The keys to open a frame of `b64` with (openBatch's lookup), or undefined when it is not on the list. */
  keysOf(b64: string): SealedKeys | undefined {
    return this.senders.get(b64)?.keys;
  }

  /** FrameReader header hook: throws UNKNOWN_SENDER for a frame whose sender is not on the list. */
  readonly headerCheck: FrameHeaderCheck = {
    bytes: BATCH_HEADER_BYTES,
    check: (head, length) => {
      const sender = encodeKey(batchHeader(head, length));
      if (!this.senders.has(sender)) throw new SealedError('UNKNOWN_SENDER', `sender ${sender} is not on the allow list`);
    },
  };
}
