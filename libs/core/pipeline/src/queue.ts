/**
 * A bounded FIFO with a named when-full policy (ARCHITECTURE.md habit 5: everything is bounded, every
 * drop is counted with a reason).
 *
 * - `block`: a full queue refuses the item (`offer` returns `'full'`), `push` waits for room; nothing is dropped.
 * - `drop_oldest`: the oldest item makes room (keeps the freshest data; what a live view wants).
 * - `drop_newest`: the new item is refused and counted (keeps what is already queued in order).
 *
 * Capacity is in items and, optionally, in weight (bytes) through `weigh`. A single item heavier than
 * `maxWeight` is still accepted into an empty queue, otherwise it could never pass.
 */
export const WHEN_FULL_POLICIES = ['block', 'drop_oldest', 'drop_newest'] as const;
export type WhenFull = (typeof WHEN_FULL_POLICIES)[number];

/** Why a queue dropped an item. `queue_full` under the drop policies, `closed` after `close()`. */
export type QueueDropReason = 'queue_full' | 'closed';

export interface BoundedQueueOptions<T> {
  /** Max items held. */
  capacity: number;
  whenFull: WhenFull;
  /** Max total weight held (e.g. bytes); Infinity by default. */
  maxWeight?: number;
  /** Weight of an item; 1 by default (so weight = count). */
  weigh?: (item: T) => number;
  /** Called for every dropped item with its reason, e.g. to count it in a metric. */
  onDrop?: (item: T, reason: QueueDropReason) => void;
}

export type OfferResult = 'accepted' | 'full' | 'dropped' | 'closed';

export class BoundedQueue<T> {
  private items: T[] = [];
  private head = 0;
  private weightHeld = 0;
  private isClosed = false;
  private readonly roomWaiters: (() => void)[] = [];
  private readonly itemWaiters: (() => void)[] = [];
  private readonly dropCounts = new Map<QueueDropReason, number>();
  private readonly weigh: (item: T) => number;
  private readonly maxWeight: number;

  constructor(private readonly opts: BoundedQueueOptions<T>) {
    if (!(opts.capacity >= 1)) throw new RangeError('BoundedQueue capacity must be >= 1');
    this.weigh = opts.weigh ?? (() => 1);
    this.maxWeight = opts.maxWeight ?? Number.POSITIVE_INFINITY;
  }

  get size(): number {
    return this.items.length - this.head;
  }
  get weight(): number {
    return this.weightHeld;
  }
  get closed(): boolean {
    return this.isClosed;
  }
  get whenFull(): WhenFull {
    return this.opts.whenFull;
  }
  /** Whether one more item of weight `w` would exceed a bound. */
  wouldOverflow(w = 1): boolean {
    if (this.size >= this.opts.capacity) return true;
    return this.size > 0 && this.weightHeld + w > this.maxWeight;
  }
  get full(): boolean {
    return this.wouldOverflow(1);
  }
  /** Items dropped so far, by reason. */
  dropped(): Record<string, number> {
    return Object.fromEntries(this.dropCounts);
  }

  /** Adds an item without waiting; see the class comment for what each policy does when full. */
  offer(item: T): OfferResult {
    if (this.isClosed) {
      this.drop(item, 'closed');
      return 'closed';
    }
    const w = this.weigh(item);
    if (this.wouldOverflow(w)) {
      switch (this.opts.whenFull) {
        case 'block':
          return 'full';
        case 'drop_newest':
          this.drop(item, 'queue_full');
          return 'dropped';
        case 'drop_oldest':
          while (this.size > 0 && this.wouldOverflow(w)) this.drop(this.shiftRaw() as T, 'queue_full');
          break;
      }
    }
    this.enqueue(item, w);
    return 'accepted';
  }

  /**
   * Adds an item even over the bounds. For producers that already own the item and will pause on
   * their own (a `SourceSink` whose `write()` returned false): the overshoot is at most one write per producer.
   */
  force(item: T): void {
    if (this.isClosed) return void this.drop(item, 'closed');
    this.enqueue(item, this.weigh(item));
  }

  /** Adds an item, waiting for room under `block`. Resolves to what `offer` finally returned. */
  async push(item: T): Promise<OfferResult> {
    for (;;) {
      const r = this.offer(item);
      if (r !== 'full') return r;
      await new Promise<void>((resolve) => this.roomWaiters.push(resolve));
    }
  }

  shift(): T | undefined {
    if (this.size === 0) return undefined;
    const item = this.shiftRaw() as T;
    this.wakeRoom();
    return item;
  }

  /** Up to `max` items, oldest first. */
  take(max = Number.POSITIVE_INFINITY): T[] {
    const out: T[] = [];
    while (out.length < max && this.size > 0) out.push(this.shiftRaw() as T);
    if (out.length) this.wakeRoom();
    return out;
  }

  /** Resolves when at least one item is queued (or the queue is closed). */
  async waitForItem(): Promise<void> {
    if (this.size > 0 || this.isClosed) return;
    await new Promise<void>((resolve) => this.itemWaiters.push(resolve));
  }

  /** Refuses further items (counted as dropped, reason `closed`) and wakes every waiter. Queued items stay takeable. */
  close(): void {
    this.isClosed = true;
    for (const w of this.roomWaiters.splice(0)) w();
    for (const w of this.itemWaiters.splice(0)) w();
  }

  private enqueue(item: T, w: number): void {
    this.items.push(item);
    this.weightHeld += w;
    for (const waiter of this.itemWaiters.splice(0)) waiter();
  }

  private shiftRaw(): T | undefined {
    const item = this.items[this.head];
    this.items[this.head] = undefined as T;
    this.head++;
    // Compact lazily so shift stays O(1) amortized without Array#shift's copying.
    if (this.head > 1024 && this.head * 2 > this.items.length) {
      this.items = this.items.slice(this.head);
      this.head = 0;
    }
    if (item !== undefined) this.weightHeld -= this.weigh(item);
    if (this.size === 0) this.weightHeld = 0;
    return item;
  }

  private wakeRoom(): void {
    for (const w of this.roomWaiters.splice(0)) w();
  }

  private drop(item: T, reason: QueueDropReason): void {
    this.dropCounts.set(reason, (this.dropCounts.get(reason) ?? 0) + 1);
    this.opts.onDrop?.(item, reason);
  }
}
