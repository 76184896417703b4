import { getHeapStatistics } from 'node:v8';

/**
 * The default byte budget: a quarter of the V8 heap limit the process runs with (`--max-old-space-size`;
 * deploy/k8s and `backlog start` give the gateway 128 MiB of old space, a 176 MiB limit, so 44 MiB), and
 * never less than two maximal frames. The frames themselves live outside the V8 heap (Buffers), but the
 * heap cap is what an operator sizes a process by, and a quarter of it leaves room for the copies a frame
 * costs while it is opened and produced (docs/adr/0014-sealed-transport-v2.md, addendum).
 */
export function defaultMaxBufferedBytes(maxFrameBytes: number, heapLimit = getHeapStatistics().heap_size_limit): number {
  return Math.max(2 * maxFrameBytes, Math.floor(heapLimit / 4));
}

/** Where the budget's count and peak are published (the gateway's gauges). */
export interface BudgetGauges {
  bufferedBytes: { set(v: number): void };
  bufferedBytesPeak: { set(v: number): void };
}

/**
 * The gateway's byte budget (docs/specs/sealed-transport.md, "Byte budget"): the bytes of frames held
 * across all connections, and whether reading is stopped for them. Reading stops when the count reaches
 * `limit` and resumes once it has fallen to three quarters of it (hysteresis: no pause/resume per read
 * near the limit). Pure bookkeeping; the gateway pauses and resumes the sockets.
 */
export class ByteBudget {
  private bytes = 0;
  private peak = 0;
  private paused = false;

  constructor(
    readonly limit: number,
    private readonly gauges: BudgetGauges,
  ) {
    gauges.bufferedBytes.set(0);
    gauges.bufferedBytesPeak.set(0);
  }

  /** Adds (or, negative, removes) bytes counted against the budget. */
  add(delta: number): void {
    this.bytes += delta;
    this.gauges.bufferedBytes.set(this.bytes);
    if (this.bytes > this.peak) {
      this.peak = this.bytes;
      this.gauges.bufferedBytesPeak.set(this.bytes);
    }
  }

  /** After the count changed: `pause` when it reached the limit, `resume` when a pause ends, else undefined (no change). */
  step(): 'pause' | 'resume' | undefined {
    if (!this.paused && this.bytes >= this.limit) {
      this.paused = true;
      return 'pause';
    }
    if (this.paused && this.bytes <= this.limit - this.limit / 4) {
      this.paused = false;
      return 'resume';
    }
    return undefined;
  }

  get isPaused(): boolean {
    return this.paused;
  }

  get state(): { bytes: number; peak: number; limit: number; paused: boolean } {
    return { bytes: this.bytes, peak: this.peak, limit: this.limit, paused: this.paused };
  }
}

/** What pickFinisher reads of a connection. */
export interface FinisherCandidate {
  dead: boolean;
  inflight: number;
  reader: { inFrame: boolean; pending: number };
}

/**
 * While the budget is full of frames that are only half read and nothing waits for Kafka, the one
 * connection to read until its frame is complete: the live one furthest into its frame that may still
 * put a frame in flight (the first of equals). Undefined when none is inside a frame.
 */
export function pickFinisher<C extends FinisherCandidate>(conns: Iterable<C>, maxInFlightPerConnection: number): C | undefined {
  let best: C | undefined;
  for (const c of conns) if (!c.dead && c.reader.inFrame && c.inflight < maxInFlightPerConnection && (!best || c.reader.pending > best.reader.pending)) best = c;
  return best;
}
