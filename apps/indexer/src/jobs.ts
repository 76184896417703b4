import type { RedisPort } from '@backlog/adapter-redis';
import { storedFilterText } from './request';

/**
 * Job state in Redis (docs/specs/indexer.md, "Job state"). All keys under the adapter's prefix
 * (`backlog:indexer:` by default):
 *
 *   <env>:history              SET   the env's history indices (list, reaper, resume)
 *   job:<index>                JSON  the request: range, filter, maxEvents, createdAt, requestedAt, expiresAt
 *   plan:<index>               JSON  the parts to load (written by whoever planned last; plans are deterministic)
 *   parts:<index>              HASH  part id → checkpoint {state: done|failed, counts, reason}
 *   progress:<index>           HASH  part id → counters of a part being loaded (for GET while loading)
 *   lock:<index>:<part id>     STR   owner token, SET NX PX lease, renewed by its holder
 *
 * A part id is `<window36>/p<partition>-<firstOffset>` (the c-<env> record key), the same whether the
 * part is read from S3 or from c-<env>. A checkpoint is written only after every document of the
 * part was acknowledged by the search engine, so "done" means done.
 */

export interface JobDoc {
  v: 1;
  index: string;
  env: string;
  fromMs: number;
  toMs: number;
  /** The filter's canonical text ('' = every event); an older job may hold the older object (read through `getJob`). */
  filter: string;
  maxEvents?: number;
  createdAt: number;
  /** Last time this load was requested (POST, CLI load, extend). */
  requestedAt: number;
  expiresAt: number;
  /** Rebuilt from the index `_meta` after Redis lost the job (part checkpoints are gone then). */
  restored?: boolean;
}

export interface PlannedPart {
  id: string;
  source: 's3' | 'kafka';
  /** S3 key of the object, or the c-<env> record key. */
  key: string;
  window: string;
  /** Events of the part's streams that overlap the range (an upper bound of what is loaded). */
  events: number;
  /** Compressed bytes read to load it. */
  bytes: number;
  minTs: number;
  maxTs: number;
}

export interface PlanProblem {
  code: string;
  key: string;
  message: string;
}

export interface PlanSummary {
  at: number;
  parts: PlannedPart[];
  windows: number;
  windowsWithoutParts: string[];
  /** Parts skipped because their manifest shows no host/service/level the filter accepts. */
  skippedByFilter: number;
  problems: PlanProblem[];
  /** With maxEvents: the load stops before this window start (epoch ms). */
  truncatedAtMs?: number;
}

export interface PartCheckpoint {
  state: 'done' | 'failed';
  /** Events of the part in the range that were read. */
  read: number;
  /** Created in the index. */
  indexed: number;
  /** Already there (409 on create: a second load of the same part, or a restarted one). */
  already: number;
  /** Rejected by the filter. */
  filtered: number;
  /** Refused by the search engine for good (mapping errors that could not be resolved). */
  rejected: number;
  bytes: number;
  code?: string;
  reason?: string;
  attempts: number;
  /** When loading of this part began and ended (epoch ms). */
  startedAt: number;
  at: number;
  by: string;
}

export interface PartProgress {
  read: number;
  indexed: number;
  bytes: number;
  startedAt: number;
  at: number;
  by: string;
}

const parse = <T>(s: string | null): T | undefined => (s ? (JSON.parse(s) as T) : undefined);

export class JobStore {
  constructor(
    readonly redis: RedisPort,
    /** How long Redis keeps a job's keys after it expires (the reaper normally deletes them first), ms. */
    private readonly keepAfterExpiryMs = 7 * 86_400_000,
  ) {}

  private ttlFor(expiresAt: number): number {
    return Math.max(60_000, expiresAt - Date.now() + this.keepAfterExpiryMs);
  }

  async getJob(index: string): Promise<JobDoc | undefined> {
    const job = parse<JobDoc>(await this.redis.get(`job:${index}`));
    return job && { ...job, filter: storedFilterText(job.filter) };
  }

  async putJob(job: JobDoc): Promise<void> {
    const ttlMs = this.ttlFor(job.expiresAt);
    await this.redis.set(`job:${job.index}`, JSON.stringify(job), { ttlMs });
    await this.redis.sAdd(`${job.env}:history`, job.index);
    // The other keys of the job live as long as the job.
    for (const k of [`plan:${job.index}`, `parts:${job.index}`, `progress:${job.index}`]) await this.redis.expire(k, ttlMs);
  }

  async indices(env: string): Promise<string[]> {
    return (await this.redis.sMembers(`${env}:history`)).sort();
  }

  async getPlan(index: string): Promise<PlanSummary | undefined> {
    return parse<PlanSummary>(await this.redis.get(`plan:${index}`));
  }

  async putPlan(job: JobDoc, plan: PlanSummary): Promise<void> {
    await this.redis.set(`plan:${job.index}`, JSON.stringify(plan), { ttlMs: this.ttlFor(job.expiresAt) });
  }

  async checkpoints(index: string): Promise<Record<string, PartCheckpoint>> {
    const raw = await this.redis.hGetAll(`parts:${index}`);
    const out: Record<string, PartCheckpoint> = {};
    for (const [k, v] of Object.entries(raw)) out[k] = JSON.parse(v) as PartCheckpoint;
    return out;
  }

  async checkpoint(index: string, partId: string): Promise<PartCheckpoint | undefined> {
    return parse<PartCheckpoint>(await this.redis.hGet(`parts:${index}`, partId));
  }

  async putCheckpoint(job: JobDoc, partId: string, cp: PartCheckpoint): Promise<void> {
    await this.redis.hSet(`parts:${job.index}`, partId, JSON.stringify(cp));
    await this.redis.expire(`parts:${job.index}`, this.ttlFor(job.expiresAt));
    await this.redis.hDel(`progress:${job.index}`, partId);
  }

  /** Forgets failed checkpoints so that a new request tries those parts again. */
  async clearFailed(index: string): Promise<number> {
    const all = await this.checkpoints(index);
    const failed = Object.entries(all)
      .filter(([, c]) => c.state === 'failed')
      .map(([k]) => k);
    return this.redis.hDel(`parts:${index}`, ...failed);
  }

  async progress(index: string): Promise<Record<string, PartProgress>> {
    const raw = await this.redis.hGetAll(`progress:${index}`);
    const out: Record<string, PartProgress> = {};
    for (const [k, v] of Object.entries(raw)) out[k] = JSON.parse(v) as PartProgress;
    return out;
  }

  async putProgress(job: JobDoc, partId: string, p: PartProgress): Promise<void> {
    await this.redis.hSet(`progress:${job.index}`, partId, JSON.stringify(p));
    await this.redis.expire(`progress:${job.index}`, this.ttlFor(job.expiresAt));
  }

  async clearProgress(index: string, partId: string): Promise<void> {
    await this.redis.hDel(`progress:${index}`, partId);
  }

  /** SET NX PX: true when this owner now holds the part. */
  lock(index: string, partId: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.redis.setNx(`lock:${index}:${partId}`, owner, { ttlMs: leaseMs });
  }

  /** Renews a lease this owner still holds; false when it was lost (expired, taken over). */
  renew(index: string, partId: string, owner: string, leaseMs: number): Promise<boolean> {
    return this.redis.expireIfEquals(`lock:${index}:${partId}`, owner, leaseMs);
  }

  release(index: string, partId: string, owner: string): Promise<boolean> {
    return this.redis.delIfEquals(`lock:${index}:${partId}`, owner);
  }

  async locked(index: string, partId: string): Promise<boolean> {
    return (await this.redis.get(`lock:${index}:${partId}`)) !== null;
  }

  /** Why the last plan failed (S3 unreachable, …); cleared by a successful plan. */
  async planError(index: string): Promise<string | undefined> {
    return (await this.redis.get(`error:${index}`)) ?? undefined;
  }

  async setPlanError(job: JobDoc, message: string | undefined): Promise<void> {
    if (message === undefined) await this.redis.del(`error:${job.index}`);
    else await this.redis.set(`error:${job.index}`, message, { ttlMs: this.ttlFor(job.expiresAt) });
  }

  /** Deletes every key of the job and removes it from its env's list. */
  async remove(env: string, index: string): Promise<void> {
    await this.redis.del(`job:${index}`, `plan:${index}`, `parts:${index}`, `progress:${index}`, `error:${index}`);
    await this.redis.sRem(`${env}:history`, index);
  }
}
