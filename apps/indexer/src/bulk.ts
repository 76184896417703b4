import { type BulkItemResult, type BulkOp, type Json, type SearchPort, SearchError, isAlreadyIndexed, isMappingError, resolveConflict } from '@backlog/adapter-search';
import type { IndexerMetrics } from './metrics';

/** One document of a history load: `_id` = event.id, written with `create` (a second load is a 409, not a duplicate). */
export interface BulkDoc {
  id: string;
  /** The parsed event (filters, conflict handling, and the body once `line` is dropped). */
  doc: Json;
  /**
   * The event's JSON line as stored in the archive: while set, it is sent as it is (no re-serialization).
   * Dropped when the engine refuses the line for good, so the document is re-sent serialized from `doc`
   * and then judged exactly as before (conflict rules included).
   */
  line?: string;
  /** Approximate source bytes (for cutting requests). */
  bytes: number;
  /** Conflict rounds so far. */
  rounds: number;
}

export interface BulkTally {
  indexed: number;
  already: number;
  /** Refused for good (mapping errors that could not be resolved, other 4xx). */
  rejected: number;
  firstRejection?: string;
}

export interface HistoryBulkOptions {
  maxDocs: number;
  maxBytes: number;
  concurrency: number;
  /** Rounds with retriable failures before giving up (BulkExhaustedError). */
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxConflictRounds: number;
}

/** Retriable failures went on for `attempts` rounds: the caller fails this attempt at the part (and may try again later). */
export class BulkExhaustedError extends Error {
  readonly code = 'SEARCH_RETRIES_EXHAUSTED';
  readonly retriable = true;
}

export class BulkAbortedError extends Error {
  readonly code = 'ABORTED';
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/**
 * `_bulk` with a check of every item (ARCHITECTURE.md habit 4), the history-load flavour of the
 * es-consumer's writer: 2xx and 409-on-create are delivered; 429/5xx items and retriable transport
 * errors are re-sent with exponential back-off (jittered) up to `attempts` rounds; a value the
 * mapping refuses is moved to `backlog.conflicts` (shared rules, `resolveConflict`) and re-sent; what
 * still fails is counted as rejected with its reason — never silently dropped. Without a dead-letter
 * index here: the event stays in the archive and the job reports the part.
 */
export class HistoryBulk {
  constructor(
    private readonly search: Pick<SearchPort, 'bulk'>,
    private readonly metrics: IndexerMetrics,
    private readonly opts: HistoryBulkOptions,
    private readonly sleep: (ms: number) => Promise<void> = defaultSleep,
    private readonly random: () => number = Math.random,
  ) {}

  chunks(docs: readonly BulkDoc[]): BulkDoc[][] {
    const out: BulkDoc[][] = [];
    let cur: BulkDoc[] = [];
    let bytes = 0;
    for (const d of docs) {
      if (cur.length && (cur.length >= this.opts.maxDocs || bytes + d.bytes > this.opts.maxBytes)) {
        out.push(cur);
        cur = [];
        bytes = 0;
      }
      cur.push(d);
      bytes += d.bytes;
    }
    if (cur.length) out.push(cur);
    return out;
  }

  async write(index: string, docs: readonly BulkDoc[], aborted: () => boolean = () => false): Promise<BulkTally> {
    const tally: BulkTally = { indexed: 0, already: 0, rejected: 0 };
    const chunks = this.chunks(docs);
    let next = 0;
    const worker = async () => {
      while (next < chunks.length) await this.writeChunk(index, chunks[next++] as BulkDoc[], tally, aborted);
    };
    await Promise.all(Array.from({ length: Math.min(this.opts.concurrency, chunks.length) }, worker));
    return tally;
  }

  private backoffMs(attempt: number): number {
    const exp = Math.min(this.opts.maxBackoffMs, this.opts.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
    return Math.round(exp / 2 + (this.random() * exp) / 2);
  }

  private reject(tally: BulkTally, reason: string, why: string): void {
    tally.rejected++;
    tally.firstRejection ??= why;
    this.metrics.rejected.inc({ reason });
  }

  private async writeChunk(index: string, chunk: BulkDoc[], tally: BulkTally, aborted: () => boolean): Promise<void> {
    let pending = chunk;
    let failures = 0;
    while (pending.length) {
      if (aborted()) throw new BulkAbortedError('aborted');
      const ops: BulkOp[] = pending.map((d) => (d.line !== undefined ? { op: 'create', index, id: d.id, source: d.line } : { op: 'create', index, id: d.id, doc: d.doc }));
      const t0 = process.hrtime.bigint();
      let results: BulkItemResult[];
      try {
        results = (await this.search.bulk(ops)).items;
      } catch (err) {
        const e = err instanceof SearchError ? err : new SearchError('SEARCH_UNAVAILABLE', String(err));
        if (e.code === 'SEARCH_BAD_REQUEST' || e.code === 'SEARCH_REQUEST_TOO_LARGE') {
          if (pending.length === 1 && pending[0]?.line !== undefined) {
            // A single raw line refused as a whole: try it serialized before giving up on it.
            (pending[0] as BulkDoc).line = undefined;
            continue;
          }
          if (pending.length > 1) {
            // Refused as a whole: halve until the culprit stands alone.
            const mid = Math.ceil(pending.length / 2);
            await this.writeChunk(index, pending.slice(0, mid), tally, aborted);
            await this.writeChunk(index, pending.slice(mid), tally, aborted);
            return;
          }
          this.reject(tally, e.code === 'SEARCH_REQUEST_TOO_LARGE' ? 'too_large' : 'rejected', `${e.code}: ${e.message}`.slice(0, 500));
          return;
        }
        if (e.code === 'SEARCH_INDEX_NOT_FOUND') throw e;
        this.metrics.retried.inc({ reason: e.code.replace(/^SEARCH_/, '').toLowerCase() }, pending.length);
        if (++failures >= this.opts.attempts) throw new BulkExhaustedError(`search engine: ${e.message} (after ${failures} attempts)`);
        await this.sleep(this.backoffMs(failures));
        continue;
      } finally {
        this.metrics.bulkSeconds.observe(Number(process.hrtime.bigint() - t0) / 1e9);
      }
      const again: BulkDoc[] = [];
      let retriable = 0;
      let why = '';
      results.forEach((r, i) => {
        const d = pending[i] as BulkDoc;
        if (r.ok) {
          tally.indexed++;
          return;
        }
        if (isAlreadyIndexed(r)) {
          tally.already++;
          return;
        }
        if (r.retriable) {
          retriable++;
          why ||= `${r.status} ${r.error?.type ?? ''}`;
          this.metrics.retried.inc({ reason: r.status === 429 ? 'throttled' : 'server_error' });
          again.push(d);
          return;
        }
        if (d.line !== undefined) {
          // Refused as stored: send it once more as the parsed document (what a serialized load sends),
          // so the raw path never refuses more than the serialized one; not a conflict round.
          d.line = undefined;
          again.push(d);
          return;
        }
        const detail = `${r.status} ${r.error?.type ?? 'error'}: ${r.error?.reason ?? ''}${r.error?.causedBy ? ` (${r.error.causedBy.type}: ${r.error.causedBy.reason})` : ''}`.slice(0, 500);
        if (isMappingError(r) && d.rounds < this.opts.maxConflictRounds && resolveConflict(d.doc, r)) {
          d.rounds++;
          this.metrics.conflicted.inc();
          again.push(d);
          return;
        }
        this.reject(tally, isMappingError(r) ? 'mapping' : 'rejected', `event ${d.id}: ${detail}`);
      });
      if (retriable) {
        if (++failures >= this.opts.attempts) throw new BulkExhaustedError(`search engine keeps failing items: ${why} (after ${failures} attempts)`);
        await this.sleep(this.backoffMs(failures));
      } else failures = 0;
      pending = again;
    }
  }
}
