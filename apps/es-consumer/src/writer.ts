import { BulkDelivery, cutRequests, type DeliveryHooks, type Refusal, type SearchPort } from '@backlog/adapter-search';
import type { Logger } from '@backlog/core-pipeline';
import { deadLetter, deadLetterEvent, type DlqReason, type WriteItem } from './document';
import type { EsConsumerMetrics } from './metrics';

export interface WriterOptions {
  env: string;
  rawMaxBytes: number;
  maxDocs: number;
  maxBytes: number;
  concurrency: number;
  retry: { attempts: number; initialBackoffMs: number; maxBackoffMs: number };
  maxConflictRounds: number;
}

export type Outcome = 'indexed' | 'already_indexed' | 'dead_lettered' | 'dropped';

/** What one call of `write` may do to the outside while it waits (all optional). */
export interface WriteControl {
  /** Called at least every few seconds during a long wait: keeps the Kafka group membership. */
  heartbeat?: () => Promise<void>;
  /** True when the work must be abandoned (stop deadline passed, partition taken by a rebalance). */
  aborted?: () => boolean;
}

export interface WriterHooks {
  /** Consumption must pause (true) or may resume (false): backpressure towards Kafka. */
  onPause?: (paused: boolean, why: string) => void;
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/**
 * Writes documents with `_bulk` through the shared delivery engine (`BulkDelivery`), checking every
 * item (ARCHITECTURE.md habit 4):
 *  - 2xx, and 409 on `create` (our own `_id`, i.e. a redelivery): delivered;
 *  - 429/5xx items and retriable transport errors (engine down, timeout): re-sent with exponential
 *    back-off; after `retry.attempts` rounds consumption is paused and the writer keeps probing at
 *    `maxBackoffMs` until the engine takes the documents — backpressure, never loss;
 *  - 400 mapping errors: the refused value is moved to `backlog.conflicts` and the document re-sent,
 *    up to `maxConflictRounds`; then, and for any other 4xx, a dead-letter document replaces it;
 *  - a request the engine refuses as a whole (400/413): split in halves down to one document.
 * `onSettled` is called once per input item with its final outcome; `write` resolves false when it
 * was aborted (the unsettled items must then not be committed).
 */
export class BulkWriter {
  private readonly engine: BulkDelivery;
  private pausedBy = new Set<object>();

  constructor(
    search: Pick<SearchPort, 'bulk'>,
    private readonly metrics: EsConsumerMetrics,
    private readonly logger: Logger,
    private readonly opts: WriterOptions,
    private readonly hooks: WriterHooks = {},
  ) {
    // The shared engine (libs/adapters/search delivery.ts), probing forever once the retries ran out:
    // the consumer pauses instead of giving documents up.
    this.engine = new BulkDelivery(search, {
      retry: opts.retry,
      maxConflictRounds: opts.maxConflictRounds,
      onExhausted: 'probe',
      ...(hooks.sleep ? { sleep: hooks.sleep } : {}),
      ...(hooks.random ? { random: hooks.random } : {}),
    });
  }

  /** True while at least one write is in its paused (slow probing) phase. */
  get paused(): boolean {
    return this.pausedBy.size > 0;
  }

  /** Cuts items into bulk requests by count and approximate size, keeping their order. */
  chunks(items: readonly WriteItem[]): WriteItem[][] {
    return cutRequests(items, this.opts.maxDocs, this.opts.maxBytes);
  }

  async write(items: readonly WriteItem[], onSettled: (item: WriteItem, outcome: Outcome) => void, control: WriteControl = {}): Promise<boolean> {
    const chunks = this.chunks(items);
    let next = 0;
    let ok = true;
    // A small pool: `concurrency` requests in flight, each taking the next chunk when it finishes.
    const worker = async () => {
      while (ok && next < chunks.length) {
        const chunk = chunks[next++] as WriteItem[];
        if (!(await this.writeChunk(chunk, onSettled, control))) ok = false;
      }
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, chunks.length) }, worker));
    return ok;
  }

  private async writeChunk(chunk: WriteItem[], onSettled: (item: WriteItem, outcome: Outcome) => void, control: WriteControl): Promise<boolean> {
    const token = {};
    const hooks: DeliveryHooks<WriteItem> = {
      op: (it) => ({ op: 'create', index: it.index, id: it.id, doc: it.source }),
      // Conflict moves apply to events; a refused dead letter gets its minimal form instead.
      conflictDoc: (it) => (it.kind === 'event' ? it.source : undefined),
      delivered: (it, outcome) => this.settle(it, it.kind === 'dlq' ? 'dead_lettered' : outcome, onSettled),
      deadLetter: (it, refusal) => this.replacement(it, dlqReason(it, refusal), refusal.kind === 'item' ? refusal.detail : refusal.error.message, onSettled),
      conflicted: () => this.metrics.conflicted.inc(),
      retried: (reason, n) => this.metrics.retried.inc({ reason }, n),
      request: (seconds, docs, answered) => {
        this.metrics.bulkSeconds.observe(seconds);
        if (answered) this.metrics.bulkDocs.observe(docs);
      },
      stalled: (why, failures) => this.pause(token, why, failures),
      recovered: () => this.unpause(token),
    };
    try {
      return await this.engine.deliver(chunk, hooks, control);
    } finally {
      if (this.pausedBy.delete(token) && this.pausedBy.size === 0) this.hooks.onPause?.(false, 'write finished');
    }
  }
  /**
   * The dead-letter document that takes a refused document's place (same origin, so its record settles
   * when the dead letter is written). A refused dead letter is retried once in a minimal form (reason
   * and raw bytes only); refused again it is counted as dropped — Kafka and the S3 archive still hold it.
   */
  private replacement(it: WriteItem, reason: DlqReason, detail: string, onSettled: (item: WriteItem, outcome: Outcome) => void): WriteItem | undefined {
    const ctx = { env: this.opts.env, rawMaxBytes: this.opts.rawMaxBytes };
    if (it.kind === 'event') {
      const rep = deadLetterEvent(ctx, it, reason, detail);
      rep.bytes = it.bytes + 512;
      rep.settles = it;
      return rep;
    }
    if (it.rounds === 0) {
      const raw = typeof (it.source.event as { original?: unknown } | undefined)?.original === 'string' ? (it.source.event as { original: string }).original : '';
      const rep = deadLetter(ctx, it.origin, reason, `dead letter refused: ${detail}`.slice(0, 1000), raw.slice(0, 1024), raw.length);
      rep.rounds = 1;
      rep.id = it.id;
      rep.settles = it.settles ?? it;
      rep.bytes = 2048;
      return rep;
    }
    this.logger.error('dead letter refused twice; dropped (the record stays in Kafka and the archive)', {
      index: it.index,
      id: it.id,
      detail,
      topic: it.origin.topic,
      partition: it.origin.partition,
      offset: it.origin.offset,
    });
    this.metrics.dropped.inc({ reason: 'dlq_rejected' });
    onSettled(it.settles ?? it, 'dropped');
    return undefined;
  }

  private settle(it: WriteItem, outcome: Outcome, onSettled: (item: WriteItem, outcome: Outcome) => void): void {
    if (outcome === 'indexed') this.metrics.indexed.inc();
    else if (outcome === 'already_indexed') this.metrics.alreadyIndexed.inc();
    else if (outcome === 'dead_lettered') this.metrics.deadLettered.inc({ reason: String((it.source.backlog as { dlq?: { reason?: string } } | undefined)?.dlq?.reason ?? 'rejected') });
    onSettled(it.settles ?? it, outcome);
  }

  private pause(token: object, why: string, failures: number): void {
    if (this.pausedBy.has(token)) return;
    this.pausedBy.add(token);
    if (this.pausedBy.size === 1) {
      this.logger.warn('search engine keeps failing writes: consumption paused, probing until it recovers', { why, attempts: failures });
      this.hooks.onPause?.(true, why);
    }
  }

  private unpause(token: object): void {
    if (this.pausedBy.delete(token) && this.pausedBy.size === 0) {
      this.logger.info('search engine accepts writes again: consumption resumed');
      this.hooks.onPause?.(false, 'recovered');
    }
  }
}

/** The dead-letter reason of a refused document: a mapping error of an event, a too large document or request, anything else. */
function dlqReason(it: WriteItem, refusal: Refusal): DlqReason {
  if (refusal.kind === 'request') return refusal.error.code === 'SEARCH_REQUEST_TOO_LARGE' ? 'too_large' : 'rejected';
  if (it.kind === 'event' && refusal.mapping) return 'mapping';
  return refusal.result.status === 413 ? 'too_large' : 'rejected';
}
