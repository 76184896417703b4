import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, renameSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { type ArchivePart, type ArchiveProblem, type S3Port, isArchivePartError, listArchiveParts, readPartEvents } from '@backlog/adapter-s3';
import type { PartManifest } from '@backlog/core-codec';

/**
 * What `backlog archive export` and `backlog archive replay` share (docs/specs/archive.md,
 * "Readers"): the filter, the checkpoint file that makes a run resumable part by part, reading parts
 * in window order with a small read-ahead, and the progress line.
 */

// ---- filter -------------------------------------------------------------------------------------

/**
 * Which events to keep. Every given field must match: `host`, `service`, `level` — the event's
 * `host.name` / `service.name` / `log.level` is one of the values (level case-insensitive);
 * `message` — every term is a case-insensitive substring of `message`. Same syntax as
 * `backlog history load --filter`.
 */
export interface EventFilter {
  host?: string[];
  service?: string[];
  level?: string[];
  message?: string[];
}

const FILTER_KEYS = ['host', 'service', 'level', 'message'] as const;

/** `--filter host=web-1,web-2 --filter level=error --filter message~timeout`. Throws naming the bad argument. */
export function parseFilterArgs(args: readonly string[]): EventFilter {
  const out: EventFilter = {};
  for (const arg of args) {
    const m = /^([a-z]+)(=|~)(.*)$/s.exec(arg);
    if (!m) throw new Error(`--filter ${JSON.stringify(arg)}: expected key=value[,value…] (host, service, level) or message~text`);
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (!(FILTER_KEYS as readonly string[]).includes(key)) throw new Error(`--filter ${JSON.stringify(arg)}: unknown key ${key} (host, service, level, message)`);
    if (key === 'message') {
      if (op !== '~') throw new Error(`--filter ${JSON.stringify(arg)}: message takes ~ (substring), e.g. message~timeout`);
      if (!value) throw new Error(`--filter ${JSON.stringify(arg)}: empty text`);
      (out.message ??= []).push(value.toLowerCase());
      continue;
    }
    if (op !== '=') throw new Error(`--filter ${JSON.stringify(arg)}: ${key} takes = (exact values), e.g. ${key}=a,b`);
    const values = value.split(',').map((v) => v.trim());
    if (values.some((v) => !v)) throw new Error(`--filter ${JSON.stringify(arg)}: empty value`);
    const k = key as 'host' | 'service' | 'level';
    out[k] = [...new Set([...(out[k] ?? []), ...values.map((v) => (k === 'level' ? v.toLowerCase() : v))])].sort();
  }
  if (out.message) out.message = [...new Set(out.message)].sort();
  return out;
}

export function isEmptyFilter(f: EventFilter): boolean {
  return !f.host && !f.service && !f.level && !f.message;
}

/** `host=a,b level=error message~x`: stable, so a checkpoint can tell whether a rerun asks for the same thing. */
export function filterText(f: EventFilter): string {
  const parts: string[] = [];
  for (const k of ['host', 'service', 'level'] as const) if (f[k]) parts.push(`${k}=${(f[k] as string[]).join(',')}`);
  for (const t of f.message ?? []) parts.push(`message~${t}`);
  return parts.join(' ');
}

const str = (o: unknown, k: string): string | undefined => {
  const v = o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
  return typeof v === 'string' ? v : undefined;
};

export function eventMatches(f: EventFilter, ev: Record<string, unknown>): boolean {
  if (f.host) {
    const h = str(ev.host, 'name');
    if (h === undefined || !f.host.includes(h)) return false;
  }
  if (f.service) {
    const s = str(ev.service, 'name');
    if (s === undefined || !f.service.includes(s)) return false;
  }
  if (f.level) {
    const l = str(ev.log, 'level');
    if (l === undefined || !f.level.includes(l.toLowerCase())) return false;
  }
  if (f.message) {
    const m = typeof ev.message === 'string' ? ev.message.toLowerCase() : undefined;
    if (m === undefined) return false;
    for (const t of f.message) if (!m.includes(t)) return false;
  }
  return true;
}

/** False when the manifest's distinct hosts/services/levels prove no event of the part can match. */
export function partMayMatch(f: EventFilter, m: Pick<PartManifest, 'hosts' | 'services' | 'levels'>): boolean {
  if (f.host && !m.hosts.some((h) => (f.host as string[]).includes(h))) return false;
  if (f.service && !m.services.some((s) => (f.service as string[]).includes(s))) return false;
  if (f.level && !m.levels.some((l) => (f.level as string[]).includes(l.toLowerCase()))) return false;
  return true;
}

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

export async function planRun(s3: S3Port, env: string, fromMs: number, toMs: number, filter: EventFilter): Promise<RunPlan> {
  const l = await listArchiveParts(s3, env, fromMs, toMs);
  const parts = l.parts.filter((p) => partMayMatch(filter, p.manifest));
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
  const start = (part: ArchivePart): Started => {
    const it = readPartEvents(s3, part, { fromMs: opts.fromMs, toMs: opts.toMs, batchLines: opts.batchLines, onBytes: opts.onBytes });
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
