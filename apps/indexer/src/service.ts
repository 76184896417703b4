import type { Json, SearchPort } from '@backlog/adapter-search';
import { parseHistoryIndex } from '@backlog/core-codec';
import { archiveFilter } from '@backlog/core-query';
import type { Logger } from '@backlog/core-pipeline';
import type { JobDoc, JobStore } from './jobs';
import type { HistoryLoader } from './loader';
import type { IndexerMetrics } from './metrics';
import { type LoadRequest, type RequestLimits, indexOf, validateLoad } from './request';
import type { JobView } from './status';

export class NotFoundError extends Error {
  readonly code = 'NOT_FOUND';
}

/** The same index asked for with another filter or maxEvents: its content would not be what was asked. */
export class ConflictError extends Error {
  readonly code = 'CONFLICT';
}

/** Another history load would exceed `load.maxConcurrentJobs` in this process: try again later (503 + Retry-After). */
export class BusyError extends Error {
  readonly code = 'BUSY';
  readonly retriable = true;
}

/** The index belongs to an env this indexer does not serve: it may not change it (403). */
export class ForbiddenError extends Error {
  readonly code = 'FORBIDDEN';
}

export interface ServiceOptions extends RequestLimits {
  ttlHours: number;
  /** History loads running at once in this process. Default: no cap (the CLI runs one). */
  maxConcurrentJobs?: number;
}

/**
 * The history API as plain methods (docs/specs/indexer.md): the Nest controller and the CLI call
 * these. `request` records the job and starts loading in the background of this process; the same
 * request returns the same index, extends its expiry, retries failed parts and leaves finished ones.
 */
export class HistoryService {
  private readonly running = new Map<string, { done: Promise<JobView | undefined>; abort: AbortController }>();

  constructor(
    private readonly store: JobStore,
    private readonly search: SearchPort,
    private readonly loader: HistoryLoader,
    private readonly metrics: IndexerMetrics,
    private readonly logger: Logger,
    readonly opts: ServiceOptions,
  ) {}

  validate(body: unknown, nowMs = Date.now()): LoadRequest {
    return validateLoad(body, this.opts, nowMs);
  }

  /** Records (or refreshes) the job for a validated request. Returns the job and whether it is new. */
  async record(req: LoadRequest, nowMs = Date.now()): Promise<{ job: JobDoc; created: boolean }> {
    const index = indexOf(req);
    const prev = await this.store.getJob(index);
    if (prev && (!this.sameFilter(prev.filter, req.filter) || prev.maxEvents !== req.maxEvents)) {
      throw new ConflictError(
        `${index} was requested with ${JSON.stringify({ filter: prev.filter, maxEvents: prev.maxEvents })}; drop it first to load the range with ${JSON.stringify({ filter: req.filter, maxEvents: req.maxEvents })}`,
      );
    }
    const ttlMs = (req.ttlHours ?? this.opts.ttlHours) * 3_600_000;
    const job: JobDoc = {
      v: 1,
      index,
      env: req.env,
      fromMs: req.fromMs,
      toMs: req.toMs,
      // An equivalent filter in other words keeps the text the index was made with.
      filter: prev?.filter ?? req.filter,
      ...(req.maxEvents !== undefined ? { maxEvents: req.maxEvents } : {}),
      createdAt: prev?.createdAt ?? nowMs,
      requestedAt: nowMs,
      expiresAt: Math.max(prev?.expiresAt ?? 0, nowMs + ttlMs),
    };
    await this.store.putJob(job);
    if (prev) {
      await this.store.clearFailed(index);
      await this.loader.writeMeta(job).catch(() => undefined);
    }
    return { job, created: !prev };
  }

  /** A load of `index` could start here now: it runs already, or fewer than maxConcurrentJobs do. */
  hasRoomFor(index: string): boolean {
    return this.running.has(index) || this.running.size < (this.opts.maxConcurrentJobs ?? Infinity);
  }

  /**
   * Two filters ask the same when their texts are equal or their keys are (`archiveFilter(…).key`: names
   * resolved, AND/OR terms in a fixed order — `host:(b OR a)`, `host.name:(a OR b)` and the older
   * `host=a,b` alike): the same index then serves both.
   */
  private sameFilter(a: string, b: string): boolean {
    if (a === b) return true;
    try {
      return archiveFilter(a, this.opts.catalogue).key === archiveFilter(b, this.opts.catalogue).key;
    } catch {
      return false;
    }
  }

  /** POST /v1/history: record, start loading here, answer at once (or BusyError, before anything is recorded). */
  async request(body: unknown): Promise<{ view: JobView; created: boolean }> {
    const req = this.validate(body);
    if (!this.hasRoomFor(indexOf(req))) {
      this.metrics.refused.inc({ reason: 'busy' });
      throw new BusyError(`${this.running.size} history loads are running here (load.maxConcurrentJobs); try again later`);
    }
    const { job, created } = await this.record(req);
    this.start(job.index);
    return { view: (await this.loader.view(job.index)) as JobView, created };
  }

  /** Starts a loader for the index in this process unless one runs already; resolves when it stops. */
  start(index: string): Promise<JobView | undefined> {
    const cur = this.running.get(index);
    if (cur) return cur.done;
    const abort = new AbortController();
    const done = this.loader
      .run(index, { signal: abort.signal })
      .then(
        (v) => {
          this.logger.info('history load finished here', { index, status: v.status, events: v.progress.events });
          return v as JobView | undefined;
        },
        (e: unknown) => {
          this.logger.error('history load stopped', { index, error: e });
          return undefined;
        },
      )
      .finally(() => this.running.delete(index));
    this.running.set(index, { done, abort });
    return done;
  }

  isRunning(index: string): boolean {
    return this.running.has(index);
  }

  async get(index: string): Promise<JobView> {
    const v = await this.loader.view(index);
    if (!v) throw new NotFoundError(`no history index ${index}`);
    return v;
  }

  async list(env?: string): Promise<JobView[]> {
    const envs = env ? [env] : [...this.opts.envs];
    const out: JobView[] = [];
    for (const e of envs) {
      for (const index of await this.store.indices(e)) {
        const v = await this.loader.view(index);
        if (v) out.push(v);
      }
    }
    return out;
  }

  /**
   * The env of a history index, when this indexer serves it: a name that is not a history index is
   * unknown here (404), one of another env is not this indexer's to change (403) — whatever the
   * search engine holds under that name.
   */
  private servedEnv(index: string): string {
    const parsed = parseHistoryIndex(index);
    if (!parsed) throw new NotFoundError(`not a history index: ${index}`);
    if (!this.opts.envs.includes(parsed.env)) throw new ForbiddenError(`${index} belongs to env ${JSON.stringify(parsed.env)}, which this indexer does not serve (${this.opts.envs.join(', ')})`);
    return parsed.env;
  }

  /** Moves the expiry to now + hours (Redis and the index `_meta`). */
  async extend(index: string, hours = this.opts.ttlHours, nowMs = Date.now()): Promise<JobView> {
    if (!(hours > 0) || hours > this.opts.maxTtlHours) throw new RangeError(`hours must be in (0, ${this.opts.maxTtlHours}]`);
    this.servedEnv(index);
    const job = await this.store.getJob(index);
    if (!job) throw new NotFoundError(`no history index ${index}`);
    const next = { ...job, requestedAt: nowMs, expiresAt: nowMs + hours * 3_600_000 };
    await this.store.putJob(next);
    await this.loader.writeMeta(next).catch((e: unknown) => this.logger.warn('could not write the expiry to the index _meta', { index, error: e }));
    return this.get(index);
  }

  /** Deletes the index and its job; stops a load of it in this process. Only history indices of the envs served here. */
  async drop(index: string): Promise<{ index: string; deleted: string[] }> {
    const env = this.servedEnv(index);
    const job = await this.store.getJob(index);
    this.running.get(index)?.abort.abort();
    const wasListed = (await this.store.indices(env)).includes(index);
    // Index first, job second: a reaper that sees the index without its job would rebuild the job from _meta.
    const deleted = await this.search.deleteIndices(index);
    await this.store.remove(env, index);
    if (!job && !wasListed && deleted.length === 0) throw new NotFoundError(`no history index ${index}`);
    return { index, deleted };
  }

  /** Resumes jobs that are not finished (after a restart, or left by a dead CLI). */
  async resumeUnfinished(): Promise<string[]> {
    const started: string[] = [];
    for (const env of this.opts.envs) {
      for (const index of await this.store.indices(env)) {
        if (this.running.has(index)) continue;
        // At the cap: the next reaper run resumes the rest.
        if (!this.hasRoomFor(index)) return started;
        const v = await this.loader.view(index);
        if (v && (v.status === 'queued' || v.status === 'loading')) {
          this.start(index);
          started.push(index);
        }
      }
    }
    return started;
  }

  /** Aborts local loads and waits for them (their parts keep no checkpoint; locks are released). */
  async stop(): Promise<void> {
    for (const r of this.running.values()) r.abort.abort();
    await Promise.all([...this.running.values()].map((r) => r.done));
  }

  /** The index `_meta` history section, for the reaper. */
  static historyMeta(meta: Json): Json | undefined {
    const h = meta.history;
    return h && typeof h === 'object' ? (h as Json) : undefined;
  }
}
