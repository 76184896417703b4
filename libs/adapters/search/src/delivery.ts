import { isMappingError, resolveConflict } from './conflict';
import { isAlreadyIndexed } from './bulk';
import { SearchError } from './errors';
import type { BulkItemResult, BulkOp, Json, SearchPort } from './port';

/**
 * The one bulk delivery engine of backlog (every writer of `logs-*`: the es-consumer, the indexer).
 * It sends one request's documents to `_bulk` and checks every item (ARCHITECTURE.md habit 4) until
 * each one is delivered, handed to the dead-letter callback, or the work is given up:
 *  - 2xx, and 409 on `create` (our own `_id`: a redelivery), are delivered;
 *  - 429/5xx items and retriable transport errors are re-sent with exponential, jittered back-off;
 *    after `retry.attempts` rounds the engine either fails (`onExhausted: 'fail'`, BulkExhaustedError)
 *    or keeps probing at the longest back-off (`'probe'`, with `stalled`/`recovered` callbacks);
 *  - a 400 mapping error moves the refused value to `backlog.conflicts` (conflict.ts) and re-sends the
 *    document, up to `maxConflictRounds`;
 *  - anything else refused for good goes to the dead-letter callback, which may hand back a document to
 *    send in its place (a dead-letter document, the same event in another form) or settle it;
 *  - a request refused as a whole (400/413, or larger than `maxRequestBytes`) is halved down to one
 *    document, which then goes to the dead-letter callback.
 * How a caller cuts its documents into requests and how many requests it keeps in flight is its own
 * (see `cutRequests`); the engine delivers one request's documents per `deliver` call.
 */

/** What the engine needs of a document: its approximate size and its conflict rounds so far (the engine counts them). */
export interface DeliveryItem {
  /** Approximate source bytes (request cutting, `maxRequestBytes`). */
  bytes: number;
  /** Conflict rounds so far; incremented by the engine on each move. */
  rounds: number;
}

export interface BulkDeliveryConfig {
  retry: { attempts: number; initialBackoffMs: number; maxBackoffMs: number };
  maxConflictRounds: number;
  /**
   * After `retry.attempts` rounds with retriable failures: `fail` throws BulkExhaustedError (the caller
   * tries the work again later), `probe` goes on at the back-off's cap until the engine takes the
   * documents (backpressure: the caller pauses its input on `stalled`).
   */
  onExhausted: 'fail' | 'probe';
  /**
   * Largest request, by the documents' `bytes`: a request over it is split as if the engine had answered
   * 413, without sending it (a single document over it is refused as too large). Default: no cap.
   */
  maxRequestBytes?: number;
  /** Transport error codes that end the delivery at once (thrown as they are), e.g. SEARCH_INDEX_NOT_FOUND. */
  fatalCodes?: readonly string[];
  sleep?: (ms: number) => Promise<void>;
  random?: () => number;
}

/** Why a document is handed to the dead-letter callback. */
export type Refusal =
  /** Its item was refused for good (4xx other than 409-on-create; a mapping error whose rounds ran out or that could not be moved). */
  | { kind: 'item'; result: BulkItemResult; mapping: boolean; detail: string }
  /** A request holding only this document was refused as a whole (400/413 from the engine, or over `maxRequestBytes`). */
  | { kind: 'request'; error: SearchError };

/** Counts of one round of a request (one `_bulk` answer), for progress and metrics. */
export interface RoundProgress {
  docs: number;
  indexed: number;
  already: number;
  retriable: number;
  conflicted: number;
  /** Handed to the dead-letter callback (which may have sent a replacement). */
  refused: number;
}

export interface DeliveryHooks<T extends DeliveryItem> {
  /** The `_bulk` op of a document, built again for every round (a conflict move or a replacement changes it). */
  op(item: T): BulkOp;
  /** The document conflict moves may edit in place; undefined: no conflict handling for this one (it goes to `deadLetter`). */
  conflictDoc?(item: T): Json | undefined;
  /** A document was delivered (2xx, or 409 on create). Called in request order. */
  delivered?(item: T, outcome: 'indexed' | 'already_indexed'): void;
  /**
   * Dead-letter callback: a document refused for good. Returns a document to send in its place (it is
   * judged like any other), or undefined when the caller settled it (counted, dropped, reported).
   */
  deadLetter(item: T, refusal: Refusal): T | undefined;
  /** A value was moved to `backlog.conflicts`; the document is sent again. */
  conflicted?(item: T, field: string): void;
  /** Documents about to be re-sent because of `reason` (`throttled`, `server_error`, or a transport code such as `unavailable`). */
  retried?(reason: string, count: number): void;
  /** One request finished (answered or failed as a whole) after `seconds`; `answered` when the engine sent item results. */
  request?(seconds: number, docs: number, answered: boolean): void;
  /** After each answered round. */
  progress?(round: RoundProgress): void;
  /** `onExhausted: 'probe'`: the retries ran out; called on every further failed round. */
  stalled?(why: string, failures: number): void;
  /** A round without retriable failures (the engine takes documents again). */
  recovered?(): void;
}

export interface DeliveryControl {
  /** True when the work must be abandoned: `deliver` resolves false without settling the rest. */
  aborted?: () => boolean;
  /** Called about every second while waiting out a back-off (keeps a Kafka group membership). */
  heartbeat?: () => Promise<void>;
}

/** Retriable failures went on for `attempts` rounds (`onExhausted: 'fail'`): the caller fails this attempt (and may try again later). */
export class BulkExhaustedError extends Error {
  readonly code = 'SEARCH_RETRIES_EXHAUSTED';
  readonly retriable = true;
}

export type ItemClass = 'indexed' | 'already_indexed' | 'retry' | 'mapping' | 'refused';

/** Per-item classification of a `_bulk` answer. */
export function classifyItem(r: BulkItemResult): ItemClass {
  if (r.ok) return 'indexed';
  if (isAlreadyIndexed(r)) return 'already_indexed';
  if (r.retriable) return 'retry';
  if (isMappingError(r)) return 'mapping';
  return 'refused';
}

/** The `reason` label of a re-send: an item's status, or a transport error's code. */
export function retryReason(x: BulkItemResult | SearchError): string {
  if (x instanceof SearchError) return x.code.replace(/^SEARCH_/, '').toLowerCase();
  return x.status === 429 ? 'throttled' : 'server_error';
}

/** One line for a refused item: `400 document_parsing_exception: reason (cause: reason)`. */
export function itemDetail(r: BulkItemResult): string {
  const e = r.error;
  return `${r.status} ${e?.type ?? 'error'}: ${e?.reason ?? ''}${e?.causedBy ? ` (${e.causedBy.type}: ${e.causedBy.reason})` : ''}`;
}

/** A request refused as a whole: halve it (more than one document) or refuse its one document. */
export function isWholeRequestRefusal(e: SearchError): boolean {
  return e.code === 'SEARCH_BAD_REQUEST' || e.code === 'SEARCH_REQUEST_TOO_LARGE';
}

/** The two halves a refused request is split into (the first one the larger), order kept. */
export function halves<T>(items: readonly T[]): [T[], T[]] {
  const mid = Math.ceil(items.length / 2);
  return [items.slice(0, mid), items.slice(mid)];
}

/** Cuts documents into requests of at most `maxDocs` documents and about `maxBytes`, keeping their order (a document over `maxBytes` goes alone). */
export function cutRequests<T extends { bytes: number }>(items: readonly T[], maxDocs: number, maxBytes: number): T[][] {
  const out: T[][] = [];
  let cur: T[] = [];
  let bytes = 0;
  for (const it of items) {
    if (cur.length && (cur.length >= maxDocs || bytes + it.bytes > maxBytes)) {
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

/** Exponential back-off for the `attempt`-th failure, capped, with full jitter in its upper half (retrying writers do not hit the engine in lockstep). */
export function backoffMs(attempt: number, retry: { initialBackoffMs: number; maxBackoffMs: number }, random: () => number): number {
  const exp = Math.min(retry.maxBackoffMs, retry.initialBackoffMs * 2 ** Math.max(0, attempt - 1));
  return Math.round(exp / 2 + (random() * exp) / 2);
}

const defaultSleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

const bytesOf = (items: readonly DeliveryItem[]) => items.reduce((a, it) => a + it.bytes, 0);

export class BulkDelivery {
  private readonly sleep: (ms: number) => Promise<void>;
  private readonly random: () => number;
  private readonly fatal: ReadonlySet<string>;

  constructor(
    private readonly search: Pick<SearchPort, 'bulk'>,
    readonly config: BulkDeliveryConfig,
  ) {
    this.sleep = config.sleep ?? defaultSleep;
    this.random = config.random ?? Math.random;
    this.fatal = new Set(config.fatalCodes ?? []);
  }

  /**
   * Delivers one request's documents (halving it when it is refused as a whole). Resolves true once
   * every document was delivered or handed to `deadLetter`, false when aborted (the unsettled documents
   * must not be acknowledged); throws BulkExhaustedError (`onExhausted: 'fail'`) or a fatal SearchError.
   */
  async deliver<T extends DeliveryItem>(items: readonly T[], hooks: DeliveryHooks<T>, control: DeliveryControl = {}): Promise<boolean> {
    let pending: T[] = [...items];
    let failures = 0;
    while (pending.length) {
      if (control.aborted?.()) return false;
      const sent = await this.send(pending, hooks);
      if (sent instanceof SearchError) {
        if (isWholeRequestRefusal(sent)) {
          if (pending.length > 1) {
            const [a, b] = halves(pending);
            return (await this.deliver(a, hooks, control)) && (await this.deliver(b, hooks, control));
          }
          pending = this.replace(pending[0] as T, { kind: 'request', error: sent }, hooks);
          continue;
        }
        if (this.fatal.has(sent.code)) throw sent;
        hooks.retried?.(retryReason(sent), pending.length);
        failures++;
        if (!(await this.backoff(failures, sent.message, `search engine: ${sent.message}`, hooks, control))) return false;
        continue;
      }
      const { again, round, why } = this.judge(pending, sent, hooks);
      hooks.progress?.(round);
      if (round.retriable) {
        failures++;
        if (!(await this.backoff(failures, why, `search engine keeps failing items: ${why}`, hooks, control))) return false;
      } else {
        failures = 0;
        hooks.recovered?.();
      }
      pending = again;
    }
    return true;
  }

  /** One `_bulk` request: its item results, or the error that failed it as a whole. */
  private async send<T extends DeliveryItem>(pending: T[], hooks: DeliveryHooks<T>): Promise<BulkItemResult[] | SearchError> {
    const cap = this.config.maxRequestBytes;
    if (cap !== undefined && bytesOf(pending) > cap) {
      return new SearchError('SEARCH_REQUEST_TOO_LARGE', `bulk: ${pending.length} documents of about ${bytesOf(pending)} bytes exceed the ${cap}-byte request cap`, { status: 413 });
    }
    const ops = pending.map((it) => hooks.op(it));
    const t0 = process.hrtime.bigint();
    let answered = false;
    try {
      const res = (await this.search.bulk(ops)).items;
      answered = true;
      return res;
    } catch (err) {
      return err instanceof SearchError ? err : new SearchError('SEARCH_UNAVAILABLE', String(err));
    } finally {
      hooks.request?.(Number(process.hrtime.bigint() - t0) / 1e9, pending.length, answered);
    }
  }

  /** Judges one answer item by item, in request order: what is to be sent again, and the round's counts. */
  private judge<T extends DeliveryItem>(pending: T[], results: BulkItemResult[], hooks: DeliveryHooks<T>): { again: T[]; round: RoundProgress; why: string } {
    const again: T[] = [];
    const round: RoundProgress = { docs: pending.length, indexed: 0, already: 0, retriable: 0, conflicted: 0, refused: 0 };
    let why = '';
    results.forEach((r, i) => {
      const it = pending[i] as T;
      const cls = classifyItem(r);
      if (cls === 'indexed' || cls === 'already_indexed') {
        if (cls === 'indexed') round.indexed++;
        else round.already++;
        hooks.delivered?.(it, cls);
        return;
      }
      if (cls === 'retry') {
        round.retriable++;
        why ||= `${r.status} ${r.error?.type ?? ''}`;
        hooks.retried?.(retryReason(r), 1);
        again.push(it);
        return;
      }
      if (cls === 'mapping') {
        const doc = hooks.conflictDoc?.(it);
        if (doc && it.rounds < this.config.maxConflictRounds) {
          const field = resolveConflict(doc, r);
          if (field) {
            it.rounds++;
            round.conflicted++;
            hooks.conflicted?.(it, field);
            again.push(it);
            return;
          }
        }
      }
      round.refused++;
      again.push(...this.replace(it, { kind: 'item', result: r, mapping: cls === 'mapping', detail: itemDetail(r) }, hooks));
    });
    return { again, round, why };
  }

  private replace<T extends DeliveryItem>(it: T, refusal: Refusal, hooks: DeliveryHooks<T>): T[] {
    const rep = hooks.deadLetter(it, refusal);
    return rep ? [rep] : [];
  }

  private async backoff<T extends DeliveryItem>(failures: number, why: string, summary: string, hooks: DeliveryHooks<T>, control: DeliveryControl): Promise<boolean> {
    const { retry } = this.config;
    if (failures >= retry.attempts) {
      if (this.config.onExhausted === 'fail') throw new BulkExhaustedError(`${summary} (after ${failures} attempts)`);
      hooks.stalled?.(why, failures);
    }
    return this.wait(backoffMs(failures, retry, this.random), control);
  }

  /** Sleeps in slices of at most a second, heart-beating, until `ms` passed or the work is aborted. */
  private async wait(ms: number, control: DeliveryControl): Promise<boolean> {
    const until = Date.now() + ms;
    for (;;) {
      if (control.aborted?.()) return false;
      const left = until - Date.now();
      if (left <= 0) return true;
      await this.sleep(Math.min(left, 1_000));
      await control.heartbeat?.().catch(() => undefined);
    }
  }
}
