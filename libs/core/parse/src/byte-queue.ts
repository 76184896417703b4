/**
 * The bytes of one incomplete record (a syslog frame, a line) held between socket reads, in ONE growable
 * buffer per connection: appending is amortised O(1) per byte, so a record that arrives one byte per read
 * costs O(n) copying in all, not O(n²) (issue 17 §6: re-concatenating the pending bytes on every read
 * took 637 ms of CPU for one 64 KiB frame; keeping one Buffer per read took 19 MiB for 200 000 reads).
 *
 * Views handed out of `view()` stay valid until the owner calls `compact()` (or `clear()`): `append()` and
 * `consume()` never move or overwrite held or consumed bytes — when the storage is too small the bytes move
 * to a new, larger one and the old one stays intact for whoever still views it. So a decoder can hand out
 * views of its buffer during one read and compact at the start of the next (SyslogFrameDecoder's `views`).
 *
 * Memory: the storage grows geometrically but never beyond `limit` (the caller's record bound plus
 * what its framing needs), and is dropped when emptied while larger than `retainBytes`, so an idle
 * connection holds at most `retainBytes`.
 */
const EMPTY = new Uint8Array(0);

export interface ByteQueueStats {
  /** Bytes currently held. */
  length: number;
  /** Size of the storage, bytes. */
  capacity: number;
  /** Bytes copied in all: appends, moves to a larger storage and compactions. Linear in the bytes appended. */
  copiedBytes: number;
  /** Storages allocated so far. */
  allocations: number;
}

export class ByteQueue {
  private buf: Uint8Array = EMPTY;
  private start = 0;
  private end = 0;
  copiedBytes = 0;
  allocations = 0;

  /**
   * @param limit       largest storage ever allocated, bytes (appending more than fits is a caller bug: it throws)
   * @param retainBytes storage kept when the queue empties; larger storage is released. Default 16 KiB.
   */
  constructor(
    private readonly limit: number,
    private readonly retainBytes = 16 * 1024,
  ) {}

  get length(): number {
    return this.end - this.start;
  }

  get capacity(): number {
    return this.buf.length;
  }

  stats(): ByteQueueStats {
    return { length: this.length, capacity: this.capacity, copiedBytes: this.copiedBytes, allocations: this.allocations };
  }

  /** The held bytes (a view, valid until compact() or clear()). */
  view(): Uint8Array {
    return this.buf.subarray(this.start, this.end);
  }

  /** Appends `src[from, to)`. Never moves bytes inside the current storage. */
  append(src: Uint8Array, from = 0, to = src.length): void {
    const n = to - from;
    if (n <= 0) return;
    if (this.end + n > this.buf.length) this.grow(this.length + n);
    this.buf.set(from === 0 && to === src.length ? src : src.subarray(from, to), this.end);
    this.end += n;
    this.copiedBytes += n;
  }

  /** Drops the first `n` held bytes (their storage is reused only after the next compact()). */
  consume(n: number): void {
    this.start = Math.min(this.end, this.start + n);
  }

  /** Drops everything (invalidates views handed out before); releases a storage larger than retainBytes. */
  clear(): void {
    this.start = 0;
    this.end = 0;
    if (this.buf.length > this.retainBytes) this.buf = EMPTY;
  }

  /**
   * Moves the held bytes to the start of the storage, or, when nothing is held, releases a storage larger
   * than retainBytes. Invalidates views handed out before.
   */
  compact(): void {
    if (this.start === this.end) return this.clear();
    if (this.start === 0) return;
    const n = this.length;
    this.buf.copyWithin(0, this.start, this.end);
    this.copiedBytes += n;
    this.start = 0;
    this.end = n;
  }

  private grow(needed: number): void {
    if (needed > this.limit) throw new RangeError(`ByteQueue: ${needed} bytes over its limit of ${this.limit}`);
    // Geometric growth (amortised O(1) per byte), from 256 bytes, capped at the limit.
    const size = Math.min(this.limit, Math.max(needed, 256, this.buf.length * 2));
    const next = new Uint8Array(size);
    const n = this.length;
    if (n > 0) next.set(this.buf.subarray(this.start, this.end));
    this.copiedBytes += n;
    this.allocations++;
    this.buf = next;
    this.start = 0;
    this.end = n;
  }
}
