import type { SourcePosition, SourceSink } from './ports';
import { BoundedQueue, type QueueDropReason, type WhenFull } from './queue';

/** One `write()` as it sits in a `QueueSink`. */
export interface SinkEntry<E> {
  events: readonly E[];
  positions: readonly SourcePosition[];
}

export interface QueueSinkOptions<E> {
  /** Max events held. */
  capacity: number;
  whenFull: WhenFull;
  /** Called once per dropped event (drop policies only), e.g. to count it with its reason. */
  onDrop?: (event: E, reason: QueueDropReason) => void;
  /** Seconds for HTTP Retry-After while not writable. Default 1. */
  retryAfterSeconds?: number;
}

/**
 * A `SourceSink` over a bounded queue of events, for the stage that drains the inputs (the harvester's
 * stdout writer, tests). Under `block`, `write()` keeps what it is given (the sink contract: never lose an
 * accepted event) and returns false once the queue is at capacity, so well-behaved producers pause and the
 * overshoot stays at one write per producer. Under the drop policies it is always writable and the queue
 * drops (and counts) events one by one.
 */
export class QueueSink<E> implements SourceSink<E> {
  private readonly queue: BoundedQueue<{ event: E; positions?: readonly SourcePosition[] }>;
  private readonly listeners = new Set<() => void>();
  private wasWritable = true;
  readonly retryAfterSeconds: number;

  constructor(private readonly opts: QueueSinkOptions<E>) {
    this.retryAfterSeconds = opts.retryAfterSeconds ?? 1;
    this.queue = new BoundedQueue({
      capacity: opts.capacity,
      whenFull: opts.whenFull,
      onDrop: (item, reason) => opts.onDrop?.(item.event, reason),
    });
  }

  get writable(): boolean {
    return this.opts.whenFull !== 'block' || !this.queue.full;
  }
  get size(): number {
    return this.queue.size;
  }
  dropped(): Record<string, number> {
    return this.queue.dropped();
  }

  write(events: readonly E[], positions?: readonly SourcePosition[]): boolean {
    const last = events.length - 1;
    events.forEach((event, i) => {
      // Positions ride on the last event of their write: they are safe to commit once it is consumed.
      const item = i === last && positions?.length ? { event, positions } : { event };
      if (this.opts.whenFull === 'block') this.queue.force(item);
      else this.queue.offer(item);
    });
    if (events.length === 0 && positions?.length) this.pendingPositions.push(...positions);
    const ok = this.writable;
    if (!ok) this.wasWritable = false;
    return ok;
  }

  private pendingPositions: SourcePosition[] = [];

  onWritable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /**
   * Takes up to `max` events with the positions they complete. The consumer calls the sources'
   * `commit()` with those positions after it delivered the events.
   */
  take(max = Number.POSITIVE_INFINITY): SinkEntry<E> {
    const items = this.queue.take(max);
    const positions: SourcePosition[] = [];
    for (const it of items) if (it.positions) positions.push(...it.positions);
    if (this.queue.size === 0 && this.pendingPositions.length) positions.push(...this.pendingPositions.splice(0));
    if (!this.wasWritable && this.writable) {
      this.wasWritable = true;
      for (const l of [...this.listeners]) l();
    }
    return { events: items.map((it) => it.event), positions };
  }

  /** Resolves when at least one event is queued or `close()` was called. */
  waitForEvents(): Promise<void> {
    return this.queue.waitForItem();
  }

  close(): void {
    this.queue.close();
  }
}
