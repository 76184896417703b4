import { SealedError } from './errors';

/**
 * Anti-replay window of one sender, the sliding bitmap of RFC 4303 §3.4.3 (IPsec ESP) and WireGuard:
 * the highest sequence seen plus a bitmap of the `size` numbers below it. Frames may arrive a little
 * out of order (several connections from one harvester); anything at or below `highest - size` is
 * refused as too old to tell.
 */
export class ReplayWindow {
  private highest = -1;
  private readonly bits: Uint32Array;

  constructor(readonly size = 4096) {
    if (size % 32 !== 0 || size <= 0) throw new RangeError('replay window size must be a positive multiple of 32');
    this.bits = new Uint32Array(size / 32);
  }

  /** Throws REPLAY when seq was accepted before or is older than the window. Does not record it. */
  check(seq: number): void {
    if (!Number.isSafeInteger(seq) || seq < 0) throw new SealedError('FRAME_MALFORMED', `bad sequence number ${seq}`);
    if (seq > this.highest) return;
    if (this.highest - seq >= this.size) throw new SealedError('REPLAY', `sequence ${seq} is older than the replay window (highest ${this.highest})`);
    if (this.get(seq)) throw new SealedError('REPLAY', `sequence ${seq} was already accepted`);
  }

  /** Records seq as accepted; call only after the frame authenticated (an attacker must not move the window). */
  accept(seq: number): void {
    this.check(seq);
    if (seq > this.highest) {
      const shift = this.highest < 0 ? this.size : seq - this.highest;
      if (shift >= this.size) this.bits.fill(0);
      else for (let s = this.highest + 1; s <= seq; s++) this.clear(s);
      this.highest = seq;
    }
    this.set(seq);
  }

  get last(): number {
    return this.highest;
  }

  private idx(seq: number): [number, number] {
    const slot = seq % this.size;
    return [slot >>> 5, 1 << (slot & 31)];
  }
  private get(seq: number): boolean {
    const [w, m] = this.idx(seq);
    return (this.bits[w]! & m) !== 0;
  }
  private set(seq: number): void {
    const [w, m] = this.idx(seq);
    this.bits[w]! |= m;
  }
  private clear(seq: number): void {
    const [w, m] = this.idx(seq);
    this.bits[w]! &= ~m;
  }
}

/**
 * The replay record shared by every gateway replica (the gateway implements it with Redis `SET NX`).
 * A port, so this library stays free of I/O.
 */
export interface ReplayStore {
  /**
   * Records (env, sender, seq) as accepted for `ttlMs`. Resolves true when this call recorded it, false
   * when it was recorded before (a replay). Rejects when it cannot tell: the caller must then refuse the
   * frame (fail closed) and let the sender retry.
   */
  claim(entry: { env: string; sender: string; seq: number }, ttlMs: number): Promise<boolean>;
}

/** Default allowance for gateway replicas' clocks disagreeing, ms (see replayClaimTtlMs). */
export const REPLAY_CLOCK_MARGIN_MS = 60_000;

/** Throws STALE when a frame's sealed time is further than maxClockSkewMs from now. */
export function checkFresh(sentAtMs: number, nowMs: number, maxClockSkewMs: number): void {
  if (Math.abs(nowMs - sentAtMs) > maxClockSkewMs) throw new SealedError('STALE', `frame sealed at ${sentAtMs} is outside ±${maxClockSkewMs} ms of ${nowMs}`);
}

/**
 * How long a replay claim must live: until the frame is stale everywhere. A gateway accepts a frame
 * while its clock is within ±maxClockSkewMs of sentAtMs, so after `now` it stays acceptable for
 * `sentAtMs + maxClockSkewMs − now` more (at most 2 × maxClockSkewMs, for a frame sealed by a clock
 * ahead of ours); `marginMs` covers replicas whose clocks lag ours. Past that, the freshness check
 * refuses the frame on its own and the record is no longer needed.
 */
export function replayClaimTtlMs(sentAtMs: number, nowMs: number, maxClockSkewMs: number, marginMs = REPLAY_CLOCK_MARGIN_MS): number {
  return Math.max(1, Math.ceil(sentAtMs + maxClockSkewMs - nowMs + marginMs));
}
