import { closeSync, ftruncateSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { ensurePrivateDir } from '@backlog/platform-config';
import type { PartLine } from '@backlog/core-codec';

/**
 * The on-disk form of a buffered window's runs, used once the buffered bytes pass the memory cap
 * (a host replaying days of backlog must not exhaust memory). One file per buffered part; each run is
 * a contiguous, already-sorted segment of items:
 *   u32 itemBytes | f64 ts | u16 idBytes | id (utf8) | line (utf8)
 * The k-way merge reads each run lazily, so sealing a spilled part holds one chunk per run in memory.
 * The file is scratch: it is deleted after the part is acknowledged, and a crash simply re-reads Kafka.
 *
 * A run is appended whole or not at all: when the disk refuses part of it (ENOSPC, EFBIG), the file is
 * cut back to the runs before it and the error thrown, so the caller keeps the run in memory and the
 * file never holds a torn run a seal would read.
 */
export class SpillFile {
  private fd: number | undefined;
  private size = 0;
  private readonly runs: { start: number; end: number }[] = [];

  constructor(readonly path: string) {}

  /** A spill file `name` in `dir`, a directory of this process alone (made 0700 if missing: it holds log lines). */
  static create(dir: string, name: string): SpillFile {
    ensurePrivateDir(dir);
    return new SpillFile(join(dir, name));
  }

  get bytes(): number {
    return this.size;
  }

  appendRun(run: readonly PartLine[]): void {
    if (run.length === 0) return;
    this.fd ??= openSync(this.path, 'w+');
    const parts: Uint8Array[] = [];
    let total = 0;
    for (const l of run) {
      const id = Buffer.from(l.id);
      const line = typeof l.line === 'string' ? Buffer.from(l.line) : l.line;
      const head = Buffer.allocUnsafe(14);
      head.writeUInt32LE(10 + id.length + line.length, 0);
      head.writeDoubleLE(l.ts, 4);
      head.writeUInt16LE(id.length, 12);
      parts.push(head, id, line);
      total += 14 + id.length + line.length;
    }
    const buf = Buffer.concat(parts, total);
    let off = 0;
    try {
      // A write may take fewer bytes than asked (a disk nearly full): the next one says why, or finishes.
      while (off < buf.length) off += writeSync(this.fd, buf, off, buf.length - off, this.size + off);
    } catch (err) {
      this.truncate(this.size);
      throw err;
    }
    this.runs.push({ start: this.size, end: this.size + total });
    this.size += total;
  }

  /** Runs appended so far (a mark to cut back to). */
  get runCount(): number {
    return this.runs.length;
  }

  /** Forgets the runs from `mark` on (runCount before an append that must be undone with others). */
  rollback(mark: number): void {
    if (mark >= this.runs.length) return;
    const to = this.runs[mark]!.start;
    this.runs.length = mark;
    this.size = to;
    this.truncate(to);
  }

  private truncate(to: number): void {
    if (this.fd === undefined) return;
    try {
      ftruncateSync(this.fd, to);
    } catch {
      // Only frees space; the bytes past `size` are never read (runs are read by their recorded bounds).
    }
  }

  /** One lazy iterator per run, in the order they were appended. */
  readers(chunkBytes = 1 << 20): Iterable<PartLine>[] {
    const fd = this.fd;
    if (fd === undefined) return [];
    return this.runs.map((r) => ({ [Symbol.iterator]: () => readRun(fd, r.start, r.end, chunkBytes) }));
  }

  delete(): void {
    if (this.fd !== undefined) closeSync(this.fd);
    this.fd = undefined;
    rmSync(this.path, { force: true });
  }
}

function* readRun(fd: number, start: number, end: number, chunkBytes: number): Generator<PartLine> {
  let pos = start;
  let buf = Buffer.alloc(0);
  while (pos < end || buf.length) {
    if (buf.length < 4 || buf.length < 4 + buf.readUInt32LE(0)) {
      if (pos >= end) throw new Error('spill file truncated');
      const want = Math.min(chunkBytes, end - pos);
      const next = Buffer.allocUnsafe(want);
      const n = readSync(fd, next, 0, want, pos);
      if (n <= 0) throw new Error('spill file truncated');
      pos += n;
      buf = buf.length ? Buffer.concat([buf, next.subarray(0, n)]) : next.subarray(0, n);
      continue;
    }
    const len = buf.readUInt32LE(0);
    const ts = buf.readDoubleLE(4);
    const idLen = buf.readUInt16LE(12);
    const id = buf.toString('utf8', 14, 14 + idLen);
    // The line's bytes as they were (a view into this read chunk): no decode, no re-encode.
    const line = buf.subarray(14 + idLen, 4 + len);
    buf = buf.subarray(4 + len);
    yield { ts, id, line };
  }
}
