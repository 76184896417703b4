import { closeSync, existsSync, fsyncSync, ftruncateSync, openSync, readFileSync, readdirSync, renameSync, rmSync, statSync, unlink, writeFileSync, writeSync } from 'node:fs';
import { open as openAsync, rename as renameAsync, rm as rmAsync } from 'node:fs/promises';
import { join } from 'node:path';
import { ensureDataDir, ensurePrivateDir } from '@backlog/platform-config';
import {
  ByteScratch,
  QUARANTINE_NOTE_SUFFIX,
  type QuarantineNote,
  type SegmentMeta,
  type SpoolPosition,
  type WalMeta,
  compactWalChunks,
  decodeSegment,
  decodeWal,
  encodeSegment,
  encodeWalChunkInto,
  encodeWalHeader,
  segmentFileName,
  segmentSeqOf,
  walFileName,
} from '@backlog/core-codec';

/**
 * The harvester's disk spool. Layout under `dir`:
 *   wal/<batchId>.wal   open batches, appended on every sink write (survives kill -9 via the page cache)
 *   seg/<seq>.seg       closed batches = the exact Kafka records, written tmp → fsync → rename → fsync(dir)
 *   tmp/                half-written segments; removed on start (their WAL still exists)
 *   quarantine/         segments and WALs that failed their checksum, and segments the next hop refused for good
 *                       (record too large to split, not authorized, unknown topic…): never sent again by the
 *                       harvester; each with a `<file>.json` beside it saying why. `backlog spool inspect`
 *                       lists them, `backlog spool drain --quarantine` resends the intact ones, `purge` deletes.
 * A segment is deleted only after the next hop acknowledged it (ARCHITECTURE.md habit 4).
 *
 * A write that fails (disk full: ENOSPC, EDQUOT, EFBIG; or any other I/O error) throws and leaves no trace:
 * a WAL is cut back to its last whole chunk, a half-written segment's tmp file is removed. The shipper
 * then holds what it could not write and pushes back on the inputs (ADR 0006, addendum "Full disk").
 */
export interface SpoolOptions {
  dir: string;
  /** fsync segments and the directory before a segment counts as spooled. Default true; tests of throughput may turn it off. */
  fsync?: boolean;
  /**
   * Room for one batch's WAL chunks in memory, bytes (the shipper's maxBatchRawBytes plus a read's worth).
   * The buffers are recycled from batch to batch. Default 2.25 MiB; a larger batch grows its buffer.
   */
  walBufferBytes?: number;
}

/** WAL memory buffers kept for the next batches (open batches plus the one being sealed, usually). */
const POOLED_WAL_BUFFERS = 4;

export interface SegmentRef {
  seq: number;
  file: string;
  bytes: number;
  batchId: string;
  count: number;
  positions: SpoolPosition[];
  /** Segments cut from one open batch share a group; positions commit when the whole group is acked. */
  group: string;
}

export interface RecoveredWal {
  meta: WalMeta;
  lines: string[];
  positions: SpoolPosition[];
  file: string;
  tail: 'clean' | 'torn' | 'corrupt';
}

export interface Recovery {
  segments: SegmentRef[];
  wals: RecoveredWal[];
  quarantined: { file: string; reason: string }[];
  /** WALs whose whole batch was already in segments (a crash before their delete completed): deleted, not replayed. */
  staleWals: string[];
}

export class WalHandle {
  private fd: number;
  bytes: number;
  /** Length of the header: chunks start here. */
  readonly headBytes: number;
  /**
   * The chunks appended through this handle, as written (ADR 0011 revision): the batch's bytes stay in
   * memory outside the JS heap, so sealing needs no read-back, and the heap holds no event strings.
   */
  private memBytes = 0;
  private lines: Buffer | undefined;
  constructor(
    readonly file: string,
    meta: WalMeta,
    private mem: ByteScratch = new ByteScratch(64 * 1024),
  ) {
    this.fd = openSync(file, 'a');
    const head = encodeWalHeader(meta);
    try {
      writeFully(this.fd, head);
    } catch (err) {
      // A WAL without its whole header is unreadable: leave none behind.
      closeSync(this.fd);
      rmSync(file, { force: true });
      throw err;
    }
    this.bytes = head.length;
    this.headBytes = head.length;
  }

  /**
   * The NDJSON appended through this handle, from memory (the same bytes the file holds after its
   * header). Call when the batch closes (again: the same view): the chunks are compacted in place, so
   * nothing may be appended afterwards.
   */
  takeLines(): Buffer {
    this.lines ??= compactWalChunks(this.mem.buf, 0, this.memBytes);
    return this.lines;
  }

  /**
   * One write() per sink write: the kernel has the bytes before the inputs are told "accepted". When the
   * write fails (disk full), the file is cut back to its last whole chunk and the error thrown: the
   * chunk counts neither on disk nor in memory, and a later append continues a valid file.
   */
  append(lines: readonly string[], positions: readonly SpoolPosition[]): number {
    // Encoded after the chunks already in memory, but counted only once the file has it too.
    const chunk = encodeWalChunkInto(this.mem, lines, positions, this.memBytes);
    try {
      writeFully(this.fd, chunk);
    } catch (err) {
      try {
        ftruncateSync(this.fd, this.bytes);
      } catch {
        // Cutting a file back frees space and does not fail on a full disk; should it fail anyway, the
        // torn chunk ends the WAL's valid prefix at recovery, which keeps every chunk before it.
      }
      throw err;
    }
    this.memBytes += chunk.length;
    this.bytes += chunk.length;
    return chunk.length;
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }

  /** Closes the file and hands back the memory buffer for another WAL; this handle keeps nothing. */
  release(): ByteScratch {
    this.close();
    const m = this.mem;
    this.mem = new ByteScratch(0);
    this.memBytes = 0;
    this.lines = undefined;
    return m;
  }
}

export class Spool {
  readonly walDir: string;
  readonly segDir: string;
  readonly tmpDir: string;
  readonly quarantineDir: string;
  private nextSeq = 1;
  private walBytes = 0;
  private segBytes = 0;
  private readonly fsync: boolean;
  private readonly walBuffers: ByteScratch[] = [];
  private pendingUnlinks = 0;
  private unlinkWaiters: (() => void)[] = [];

  constructor(readonly opts: SpoolOptions) {
    this.walDir = join(opts.dir, 'wal');
    this.segDir = join(opts.dir, 'seg');
    this.tmpDir = join(opts.dir, 'tmp');
    this.quarantineDir = join(opts.dir, 'quarantine');
    this.fsync = opts.fsync ?? true;
  }

  /** Bytes on disk in WALs and segments (the figure the size cap applies to). */
  get bytes(): number {
    return this.walBytes + this.segBytes;
  }

  get segmentBytes(): number {
    return this.segBytes;
  }

  /**
   * Creates the directories and reads what a previous run left. Never throws for a damaged file: it is
   * moved to quarantine/ and reported, so that a bad segment can never stop the harvester from starting.
   */
  open(): Recovery {
    // The spool holds other people's log lines: its directories are the user's alone (0700), inside a
    // configured directory that only the user (or root) may change (platform-config private-files).
    ensureDataDir(this.opts.dir);
    for (const d of [this.walDir, this.segDir, this.tmpDir, this.quarantineDir]) ensurePrivateDir(d);
    for (const f of readdirSync(this.tmpDir)) rmSync(join(this.tmpDir, f), { force: true });
    const rec: Recovery = { segments: [], wals: [], quarantined: [], staleWals: [] };
    const names = readdirSync(this.segDir)
      .filter((n) => segmentSeqOf(n) !== undefined)
      .sort();
    for (const name of names) {
      const file = join(this.segDir, name);
      try {
        const { meta } = decodeSegment(readFileSync(file));
        const seq = segmentSeqOf(name)!;
        const bytes = statSync(file).size;
        rec.segments.push(refOf(seq, file, bytes, meta));
        this.segBytes += bytes;
        this.nextSeq = Math.max(this.nextSeq, seq + 1);
      } catch (err) {
        rec.quarantined.push({ file: this.quarantine(file, { reason: 'checksum', error: (err as Error).message }), reason: (err as Error).message });
      }
    }
    // Events per batch already in segments: a batch's segments share its id as their group.
    const inSegments = new Map<string, number>();
    for (const r of rec.segments) inSegments.set(r.group, (inSegments.get(r.group) ?? 0) + r.count);
    for (const name of readdirSync(this.walDir)
      .filter((n) => n.endsWith('.wal'))
      .sort()) {
      const file = join(this.walDir, name);
      try {
        const w = decodeWal(readFileSync(file));
        // The WAL is deleted after its batch's segments are renamed and their directory fsynced; a crash
        // in between leaves both. Segments holding as many events as the WAL are the whole batch:
        // replaying the WAL would only send every event twice.
        const lines = walLineCount(w.lines);
        if (lines > 0 && (inSegments.get(w.meta.batchId) ?? 0) >= lines) {
          rmSync(file, { force: true });
          rec.staleWals.push(file);
          continue;
        }
        rec.wals.push({ meta: w.meta, lines: w.lines, positions: w.positions, file, tail: w.tail });
        if (w.tail === 'corrupt') rec.quarantined.push({ file: `${file} (tail after byte ${w.validBytes})`, reason: 'wal chunk checksum mismatch' });
      } catch (err) {
        rec.quarantined.push({ file: this.quarantine(file, { reason: 'checksum', error: (err as Error).message }), reason: (err as Error).message });
      }
    }
    return rec;
  }

  createWal(meta: WalMeta): WalHandle {
    const mem = this.walBuffers.pop() ?? new ByteScratch(this.opts.walBufferBytes ?? 2.25 * 1024 * 1024);
    let w: WalHandle;
    try {
      w = new WalHandle(join(this.walDir, walFileName(meta.batchId)), meta, mem);
    } catch (err) {
      if (this.walBuffers.length < POOLED_WAL_BUFFERS) this.walBuffers.push(mem);
      throw err;
    }
    this.walBytes += w.bytes;
    return w;
  }

  /** Appends the lines (each without its newline) as one chunk. */
  appendWal(w: WalHandle, lines: readonly string[], positions: readonly SpoolPosition[]): void {
    this.walBytes += w.append(lines, positions);
  }

  /** Forgets a WAL whose content is now in segments (or was recovered into them). */
  removeWal(w: WalHandle | string, bytes?: number): void {
    const file = typeof w === 'string' ? w : w.file;
    const size = typeof w === 'string' ? (bytes ?? safeSize(file)) : w.bytes;
    if (typeof w !== 'string') {
      // The batch is sealed (or was empty): nothing refers to its bytes any more.
      const mem = w.release();
      if (this.walBuffers.length < POOLED_WAL_BUFFERS && mem.buf.length > 0) this.walBuffers.push(mem);
    }
    this.unlinkLater(file);
    this.walBytes = Math.max(0, this.walBytes - size);
  }

  /**
   * Writes closed batches as segments: every tmp file is written and fsynced first, then all are
   * renamed, then the directory is fsynced. A crash before the renames leaves only the WAL (recovered
   * again); after them, the segments, and the WAL if its delete had not completed: `open` then deletes
   * it unreplayed when the segments hold its whole batch (a crash between two renames leaves a part
   * missing, and the WAL is replayed: duplicates with the same ids, nothing lost).
   */
  writeSegments(items: { meta: SegmentMeta; value: Uint8Array }[]): SegmentRef[] {
    const staged: { seq: number; tmp: string; bytes: number; meta: SegmentMeta }[] = [];
    try {
      for (const { meta, value } of items) {
        const seq = this.nextSeq++;
        const tmp = join(this.tmpDir, segmentFileName(seq));
        staged.push({ seq, tmp, bytes: 0, meta });
        const buf = encodeSegment(meta, value);
        const fd = openSync(tmp, 'w');
        try {
          writeFully(fd, buf);
          if (this.fsync) fsyncSync(fd);
        } finally {
          closeSync(fd);
        }
        staged[staged.length - 1]!.bytes = buf.length;
      }
    } catch (err) {
      // Nothing was renamed yet: the batch is still whole in its WAL. Free what the attempt took.
      for (const s of staged) rmSync(s.tmp, { force: true });
      throw err;
    }
    const refs = staged.map((s) => {
      const file = join(this.segDir, segmentFileName(s.seq));
      renameSync(s.tmp, file);
      this.segBytes += s.bytes;
      return refOf(s.seq, file, s.bytes, s.meta);
    });
    if (this.fsync) fsyncDir(this.segDir);
    return refs;
  }

  /**
   * writeSegments on libuv's thread pool (open, write, fsync, rename, fsync of the directory): the event
   * loop goes on reading inputs while the disk syncs. Sequence numbers are taken at the call, so calls
   * made one after another keep their order.
   */
  async writeSegmentsAsync(items: { meta: SegmentMeta; value: Uint8Array }[]): Promise<SegmentRef[]> {
    const staged = items.map(({ meta, value }) => ({ seq: this.nextSeq++, meta, buf: encodeSegment(meta, value) }));
    try {
      for (const s of staged) {
        // writeFile loops until every byte is written, or rejects (disk full).
        const fh = await openAsync(join(this.tmpDir, segmentFileName(s.seq)), 'w');
        try {
          await fh.writeFile(s.buf);
          if (this.fsync) await fh.sync();
        } finally {
          await fh.close();
        }
      }
    } catch (err) {
      // Nothing was renamed yet: the batch is still whole in its WAL. Free what the attempt took.
      await Promise.all(staged.map((s) => rmAsync(join(this.tmpDir, segmentFileName(s.seq)), { force: true })));
      throw err;
    }
    const refs: SegmentRef[] = [];
    for (const s of staged) {
      const file = join(this.segDir, segmentFileName(s.seq));
      await renameAsync(join(this.tmpDir, segmentFileName(s.seq)), file);
      this.segBytes += s.buf.length;
      refs.push(refOf(s.seq, file, s.buf.length, s.meta));
    }
    if (this.fsync) {
      const d = await openAsync(this.segDir, 'r');
      try {
        await d.sync();
      } finally {
        await d.close();
      }
    }
    return refs;
  }

  /**
   * Whether `bytes` can be written to the spool's disk now: writes (and removes) a scratch file in tmp/.
   * Throws the write's error (ENOSPC…) when they cannot. The shipper asks it while a disk-full pause has
   * nothing else to retry.
   */
  probe(bytes: number): void {
    const file = join(this.tmpDir, 'space-probe');
    try {
      const fd = openSync(file, 'w');
      try {
        writeFully(fd, Buffer.alloc(bytes));
      } finally {
        closeSync(fd);
      }
    } finally {
      rmSync(file, { force: true });
    }
  }

  /** The record of a segment; throws (and the caller quarantines) when it no longer verifies. */
  read(ref: SegmentRef): { meta: SegmentMeta; value: Buffer } {
    return decodeSegment(readFileSync(ref.file));
  }

  /** Resolves once the spool's deletes (done off the event loop) have all completed. */
  settled(): Promise<void> {
    return this.pendingUnlinks === 0 ? Promise.resolve() : new Promise((resolve) => this.unlinkWaiters.push(resolve));
  }

  /**
   * Deletes a file the spool is done with, on libuv's thread pool: an unlink on a busy disk can block for
   * a millisecond, which the event loop should spend reading inputs. A crash before it completes leaves a
   * file the next start finds: a WAL whose batch is still whole in segments is deleted then (`open`);
   * an acknowledged segment, or a WAL whose segments were acknowledged, is sent again with the same
   * event ids (the at-least-once guarantee, as for a crash just before the delete).
   */
  private unlinkLater(file: string): void {
    this.pendingUnlinks++;
    unlink(file, (err) => {
      if (err && err.code !== 'ENOENT') {
        try {
          rmSync(file, { force: true });
        } catch {
          // left for the next start's recovery, which sends it again with the same ids
        }
      }
      if (--this.pendingUnlinks === 0) for (const w of this.unlinkWaiters.splice(0)) w();
    });
  }

  /** After the next hop acknowledged (or the when-full policy dropped) the segment. */
  remove(ref: SegmentRef): void {
    this.unlinkLater(ref.file);
    this.segBytes = Math.max(0, this.segBytes - ref.bytes);
  }

  /**
   * Moves a file to quarantine/ with a `<name>.json` beside it saying why (`reason`: a metric label such
   * as `checksum`, `record_too_large`, `denied`, `unknown_topic`; `error`: the message).
   */
  quarantine(file: string, why: Omit<QuarantineNote, 'file' | 'at'> = { reason: 'checksum' }): string {
    const size = safeSize(file);
    const to = join(this.quarantineDir, `${Date.now()}-${file.split('/').pop()}`);
    try {
      renameSync(file, to);
    } catch {
      rmSync(file, { force: true });
    }
    try {
      writeFileSync(`${to}${QUARANTINE_NOTE_SUFFIX}`, `${JSON.stringify({ ...why, file: file.split('/').pop(), at: new Date().toISOString() })}\n`);
    } catch {
      // A full disk may refuse the note; the file is quarantined all the same (inspect shows no reason).
    }
    if (file.startsWith(this.segDir)) this.segBytes = Math.max(0, this.segBytes - size);
    return to;
  }

  /** Files in quarantine/ (the notes beside them not counted). */
  quarantined(): number {
    try {
      return readdirSync(this.quarantineDir).filter((n) => !n.endsWith(QUARANTINE_NOTE_SUFFIX)).length;
    } catch {
      return 0;
    }
  }
}

/**
 * write(2) until every byte is written: a write may take fewer bytes than asked (a file system that is
 * almost full, a file-size limit); the next write then reports why (ENOSPC, EFBIG) and that is thrown.
 */
export function writeFully(fd: number, buf: Uint8Array): void {
  let off = 0;
  while (off < buf.length) {
    const n = writeSync(fd, buf, off, buf.length - off);
    // write(2) returns 0 only for a zero-length request; guard against a loop that never ends anyway.
    if (n <= 0) throw Object.assign(new Error(`write returned ${n}`), { code: 'EIO' });
    off += n;
  }
}

/** Events in a WAL's chunks (NDJSON text). */
function walLineCount(chunks: readonly string[]): number {
  let n = 0;
  for (const c of chunks) for (const l of c.split('\n')) if (l) n++;
  return n;
}

function refOf(seq: number, file: string, bytes: number, meta: SegmentMeta & { group?: string }): SegmentRef {
  return { seq, file, bytes, batchId: meta.batchId, count: meta.count, positions: meta.positions, group: meta.group ?? meta.batchId };
}

function safeSize(file: string): number {
  try {
    return statSync(file).size;
  } catch {
    return 0;
  }
}

function fsyncDir(dir: string): void {
  // A rename is durable only once its directory is: POSIX leaves that to an fsync of the directory.
  if (!existsSync(dir)) return;
  const fd = openSync(dir, 'r');
  try {
    fsyncSync(fd);
  } finally {
    closeSync(fd);
  }
}
