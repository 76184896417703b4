import { createHash } from 'node:crypto';
import type { KafkaClient } from '@backlog/adapter-kafka';
import { type Bz2Decoder, partReaderIo } from '@backlog/adapter-bz2';
import { type S3Port, partStoreOf } from '@backlog/adapter-s3';
import { type Json, type SearchPort, logsCatalogue } from '@backlog/adapter-search';
import { type PartReaderIo, isArchivePartError, readPartEvents } from '@backlog/core-codec';
import type { Logger } from '@backlog/core-pipeline';
import { type ArchiveFilter, type FieldCatalogue, archiveFilter } from '@backlog/core-query';
import { BulkAbortedError, type BulkDoc, type BulkTally, HistoryBulk, type HistoryBulkOptions, type PartWriter, Slots } from './bulk';
import { type JobDoc, type JobStore, type PartCheckpoint, type PlannedPart } from './jobs';
import type { IndexerMetrics } from './metrics';
import { type PartSource, type Plan, type PlannerOptions, makePlan } from './planner';
import { type JobView, jobView } from './status';

export interface LoaderDeps {
  s3: S3Port;
  search: SearchPort;
  store: JobStore;
  kafka?: KafkaClient;
  metrics: IndexerMetrics;
  logger: Logger;
}

export interface LoaderOptions {
  /** This process's owner token for part locks (unique per process). */
  owner: string;
  partConcurrency: number;
  leaseMs: number;
  partAttempts: number;
  memoryBytes: number;
  bulk: HistoryBulkOptions;
  planner: PlannerOptions;
  /** Lines per batch read from a part (one `write` of the bulk writer). Default bulk documents × bulks in flight, so every write keeps them all busy. */
  batchLines?: number;
  /** bz2 decoder of S3 parts (readPartEvents): default `auto`, a spawned lbzip2 when installed, else unbzip2-stream. */
  decoder?: Bz2Decoder;
  /** Threads of each spawned lbzip2. Default min(2, cores). */
  decoderThreads?: number;
  /**
   * Parts downloaded, verified and decompressed at the same time (the rest of the `partConcurrency`
   * parts are indexing). Default 2: the first part is ready sooner than with every part decoding at once.
   */
  readConcurrency?: number;
}

export interface RunOptions {
  /** Called after each part and about every second while loading. */
  onProgress?: (view: JobView) => void;
  /** Set to stop: parts in flight are abandoned without a checkpoint (their locks released). */
  signal?: AbortSignal;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((r) => {
    const t = setTimeout(r, ms);
    signal?.addEventListener('abort', () => (clearTimeout(t), r()), { once: true });
  });

/** The start of an event line as the harvester writes it: `{"@timestamp":"…","event":{"id":"<id>"`. */
const CANONICAL_ID = /^\{"@timestamp":"[^"\\]*","event":\{"id":"([^"\\]+)"/;

/** Longest `_id` the engines accept is 512 bytes; a missing or longer id gets a content hash (still idempotent). */
export function docId(ev: Json, line: string): string {
  const e = ev.event as { id?: unknown } | undefined;
  const id = e && typeof e.id === 'string' ? e.id : '';
  if (id && Buffer.byteLength(id) <= 512) return id;
  return `h-${createHash('sha256').update(line).digest('hex').slice(0, 40)}`;
}

export class JobGoneError extends Error {
  readonly code = 'JOB_GONE';
}

/**
 * Runs one history load (docs/specs/indexer.md, "Loading"): plans, creates the index, then loads
 * the parts without a checkpoint, `partConcurrency` at a time. Each part is taken under a Redis lease
 * (SET NX PX, renewed by a timer), so two loaders — two API instances, a server and a CLI, a restarted
 * process — never load one part at the same time, and a dead loader's part is taken over once its
 * lease lapses. A part's checkpoint is written only after every document was acknowledged. Framework-
 * free: the Nest shell, the CLI, tests and benchmarks use it alike.
 */
export class HistoryLoader {
  private readonly bulk: HistoryBulk;

  constructor(
    private readonly deps: LoaderDeps,
    private readonly opts: LoaderOptions,
  ) {
    // The parts being loaded share the bulk requests in flight (parts × bulks per part by default).
    this.bulk = new HistoryBulk(deps.search, deps.metrics, { ...opts.bulk, maxInFlight: opts.bulk.maxInFlight ?? opts.bulk.concurrency * Math.max(1, opts.partConcurrency) });
    this.batchLines = opts.batchLines ?? opts.bulk.maxDocs * opts.bulk.concurrency;
    this.reads = new Slots(Math.max(1, opts.readConcurrency ?? 2));
    this.catalogue = logsCatalogue(deps.search.engine);
    this.io = partReaderIo(partStoreOf(deps.s3), { ...(opts.decoder ? { decoder: opts.decoder } : {}), ...(opts.decoderThreads ? { threads: opts.decoderThreads } : {}) });
  }

  /** The archive read path (core-codec readPartEvents): S3, the bz2 decoder, temp-file spools. */
  private readonly io: PartReaderIo;

  /** The fields of the `logs-*` template the history index is made with: what a job's filter means. */
  private readonly catalogue: FieldCatalogue;

  private readonly filters = new Map<string, ArchiveFilter>();

  /** A job's filter, compiled once per text (the one evaluator: compileFilter, engine semantics). Throws QueryError. */
  filterOf(text: string): ArchiveFilter {
    let f = this.filters.get(text);
    if (!f) {
      if (this.filters.size >= 64) this.filters.clear();
      f = archiveFilter(text, this.catalogue);
      this.filters.set(text, f);
    }
    return f;
  }

  private readonly reads: Slots;

  private readonly batchLines: number;

  plan(job: Pick<JobDoc, 'env' | 'fromMs' | 'toMs' | 'filter' | 'maxEvents'>): Promise<Plan> {
    const req = { env: job.env, fromMs: job.fromMs, toMs: job.toMs, filter: this.filterOf(job.filter), ...(job.maxEvents !== undefined ? { maxEvents: job.maxEvents } : {}) };
    return makePlan({ s3: this.deps.s3, ...(this.deps.kafka ? { kafka: this.deps.kafka } : {}), logger: this.deps.logger }, req, this.opts.planner);
  }

  async view(index: string): Promise<JobView | undefined> {
    const { store } = this.deps;
    const job = await store.getJob(index);
    if (!job) return undefined;
    const [plan, cps, prog, planError] = await Promise.all([store.getPlan(index), store.checkpoints(index), store.progress(index), store.planError(index)]);
    return jobView(job, plan, cps, prog, planError ? { planError } : {});
  }

  /** Creates the index (the `logs-*` template gives it its mappings) and writes its `_meta`. */
  async ensureIndex(job: JobDoc, extra: Json = {}): Promise<void> {
    const { search } = this.deps;
    await search.createIndex(job.index);
    await this.writeMeta(job, extra);
  }

  async writeMeta(job: JobDoc, extra: Json = {}): Promise<void> {
    const { search } = this.deps;
    const meta = await search.getIndexMeta(job.index);
    const prev = (meta.history as Json | undefined) ?? {};
    await search.putIndexMeta(job.index, {
      ...meta,
      history: {
        ...prev,
        env: job.env,
        start: job.fromMs,
        end: job.toMs,
        filter: job.filter,
        ...(job.maxEvents !== undefined ? { maxEvents: job.maxEvents } : {}),
        createdAt: job.createdAt,
        requestedAt: job.requestedAt,
        expiresAt: job.expiresAt,
        ...extra,
      },
    });
  }

  /** Plans and loads everything not yet checkpointed; resolves with the job's view when no part is left to this process. */
  async run(index: string, ro: RunOptions = {}): Promise<JobView> {
    const { store, logger, metrics } = this.deps;
    const job = await store.getJob(index);
    if (!job) throw new JobGoneError(`no job for ${index}`);
    metrics.jobsStarted.inc();
    metrics.jobsActive.inc();
    try {
      let plan: Plan;
      try {
        plan = await this.plan(job);
      } catch (e) {
        await store.setPlanError(job, `planning failed: ${(e as Error).message}`);
        logger.error('planning failed', { index, error: e });
        return (await this.view(index)) as JobView;
      }
      await store.setPlanError(job, undefined);
      await store.putPlan(job, plan.summary);
      // The index is created while the first parts are read; their documents wait for it.
      const indexReady = this.ensureIndex(job);
      indexReady.catch(() => undefined);
      const view = await this.loadParts(job, plan, ro, indexReady);
      // A failed creation abandoned the parts without a checkpoint: the job stays to resume.
      await indexReady;
      if (view.status !== 'loading' && view.status !== 'queued') {
        metrics.jobsFinished.inc({ status: view.status });
        await this.writeMeta(job, { status: view.status, events: view.progress.events.indexed + view.progress.events.already }).catch(() => undefined);
      }
      return view;
    } finally {
      metrics.jobsActive.dec();
    }
  }

  private async loadParts(job: JobDoc, plan: Plan, ro: RunOptions, indexReady: Promise<void>): Promise<JobView> {
    const { store } = this.deps;
    const done = await store.checkpoints(job.index);
    const queue = plan.summary.parts.filter((p) => !done[p.id]).map((p) => ({ part: p, notBefore: 0 }));
    let lastReport = 0;
    const report = async (force = false) => {
      if (!ro.onProgress || (!force && Date.now() - lastReport < 1000)) return;
      lastReport = Date.now();
      const v = await this.view(job.index);
      if (v) ro.onProgress(v);
    };
    const timer = ro.onProgress ? setInterval(() => void report().catch(() => undefined), 1000) : undefined;
    const worker = async () => {
      while (queue.length && !ro.signal?.aborted) {
        const now = Date.now();
        const i = queue.findIndex((q) => q.notBefore <= now);
        if (i < 0) {
          await sleep(Math.max(50, Math.min(...queue.map((q) => q.notBefore)) - now), ro.signal);
          continue;
        }
        const [item] = queue.splice(i, 1) as [{ part: PlannedPart; notBefore: number }];
        const id = item.part.id;
        if (await store.checkpoint(job.index, id)) continue;
        if (!(await store.getJob(job.index))) throw new JobGoneError(`${job.index} was dropped`);
        if (!(await store.lock(job.index, id, this.opts.owner, this.opts.leaseMs))) {
          // Another loader has it: look again later (it finishes, or its lease lapses if it died).
          queue.push({ part: item.part, notBefore: Date.now() + Math.min(1000, this.opts.leaseMs / 4) });
          continue;
        }
        try {
          if (await store.checkpoint(job.index, id)) continue;
          const cp = await this.loadPart(job, item.part, plan.sources.get(id) as PartSource, indexReady, ro.signal);
          // Checkpoint only while still holding the lease: a holder whose lease lapsed (a long stall) leaves it to the new one.
          if (cp && !(await store.renew(job.index, id, this.opts.owner, this.opts.leaseMs))) {
            this.deps.metrics.lockLost.inc();
            this.deps.logger.warn('part lease lapsed before its checkpoint; leaving the part to its new holder', { index: job.index, part: id });
          } else if (cp) {
            await store.putCheckpoint(job, id, cp);
            this.deps.metrics.parts.inc({ outcome: cp.state, source: item.part.source });
          }
        } finally {
          await store.release(job.index, id, this.opts.owner).catch(() => undefined);
        }
        await report(true);
      }
    };
    try {
      await Promise.all(Array.from({ length: Math.max(1, Math.min(this.opts.partConcurrency, queue.length)) }, worker));
    } finally {
      if (timer) clearInterval(timer);
    }
    const v = (await this.view(job.index)) as JobView;
    ro.onProgress?.(v);
    return v;
  }

  /**
   * One part, with retries; undefined when abandoned (stop, lease lost) — no checkpoint then. The
   * steps: hold the part's lease (`holdLease`), try the part up to `partAttempts` times
   * (`attemptPart`: read slot, read batches, lines into documents, bulk, progress, checkpoint), and
   * turn the last error into a failed checkpoint (`failedCheckpoint`).
   */
  private async loadPart(job: JobDoc, part: PlannedPart, source: PartSource, indexReady: Promise<void>, signal?: AbortSignal): Promise<PartCheckpoint | undefined> {
    const startedAt = Date.now();
    const lease = this.holdLease(job, part);
    const aborted = () => lease.lost || signal?.aborted === true;
    try {
      let lastError: PartError | undefined;
      for (let attempt = 1; attempt <= this.opts.partAttempts; attempt++) {
        const outcome = await this.attemptPart({ job, part, source, indexReady, aborted, attempt, startedAt });
        if (outcome.kind === 'checkpoint') return outcome.checkpoint;
        if (outcome.kind === 'abandoned') return undefined;
        lastError = outcome.error;
        // A part that does not match its manifest fails the same way every time.
        if (outcome.final) break;
        if (attempt < this.opts.partAttempts) await sleep(retryDelayMs(attempt), signal);
      }
      return failedCheckpoint(lastError, { attempts: this.opts.partAttempts, startedAt, at: Date.now(), by: this.opts.owner });
    } finally {
      lease.stop();
      await this.deps.store.clearProgress(job.index, part.id).catch(() => undefined);
    }
  }

  /** Renews the part's lease on a timer; `lost` once another loader holds it (the work is abandoned then). */
  private holdLease(job: JobDoc, part: PlannedPart): { readonly lost: boolean; stop(): void } {
    const { store, metrics, logger } = this.deps;
    let lost = false;
    const renew = setInterval(
      () => {
        store.renew(job.index, part.id, this.opts.owner, this.opts.leaseMs).then(
          (ok) => {
            if (!ok && !lost) {
              lost = true;
              metrics.lockLost.inc();
              logger.warn('part lease lost; leaving the part to its new holder', { index: job.index, part: part.id });
            }
          },
          () => undefined,
        );
      },
      Math.max(200, Math.floor(this.opts.leaseMs / 3)),
    );
    return {
      get lost() {
        return lost;
      },
      stop: () => clearInterval(renew),
    };
  }

  /** One attempt at a part: its checkpoint, abandoned (stop, lease lost, index not made), or the error that failed it. */
  private async attemptPart(a: PartAttempt): Promise<AttemptOutcome> {
    const { job, part, aborted } = a;
    const { metrics, logger } = this.deps;
    const c = newPartCounts();
    const writer = this.bulk.writer(job.index, aborted);
    // A read slot from the start of the read until the part is verified (its first batch) or fails.
    const read = await this.readSlot();
    try {
      const filter = this.filterOf(job.filter);
      let lastFlush = 0;
      for await (const lines of this.partBatches(a, c)) {
        if (read.held) {
          read.release();
          try {
            await a.indexReady;
          } catch {
            return ABANDONED;
          }
        }
        if (aborted()) return ABANDONED;
        await this.addLines(lines, filter, writer, c);
        if (Date.now() - lastFlush >= 1000) {
          lastFlush = Date.now();
          await this.putProgress(job, part, c, writer.tally, a.startedAt);
        }
      }
      if (aborted()) return ABANDONED;
      const t = await writer.finish();
      if (aborted()) return ABANDONED;
      return { kind: 'checkpoint', checkpoint: partCheckpoint(c, t, { attempts: a.attempt, startedAt: a.startedAt, at: Date.now(), by: this.opts.owner }) };
    } catch (e) {
      // No request of this attempt may outlive it (a retry or the next holder starts afresh).
      await writer.drain();
      if (e instanceof BulkAbortedError || aborted()) return ABANDONED;
      const error = partError(e);
      metrics.partFailures.inc({ code: error.code });
      logger.warn('loading a part failed', { index: job.index, part: part.id, attempt: a.attempt, code: error.code, error: e });
      return { kind: 'failed', error, final: isArchivePartError(e) };
    } finally {
      read.release();
      await writer.drain();
    }
  }

  /** Waits for one of the `readConcurrency` read slots; `release` is idempotent. */
  private async readSlot(): Promise<{ readonly held: boolean; release(): void }> {
    const wait = this.reads.acquire();
    if (wait) await wait;
    let held = true;
    return {
      get held() {
        return held;
      },
      release: () => {
        if (held) this.reads.release();
        held = false;
      },
    };
  }

  /** The part's event lines in the job's range, in batches: a verified S3 read (counting bytes as they come) or a c-<env> record. */
  private partBatches(a: PartAttempt, c: PartCounts): AsyncIterable<string[]> {
    const { job, part, source } = a;
    if (source.kind === 'kafka') {
      c.bytes = part.bytes;
      // c-<env>: the part's records are at hand; their concatenation is the S3 object, read the same way.
      return readPartEvents(
        this.io,
        { key: source.part.id, manifest: source.part.manifest, object: Buffer.concat(source.part.streams) },
        { fromMs: job.fromMs, toMs: job.toMs, memoryBytes: this.opts.memoryBytes, batchLines: this.batchLines },
      );
    }
    return readPartEvents(this.io, source.part, {
      fromMs: job.fromMs,
      toMs: job.toMs,
      verify: true,
      memoryBytes: this.opts.memoryBytes,
      batchLines: this.batchLines,
      onBytes: (n) => {
        c.bytes += n;
        this.deps.metrics.readBytes.inc(n);
      },
    });
  }

  /**
   * One batch of lines into the part's writer: each line becomes a document (`lineDoc`), is filtered
   * out, or is counted as refused. Requests leave as soon as they are full and a slot is free, while
   * the part is still being read.
   */
  private async addLines(lines: readonly string[], filter: ArchiveFilter, writer: PartWriter, c: PartCounts): Promise<void> {
    const { metrics } = this.deps;
    const filteredBefore = c.filtered;
    for (const line of lines) {
      c.read++;
      const d = lineDoc(line, filter);
      if (d === FILTERED) {
        c.filtered++;
        continue;
      }
      if ('bad' in d) {
        // A verified part holds only events; count it as refused rather than crash.
        c.rejected++;
        c.firstRejection ??= d.bad;
        metrics.rejected.inc({ reason: 'bad_json' });
        continue;
      }
      const wait = writer.add(d);
      if (wait) await wait;
    }
    metrics.readEvents.inc(lines.length);
    metrics.filtered.inc(c.filtered - filteredBefore);
  }

  /** The part's counters for GET while loading (best effort). */
  private async putProgress(job: JobDoc, part: PlannedPart, c: PartCounts, t: BulkTally, startedAt: number): Promise<void> {
    await this.deps.store.putProgress(job, part.id, { read: c.read, indexed: t.indexed + t.already, bytes: c.bytes, startedAt, at: Date.now(), by: this.opts.owner }).catch(() => undefined);
  }
}

interface PartAttempt {
  job: JobDoc;
  part: PlannedPart;
  source: PartSource;
  indexReady: Promise<void>;
  aborted: () => boolean;
  attempt: number;
  startedAt: number;
}

interface PartError {
  code: string;
  message: string;
}

type AttemptOutcome = { kind: 'checkpoint'; checkpoint: PartCheckpoint } | { kind: 'abandoned' } | { kind: 'failed'; error: PartError; final: boolean };

const ABANDONED: AttemptOutcome = { kind: 'abandoned' };

/** What reading a part counted (the bulk writer's tally holds the rest). */
export interface PartCounts {
  read: number;
  filtered: number;
  /** Lines that are not JSON objects (the engine's refusals are in the tally). */
  rejected: number;
  bytes: number;
  firstRejection?: string;
}

export const newPartCounts = (): PartCounts => ({ read: 0, filtered: 0, rejected: 0, bytes: 0 });

/** A line the job's filter does not accept. */
export const FILTERED = Symbol('filtered');

/**
 * One archived line as a bulk document. Without a filter the id is all a line is read for: an
 * archived event (the harvester's canonical JSON) starts with its @timestamp and event.id, so it is
 * taken from there and the line is parsed only when that shape is not found (or the engine refuses the
 * line as stored). The line goes to `_bulk` as stored either way.
 */
export function lineDoc(line: string, filter: Pick<ArchiveFilter, 'test' | 'matchesAll'>): BulkDoc | typeof FILTERED | { bad: string } {
  if (filter.matchesAll) {
    const m = CANONICAL_ID.exec(line);
    if (m && Buffer.byteLength(m[1] as string) <= 512) return { id: m[1] as string, line, bytes: line.length + 64, rounds: 0 };
  }
  let ev: Json;
  try {
    ev = JSON.parse(line) as Json;
    if (typeof ev !== 'object' || ev === null || Array.isArray(ev)) throw new TypeError('not an object');
  } catch {
    return { bad: `a line is not a JSON object: ${line.slice(0, 120)}` };
  }
  if (!filter.test(ev)) return FILTERED;
  return { id: docId(ev, line), doc: ev, line, bytes: line.length + 64, rounds: 0 };
}

/** The checkpoint of a part read to its end: done, or failed when the engine or the reading refused events. */
export function partCheckpoint(c: PartCounts, t: BulkTally, meta: { attempts: number; startedAt: number; at: number; by: string }): PartCheckpoint {
  const rejected = c.rejected + t.rejected;
  const first = c.firstRejection ?? t.firstRejection;
  const base = { read: c.read, indexed: t.indexed, already: t.already, filtered: c.filtered, rejected, bytes: c.bytes, ...meta };
  if (rejected) return { ...base, state: 'failed', code: 'DOCUMENTS_REJECTED', reason: `${rejected} events refused by the search engine; first: ${first ?? ''}` };
  return { ...base, state: 'done' };
}

/** The checkpoint of a part whose every attempt failed: nothing counted, the last error's code and message. */
export function failedCheckpoint(last: PartError | undefined, meta: { attempts: number; startedAt: number; at: number; by: string }): PartCheckpoint {
  return {
    state: 'failed',
    read: 0,
    indexed: 0,
    already: 0,
    filtered: 0,
    rejected: 0,
    bytes: 0,
    code: last?.code ?? 'ERROR',
    reason: (last?.message ?? 'failed').slice(0, 1000),
    attempts: meta.attempts,
    startedAt: meta.startedAt,
    at: meta.at,
    by: meta.by,
  };
}

/** The code and message an attempt's error is reported with. */
export function partError(e: unknown): PartError {
  const code = isArchivePartError(e) ? e.code : ((e as { code?: string } | undefined)?.code ?? 'ERROR');
  return { code, message: (e as Error | undefined)?.message ?? 'failed' };
}

/** Wait before the next attempt at a part: 1 s, 2 s, 4 s, … up to 10 s. */
export const retryDelayMs = (attempt: number): number => Math.min(10_000, 1000 * 2 ** (attempt - 1));
