import { SealedError } from './errors';

/**
 * Framing of the sealed transport (docs/specs/sealed-transport.md): every frame is
 * `u32 big-endian length | body`, body = `u8 version | u8 type | …`. A length above the reader's cap
 * is refused before any byte of the body is buffered, so a hostile length costs no memory.
 */
export const FRAME_VERSION = 1;
export const FrameType = { Batch: 1, Ack: 2 } as const;
export type FrameTypeValue = (typeof FrameType)[keyof typeof FrameType];

/** Default cap on a frame body: a 900 KiB record plus headers and box overhead, with room to spare. */
export const DEFAULT_MAX_FRAME_BYTES = 2 * 1024 * 1024;

export interface Frame {
  type: number;
  /** The whole body, version and type bytes included. */
  body: Uint8Array;
}

export function encodeFrame(body: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + body.length);
  new DataView(out.buffer).setUint32(0, body.length, false);
  out.set(body, 4);
  return out;
}

/**
 * Incremental decoder for a TCP byte stream. `push` returns the complete frames; a bad length
 * throws FRAME_TOO_LARGE / FRAME_MALFORMED and the connection must be closed (the stream is out of
 * sync). `end()` at EOF throws FRAME_TRUNCATED when a frame was cut.
 */
export class FrameReader {
  private chunks: Uint8Array[] = [];
  private buffered = 0;
  private need = -1;

  constructor(private readonly maxFrameBytes = DEFAULT_MAX_FRAME_BYTES) {}

  /** Bytes held for an incomplete frame. */
  get pending(): number {
    return this.buffered;
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
      }
      if (this.buffered < this.need) break;
      const body = this.take(this.need);
      this.need = -1;
      if (body[0] !== FRAME_VERSION) throw new SealedError('FRAME_MALFORMED', `unknown frame version ${body[0]}`);
      out.push({ type: body[1]!, body });
    }
    return out;
  }

  end(): void {
    if (this.buffered > 0 || this.need >= 0) throw new SealedError('FRAME_TRUNCATED', `stream ended inside a frame (${this.buffered} bytes held)`);
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
