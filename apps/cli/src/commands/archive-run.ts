import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { partReaderIo } from '@backlog/adapter-bz2';
import { type S3Port, partStoreOf } from '@backlog/adapter-s3';
import { type ArchivePart, type ArchiveProblem, isArchivePartError, listArchiveParts, readPartEvents } from '@backlog/core-codec';
import type { ArchiveFilter } from '@backlog/core-query';

/**
 * What `backlog archive export` and `backlog archive replay` share (docs/specs/archive.md,
 * "Readers"): the checkpoint file that makes a run resumable part by part, reading parts
 * in window order with a small read-ahead, and the progress line.
 */

// ---- checkpoint ---------------------------------------------------------------------------------

/** What identifies a run: a checkpoint of another run is refused rather than silently mixed in. */
export interface RunIdentity {
  op: 'export' | 'replay';
  env: string;
  /** ISO 8601. */
  from: string;
  to: string;
  filter: string;
  /** replay: the target topic. */
  topic?: string;
  /** export: the output file (absolute), or '-' for stdout. */
  out?: string;
}

export interface FinishedPart {
  events: number;
  /** export to a file: the file's length once this part was written (and synced). */
  outBytes?: number;
}

export interface Checkpoint extends RunIdentity {
  v: 1;
  /** Finished parts by object key. */
  done: Record<string, FinishedPart>;
  /** export to a file: the file's length after the last finished part; a resumed run truncates back to it. */
  outBytes: number;
  /** Parts skipped as corrupt with --skip-corrupt (not retried on resume). */
  skipped: Record<string, string>;
  updatedAt: string;
}

/** `.backlog/archive/<op>-<env>-<from36>-<to36>[-<topic>].json` (times as epoch seconds in base36). */
export function defaultStatePath(root: string, id: { op: string; env: string; fromMs: number; toMs: number; topic?: string }): string {
  const b36 = (ms: number) => Math.floor(ms / 1000).toString(36);
  const topic = id.topic ? `-${id.topic.replace(/[^A-Za-z0-9._-]/g, '_')}` : '';
  return join(root, '.backlog', 'archive', `${id.op}-${id.env}-${b36(id.fromMs)}-${b36(id.toMs)}${topic}.json`);
}

export class CheckpointStore {
  private constructor(
    readonly path: string,
    readonly state: Checkpoint,
    readonly resumed: boolean,
  ) {}

  /**
   * Opens the checkpoint at `path`: a fresh one when there is none or `restart` is set; the stored
   * one when it belongs to the same run; an error naming the difference otherwise.
   */
  static open(path: string, id: RunIdentity, restart: boolean): CheckpointStore {
    const fresh = (): Checkpoint => ({ v: 1, ...id, done: {}, outBytes: 0, skipped: {}, updatedAt: new Date().toISOString() });
    if (restart) return new CheckpointStore(path, fresh(), false);
    let text: string;
    try {
      text = readFileSync(path, 'utf8');
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ENOENT') return new CheckpointStore(path, fresh(), false);
      throw e;
    }
    let cp: Checkpoint;
    try {
      cp = JSON.parse(text) as Checkpoint;
    } catch (e) {
      throw new Error(`state file ${path} is not JSON (${(e as Error).message}); use --restart to start over`);
    }
    if (cp.v !== 1 || typeof cp.done !== 'object' || cp.done === null) throw new Error(`state file ${path}: unknown format; use --restart to start over`);
    const diffs = (Object.keys(id) as (keyof RunIdentity)[]).filter((k) => (cp[k] ?? '') !== (id[k] ?? '')).map((k) => `${k} ${JSON.stringify(cp[k] ?? '')} ≠ ${JSON.stringify(id[k] ?? '')}`);
    if (diffs.length) throw new Error(`state file ${path} belongs to another run (${diffs.join(', ')}); use --restart to start over or --state FILE`);
    cp.skipped ??= {};
    cp.outBytes ??= 0;
    return new CheckpointStore(path, cp, Object.keys(cp.done).length > 0 || Object.keys(cp.skipped).length > 0);
  }

  isDone(key: string): boolean {
    return key in this.state.done || key in this.state.skipped;
  }

  finish(key: string, part: FinishedPart): void {
    this.state.done[key] = part;
    if (part.outBytes !== undefined) this.state.outBytes = part.outBytes;
    this.save();
  }

  skip(key: string, reason: string): void {
    this.state.skipped[key] = reason;
    this.save();
  }

  /** Atomic: a crash leaves the old or the new file, never half of one. */
  save(): void {
    this.state.updatedAt = new Date().toISOString();
    mkdirSync(dirname(this.path), { recursive: true });
    const tmp = `${this.path}.${process.pid}.tmp`;
    writeFileSync(tmp, JSON.stringify(this.state, null, 1) + '\n');
    renameSync(tmp, this.path);
  }
}

// ---- the parts of a run -------------------------------------------------------------------------

export interface RunPlan {
  parts: ArchivePart[];
  /** Parts left out because the filter cannot match them (manifest facets). */
  filteredOut: number;
  windows: number;
  windowsWithoutParts: string[];
  problems: ArchiveProblem[];
  totalBytes: number;
  totalEvents: number;
}

export async function planRun(s3: S3Port, env: string, fromMs: number, toMs: number, filter: Pick<ArchiveFilter, 'mayMatchPart'>): Promise<RunPlan> {
  const l = await listArchiveParts(partStoreOf(s3), env, fromMs, toMs);
  const parts = l.parts.filter((p) => filter.mayMatchPart(p.manifest));
  return {
    parts,
    filteredOut: l.parts.length - parts.length,
    windows: l.windows.length,
    windowsWithoutParts: l.windowsWithoutParts,
    problems: l.problems,
    totalBytes: parts.reduce((a, p) => a + p.manifest.compressedBytes, 0),
    totalEvents: parts.reduce((a, p) => a + p.manifest.count, 0),
  };
}

/** A part being read: its batches, or the reason it could not be read. */
export interface OpenedPart {
  part: ArchivePart;
  batches: AsyncIterable<string[]>;
}

/**
 * Reads `parts` in order with up to `ahead` further parts already downloading and verifying (each is
 * fully checked before its first batch, so reading ahead overlaps S3 and bunzip2 with the writer).
 * Yields each part with an iterable of its batches; a part that fails verification yields its
 * error instead. The caller must consume or abandon one part before asking for the next.
 */
export async function* readInOrder(
  s3: S3Port,
  parts: readonly ArchivePart[],
  opts: { fromMs: number; toMs: number; ahead: number; batchLines?: number; onBytes?: (n: number) => void },
): AsyncGenerator<{ part: ArchivePart; batches?: AsyncIterable<string[]>; error?: Error }> {
  type Started = { part: ArchivePart; it: AsyncGenerator<string[]>; first: Promise<IteratorResult<string[]>> };
  const io = partReaderIo(partStoreOf(s3));
  const start = (part: ArchivePart): Started => {
    const it = readPartEvents(io, part, { fromMs: opts.fromMs, toMs: opts.toMs, batchLines: opts.batchLines, onBytes: opts.onBytes });
    const first = it.next();
    first.catch(() => undefined); // awaited below; no unhandled rejection while it waits its turn
    return { part, it, first };
  };
  const queue: Started[] = [];
  let next = 0;
  try {
    while (queue.length || next < parts.length) {
      while (next < parts.length && queue.length <= opts.ahead) queue.push(start(parts[next++] as ArchivePart));
      const cur = queue.shift() as Started;
      let first: IteratorResult<string[]>;
      try {
        first = await cur.first;
      } catch (e) {
        yield { part: cur.part, error: e as Error };
        continue;
      }
      const batches = (async function* () {
        if (first.done) return;
        yield first.value;
        for (;;) {
          const r = await cur.it.next();
          if (r.done) return;
          yield r.value;
        }
      })();
      yield { part: cur.part, batches };
      await cur.it.return(undefined);
    }
  } finally {
    for (const q of queue) {
      // Let a started read finish its cleanup (temp files) before leaving.
      await q.first.catch(() => undefined);
      await q.it.return(undefined).catch(() => undefined);
    }
  }
}

/** A corrupt or unreadable part: the codes of ArchivePartError plus the listing's problems. */
export interface BadPart {
  code: string;
  key: string;
  message: string;
}

export function badPartOf(part: ArchivePart, e: Error): BadPart | undefined {
  if (isArchivePartError(e)) return { code: e.code, key: part.key, message: e.message };
  return undefined;
}

// ---- progress -----------------------------------------------------------------------------------

export function humanBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let i = 0;
  let v = n;
  while (v >= 1024 && i < units.length - 1) {
    v /= 1024;
    i++;
  }
  return `${i === 0 ? v : v.toFixed(1)} ${units[i]}`;
}

export function humanDuration(s: number): string {
  if (!Number.isFinite(s) || s < 0) return '--:--';
  const t = Math.round(s);
  const h = Math.floor(t / 3600);
  const m = Math.floor((t % 3600) / 60);
  const sec = t % 60;
  const two = (x: number) => String(x).padStart(2, '0');
  return h ? `${h}:${two(m)}:${two(sec)}` : `${two(m)}:${two(sec)}`;
}

/** Counters of a run and the progress line (drawn on stderr when it is a TTY, at most 5 times a second). */
export class Progress {
  parts = 0;
  events = 0;
  bytes = 0;
  private readonly started = Date.now();
  private drawn = 0;

  constructor(
    private readonly totalParts: number,
    private readonly totalBytes: number,
    private readonly out: NodeJS.WriteStream | undefined,
    /** Bytes already done by an earlier run (resume), so the ETA only counts what is left. */
    private readonly alreadyBytes = 0,
  ) {}

  line(now = Date.now()): string {
    const s = Math.max((now - this.started) / 1000, 0.001);
    const rate = this.events / s;
    const byteRate = this.bytes / s;
    const left = this.totalBytes - this.alreadyBytes - this.bytes;
    const eta = byteRate > 0 ? left / byteRate : Infinity;
    return `parts ${this.parts}/${this.totalParts}  events ${this.events.toLocaleString('en-US')}  ${humanBytes(this.bytes)}/${humanBytes(Math.max(0, this.totalBytes - this.alreadyBytes))}  ${Math.round(rate).toLocaleString('en-US')} ev/s  ETA ${humanDuration(eta)}`;
  }

  tick(force = false): void {
    if (!this.out) return;
    const now = Date.now();
    if (!force && now - this.drawn < 200) return;
    this.drawn = now;
    this.out.write(`\r\x1b[2K${this.line(now)}`);
  }

  end(): void {
    if (!this.out) return;
    this.tick(true);
    this.out.write('\n');
  }

  elapsedMs(): number {
    return Date.now() - this.started;
  }
}

// ---- a run's options, bookkeeping and summary -------------------------------------------------------

/** What export and replay both take. */
export interface RunOptions {
  env: string;
  fromMs: number;
  toMs: number;
  /** `--filter` (the query language, or the older forms translated): its text is part of the run's identity. */
  filter: ArchiveFilter;
  /** Checkpoint file; default `.backlog/archive/<op>-<env>-<from36>-<to36>[-<topic>].json` under `root`. */
  statePath?: string;
  root: string;
  restart?: boolean;
  /** Record corrupt parts as skipped (exit 0, not retried on resume) instead of failing the run at the end. */
  skipCorrupt?: boolean;
  /** Parts downloading and verifying ahead of the one being written. Default 2. */
  ahead?: number;
  /** Progress line target (a TTY), or undefined for none. */
  progress?: NodeJS.WriteStream;
  /** Set to true (e.g. by SIGINT) to stop after the part being written. */
  stopping?: { requested: boolean };
}

/** What export and replay print at the end (JSON), and what decides the exit status. */
export interface RunSummary {
  op: 'export' | 'replay';
  env: string;
  from: string;
  to: string;
  filter: string;
  out?: string;
  topic?: string;
  state?: string;
  resumed: boolean;
  windows: number;
  windowsWithoutParts: string[];
  parts: number;
  partsDone: number;
  partsAlreadyDone: number;
  partsFilteredOut: number;
  events: number;
  bytes: number;
  /** replay: records produced by this run. */
  records?: number;
  /** Corrupt or unreadable parts (this run); with --skip-corrupt also those skipped by an earlier run. */
  corrupt: BadPart[];
  /** Listing problems: parts without manifest, manifests without part or unparseable. */
  problems: BadPart[];
  skippedCorrupt: boolean;
  stopped: boolean;
  elapsedMs: number;
  /** true when every part of the range was delivered (or knowingly skipped with --skip-corrupt). */
  ok: boolean;
}

/** Exit status of a finished run: 0 complete, 3 finished but parts are missing (corrupt/unreadable), 130 stopped. */
export function exitCodeOf(s: RunSummary): number {
  if (s.stopped) return 130;
  return s.ok ? 0 : 3;
}

/**
 * The part bookkeeping export and replay share: which parts are left to do (those the checkpoint
 * does not hold), the progress counters, corrupt parts, finished parts, and the summary at the end.
 * `cp` is absent for an export to stdout without --state.
 */
export class RunTracker {
  readonly todo: ArchivePart[];
  readonly progress: Progress;
  readonly partsAlreadyDone: number;
  readonly corrupt: BadPart[] = [];
  finishedHere = 0;
  stopped = false;

  constructor(
    readonly plan: RunPlan,
    private readonly cp: CheckpointStore | undefined,
    private readonly opts: { progress?: NodeJS.WriteStream; skipCorrupt?: boolean },
  ) {
    this.todo = plan.parts.filter((p) => !cp?.isDone(p.key));
    const alreadyBytes = plan.parts.filter((p) => cp?.isDone(p.key)).reduce((a, p) => a + p.manifest.compressedBytes, 0);
    this.progress = new Progress(plan.parts.length, plan.totalBytes, opts.progress, alreadyBytes);
    this.progress.parts = plan.parts.length - this.todo.length;
    this.partsAlreadyDone = this.progress.parts;
  }

  /**
   * The parts left to do, in order, read ahead (readInOrder), their bytes counted in the progress line:
   * each with its batches, or as a corrupt part (`bad`). Ends early, `stopped`, once `stopping` is requested.
   */
  async *read(
    s3: S3Port,
    opts: { fromMs: number; toMs: number; ahead?: number; stopping?: { requested: boolean } },
  ): AsyncGenerator<{ part: ArchivePart; batches?: AsyncIterable<string[]>; bad?: BadPart }> {
    const parts = readInOrder(s3, this.todo, {
      fromMs: opts.fromMs,
      toMs: opts.toMs,
      ahead: opts.ahead ?? 2,
      onBytes: (n) => {
        this.progress.bytes += n;
        this.progress.tick();
      },
    });
    for await (const r of parts) {
      if (opts.stopping?.requested) {
        this.stopped = true;
        return;
      }
      yield r.error ? { part: r.part, bad: this.badPart(r.part, r.error) } : { part: r.part, ...(r.batches ? { batches: r.batches } : {}) };
    }
  }

  /** A part's error as a corrupt part; anything else (S3 unreachable, disk full…) is rethrown: fatal, the checkpoint holds what is done. */
  badPart(part: ArchivePart, e: Error): BadPart {
    const bad = badPartOf(part, e);
    if (!bad) throw e;
    return bad;
  }

  /** Reports a corrupt part on the progress stream; with --skip-corrupt the checkpoint records it as skipped. */
  corruptPart(bad: BadPart): void {
    this.corrupt.push(bad);
    this.opts.progress?.write(`\r\x1b[2K${bad.code} ${bad.key}: ${bad.message}\n`);
    if (this.opts.skipCorrupt) this.cp?.skip(bad.key, `${bad.code}: ${bad.message}`);
  }

  /** A part delivered (written and synced, or every record acknowledged): checkpointed and counted. */
  partDone(key: string, part: FinishedPart): void {
    this.cp?.finish(key, part);
    this.finishedHere++;
    this.progress.parts++;
    this.progress.tick();
  }

  /** The summary; `target` is `{ out }` or `{ topic }`, `extra` what only one kind of run counts. */
  summary(identity: RunIdentity, target: { out: string } | { topic: string }, state: { state?: string }, extra: { records?: number } = {}): RunSummary {
    const cp = this.cp;
    const earlierSkipped = cp
      ? Object.entries(cp.state.skipped)
          .filter(([k]) => !this.corrupt.some((c) => c.key === k))
          .map(([key, why]) => ({ code: why.split(':')[0] as string, key, message: why }))
      : [];
    const allCorrupt = [...this.corrupt, ...earlierSkipped];
    const problems: BadPart[] = this.plan.problems.map((p) => ({ ...p }));
    const skipCorrupt = this.opts.skipCorrupt ?? false;
    return {
      op: identity.op,
      env: identity.env,
      from: identity.from,
      to: identity.to,
      filter: identity.filter,
      ...target,
      ...state,
      resumed: cp?.resumed ?? false,
      windows: this.plan.windows,
      windowsWithoutParts: this.plan.windowsWithoutParts,
      parts: this.plan.parts.length,
      partsDone: this.finishedHere,
      partsAlreadyDone: this.partsAlreadyDone,
      partsFilteredOut: this.plan.filteredOut,
      events: this.progress.events,
      bytes: this.progress.bytes,
      ...extra,
      corrupt: allCorrupt,
      problems,
      skippedCorrupt: skipCorrupt,
      stopped: this.stopped,
      elapsedMs: this.progress.elapsedMs(),
      ok: !this.stopped && (skipCorrupt ? true : allCorrupt.length === 0 && problems.length === 0),
    };
  }
}

/** A UUID-shaped id derived from `text`: the same part replayed again carries the same batch ids. */
export function stableUuid(text: string): string {
  const h = createHash('sha256').update(text).digest('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-5${h.slice(13, 16)}-a${h.slice(17, 20)}-${h.slice(20, 32)}`;
}

/**
 * Test hook: `BACKLOG_TEST_ARCHIVE_STALL_AFTER_PARTS=N` makes export/replay stop making progress after
 * N finished parts and one batch of the next, so a fault test can kill the process at that exact
 * point. Unset in normal use.
 */
export function stallAfterParts(): number | undefined {
  const v = process.env.BACKLOG_TEST_ARCHIVE_STALL_AFTER_PARTS;
  return v && /^\d+$/.test(v) ? Number(v) : undefined;
}

export function stallForever(): Promise<never> {
  process.stderr.write('archive: test hook BACKLOG_TEST_ARCHIVE_STALL_AFTER_PARTS reached, stalled\n');
  return new Promise<never>(() => setInterval(() => undefined, 60_000));
}
