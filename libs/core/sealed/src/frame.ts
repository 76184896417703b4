import { SealedError } from './errors';

/**
 * Framing of the sealed transport (docs/specs/sealed-transport.md): every frame is
 * `u32 big-endian length | body`, body = `u8 version | u8 type | …`. A length above the reader's cap
 * is refused before any byte of the body is buffered, so a hostile length costs no memory; the
 * version is checked on the body's first byte, and a reader's own header check (the gateway's allow
 * list) runs as soon as the fixed header has arrived, before the rest of the body is buffered.
 */
export const FRAME_VERSION = 2;
export const FrameType = { Batch: 1, Ack: 2 } as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Default cap on a frame body: a 900 KiB record plus headers and box overhead, with room to spare. */
export const DEFAULT_MAX_FRAME_BYTES = 2 * 1024 * 1024;

export interface Frame {
  type: number;
  /** The whole body, version and type bytes included. */
  body: Uint8Array;
}

export interface FrameHeaderCheck {
  /** Bytes of the body the check needs (it gets fewer only when the whole body is shorter). */
  bytes: number;
  /**
   * Called once per frame with the body's first `bytes` bytes and the frame's declared length, before
   * the rest of the body is buffered. Throw (a SealedError) to refuse the frame; the reader's caller
   * must then close the connection.
   */
  check(head: Uint8Array, length: number): void;
}

export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, 4);
  return out;
}

/** Refuses a body whose first byte is not this code's frame version (v1 included: no downgrade). */
export function checkVersion(version: number | undefined): void {
  if (version === FRAME_VERSION) return;
  throw new SealedError(
    'VERSION_UNSUPPORTED',
    version === 1 ? 'frame version 1 is no longer accepted (v2 authenticates direction, type and env; upgrade the sender)' : `unknown frame version ${version}`,
  );
}

/**
 * Incremental decoder for a TCP byte stream. `push` returns the complete frames; a bad length,
 * version or header throws (FRAME_TOO_LARGE, FRAME_MALFORMED, VERSION_UNSUPPORTED, or what the header
 * check throws) and the connection must be closed (the stream is out of sync, or hostile). `end()` at
 * EOF throws FRAME_TRUNCATED when a frame was cut.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private need = -1;
  private headerChecked = false;
  private completed = 0;

  constructor(
    private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES,
    private readonly header?: FrameHeaderCheck,
  ) {}

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buffered;
  }

  /** True while a frame has begun (at least one byte of it read) and is not complete. */
  get inFrame(): boolean {
    return this.need >= 0 || this.buffered > 0;
  }

  /** Frames completed so far (a caller can tell that a new frame began within the last push). */
  get frames(): number {
    return this.completed;
  }

  push(chunk: Uint8Array): Frame[] {
    if (chunk.length) {
      this.chunks.push(chunk);
      this.buffered += chunk.length;
    }
    const out: Frame[] = [];
    for (;;) {
      if (this.need < 0) {
        if (this.buffered < 4) break;
        const head = this.take(4);
        const len = new DataView(head.buffer, head.byteOffset, 4).getUint32(0, false);
        if (len < 2) throw new SealedError('FRAME_MALFORMED', `frame length ${len} is below the 2-byte minimum`);
        if (len > this.maxFrameBytes) throw new SealedError('FRAME_TOO_LARGE', `frame of ${len} bytes exceeds ${this.maxFrameBytes}`);
        this.need = len;
        this.headerChecked = false;
      }
      if (!this.headerChecked && this.buffered > 0) {
        checkVersion(this.chunks[0]![0]);
        const want = this.header ? Math.min(this.header.bytes, this.need) : 1;
        if (this.buffered < want) break;
        if (this.header) this.header.check(this.peek(want), this.need);
        this.headerChecked = true;
      }
      if (this.buffered < this.need) break;
      const body = this.take(this.need);
      this.need = -1;
      this.completed++;
      out.push({ type: body[1]!, body });
    }
    return out;
  }

  end(): void {
    if (this.inFrame) throw new SealedError('FRAME_TRUNCATED', `stream ended inside a frame (${this.buffered} bytes held)`);
  }

  /** The first n buffered bytes, without consuming them (copied only when they span chunks). */
  private peek(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) return first.subarray(0, n);
    const out = new Uint8Array(n);
    let off = 0;
    for (const c of this.chunks) {
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (off === n) break;
    }
    return out;
  }

  private take(n: number): Uint8Array {
    const first = this.chunks[0]!;
    if (first.length >= n) {
      const out = first.subarray(0, n);
      if (first.length === n) this.chunks.shift();
      else this.chunks[0] = first.subarray(n);
      this.buffered -= n;
      return out;
    }
    const out = new Uint8Array(n);
    let off = 0;
    while (off < n) {
      const c = this.chunks[0]!;
      const k = Math.min(c.length, n - off);
      out.set(c.subarray(0, k), off);
      off += k;
      if (k === c.length) this.chunks.shift();
      else this.chunks[0] = c.subarray(k);
    }
    this.buffered -= n;
    return out;
  }
}
