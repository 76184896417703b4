import { SearchError, isAlreadyIndexed, isMappingError, resolveConflict, type BulkItemResult, type BulkOp, type SearchPort } from '@backlog/adapter-search';
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

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Item statuses and transport error codes → the `reason` label of `es_consumer_retried_total`. */
function retryReason(x: BulkItemResult | SearchError): string {
  if (x instanceof SearchError) return x.code.replace(/^SEARCH_/, '').toLowerCase();
  return x.status === 429 ? 'throttled' : 'server_error';
}

/**
 * Writes documents with `_bulk`, checking every item (ARCHITECTURE.md habit 4):
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
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private pausedBy = new Set<object>();

  constructor(
    private readonly search: Pick<SearchPort, 'bulk'>,
    private readonly metrics: EsConsumerMetrics,
    private readonly logger: Logger,
    private readonly opts: WriterOptions,
    private readonly hooks: WriterHooks = {},
  ) {
    this.sleep = hooks.sleep ?? defaultSleep;
    this.random = hooks.random ?? Math.random;
  }

  /** True while at least one write is in its paused (slow probing) phase. */
  get paused(): boolean {
    return this.pausedBy.size > 0;
  }

  /** Cuts items into bulk requests by count and approximate size, keeping their order. */
  chunks(items: readonly WriteItem[]): WriteItem[][] {
    const out: WriteItem[][] = [];
    let cur: WriteItem[] = [];
    let bytes = 0;
    for (const it of items) {
      if (cur.length && (cur.length >= this.opts.maxDocs || bytes + it.bytes > this.opts.maxBytes)) {
        out.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(it);
      bytes += it.bytes;
    }
    if (cur.length) out.push(cur);
    return out;
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

  private backoffMs(attempt: number): number {
    const { initialBackoffMs, maxBackoffMs } = this.opts.retry;
    const exp = Math.min(maxBackoffMs, initialBackoffMs * 2 ** Math.max(0, attempt - 1));
    // Full jitter in the upper half: several partitions retrying do not hit the engine in lockstep.
    return Math.round(exp / 2 + (this.random() * exp) / 2);
  }

  /** Sleeps in slices, heart-beating, until `ms` passed or the work is aborted. */
  private async wait(ms: number, control: WriteControl): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      if (control.aborted?.()) return false;
      const left = until - Date.now();
      if (left <= 0) return true;
      await this.sleep(Math.min(left, 1_000));
      await control.heartbeat?.().catch(() => undefined);
    }
  }

  private async writeChunk(chunk: WriteItem[], onSettled: (item: WriteItem, outcome: Outcome) => void, control: WriteControl): Promise<boolean> {
    const token = {};
    let pending = chunk;
    let failures = 0;
    try {
      while (pending.length) {
        if (control.aborted?.()) return false;
        const ops: BulkOp[] = pending.map((it) => ({ op: 'create', index: it.index, id: it.id, doc: it.source }));
        const t0 = process.hrtime.bigint();
        let results: BulkItemResult[];
        try {
          results = (await this.search.bulk(ops)).items;
        } catch (err) {
          const e = err instanceof SearchError ? err : new SearchError('SEARCH_UNAVAILABLE', String(err));
          if ((e.code === 'SEARCH_BAD_REQUEST' || e.code === 'SEARCH_REQUEST_TOO_LARGE') && pending.length > 1) {
            // The request as a whole was refused: halve it until the culprit stands alone.
            const mid = Math.ceil(pending.length / 2);
            return (await this.writeChunk(pending.slice(0, mid), onSettled, control)) && (await this.writeChunk(pending.slice(mid), onSettled, control));
          }
          if (e.code === 'SEARCH_BAD_REQUEST' || e.code === 'SEARCH_REQUEST_TOO_LARGE') {
            const it = pending[0] as WriteItem;
            pending = [this.replacement(it, e.code === 'SEARCH_REQUEST_TOO_LARGE' ? 'too_large' : 'rejected', e.message, onSettled)].filter((x): x is WriteItem => !!x);
            continue;
          }
          // Retriable (down, timeout, 429, 5xx) and anything we cannot judge (auth, odd answers):
          // waiting loses nothing, dropping would.
          this.metrics.retried.inc({ reason: retryReason(e) }, pending.length);
          failures++;
          if (!(await this.backoff(failures, token, e.message, control))) return false;
          continue;
        } finally {
          this.metrics.bulkSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
        }
        this.metrics.bulkDocs.observe(pending.length);

        const again: WriteItem[] = [];
        let retriable = 0;
        let why = '';
        results.forEach((r, i) => {
          const it = pending[i] as WriteItem;
          if (r.ok) return this.settle(it, it.kind === 'dlq' ? 'dead_lettered' : 'indexed', onSettled);
          if (isAlreadyIndexed(r)) return this.settle(it, it.kind === 'dlq' ? 'dead_lettered' : 'already_indexed', onSettled);
          if (r.retriable) {
            retriable++;
            why ||= `${r.status} ${r.error?.type ?? ''}`;
            this.metrics.retried.inc({ reason: retryReason(r) });
            again.push(it);
            return;
          }
          const detail = `${r.status} ${r.error?.type ?? 'error'}: ${r.error?.reason ?? ''}${r.error?.causedBy ? ` (${r.error.causedBy.type}: ${r.error.causedBy.reason})` : ''}`;
          if (it.kind === 'event' && isMappingError(r)) {
            if (it.rounds < this.opts.maxConflictRounds && resolveConflict(it.source, r)) {
              it.rounds++;
              this.metrics.conflicted.inc();
              again.push(it);
              return;
            }
            const rep = this.replacement(it, 'mapping', detail, onSettled);
            if (rep) again.push(rep);
            return;
          }
          const rep = this.replacement(it, r.status === 413 ? 'too_large' : 'rejected', detail, onSettled);
          if (rep) again.push(rep);
        });
        if (retriable) {
          failures++;
          if (!(await this.backoff(failures, token, why, control))) return false;
        } else {
          failures = 0;
          this.unpause(token);
        }
        pending = again;
      }
      this.unpause(token);
      return true;
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
      const raw = typeof (it.source.event as { original?: unknown } | undefined)?.original === 'string' ? ((it.source.event as { original: string }).original) : '';
      const rep = deadLetter(ctx, it.origin, reason, `dead letter refused: ${detail}`.slice(0, 1000), raw.slice(0, 1024), raw.length);
      rep.rounds = 1;
      rep.id = it.id;
      rep.settles = it.settles ?? it;
      rep.bytes = 2048;
      return rep;
    }
    this.logger.error('dead letter refused twice; dropped (the record stays in Kafka and the archive)', { index: it.index, id: it.id, detail, topic: it.origin.topic, partition: it.origin.partition, offset: it.origin.offset });
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

  private async backoff(failures: number, token: object, why: string, control: WriteControl): Promise<boolean> {
    if (failures >= this.opts.retry.attempts && !this.pausedBy.has(token)) {
      this.pausedBy.add(token);
      if (this.pausedBy.size === 1) {
        this.logger.warn('search engine keeps failing writes: consumption paused, probing until it recovers', { why, attempts: failures });
        this.hooks.onPause?.(true, why);
      }
    }
    return this.wait(this.backoffMs(failures), control);
  }

  private unpause(token: object): void {
    if (this.pausedBy.delete(token) && this.pausedBy.size === 0) {
      this.logger.info('search engine accepts writes again: consumption resumed');
      this.hooks.onPause?.(false, 'recovered');
    }
  }
}
