import type { LiveBus } from '@backlog/adapter-redis';
import type { LiveDatagram } from '@backlog/core-codec';

/** The Redis dedupe key's variable part. `run` has no `:` (core-codec's checkDatagram), so the tuple is unambiguous. */
export const dedupeId = (d: LiveDatagram): string => `${d.run}:${d.seq}:${d.host}`;

export interface DeduperOptions {
  bus: LiveBus;
  /** Redis key prefix, e.g. `dev:live:`. */
  prefix: string;
  /** Channel the winners are published on. */
  channel: string;
  ttlMs: number;
  maxBatch: number;
  maxInFlight: number;
  maxPending: number;
  /** Datagrams this receiver claimed first (and published); e.g. for the log.io forwarder. */
  onWon?: (won: readonly LiveDatagram[]) => void;
  /** Counters. */
  onDuplicates?: (n: number) => void;
  onDropped?: (reason: 'backpressure' | 'redis_unavailable', n: number) => void;
  /** Why a batch failed (for a rate-limited log line). */
  onError?: (err: Error) => void;
}

interface Item {
  d: LiveDatagram;
  raw: Buffer;
}

/**
 * Claims each datagram's `(host, run, seq)` in Redis and publishes the ones this receiver claimed
 * first (one script call per batch, see live-bus.ts in @backlog/adapter-redis). Datagrams that arrive in one turn of the event loop travel in one pipelined round trip
 * (up to `maxBatch`), with up to `maxInFlight` round trips at once; beyond `maxPending` waiting
 * datagrams new ones are dropped (`backpressure`), so a slow Redis costs events, never memory.
 */
export class Deduper {
  private pending: Item[] = [];
  private inFlight = 0;
  private scheduled = false;
  private readonly idle: (() => void)[] = [];

  constructor(private readonly o: DeduperOptions) {}

  offer(d: LiveDatagram, raw: Buffer): void {
    if (this.pending.length >= this.o.maxPending) {
      this.o.onDropped?.('backpressure', 1);
      return;
    }
    this.pending.push({ d, raw });
    if (this.pending.length >= this.o.maxBatch) this.pump();
    else if (!this.scheduled) {
      this.scheduled = true;
      setImmediate(() => {
        this.scheduled = false;
        this.pump();
      });
    }
  }

  private pump(): void {
    while (this.pending.length && this.inFlight < this.o.maxInFlight) {
      const batch = this.pending.length <= this.o.maxBatch ? this.pending : this.pending.slice(0, this.o.maxBatch);
      this.pending = batch === this.pending ? [] : this.pending.slice(this.o.maxBatch);
      this.inFlight++;
      void this.run(batch).finally(() => {
        this.inFlight--;
        this.pump();
        if (this.inFlight === 0 && this.pending.length === 0) for (const r of this.idle.splice(0)) r();
      });
    }
  }

  private async run(batch: Item[]): Promise<void> {
    let won: boolean[];
    const keys = new Array<string>(batch.length);
    // Buffers, not strings: ioredis writes them as they are (no UTF-8 re-encoding per event).
    const texts = new Array<Buffer>(batch.length);
    for (let i = 0; i < batch.length; i++) {
      const it = batch[i] as Item;
      keys[i] = this.o.prefix + dedupeId(it.d);
      texts[i] = it.raw;
    }
    try {
      won = await this.o.bus.claimAndPublish(keys, texts, this.o.ttlMs, this.o.channel);
    } catch (err) {
      this.o.onError?.(err as Error);
      // Without Redis there is no cluster-wide dedupe nor fan-out: the live view is lossy by
      // contract, so these are dropped and counted rather than shown twice or held.
      this.o.onDropped?.('redis_unavailable', batch.length);
      return;
    }
    const winners: LiveDatagram[] = [];
    for (let i = 0; i < batch.length; i++) if (won[i]) winners.push((batch[i] as Item).d);
    if (batch.length - winners.length) this.o.onDuplicates?.(batch.length - winners.length);
    if (winners.length) this.o.onWon?.(winners);
  }

  /** Resolves when nothing is pending or in flight (for a graceful stop). */
  drain(): Promise<void> {
    if (this.inFlight === 0 && this.pending.length === 0) return Promise.resolve();
    this.pump();
    return new Promise((r) => this.idle.push(r));
  }
}
