import { BulkDelivery, BulkExhaustedError, type DeliveryHooks, type Json, type Refusal, type SearchPort } from '@backlog/adapter-search';
import type { IndexerMetrics } from './metrics';

function parseObject(line: string): Json | undefined {
  try {
    const v = JSON.parse(line) as unknown;
    return typeof v === 'object' && v !== null && !Array.isArray(v) ? (v as Json) : undefined;
  } catch {
    return undefined;
  }
}

/** One document of a history load: `_id` = event.id, written with `create` (a second load is a 409, not a duplicate). */
export interface BulkDoc {
  id: string;
  /**
   * The parsed event (conflict handling, and the body once `line` is dropped). Absent while the line
   * was never parsed (a load without a filter reads the id from the line's start); parsed from `line`
   * when it is first needed.
   */
  doc?: Json;
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
  /** Requests in flight for one `write`/part when `maxInFlight` is not given. */
  concurrency: number;
  /**
   * Requests in flight across every part this writer serves (a loader's parts share them: a part
   * takes the slots the others leave free, so one part alone — the last of a job — keeps them all
   * busy). Default `concurrency`.
   */
  maxInFlight?: number;
  /** Documents of a part's first request: small, so the first documents are searchable soon. Default maxDocs / 8. */
  firstDocs?: number;
  /** Rounds with retriable failures before giving up (BulkExhaustedError). */
  attempts: number;
  initialBackoffMs: number;
  maxBackoffMs: number;
  maxConflictRounds: number;
}

/** Retriable failures went on for `attempts` rounds: the caller fails this attempt at the part (and may try again later). */
export { BulkExhaustedError };

export class BulkAbortedError extends Error {
  readonly code = 'ABORTED';
}

/** A counting semaphore; waiters are served in arrival order, so parts take turns. */
export class Slots {
  private readonly waiters: (() => void)[] = [];

  constructor(private free: number) {}

  acquire(): Promise<void> | undefined {
    if (this.free > 0) {
      this.free--;
      return undefined;
    }
    return new Promise<void>((r) => this.waiters.push(r));
  }

  release(): void {
    const next = this.waiters.shift();
    if (next) next();
    else this.free++;
  }
}

/**
 * One part's stream of documents into `_bulk`: documents are cut into requests (`maxDocs`,
 * `maxBytes`) as they come, and each request is sent as soon as a slot of the writer is free,
 * without waiting for the part's earlier requests — reading and parsing go on meanwhile. `finish`
 * sends the rest and waits for every request; the first failure (retries exhausted, index gone,
 * abort) is thrown by the next `add` or by `finish`. `drain` waits for what is in flight (so no request
 * outlives its attempt at the part).
 */
export class PartWriter {
  readonly tally: BulkTally = { indexed: 0, already: 0, rejected: 0 };
  private cur: BulkDoc[] = [];
  private bytes = 0;
  private readonly running = new Set<Promise<void>>();
  private failure: { error: unknown } | undefined;
  private maxDocs: number;

  constructor(
    private readonly bulk: HistoryBulk,
    private readonly index: string,
    private readonly aborted: () => boolean,
    private readonly limits: { maxDocs: number; maxBytes: number; firstDocs: number },
  ) {
    this.maxDocs = Math.max(1, Math.min(limits.firstDocs, limits.maxDocs));
  }

  /** Adds a document; a promise only when a request had to wait for a slot (await it). */
  add(d: BulkDoc): Promise<void> | undefined {
    if (this.failure) throw this.failure.error;
    let waiting: Promise<void> | undefined;
    if (this.cur.length && (this.cur.length >= this.maxDocs || this.bytes + d.bytes > this.limits.maxBytes)) {
      waiting = this.submit();
      this.maxDocs = this.limits.maxDocs;
    }
    this.cur.push(d);
    this.bytes += d.bytes;
    return waiting;
  }

  async finish(): Promise<BulkTally> {
    if (this.cur.length && !this.failure) await this.submit();
    await this.drain();
    if (this.failure) throw this.failure.error;
    return this.tally;
  }

  async drain(): Promise<void> {
    while (this.running.size) await Promise.all([...this.running]);
  }

  private submit(): Promise<void> | undefined {
    const chunk = this.cur;
    this.cur = [];
    this.bytes = 0;
    const slot = this.bulk.slots.acquire();
    if (!slot) {
      this.start(chunk);
      return undefined;
    }
    return slot.then(() => this.start(chunk));
  }

  private start(chunk: BulkDoc[]): void {
    if (this.failure) {
      this.bulk.slots.release();
      throw this.failure.error;
    }
    const p: Promise<void> = this.bulk
      .writeChunk(this.index, chunk, this.tally, this.aborted)
      .catch((error: unknown) => {
        this.failure ??= { error };
      })
      .finally(() => {
        this.bulk.slots.release();
        this.running.delete(p);
      });
    this.running.add(p);
  }
}

/**
 * `_bulk` with a check of every item (ARCHITECTURE.md habit 4), the history-load use of the shared
 * delivery engine (`BulkDelivery`): 2xx and 409-on-create are delivered; 429/5xx items and retriable
 * transport errors are re-sent with exponential back-off (jittered) up to `attempts` rounds, then the
 * attempt at the part fails (BulkExhaustedError); a value the mapping refuses is moved to
 * `backlog.conflicts` (shared rules, `resolveConflict`) and re-sent; a line refused as stored is sent
 * again as the parsed document; what still fails is counted as rejected with its reason — never
 * silently dropped. Without a dead-letter index here: the event stays in the archive and the job
 * reports the part.
 */
export class HistoryBulk {
  /** Requests in flight across every part (`maxInFlight`). */
  readonly slots: Slots;
  private readonly engine: BulkDelivery;

  constructor(
    search: Pick<SearchPort, 'bulk'>,
    private readonly metrics: IndexerMetrics,
    private readonly opts: HistoryBulkOptions,
    sleep?: (ms: number) => Promise<void>,
    random?: () => number,
  ) {
    this.slots = new Slots(Math.max(1, opts.maxInFlight ?? opts.concurrency));
    this.engine = new BulkDelivery(search, {
      retry: { attempts: opts.attempts, initialBackoffMs: opts.initialBackoffMs, maxBackoffMs: opts.maxBackoffMs },
      maxConflictRounds: opts.maxConflictRounds,
      onExhausted: 'fail',
      // The history index is made before the load: gone means dropped (the job with it).
      fatalCodes: ['SEARCH_INDEX_NOT_FOUND'],
      ...(sleep ? { sleep } : {}),
      ...(random ? { random } : {}),
    });
  }

  /** A streaming writer for one part (or one attempt at it) into `index`. */
  writer(index: string, aborted: () => boolean = () => false): PartWriter {
    return new PartWriter(this, index, aborted, { maxDocs: this.opts.maxDocs, maxBytes: this.opts.maxBytes, firstDocs: this.opts.firstDocs ?? Math.ceil(this.opts.maxDocs / 8) });
  }

  /** Writes `docs` (through a part writer) and resolves once every one was acknowledged or refused. */
  async write(index: string, docs: readonly BulkDoc[], aborted: () => boolean = () => false): Promise<BulkTally> {
    const w = this.writer(index, aborted);
    try {
      for (const d of docs) {
        const wait = w.add(d);
        if (wait) await wait;
      }
      return await w.finish();
    } finally {
      await w.drain();
    }
  }

  private reject(tally: BulkTally, reason: string, why: string): void {
    tally.rejected++;
    tally.firstRejection ??= why;
    this.metrics.rejected.inc({ reason });
  }

  /** The hooks of one request of a part into `index`: how a document is sent, and what a refusal does. */
  hooks(index: string, tally: BulkTally): DeliveryHooks<BulkDoc> {
    return {
      op: (d) => (d.line !== undefined ? { op: 'create', index, id: d.id, source: d.line } : { op: 'create', index, id: d.id, doc: d.doc as Json }),
      // A line still sent as stored is first re-sent as the parsed document; conflict moves come after.
      conflictDoc: (d) => (d.line === undefined ? d.doc : undefined),
      deadLetter: (d, refusal) => this.refused(d, refusal, tally),
      conflicted: () => this.metrics.conflicted.inc(),
      retried: (reason, n) => this.metrics.retried.inc({ reason }, n),
      request: (seconds) => this.metrics.bulkSeconds.observe(seconds),
      progress: (round) => {
        tally.indexed += round.indexed;
        tally.already += round.already;
        this.metrics.indexed.inc(round.indexed);
        this.metrics.alreadyIndexed.inc(round.already);
      },
    };
  }

  /**
   * A document the engine refused for good. A line refused as stored is sent once more as the parsed
   * document (what a serialized load sends), so the raw path never refuses more than the serialized
   * one; not a conflict round. Otherwise it is counted as rejected with its reason.
   */
  private refused(d: BulkDoc, refusal: Refusal, tally: BulkTally): BulkDoc | undefined {
    if (d.line !== undefined) {
      if (d.doc === undefined) {
        const doc = parseObject(d.line);
        if (!doc) {
          this.reject(tally, 'bad_json', `event ${d.id}: the archived line is not a JSON object: ${d.line.slice(0, 120)}`);
          return undefined;
        }
        d.doc = doc;
      }
      d.line = undefined;
      return d;
    }
    if (refusal.kind === 'request') {
      const e = refusal.error;
      this.reject(tally, e.code === 'SEARCH_REQUEST_TOO_LARGE' ? 'too_large' : 'rejected', `${e.code}: ${e.message}`.slice(0, 500));
      return undefined;
    }
    this.reject(tally, refusal.mapping ? 'mapping' : 'rejected', `event ${d.id}: ${refusal.detail.slice(0, 500)}`);
    return undefined;
  }

  /** One request's documents, until each is delivered, refused for good, or the retries run out (throws). Counts `indexed`/`already` in the metrics. */
  async writeChunk(index: string, chunk: BulkDoc[], tally: BulkTally, aborted: () => boolean): Promise<void> {
    if (!(await this.engine.deliver(chunk, this.hooks(index, tally), { aborted }))) throw new BulkAbortedError('aborted');
  }
}
