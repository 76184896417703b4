import type { JobDoc, PartCheckpoint, PartProgress, PlanProblem, PlanSummary } from './jobs';

export type JobStatus = 'queued' | 'loading' | 'done' | 'partial' | 'failed';

/** What `GET /v1/history/:index` and `backlog history load` show. */
export interface JobView {
  index: string;
  env: string;
  start: string;
  end: string;
  /** The filter's canonical text (query language; '' = every event). */
  filter: string;
  maxEvents?: number;
  status: JobStatus;
  createdAt: string;
  requestedAt: string;
  expiresAt: string;
  progress: {
    parts: { total: number; done: number; failed: number; loading: number };
    /** planned: from the manifests (before the filter); read: in range; indexed: created; already: were there; filtered: rejected by the filter. */
    events: { planned: number; read: number; indexed: number; already: number; filtered: number; rejected: number };
    bytes: { planned: number; read: number };
    /** Events read per second since the load started. */
    rate: number;
    /** Seconds left at that rate, or null when unknown. */
    etaSeconds: number | null;
  };
  /** One entry per failed part, with its reason. */
  failures: { part: string; key: string; code: string; reason: string }[];
  problems: PlanProblem[];
  windows: number;
  windowsWithoutParts: string[];
  skippedByFilter: number;
  truncatedAt?: string;
  restored?: boolean;
  /** Why the plan could not be made (S3 unreachable, …). */
  error?: string;
}

export interface JobRuntime {
  planError?: string;
}

const iso = (ms: number) => new Date(ms).toISOString();

/** The job's status from its plan and checkpoints (docs/specs/indexer.md, "Status"). Pure. */
export function jobView(job: JobDoc, plan: PlanSummary | undefined, cps: Record<string, PartCheckpoint>, prog: Record<string, PartProgress>, rt: JobRuntime = {}, nowMs = Date.now()): JobView {
  const parts = plan?.parts ?? [];
  let done = 0;
  let failed = 0;
  let loading = 0;
  const ev = { planned: 0, read: 0, indexed: 0, already: 0, filtered: 0, rejected: 0 };
  const bytes = { planned: 0, read: 0 };
  const failures: JobView['failures'] = [];
  let firstAt = Infinity;
  let lastAt = -Infinity;
  for (const p of parts) {
    ev.planned += p.events;
    bytes.planned += p.bytes;
    const cp = cps[p.id];
    if (cp) {
      if (cp.state === 'done') done++;
      else {
        failed++;
        failures.push({ part: p.id, key: p.key, code: cp.code ?? 'FAILED', reason: cp.reason ?? 'failed' });
      }
      ev.read += cp.read;
      ev.indexed += cp.indexed;
      ev.already += cp.already;
      ev.filtered += cp.filtered;
      ev.rejected += cp.rejected;
      bytes.read += cp.state === 'done' ? p.bytes : cp.bytes;
      if (cp.startedAt) firstAt = Math.min(firstAt, cp.startedAt);
      lastAt = Math.max(lastAt, cp.at);
      continue;
    }
    const pg = prog[p.id];
    if (pg) {
      loading++;
      ev.read += pg.read;
      ev.indexed += pg.indexed;
      bytes.read += pg.bytes;
      firstAt = Math.min(firstAt, pg.startedAt);
      lastAt = Math.max(lastAt, pg.at);
    }
  }
  let status: JobStatus;
  if (!plan) status = rt.planError ? 'failed' : job.restored ? 'partial' : 'queued';
  else if (done + failed === parts.length) status = failed === 0 ? 'done' : done === 0 ? 'failed' : 'partial';
  else status = loading > 0 || done + failed > 0 ? 'loading' : 'queued';

  const finished = status === 'done' || status === 'partial' || status === 'failed';
  const until = finished && Number.isFinite(lastAt) ? lastAt : nowMs;
  const secs = Number.isFinite(firstAt) ? Math.max(0.001, (until - firstAt) / 1000) : 0;
  const rate = secs > 0 ? ev.read / secs : 0;
  const left = Math.max(0, ev.planned - ev.read);
  const view: JobView = {
    index: job.index,
    env: job.env,
    start: iso(job.fromMs),
    end: iso(job.toMs),
    filter: job.filter,
    status,
    createdAt: iso(job.createdAt),
    requestedAt: iso(job.requestedAt),
    expiresAt: iso(job.expiresAt),
    progress: {
      parts: { total: parts.length, done, failed, loading },
      events: ev,
      bytes,
      rate: Math.round(rate),
      etaSeconds: finished ? 0 : rate > 0 ? Math.ceil(left / rate) : null,
    },
    failures,
    problems: plan?.problems ?? [],
    windows: plan?.windows ?? 0,
    windowsWithoutParts: plan?.windowsWithoutParts ?? [],
    skippedByFilter: plan?.skippedByFilter ?? 0,
  };
  if (job.maxEvents !== undefined) view.maxEvents = job.maxEvents;
  if (plan?.truncatedAtMs !== undefined) view.truncatedAt = iso(plan.truncatedAtMs);
  if (job.restored) view.restored = true;
  if (rt.planError) view.error = rt.planError;
  return view;
}
