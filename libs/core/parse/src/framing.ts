import { ByteQueue, type ByteQueueStats } from './byte-queue';
import { ParseError, type ParseErrorCode } from './errors';

/**
 * RFC 6587 (syslog over TCP) framing as a pure, incremental decoder: feed it whatever each socket read
 * returned, get whole frames back. No I/O, no timers.
 *
 *   octet counting (3.4.1):      MSG-LEN SP SYSLOG-MSG      MSG-LEN = NONZERO-DIGIT *DIGIT
 *   non-transparent (3.4.2):     SYSLOG-MSG TRAILER         TRAILER = LF (usual) or NUL (some senders)
 *
 * Mode "auto" decides per frame, as RFC 6587 3.4.2 suggests receivers do: a frame that starts with
 * 1-9 digits followed by SP is octet-counted; anything else ('<' in practice) runs to the next LF or NUL.
 * A digit later in a payload never switches modes. Strict modes "octet-counting", "lf", "nul" accept one
 * framing only.
 *
 * The bytes of an incomplete frame wait in one growable buffer (ByteQueue) that the next read appends to:
 * a frame that arrives one byte per read costs linear copying, not quadratic (issue 17 §6). A read that
 * completes a waiting frame is appended only up to that frame's end (its trailer, or its MSG-LEN); the
 * rest of the read is decoded where it lies, without a copy.
 *
 * Memory is bounded by `maxFrameBytes` (+ a few bytes of MSG-LEN): an oversized frame is emitted cut to
 * `maxFrameBytes` with `error: FRAME_TOO_LONG, truncated: true`, and its remaining octets (octet counting)
 * or bytes up to the next trailer (non-transparent) are skipped as they stream past, never buffered. A
 * bogus MSG-LEN such as 999999999 therefore costs at most one maximum-size frame of memory.
 *
 * Nothing is dropped silently: bytes that are not a valid frame start in octet-counting mode come out as
 * a frame with `error: FRAME_MSG_LEN_INVALID` (delimited by the next LF), and a stream that ends inside a
 * frame yields what was received with `error: FRAME_EOF` (an octet-counted frame) or as a normal final
 * frame (non-transparent framing without a final trailer: the sender closed the connection after its
 * last message, see docs/adr/0003). Empty frames (a lone LF/NUL between frames) carry nothing and are skipped.
 */
export type FramingMode = 'auto' | 'octet-counting' | 'lf' | 'nul';

export interface FrameDecoderOptions {
  /** Default "auto". */
  mode?: FramingMode;
  /** Largest payload kept per frame, in bytes. Default 65,536. */
  maxFrameBytes?: number;
  /** Strip one CR before an LF trailer (CRLF senders). Default true. */
  stripCr?: boolean;
  /**
   * Frames of push() are views of the pushed bytes instead of copies: no allocation per frame, but a
   * payload is valid only until the next push() or end() (a caller that parses each frame at once, as
   * the TCP input does). Default false. end()'s frames are always copies.
   */
  views?: boolean;
}

export interface Frame {
  /** The frame's bytes: a copy callers may keep, or with `views` a view valid until the next push()/end(). */
  payload: Uint8Array;
  framing: 'octet-counting' | 'lf' | 'nul' | 'eof';
  error?: Extract<ParseErrorCode, 'FRAME_TOO_LONG' | 'FRAME_MSG_LEN_INVALID' | 'FRAME_SP_EXPECTED' | 'FRAME_EOF'>;
  /** The payload was cut at maxFrameBytes. */
  truncated?: boolean;
  /** MSG-LEN as announced (octet counting only). */
  declaredLength?: number;
}

const EMPTY = new Uint8Array(0);
const MAX_LEN_DIGITS = 10;
const LF = 10;
const NUL = 0;
const SP = 32;
const CR = 13;

function copy(b: Uint8Array, from: number, to: number): Uint8Array {
  return Uint8Array.prototype.slice.call(b, from, to);
}

export class SyslogFrameDecoder {
  private readonly mode: FramingMode;
  private readonly max: number;
  private readonly stripCr: boolean;
  private readonly views: boolean;
  /** Bytes of the frame in progress (bounded: at most max + MSG-LEN digits + 1), starting at its first byte. */
  private readonly pending: ByteQueue;
  /** How much of `pending` was already searched for a trailer. */
  private scanned = 0;
  /** Octets still to skip of an oversized octet-counted frame. */
  private skipOctets = 0;
  /** Skipping up to the next trailer (oversized non-transparent frame). */
  private skipLine = false;
  /** The non-transparent frame in progress is garbage in octet-counting mode. */
  private lineError: Frame['error'];

  constructor(opts: FrameDecoderOptions = {}) {
    this.mode = opts.mode ?? 'auto';
    this.max = opts.maxFrameBytes ?? 65_536;
    this.stripCr = opts.stripCr ?? true;
    this.views = opts.views ?? false;
    if (!['auto', 'octet-counting', 'lf', 'nul'].includes(this.mode)) throw new ParseError('OPTIONS_INVALID', `unknown framing ${this.mode}`);
    if (!Number.isInteger(this.max) || this.max < 1) throw new ParseError('OPTIONS_INVALID', 'maxFrameBytes must be a positive integer');
    this.pending = new ByteQueue(this.max + MAX_LEN_DIGITS + 2);
  }

  /** Bytes held for an incomplete frame (for metrics and tests of the bound). */
  get buffered(): number {
    return this.pending.length;
  }

  /** A frame is in progress: its first bytes are held, or the rest of an oversized one is being skipped. */
  get partial(): boolean {
    return this.pending.length > 0 || this.skipOctets > 0 || this.skipLine;
  }

  /** The buffer of the frame in progress: size, capacity, bytes copied and allocations so far. */
  stats(): ByteQueueStats {
    return this.pending.stats();
  }

  push(chunk: Uint8Array): Frame[] {
    const out: Frame[] = [];
    const q = this.pending;
    // The previous push's views end here (FrameDecoderOptions.views).
    q.compact();
    let pos = 0;
    // A frame is waiting: complete it from the head of this read, appending no further than its end.
    while (q.length > 0 && pos < chunk.length) {
      const step = this.completionStep(q.view(), chunk, pos);
      q.append(chunk, pos, pos + step);
      pos += step;
      q.consume(this.run(q.view(), out));
    }
    if (pos < chunk.length) {
      // Nothing waits: decode the rest of the read in place, and keep only its unfinished tail.
      const data = pos === 0 ? chunk : chunk.subarray(pos);
      const rest = this.run(data, out);
      if (rest < data.length) q.append(data, rest, data.length);
    }
    return out;
  }

  /**
   * How many bytes of `chunk` from `pos` the waiting frame `p` can use: up to and including the next
   * trailer (non-transparent), up to its announced end (octet counting), or one MSG-LEN's worth; never so
   * many that more than one maximum frame is held.
   */
  private completionStep(p: Uint8Array, chunk: Uint8Array, pos: number): number {
    const avail = chunk.length - pos;
    if (this.scanned > 0 || this.lineError !== undefined) {
      // Room for max bytes, a CR and the trailer.
      const cap = Math.min(avail, Math.max(1, this.max + 2 - p.length));
      for (let k = 0; k < cap; k++) if (this.isTrailer(chunk[pos + k] as number)) return k + 1;
      return cap;
    }
    // An octet-counted frame (or, in auto mode, digits that may still become one).
    let j = 0;
    let len = 0;
    while (j < p.length && (p[j] as number) >= 48 && (p[j] as number) <= 57) len = len * 10 + ((p[j++] as number) - 48);
    if (j < p.length && p[j] === SP) return Math.min(avail, Math.max(1, j + 1 + Math.min(len, this.max) - p.length));
    return Math.min(avail, Math.max(1, MAX_LEN_DIGITS + 1 - p.length));
  }

  /** The stream ended: whatever is held becomes a last frame (flagged when it is an incomplete octet-counted one). */
  end(): Frame[] {
    const out: Frame[] = [];
    const p = copy(this.pending.view(), 0, this.pending.length);
    this.pending.clear();
    this.scanned = 0;
    this.skipOctets = 0;
    this.skipLine = false;
    const lineError = this.lineError;
    this.lineError = undefined;
    if (p.length === 0) return out;
    if (lineError === undefined && this.isOctetStart(p, 0) && (this.mode === 'octet-counting' || p.indexOf(SP) > 0)) {
      // Stream closed inside an octet-counted frame (or inside its MSG-LEN).
      let i = 0;
      let len = 0;
      while (i < p.length && (p[i] as number) >= 48 && (p[i] as number) <= 57) len = len * 10 + ((p[i++] as number) - 48);
      const body = i < p.length ? copy(p, i + 1, p.length) : EMPTY;
      out.push({ payload: body, framing: 'octet-counting', error: 'FRAME_EOF', declaredLength: len });
      return out;
    }
    let end = p.length;
    if (this.stripCr && p[end - 1] === CR) end--;
    if (end > 0 || lineError) out.push(lineError ? { payload: copy(p, 0, end), framing: 'eof', error: lineError } : { payload: copy(p, 0, end), framing: 'eof' });
    return out;
  }

  /** True when a frame at `i` is (or, when incomplete, may still be) octet-counted in the current mode. */
  private isOctetStart(d: Uint8Array, i: number): boolean {
    if (this.mode === 'lf' || this.mode === 'nul') return false;
    const c = d[i] as number;
    if (c < 49 || c > 57) return false;
    if (this.mode === 'octet-counting') return true;
    // auto: digits then SP
    for (let k = i + 1; k < d.length && k <= i + MAX_LEN_DIGITS; k++) {
      const x = d[k] as number;
      if (x === SP) return true;
      if (x < 48 || x > 57) return false;
    }
    return d.length - i <= MAX_LEN_DIGITS; // undecided yet: wait for more
  }

  private isTrailer(c: number): boolean {
    switch (this.mode) {
      case 'lf':
      case 'octet-counting':
        return c === LF;
      case 'nul':
        return c === NUL;
      default:
        return c === LF || c === NUL;
    }
  }

  /** Consumes frames from `d`; returns the index of the first byte that must wait for more input. */
  private run(d: Uint8Array, out: Frame[]): number {
    const n = d.length;
    let i = 0;
    while (i < n) {
      if (this.skipOctets > 0) {
        const take = Math.min(this.skipOctets, n - i);
        this.skipOctets -= take;
        i += take;
        continue;
      }
      if (this.skipLine) {
        let k = i;
        while (k < n && !this.isTrailer(d[k] as number)) k++;
        if (k === n) return n;
        this.skipLine = false;
        i = k + 1;
        continue;
      }
      const c = d[i] as number;
      if (this.lineError === undefined && this.scanned === 0) {
        // At a frame start.
        if (c === LF || c === NUL || c === CR) {
          i++; // stray trailer between frames: an empty frame, nothing to report
          continue;
        }
        if (this.isOctetStart(d, i)) {
          let k = i;
          let len = 0;
          while (k < n && k - i < MAX_LEN_DIGITS && (d[k] as number) >= 48 && (d[k] as number) <= 57) len = len * 10 + ((d[k++] as number) - 48);
          if (k === n) return i; // MSG-LEN not complete yet
          if (d[k] !== SP) {
            // Only in strict octet-counting mode (auto checked for the SP already).
            this.lineError = (d[k] as number) >= 48 && (d[k] as number) <= 57 ? 'FRAME_MSG_LEN_INVALID' : 'FRAME_SP_EXPECTED';
            continue;
          }
          const body = k + 1;
          if (len > this.max) {
            if (n - body < this.max) return i; // wait until the kept part is complete
            out.push({
              payload: this.views ? d.subarray(body, body + this.max) : copy(d, body, body + this.max),
              framing: 'octet-counting',
              error: 'FRAME_TOO_LONG',
              truncated: true,
              declaredLength: len,
            });
            this.skipOctets = len - this.max;
            i = body + this.max;
            continue;
          }
          if (n - body < len) return i;
          out.push({ payload: this.views ? d.subarray(body, body + len) : copy(d, body, body + len), framing: 'octet-counting', declaredLength: len });
          i = body + len;
          continue;
        }
        if (this.mode === 'octet-counting') {
          this.lineError = 'FRAME_MSG_LEN_INVALID';
        }
      }
      // Non-transparent frame (or garbage in octet-counting mode, delimited by LF): find the trailer.
      let k = i + this.scanned;
      while (k < n && !this.isTrailer(d[k] as number)) k++;
      if (k === n) {
        // A CR at the end may be the first half of a CRLF trailer (stripped): wait for the next byte before
        // calling a frame of exactly max bytes too long, so read boundaries never change the frames.
        if (n - i > this.max + (this.stripCr && d[n - 1] === CR ? 1 : 0)) {
          out.push(this.lineFrame(d, i, i + this.max, 'FRAME_TOO_LONG'));
          this.scanned = 0;
          this.lineError = undefined;
          this.skipLine = true;
          i += this.max;
          continue;
        }
        this.scanned = n - i;
        return i;
      }
      let end = k;
      const trailer = d[k] as number;
      if (this.stripCr && trailer === LF && end > i && d[end - 1] === CR) end--;
      if (end - i > this.max) out.push(this.lineFrame(d, i, i + this.max, 'FRAME_TOO_LONG'));
      else if (end > i || this.lineError) out.push(this.lineFrame(d, i, end, this.lineError, trailer === NUL ? 'nul' : 'lf'));
      this.scanned = 0;
      this.lineError = undefined;
      i = k + 1;
    }
    return n;
  }

  private lineFrame(d: Uint8Array, from: number, to: number, error: Frame['error'], framing: Frame['framing'] = 'lf'): Frame {
    const f: Frame = { payload: this.views ? d.subarray(from, to) : copy(d, from, to), framing };
    if (error) f.error = error;
    const e = error ?? this.lineError;
    if (e && !error) f.error = e;
    if (error === 'FRAME_TOO_LONG') {
      f.truncated = true;
      if (this.lineError) f.error = this.lineError;
    }
    return f;
  }
}
