import { type Json, type SearchPort, catalogueFromMappings, logsCatalogue, readQueryResult, translatePlan } from '@backlog/adapter-search';
import { type S3Port, partStoreOf } from '@backlog/adapter-s3';
import { listArchiveParts, streamsInRange } from '@backlog/core-codec';
import type { Logger } from '@backlog/core-pipeline';
import {
  type ArchiveFilter,
  type FieldCatalogue,
  type Hit,
  type Query,
  type QueryPlan,
  type QueryResult,
  type TimeRangeInput,
  QueryError,
  archiveFilter,
  evaluateQuery,
  parseQuery,
  parseRequest,
  planQuery,
  printFilter,
} from '@backlog/core-query';
import { z } from 'zod';
import { type Coverage, type HistoryIndex, type RecentIndex, type Span, historyUsable, parseHistoryName, parseRecentIndex, planCoverage, splitSpan, toWindows } from './coverage';
import { type Cursor, CursorError, decodeCursor, encodeCursor, fingerprint } from './cursor';
import type { IndexerClient } from './indexer-client';
import type { QueryMetrics } from './metrics';

/** A request the API answers with 400 (not the query language's own errors, which are QueryError). */
export class BadRequestError extends Error {
  readonly code = 'REQUEST_INVALID';
  constructor(
    message: string,
    readonly field: string,
  ) {
    super(message);
  }
}

export interface ServiceOptions {
  envs: readonly string[];
  defaultLimit: number;
  maxLimit: number;
  maxExportEvents: number;
  cursorKeepAliveSeconds: number;
  maxRangeDays: number;
  /** How long the env's index list, `_meta` and catalogue are reused, ms. Default 2,000; 0 reads them on every query. */
  indexCacheMs?: number;
  rehydrate: { maxEvents: number; maxBytes: number; estimateBytesPerSecond: number; ttlHours?: number; maxRangeHours: number };
}

/** One query as the API and the CLI ask it (GET parameters or a POST body, validated). */
export interface QueryInput {
  env: string;
  /** The query's text form (the JSON form written as text). */
  text: string;
  query: Query;
  range: TimeRangeInput;
  /** Events per page when the text has no `| limit`. */
  limit: number | undefined;
  cursor: string | undefined;
  rehydrate: 'auto' | 'off';
  maxEvents: number | undefined;
  maxBytes: number | undefined;
}

export interface RehydrationSpan {
  from: string;
  to: string;
  parts: number;
  events: number;
  bytes: number;
  estimatedSeconds: number;
  /** The history index loading it, once asked for. */
  index?: string;
  /** The load's status as the indexer reports it (queued, loading, done, partial, failed). */
  status?: string;
  progress?: unknown;
  error?: string;
}

export interface Rehydration {
  /**
   * available: archive-only spans hold events; ask with rehydrate=auto to load them.
   * started/loading: the indexer loads them; ask again for the complete answer.
   * over_cap: more than the cap (maxEvents/maxBytes): nothing started.
   * failed: the indexer refused or could not be reached (see spans[].error).
   */
  status: 'available' | 'started' | 'loading' | 'over_cap' | 'failed';
  /** The filter the load keeps (the query's, pushed down; '' = every event of the span). */
  filter: string;
  parts: number;
  events: number;
  bytes: number;
  estimatedSeconds: number;
  cap: { maxEvents: number; maxBytes: number };
  spans: RehydrationSpan[];
  hint?: string;
}

export interface QueryAnswer {
  result: QueryResult;
  range: { from: string; to: string };
  coverage: Array<{ from: string; to: string; source: string; index?: string; events?: number }>;
  /** Every span of the range was answered (no archive-only span holds events). */
  complete: boolean;
  rehydration?: Rehydration;
  cursor?: string;
  warnings: Array<{ code: string; message: string; column: number }>;
  tookMs: number;
}

const intParam = (name: string, min: number, max: number) =>
  z
    .union([z.number(), z.string().regex(/^\d{1,12}$/, `${name}: a whole number`)])
    .transform((v) => Number(v))
    .pipe(z.number().int().min(min, `${name}: at least ${min}`).max(max, `${name}: at most ${max}`));

/** Keys of the API's own next to DATA-001's JSON form (which core-query validates). */
const OWN_KEYS = ['env', 'cursor', 'rehydrate', 'maxEvents', 'maxBytes', 'q', 'format'] as const;

const TIME_FIELD = '@timestamp';
const SPAN_LIMIT = 64;

export class QueryService {
  private readonly templateCatalogue: FieldCatalogue;
  /** History indices made visible here once (see `visible`). */
  private readonly refreshed = new Set<string>();
  private readonly indexCache = new Map<string, { at: number; value: Promise<{ recent: RecentIndex[]; history: HistoryIndex[]; catalogue: FieldCatalogue }> }>();

  constructor(
    private readonly search: SearchPort,
    private readonly s3: S3Port,
    private readonly indexer: IndexerClient | undefined,
    private readonly metrics: QueryMetrics,
    private readonly logger: Logger,
    readonly opts: ServiceOptions,
  ) {
    this.templateCatalogue = logsCatalogue(search.engine);
  }

  // ---------------------------------------------------------------- requests

  /** `GET /v1/query` (and `/query`) parameters → a query input. Throws QueryError or BadRequestError. */
  fromParams(p: Record<string, unknown>): QueryInput {
    const known = new Set(['q', 'query', 'from', 'to', 'time_range', 'env', 'limit', 'cursor', 'rehydrate', 'maxEvents', 'maxBytes', 'format']);
    for (const k of Object.keys(p)) if (!known.has(k)) throw new BadRequestError(`unknown parameter ${JSON.stringify(k)} (known: ${[...known].join(', ')})`, k);
    for (const [k, v] of Object.entries(p)) if (typeof v !== 'string') throw new BadRequestError(`${k}: give it once`, k);
    const s = p as Record<string, string | undefined>;
    if (s.q !== undefined && s.query !== undefined) throw new BadRequestError('q and query are the same parameter: give one', 'q');
    const text = s.q ?? s.query ?? '';
    const query = parseQuery(text);
    const range: TimeRangeInput = {
      ...(s.from !== undefined ? { from: s.from } : {}),
      ...(s.to !== undefined ? { to: s.to } : {}),
      ...(s.time_range !== undefined ? { time_range: s.time_range } : {}),
    };
    return {
      env: this.env(s.env),
      text,
      query,
      range,
      limit: s.limit === undefined ? undefined : this.int('limit', s.limit, 1, this.opts.maxLimit),
      cursor: s.cursor,
      rehydrate: this.rehydrateMode(s.rehydrate),
      maxEvents: s.maxEvents === undefined ? undefined : this.int('maxEvents', s.maxEvents, 1, this.opts.rehydrate.maxEvents),
      maxBytes: s.maxBytes === undefined ? undefined : this.int('maxBytes', s.maxBytes, 1, this.opts.rehydrate.maxBytes),
    };
  }

  /** `POST /v1/query` (and `/query`): DATA-001's JSON form plus env, cursor, rehydrate, maxEvents, maxBytes. */
  fromBody(body: unknown): QueryInput {
    if (!body || typeof body !== 'object' || Array.isArray(body)) throw new BadRequestError('body: a JSON object, e.g. {"query": "level:error", "time_range": "last 1 hour"}', 'body');
    const b = { ...(body as Record<string, unknown>) };
    const own: Record<string, unknown> = {};
    for (const k of OWN_KEYS) {
      if (k in b) {
        own[k] = b[k];
        delete b[k];
      }
    }
    if (own.q !== undefined) {
      if (b.query !== undefined) throw new BadRequestError('q and query are the same key: give one', 'q');
      b.query = own.q;
    }
    const str = (k: string) => {
      const v = own[k];
      if (v !== undefined && typeof v !== 'string') throw new BadRequestError(`${k}: a string`, k);
      return v as string | undefined;
    };
    const parsed = parseRequest(b);
    const limit = typeof b.limit === 'number' ? b.limit : undefined;
    if (limit !== undefined && limit > this.opts.maxLimit) throw new BadRequestError(`limit: at most ${this.opts.maxLimit} (api.maxLimit)`, 'limit');
    return {
      env: this.env(str('env')),
      text: parsed.text,
      query: parsed.query,
      range: parsed.range ?? {},
      limit: undefined,
      cursor: str('cursor'),
      rehydrate: this.rehydrateMode(str('rehydrate')),
      maxEvents: own.maxEvents === undefined ? undefined : this.int('maxEvents', own.maxEvents, 1, this.opts.rehydrate.maxEvents),
      maxBytes: own.maxBytes === undefined ? undefined : this.int('maxBytes', own.maxBytes, 1, this.opts.rehydrate.maxBytes),
    };
  }

  env(v: string | undefined): string {
    const env = v ?? this.opts.envs[0];
    if (env === undefined || !this.opts.envs.includes(env)) throw new BadRequestError(`env: unknown env ${JSON.stringify(v)} (known: ${this.opts.envs.join(', ')})`, 'env');
    return env;
  }

  private int(name: string, v: unknown, min: number, max: number): number {
    const r = intParam(name, min, max).safeParse(v);
    if (!r.success) throw new BadRequestError(r.error.issues[0]?.message ?? `${name}: a whole number`, name);
    return r.data;
  }

  private rehydrateMode(v: string | undefined): 'auto' | 'off' {
    if (v === undefined || v === 'off' || v === 'false' || v === 'no') return 'off';
    if (v === 'auto' || v === 'true' || v === '1' || v === 'yes') return 'auto';
    throw new BadRequestError('rehydrate: auto or off', 'rehydrate');
  }

  // ---------------------------------------------------------------- the indices of an env

  /**
   * Recent and history indices of the env (names, `_meta`) and the field catalogue of their mappings,
   * read at most once per `indexCacheMs` per env (one `_mapping` call saved on most queries; a load that
   * just finished is seen that much later).
   */
  private indices(env: string): Promise<{ recent: RecentIndex[]; history: HistoryIndex[]; catalogue: FieldCatalogue }> {
    const ttl = this.opts.indexCacheMs ?? 2_000;
    const now = Date.now();
    const hit = this.indexCache.get(env);
    if (hit && now - hit.at < ttl) return hit.value;
    const value = this.readIndices(env);
    this.indexCache.set(env, { at: now, value });
    // A failed read is not kept.
    value.catch(() => {
      if (this.indexCache.get(env)?.value === value) this.indexCache.delete(env);
    });
    return value;
  }

  private async readIndices(env: string): Promise<{ recent: RecentIndex[]; history: HistoryIndex[]; catalogue: FieldCatalogue }> {
    const mappings = await this.search.getMappings(`logs-${env}-*`);
    const recent: RecentIndex[] = [];
    const history: HistoryIndex[] = [];
    const used: Record<string, Json> = {};
    for (const [name, m] of Object.entries(mappings)) {
      const r = parseRecentIndex(name, env);
      if (r) {
        recent.push(r);
        used[name] = m;
        continue;
      }
      const h = parseHistoryName(name, env);
      if (!h) continue;
      used[name] = m;
      const meta = ((m._meta as Json | undefined)?.history ?? {}) as Json;
      history.push({
        index: name,
        ...h,
        filter: typeof meta.filter === 'string' ? meta.filter : '',
        status: typeof meta.status === 'string' ? meta.status : undefined,
        maxEvents: typeof meta.maxEvents === 'number' ? meta.maxEvents : undefined,
      });
    }
    recent.sort((a, b) => a.fromMs - b.fromMs);
    const catalogue = Object.keys(used).length ? catalogueFromMappings(used) : this.templateCatalogue;
    return { recent, history, catalogue };
  }

  /** The filter pushed down to a load, and how stored filters compare with it. Undefined filter: cannot be pushed (relative times). */
  private pushDown(q: Query): { filter: ArchiveFilter | undefined; same: (stored: string) => boolean } {
    let filter: ArchiveFilter | undefined;
    try {
      filter = archiveFilter(printFilter(q.filter), this.templateCatalogue);
    } catch {
      filter = undefined;
    }
    const same = (stored: string): boolean => {
      if (!filter) return false;
      if (stored === filter.text) return true;
      try {
        return archiveFilter(stored, this.templateCatalogue).key === filter.key;
      } catch {
        return false;
      }
    };
    return { filter, same };
  }

  // ---------------------------------------------------------------- answering

  /** Plans the query (throws QueryError for a bad one) with the range and limits of the request. */
  private plan(input: QueryInput, catalogue: FieldCatalogue, now: number, pageSize?: number): QueryPlan {
    const range = Object.keys(input.range).length ? input.range : { from: '-1h' };
    const plan = planQuery(input.query, catalogue, { now, range, defaultHits: pageSize ?? input.limit ?? this.opts.defaultLimit, maxHits: this.opts.maxLimit });
    const r = plan.range as NonNullable<QueryPlan['range']>;
    if (r.toMs - r.fromMs > this.opts.maxRangeDays * 86_400_000) {
      throw new QueryError('LIMIT_EXCEEDED', `the range is ${((r.toMs - r.fromMs) / 86_400_000).toFixed(1)} days, over the maximum of ${this.opts.maxRangeDays} (api.maxRangeDays)`, {
        column: 0,
        path: 'from',
        hint: 'ask a shorter range',
      });
    }
    return plan;
  }

  /**
   * The indexer marks a load `done` when its last `_bulk` was acknowledged, not when a refresh made it
   * searchable (up to the index's refresh_interval later): the first query that reads a finished
   * history index refreshes it once, so a "complete" answer holds every loaded event.
   */
  private async visible(indices: Iterable<string>): Promise<void> {
    const todo = [...indices].filter((i) => !this.refreshed.has(i));
    if (!todo.length) return;
    await this.search.refresh(todo);
    if (this.refreshed.size > 10_000) this.refreshed.clear();
    for (const i of todo) this.refreshed.add(i);
  }

  /**
   * The search over the indices that answer the range: recent ones as they are, each history index only
   * for the spans the coverage gave it — every event from one index, so counts and aggregations see it once.
   */
  private target(env: string, assignments: ReadonlyMap<string, Span[]>, planQueryDsl: Json): { index: string[]; query: Json } {
    const hist = [...assignments.keys()];
    const index = [`logs-${env}-recent-*`, ...hist];
    if (!hist.length) return { index, query: planQueryDsl };
    const should: Json[] = [{ bool: { must_not: [{ terms: { _index: hist } }] } }];
    for (const [h, spans] of assignments) {
      const ranges = spans.map((s) => ({ range: { [TIME_FIELD]: { gte: s.fromMs, lt: s.toMs, format: 'epoch_millis' } } }));
      should.push({ bool: { filter: [{ term: { _index: h } }, ranges.length === 1 ? ranges[0] : { bool: { should: ranges, minimum_should_match: 1 } }] } });
    }
    return { index, query: { bool: { filter: [planQueryDsl, { bool: { should, minimum_should_match: 1 } }] } } };
  }

  /**
   * Answers a query: what the recent and history indices hold for the range, with its coverage, and for
   * archive-only spans an estimate (and, with rehydrate=auto under the cap, the indexer's load of them).
   * A `cursor` continues a page of events from its point in time.
   */
  async run(input: QueryInput): Promise<QueryAnswer> {
    const t0 = Date.now();
    const fp = fingerprint([input.env, input.text, input.range, input.limit ?? null]);
    let cur: Cursor | undefined;
    if (input.cursor !== undefined) {
      try {
        cur = decodeCursor(input.cursor, fp);
      } catch (e) {
        if (e instanceof CursorError) throw new BadRequestError(e.message, 'cursor');
        throw e;
      }
    }
    const now = cur?.now ?? t0;
    const { recent, history, catalogue } = await this.indices(input.env);
    const plan = this.plan(input, catalogue, now);
    const range = plan.range as NonNullable<QueryPlan['range']>;
    const push = this.pushDown(input.query);
    const usable = history.filter((h) => historyUsable(h, push.same));
    const coverage: Coverage = cur
      ? planCoverage(
          range.fromMs,
          range.toMs,
          recent,
          history.filter((h) => cur.h.some(([n]) => n === h.index)),
        )
      : planCoverage(range.fromMs, range.toMs, recent, usable);
    const assignments = cur ? new Map(cur.h.map(([n, spans]) => [n, spans.map(([a, b]) => ({ fromMs: a, toMs: b }))])) : coverage.assignments;
    if (assignments.size > SPAN_LIMIT)
      throw new QueryError('LIMIT_EXCEEDED', `${assignments.size} history indices answer this range, over ${SPAN_LIMIT}`, {
        column: 0,
        hint: 'ask a shorter range, or drop overlapping history indices',
      });

    const request = translatePlan(plan, this.search.engine);
    const { index, query } = this.target(input.env, assignments, (request.query ?? { match_all: {} }) as Json);
    if (!cur) await this.visible(assignments.keys());
    let result: QueryResult;
    let cursor: string | undefined;
    if (!recent.length && !assignments.size) {
      // No index to ask (the engine would answer without aggregations): the empty answer, computed
      // by the evaluator, has the shape the engine's would (empty time buckets included).
      result = evaluateQuery(plan, []);
    } else if (plan.hits) {
      const size = plan.hits.limit;
      const keepAlive = `${this.opts.cursorKeepAliveSeconds}s`;
      // The point in time is opened when a second page is asked for (not after every first page: the
      // engine allows a few hundred open at once, and most queries are never paged).
      const pit = cur ? (cur.pit ?? (await this.search.openPointInTime(index, keepAlive))) : undefined;
      const res = cur
        ? await this.search.search({ ...request, index, query, searchAfter: cur.after, pit: { id: pit as string, keepAlive }, trackTotalHits: true })
        : await this.search.search({ ...request, index, query });
      result = readQueryResult(plan, res);
      const served = (cur?.n ?? 0) + res.hits.length;
      const last = res.hits[res.hits.length - 1];
      // More to read: the next page continues from the point in time (from the second page on).
      if (last?.sort && res.hits.length === size && served < res.total.value) {
        cursor = encodeCursor({
          v: 1,
          ...(pit ? { pit } : {}),
          after: last.sort as Cursor['after'],
          now,
          h: [...assignments].map(([n, s]) => [n, s.map((x) => [x.fromMs, x.toMs] as [number, number])]),
          fp,
          n: served,
        });
      } else if (pit) {
        await this.search.closePointInTime(pit).catch(() => undefined);
      }
      if (result.kind === 'hits') result = { ...result, hits: dedupe(result.hits) };
    } else {
      result = readQueryResult(plan, await this.search.search({ ...request, index, query }));
    }

    // Archive-only spans: what they hold (manifests), and on rehydrate=auto the loads. A cursor's later
    // pages keep to what the first page said.
    const rehydration = cur ? undefined : await this.rehydration(input, coverage, push, history, now);
    const out: QueryAnswer = {
      result,
      range: { from: iso(range.fromMs), to: iso(range.toMs) },
      coverage: coverage.spans.map((s) => ({ from: iso(s.fromMs), to: iso(s.toMs), source: s.source, ...(s.index ? { index: s.index } : {}) })),
      complete: !rehydration,
      warnings: plan.warnings.map((w) => ({ code: w.code, message: w.message, column: w.column })),
      tookMs: 0,
    };
    if (rehydration) out.rehydration = rehydration;
    if (cursor) out.cursor = cursor;
    out.tookMs = Date.now() - t0;
    return out;
  }

  /**
   * The archive-only spans that hold events (manifests, after the part facets of the pushed-down filter),
   * or undefined when none does. With rehydrate=auto and the estimate under the cap, each span is asked
   * of the indexer (`POST /v1/history` with the query's filter): the same request returns the same index,
   * so asking again while it loads only reports its progress.
   */
  private async rehydration(
    input: QueryInput,
    coverage: Coverage,
    push: { filter: ArchiveFilter | undefined; same: (stored: string) => boolean },
    history: readonly HistoryIndex[],
    now: number,
  ): Promise<Rehydration | undefined> {
    const o = this.opts.rehydrate;
    const filter = push.filter;
    const spans: RehydrationSpan[] = [];
    const maxSpanMs = o.maxRangeHours * 3_600_000;
    const pieces = coverage.archive
      .map((s) => ({ fromMs: s.fromMs, toMs: Math.min(s.toMs, now) }))
      .filter((s) => s.toMs > s.fromMs)
      .flatMap((s) => splitSpan(toWindows(s), maxSpanMs));
    const totalMs = pieces.reduce((n, s) => n + (s.toMs - s.fromMs), 0);
    if (totalMs > 31 * 86_400_000) {
      return {
        status: 'over_cap',
        filter: filter?.text ?? '',
        parts: 0,
        events: 0,
        bytes: 0,
        estimatedSeconds: 0,
        cap: this.cap(input),
        spans: [],
        hint: `${(totalMs / 86_400_000).toFixed(0)} days are only in the archive: ask a range of at most 31 days of them at a time`,
      };
    }
    for (const s of pieces) {
      const listing = await listArchiveParts(partStoreOf(this.s3), input.env, s.fromMs, s.toMs);
      let parts = 0;
      let events = 0;
      let bytes = 0;
      for (const p of listing.parts) {
        if (filter && !filter.mayMatchPart(p.manifest)) continue;
        parts++;
        events += streamsInRange(p.manifest, s.fromMs, s.toMs).reduce((n, x) => n + x.count, 0);
        bytes += p.manifest.compressedBytes;
      }
      if (!parts) continue;
      const span: RehydrationSpan = { from: iso(s.fromMs), to: iso(s.toMs), parts, events, bytes, estimatedSeconds: Math.ceil(bytes / o.estimateBytesPerSecond) };
      const loading = history.find((h) => h.status === undefined && h.fromMs <= s.fromMs && h.toMs >= s.toMs && (h.filter === '' || push.same(h.filter)));
      if (loading) {
        span.index = loading.index;
        span.status = 'loading';
      }
      spans.push(span);
    }
    if (!spans.length) return undefined;
    const sum = (k: 'parts' | 'events' | 'bytes' | 'estimatedSeconds') => spans.reduce((n, s) => n + s[k], 0);
    const cap = this.cap(input);
    const r: Rehydration = {
      status: spans.every((s) => s.status === 'loading') ? 'loading' : 'available',
      filter: filter?.text ?? '',
      parts: sum('parts'),
      events: sum('events'),
      bytes: sum('bytes'),
      estimatedSeconds: sum('estimatedSeconds'),
      cap,
      spans,
    };
    if (input.rehydrate !== 'auto') {
      if (r.status === 'available') r.hint = 'these spans are only in the archive: ask again with rehydrate=auto (CLI --rehydrate) to load them';
      return r;
    }
    if (r.events > cap.maxEvents || r.bytes > cap.maxBytes) {
      this.metrics.rehydrations.inc({ outcome: 'over_cap' });
      r.status = 'over_cap';
      r.hint = `loading ${r.events.toLocaleString('en-US')} events (${r.bytes.toLocaleString('en-US')} compressed bytes) is over the cap of ${cap.maxEvents.toLocaleString('en-US')} events / ${cap.maxBytes.toLocaleString('en-US')} bytes: narrow the filter or the range, or raise maxEvents/maxBytes (up to rehydrate.maxEvents/maxBytes)`;
      return r;
    }
    if (!this.indexer) {
      r.status = 'failed';
      r.hint = 'no indexer is configured (indexer.url)';
      return r;
    }
    let failed = 0;
    for (const s of r.spans) {
      const res = await this.load(input.env, Date.parse(s.from), Date.parse(s.to), filter?.text ?? '');
      Object.assign(s, res);
      if (s.error) failed++;
    }
    this.metrics.rehydrations.inc({ outcome: failed ? 'failed' : 'started' });
    r.status = failed ? 'failed' : r.spans.every((s) => s.status === 'loading' || s.status === 'queued') && r.spans.some((s) => s.status === 'loading') ? 'loading' : 'started';
    r.hint = failed ? 'the indexer did not take every load (spans[].error); ask again later' : 'loading: ask again (the same query and range) for the complete answer';
    return r;
  }

  private cap(input: QueryInput): { maxEvents: number; maxBytes: number } {
    const o = this.opts.rehydrate;
    return { maxEvents: Math.min(input.maxEvents ?? o.maxEvents, o.maxEvents), maxBytes: Math.min(input.maxBytes ?? o.maxBytes, o.maxBytes) };
  }

  /** One load through the indexer's API. A 409 (the range was loaded with another filter) moves the end by a second. */
  private async load(env: string, fromMs: number, toMs: number, filter: string): Promise<Partial<RehydrationSpan>> {
    const indexer = this.indexer as IndexerClient;
    for (let extra = 0; extra < 4; extra++) {
      let res;
      try {
        res = await indexer.load({
          env,
          start: Math.floor(fromMs / 1000),
          end: Math.ceil(toMs / 1000) + extra,
          filter,
          ...(this.opts.rehydrate.ttlHours ? { ttlHours: this.opts.rehydrate.ttlHours } : {}),
        });
      } catch (e) {
        this.logger.warn('the indexer could not be reached', { error: e });
        return { error: 'the indexer could not be reached' };
      }
      if (res.status === 202) return { index: String(res.body.index), status: String(res.body.status), progress: res.body.progress };
      if (res.status === 409) continue;
      const message = typeof res.body.message === 'string' ? res.body.message : `HTTP ${res.status}`;
      return { error: `the indexer answered ${res.status}: ${message}` };
    }
    return { error: 'the indexer holds this range loaded with other filters' };
  }

  /**
   * NDJSON export: every matching event (or stats row) as one JSON line, read page by page from a
   * point in time, the next page fetched only when the consumer has taken the last (backpressure).
   * At most `api.maxExportEvents` events, or the text's own `| limit`.
   */
  async *exportLines(input: QueryInput, signal?: AbortSignal): AsyncGenerator<string> {
    const now = Date.now();
    const { recent, history, catalogue } = await this.indices(input.env);
    const pageSize = Math.min(1_000, this.opts.maxLimit);
    const plan = this.plan(input, catalogue, now, pageSize);
    const range = plan.range as NonNullable<QueryPlan['range']>;
    const push = this.pushDown(input.query);
    const coverage = planCoverage(
      range.fromMs,
      range.toMs,
      recent,
      history.filter((h) => historyUsable(h, push.same)),
    );
    const request = translatePlan(plan, this.search.engine);
    const { index, query } = this.target(input.env, coverage.assignments, (request.query ?? { match_all: {} }) as Json);
    await this.visible(coverage.assignments.keys());
    if (!recent.length && !coverage.assignments.size) {
      const res = evaluateQuery(plan, []);
      if (res.kind === 'stats') for (const row of res.rows) yield `${JSON.stringify(Object.fromEntries(res.columns.map((c, i) => [c.name, row[i]])))}\n`;
      return;
    }
    if (!plan.hits) {
      const res = readQueryResult(plan, await this.search.search({ ...request, index, query }));
      if (res.kind === 'stats') for (const row of res.rows) yield `${JSON.stringify(Object.fromEntries(res.columns.map((c, i) => [c.name, row[i]])))}\n`;
      return;
    }
    const ownLimit = input.query.commands.find((c) => c.type === 'limit');
    const max = Math.min(ownLimit && ownLimit.type === 'limit' ? ownLimit.n : (input.limit ?? this.opts.maxExportEvents), this.opts.maxExportEvents);
    if (!recent.length && !coverage.assignments.size) return;
    const keepAlive = `${this.opts.cursorKeepAliveSeconds}s`;
    const pit = await this.search.openPointInTime(index, keepAlive);
    let sent = 0;
    try {
      let after: unknown[] | undefined;
      let lastId: string | undefined;
      while (sent < max && !signal?.aborted) {
        const size = Math.min(pageSize, max - sent);
        const res = await this.search.search({ ...request, index, query, size, trackTotalHits: false, pit: { id: pit, keepAlive }, ...(after ? { searchAfter: after } : {}) });
        for (const h of res.hits) {
          // Copies of one event sort next to each other (the id is the last sort key): drop a repeat.
          if (h.id === lastId) continue;
          lastId = h.id;
          sent++;
          this.metrics.exported.inc();
          yield `${JSON.stringify(h.source)}\n`;
          if (sent >= max) break;
        }
        after = res.hits[res.hits.length - 1]?.sort;
        if (!after || res.hits.length < size) break;
      }
    } finally {
      await this.search.closePointInTime(pit).catch(() => undefined);
    }
  }

  /**
   * `GET /v1/fields`: every field of the env's indices with its type, and for keyword fields that
   * aggregate, their most frequent values over the range (default the last hour).
   */
  async fields(envParam: string | undefined, range: TimeRangeInput, top: number): Promise<unknown> {
    const env = this.env(envParam);
    const { catalogue } = await this.indices(env);
    const plan = planQuery(parseQuery(''), catalogue, { range: Object.keys(range).length ? range : { from: '-1h' }, defaultHits: 1 });
    const request = translatePlan(plan, this.search.engine);
    const names = [...catalogue.fields.entries()].filter(([, f]) => f.type !== 'object').sort(([a], [b]) => (a < b ? -1 : 1));
    const withTop = names
      .filter(([, f]) => f.type === 'keyword' && f.aggregatable !== false && !f.conflicting)
      .slice(0, 50)
      .map(([n]) => n);
    const aggs: Json = {};
    withTop.forEach((n, i) => (aggs[`f${i}`] = { terms: { field: n, size: top } }));
    const res = top > 0 && withTop.length ? await this.search.search({ index: `logs-${env}-*`, query: request.query ?? { match_all: {} }, size: 0, trackTotalHits: true, aggs }) : undefined;
    const topOf = new Map<string, Array<{ value: unknown; count: number }>>();
    withTop.forEach((n, i) => {
      const b = ((res?.aggregations?.[`f${i}`] as Json | undefined)?.buckets ?? []) as Array<{ key: unknown; doc_count: number }>;
      topOf.set(
        n,
        b.map((x) => ({ value: x.key, count: x.doc_count })),
      );
    });
    return {
      env,
      range: { from: iso((plan.range as NonNullable<QueryPlan['range']>).fromMs), to: iso((plan.range as NonNullable<QueryPlan['range']>).toMs) },
      events: res?.total.value,
      aliases: catalogue.aliases,
      fields: names.map(([name, f]) => ({
        name,
        type: f.type,
        ...(f.mappingType ? { mappingType: f.mappingType } : {}),
        searchable: f.searchable !== false,
        aggregatable: f.aggregatable !== false && f.type !== 'text' && f.type !== 'flattened',
        ...(f.conflicting ? { conflicting: f.conflicting } : {}),
        ...(topOf.has(name) ? { top: topOf.get(name) } : {}),
      })),
    };
  }
}

/** Hits with an id seen before in the page dropped (the same event in two indices: defence in depth). */
function dedupe(hits: Hit[]): Hit[] {
  const seen = new Set<string>();
  return hits.filter((h) => (seen.has(h.id) ? false : (seen.add(h.id), true)));
}

const iso = (ms: number) => new Date(ms).toISOString();
