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
