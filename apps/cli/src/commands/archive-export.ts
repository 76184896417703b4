import { type FileHandle, open, stat } from 'node:fs/promises';
import { resolve } from 'node:path';
import type { Writable } from 'node:stream';
import type { S3Port } from '@backlog/adapter-s3';
import { CheckpointStore, type RunOptions, type RunSummary, RunTracker, defaultStatePath, planRun, stallAfterParts, stallForever } from './archive-run';

/**
 * `backlog archive export`: the events of [from, to) as NDJSON, windows in order and within a window
 * part by part (each part in @timestamp order), to a file or stdout. Resumable: the checkpoint holds
 * the finished parts and, for a file, its length after each one; a rerun truncates the file back to
 * that length (dropping the lines of a part that was being written) and goes on with the next part,
 * so a crash never duplicates nor loses a line.
 */

/** `statePath`: stdout exports keep a checkpoint only when it is given. */
export interface ExportOptions extends RunOptions {
  /** A file path, or '-' for `stdout`. */
  out: string;
  /** Where stdout exports go (tests); default process.stdout. */
  stdout?: Writable;
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
  const identity = { op: 'export' as const, env: opts.env, from: new Date(opts.fromMs).toISOString(), to: new Date(opts.toMs).toISOString(), filter: opts.filter.text, out: outPath };
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
    const run = new RunTracker(await planRun(s3, opts.env, opts.fromMs, opts.toMs, opts.filter), cp, opts);
    const progress = run.progress;
    const filtering = !opts.filter.matchesAll;
    const matches = opts.filter.test;
    const stall = stallAfterParts();

    for await (const r of run.read(s3, opts)) {
      let bad = r.bad;
      let events = 0;
      if (!bad && r.batches) {
        try {
          let batchNo = 0;
          for await (const batch of r.batches) {
            let text = '';
            let n = 0;
            for (const line of batch) {
              if (filtering && !matches(JSON.parse(line))) continue;
              text += line + '\n';
              n++;
            }
            if (file) await file.write(text);
            else if (text) await writeTo(stdout, text);
            events += n;
            progress.events += n;
            progress.tick();
            if (stall !== undefined && run.finishedHere === stall && ++batchNo === 1) {
              if (file) await file.sync();
              await stallForever();
            }
          }
        } catch (e) {
          bad = run.badPart(r.part, e as Error);
          progress.events -= events;
          if (file) await file.truncate(cp ? cp.state.outBytes : file.length);
        }
      }
      if (bad) {
        run.corruptPart(bad);
        continue;
      }
      const outBytes = file ? await file.sync() : undefined;
      run.partDone(r.part.key, outBytes === undefined ? { events } : { events, outBytes });
    }
    if (file) {
      await file.sync();
      if (cp) {
        cp.state.outBytes = file.length;
        cp.save();
      }
    }
    progress.end();
    return run.summary(identity, { out: outPath }, statePath ? { state: statePath } : {});
  } finally {
    await file?.close();
  }
}
