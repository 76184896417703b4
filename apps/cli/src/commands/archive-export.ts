import { type FileHandle, open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { S3Port } from '@backlog/adapter-s3';
import { type EventFilter, eventMatcher, filterText, isEmptyFilter } from '@backlog/core-codec';
import {
  type BadPart,
  CheckpointStore,
  Progress,
  badPartOf,
  defaultStatePath,
  planRun,
  readInOrder,
  stallAfterParts,
  stallForever,
} from './archive-run';

/**
 * `backlog archive export`: the events of [from, to) as NDJSON, windows in order and within a window
 * part by part (each part in @timestamp order), to a file or stdout. Resumable: the checkpoint holds
 * the finished parts and, for a file, its length after each one; a rerun truncates the file back to
 * that length (dropping the lines of a part that was being written) and goes on with the next part,
 * so a crash never duplicates nor loses a line.
 */

export interface ExportOptions {
  env: string;
  fromMs: number;
  toMs: number;
  /** A file path, or '-' for `stdout`. */
  out: string;
  filter: EventFilter;
  /** Checkpoint file; default `.backlog/archive/export-<env>-<from36>-<to36>.json` under `root`. Stdout exports keep one only when given. */
  statePath?: string;
  root: string;
  restart?: boolean;
  /** Record corrupt parts as skipped (exit 0, not retried on resume) instead of failing the run at the end. */
  skipCorrupt?: boolean;
  /** Parts downloading and verifying ahead of the one being written. Default 2. */
  ahead?: number;
  /** Where stdout exports go (tests); default process.stdout. */
  stdout?: Writable;
  /** Progress line target (a TTY), or undefined for none. */
  progress?: NodeJS.WriteStream;
  /** Set to true (e.g. by SIGINT) to stop after the part being written. */
  stopping?: { requested: boolean };
}

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

class FileOut {
  private pending: Buffer[] = [];
  private pendingBytes = 0;
  constructor(
    private readonly fh: FileHandle,
    public length: number,
  ) {}

  async write(text: string): Promise<void> {
    const b = Buffer.from(text);
    this.pending.push(b);
    this.pendingBytes += b.length;
    if (this.pendingBytes >= 1 << 20) await this.flush();
  }

  async flush(): Promise<void> {
    if (!this.pending.length) return;
    const buf = Buffer.concat(this.pending, this.pendingBytes);
    this.pending = [];
    this.pendingBytes = 0;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await this.fh.write(buf, off, buf.length - off, this.length);
      off += bytesWritten;
      this.length += bytesWritten;
    }
  }

  /** Flushed and on disk: only then may the checkpoint name this length. */
  async sync(): Promise<number> {
    await this.flush();
    await this.fh.datasync();
    return this.length;
  }

  async truncate(to: number): Promise<void> {
    this.pending = [];
    this.pendingBytes = 0;
    await this.fh.truncate(to);
    this.length = to;
  }

  close(): Promise<void> {
    return this.fh.close();
  }
}

function writeTo(stream: Writable, text: string): Promise<void> {
  return new Promise((res, rej) => {
    const ok = stream.write(text, (e) => (e ? rej(e) : undefined));
    if (ok) res();
    else stream.once('drain', res);
  });
}

export async function exportArchive(s3: S3Port, opts: ExportOptions): Promise<RunSummary> {
  const toFile = opts.out !== '-';
  const outPath = toFile ? resolve(opts.out) : '-';
  const identity = { op: 'export' as const, env: opts.env, from: new Date(opts.fromMs).toISOString(), to: new Date(opts.toMs).toISOString(), filter: filterText(opts.filter), out: outPath };
  const statePath = opts.statePath ? resolve(opts.statePath) : toFile ? defaultStatePath(opts.root, { op: 'export', env: opts.env, fromMs: opts.fromMs, toMs: opts.toMs }) : undefined;
  const cp = statePath ? CheckpointStore.open(statePath, identity, opts.restart ?? false) : undefined;

  let file: FileOut | undefined;
  if (toFile) {
    let size: number | undefined;
    try {
      size = (await stat(outPath)).size;
    } catch {
      size = undefined;
    }
    if (cp?.resumed) {
      if (size === undefined) throw new Error(`${outPath} is gone but ${cp.path} says ${Object.keys(cp.state.done).length} parts were written to it; use --restart to start over`);
      if (size < cp.state.outBytes) throw new Error(`${outPath} is ${size} bytes, shorter than the ${cp.state.outBytes} bytes ${cp.path} says were written; use --restart to start over`);
      file = new FileOut(await open(outPath, 'r+'), cp.state.outBytes);
      // Lines of a part that was being written when the last run stopped: dropped, that part is written again.
      await file.truncate(cp.state.outBytes);
    } else {
      file = new FileOut(await open(outPath, 'w'), 0);
    }
    cp?.save();
  }
  const stdout = opts.stdout ?? process.stdout;

  try {
    const plan = await planRun(s3, opts.env, opts.fromMs, opts.toMs, opts.filter);
    const todo = plan.parts.filter((p) => !cp?.isDone(p.key));
    const alreadyBytes = plan.parts.filter((p) => cp?.isDone(p.key)).reduce((a, p) => a + p.manifest.compressedBytes, 0);
    const progress = new Progress(plan.parts.length, plan.totalBytes, opts.progress, alreadyBytes);
    progress.parts = plan.parts.length - todo.length;
    const partsAlreadyDone = progress.parts;
    progress.events = 0;
    const corrupt: BadPart[] = [];
    const filtering = !isEmptyFilter(opts.filter);
    const matches = eventMatcher(opts.filter);
    const stall = stallAfterParts();
    let finishedHere = 0;
    let stopped = false;

    for await (const r of readInOrder(s3, todo, { fromMs: opts.fromMs, toMs: opts.toMs, ahead: opts.ahead ?? 2, onBytes: (n) => { progress.bytes += n; progress.tick(); } })) {
      if (opts.stopping?.requested) {
        stopped = true;
        break;
      }
      const fail = (e: Error): BadPart => {
        const bad = badPartOf(r.part, e);
        if (!bad) throw e; // S3 unreachable, disk full…: fatal, the checkpoint holds what is done
        return bad;
      };
      let bad: BadPart | undefined = r.error ? fail(r.error) : undefined;
      let events = 0;
      if (!bad && r.batches) {
        try {
          let batchNo = 0;
          for await (const batch of r.batches) {
            let text = '';
            let n = 0;
            for (const line of batch) {
              if (filtering && !matches(JSON.parse(line) as Record<string, unknown>)) continue;
              text += line + '\n';
              n++;
            }
            if (file) await file.write(text);
            else if (text) await writeTo(stdout, text);
            events += n;
            progress.events += n;
            progress.tick();
            if (stall !== undefined && finishedHere === stall && ++batchNo === 1) {
              if (file) await file.sync();
              await stallForever();
            }
          }
        } catch (e) {
          bad = fail(e as Error);
          progress.events -= events;
          if (file) await file.truncate(cp ? cp.state.outBytes : file.length);
        }
      }
      if (bad) {
        corrupt.push(bad);
        opts.progress?.write(`\r\x1b[2K${bad.code} ${bad.key}: ${bad.message}\n`);
        if (opts.skipCorrupt) cp?.skip(bad.key, `${bad.code}: ${bad.message}`);
        continue;
      }
      const outBytes = file ? await file.sync() : undefined;
      cp?.finish(r.part.key, outBytes === undefined ? { events } : { events, outBytes });
      finishedHere++;
      progress.parts++;
      progress.tick();
    }
    if (file) {
      await file.sync();
      if (cp) {
        cp.state.outBytes = file.length;
        cp.save();
      }
    }
    progress.end();
    const earlierSkipped = cp ? Object.entries(cp.state.skipped).filter(([k]) => !corrupt.some((c) => c.key === k)).map(([key, why]) => ({ code: why.split(':')[0] as string, key, message: why })) : [];
    const allCorrupt = [...corrupt, ...earlierSkipped];
    const problems: BadPart[] = plan.problems.map((p) => ({ ...p }));
    return {
      op: 'export',
      env: opts.env,
      from: identity.from,
      to: identity.to,
      filter: identity.filter,
      out: outPath,
      ...(statePath ? { state: statePath } : {}),
      resumed: cp?.resumed ?? false,
      windows: plan.windows,
      windowsWithoutParts: plan.windowsWithoutParts,
      parts: plan.parts.length,
      partsDone: finishedHere,
      partsAlreadyDone,
      partsFilteredOut: plan.filteredOut,
      events: progress.events,
      bytes: progress.bytes,
      corrupt: allCorrupt,
      problems,
      skippedCorrupt: opts.skipCorrupt ?? false,
      stopped,
      elapsedMs: progress.elapsedMs(),
      ok: !stopped && (opts.skipCorrupt ? true : allCorrupt.length === 0 && problems.length === 0),
    };
  } finally {
    await file?.close();
  }
}
