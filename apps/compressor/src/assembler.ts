import { type PartLine, PartStats, WINDOW_SECONDS, comparePartLines, lineByteLength, windowEndMs, windowOf } from '@backlog/core-codec';
import { isSystemError } from '@backlog/core-pipeline';
import type { ColumnRun } from './scan';
import type { SpillFile } from './spill';

/**
 * Assembles the events of one h-<env> partition into parts per window, and decides — from the
 * records alone, never from the wall clock except for the idle rule — when a part is sealed. That
 * determinism is what makes exactly-once work: after a crash the compressor resumes from its
 * checkpoint (offset C, watermark before C, parts already written at or above C) and re-reading the
 * same records reproduces the same seal decisions, so the same bytes go to the same keys.
 */

export interface AssemblerOptions {
  partition: number;
  /** A window is sealed once the watermark passed its end plus this. */
  graceMs: number;
  /** The watermark never runs further ahead of a record's Kafka timestamp than this (a host with a wrong clock must not make everyone late). */
  maxFutureSkewMs: number;
  /** A late part is sealed once the partition moved this many offsets past its last event. */
  lateLingerOffsets: number;
  /** A part is sealed (and a new one begun) once it holds this many NDJSON bytes. */
  maxPartRawBytes: number;
}

/** host.name, service.name and log.level of an event (for the manifest). */
export interface Facets {
  host?: string;
  service?: string;
  level?: string;
}

/**
 * One event of a batch: its part line and its facets, in one object (no second object per event),
 * and the line's UTF-8 byte length when known without looking at the line (a scanned line's `line`
 * makes a view object on each read).
 */
export type LineIn = PartLine & Facets & { readonly size?: number };

/** UTF-8 bytes of a line (without its newline). */
export const lineSize = (l: LineIn): number => l.size ?? lineByteLength(l.line);

/** A buffered batch: its canonical lines as columns, or lines as objects in part order. */
export type Run = PartLine[] | ColumnRun;

/** A run's lines as objects in part order (for the spill file and the k-way merge). */
export const sortedLines = (run: Run): PartLine[] => (Array.isArray(run) ? run : run.sorted());

/** A part being filled, then sealed. */
export interface PartBuffer {
  window: number;
  late: boolean;
  firstOffset: bigint;
  lastOffset: bigint;
  /** Watermark before `firstOffset` was read: what a checkpoint at `firstOffset` must restore. */
  wmAtOpen: number;
  /**
   * Runs held in memory, one per batch: the scanner's columns (sorted when sealed), or objects sorted
   * in part order (lines that took the JSON.parse path, or a batch that spans windows).
   */
  runs: Run[];
  memBytes: number;
  spill?: SpillFile;
  stats: PartStats;
}

/** What a restart restores (stored per partition with the committed offset). */
export interface Checkpoint {
  v: 1;
  partition: number;
  /** Next offset to read: every event below it is in S3 and c-<env>. */
  offset: string;
  /** Watermark over the records below `offset` (epoch ms; null before any). */
  watermark: number | null;
  /** Windows with a part at or above `offset` already written: [window, lastOffset of its newest part]. */
  sealed: [number, string][];
}

/** A unit whose acknowledgement holds back the commit: a sealing part or a dead-letter object. */
export interface InFlight {
  firstOffset: bigint;
  wmAtOpen: number;
}

/**
 * Bytes a buffered line costs in memory: its text (a string: V8 stores ASCII at one byte per char; a
 * byte view: its bytes, plus the view object) plus the id and the PartLine object. A scanned line's id
 * is not decoded until a tie needs it (`idBytes`), so its cost is its byte length.
 */
const lineCost = (l: LineIn) => {
  const idBytes = (l as { idBytes?: number }).idBytes;
  return (l.size ?? l.line.length) + (idBytes ?? l.id.length) + (typeof l.size === 'number' || typeof l.line !== 'string' ? 176 : 96);
};

export class PartitionAssembler {
  private wm = -Infinity;
  private readonly open = new Map<string, PartBuffer>();
  private readonly inflight = new Set<InFlight>();
  /** window → highest lastOffset of a part written (restored from the checkpoint, then kept). */
  private readonly written = new Map<number, bigint>();
  private next: bigint;
  memBytes = 0;
  /** The last spill write the disk refused (set by addRun, read and cleared by the compressor). */
  spillError: unknown;

  constructor(
    readonly opts: AssemblerOptions,
    start: { offset: bigint; checkpoint?: Checkpoint },
  ) {
    this.next = start.offset;
    const cp = start.checkpoint;
    if (cp) {
      this.wm = cp.watermark ?? -Infinity;
      for (const [w, last] of cp.sealed) this.written.set(w, BigInt(last));
    }
  }

  get watermark(): number {
    return this.wm;
  }

  get nextOffset(): bigint {
    return this.next;
  }

  buffers(): PartBuffer[] {
    return [...this.open.values()];
  }

  /**
   * Adds one record's events: lines given as objects, and the scanner's columns for the lines it
   * proved canonical (`batchLines` gives both). Returns the parts that are now sealed (taken out of
   * the assembler and counted in flight until `done`), plus counts of late events by lateness and of
   * events skipped because a part written before a restart already holds them.
   */
  addRecord(offset: bigint, recordTs: number, objectLines: readonly LineIn[], cols?: ColumnRun): { seal: PartBuffer[]; late: { window: number; latenessMs: number }[]; skipped: number } {
    const wmBefore = this.wm;
    let lines = objectLines;
    // The usual batch: its columns lie in one window not yet written, and go in as one run.
    let colsWindow: number | undefined;
    if (cols && cols.n > 0) {
      const w = windowOf(cols.minTs);
      if (windowOf(cols.maxTs) === w && !this.isWritten(w, offset)) colsWindow = w;
      else lines = [...lines, ...cols.objects()];
    }
    const groups = new Map<number, LineIn[]>();
    let skipped = 0;
    let maxTs = colsWindow === undefined ? -Infinity : (cols as ColumnRun).maxTs;
    if (lines.length) {
      // A batch of objects in one window: the batch's own array is the group (no copy).
      let one: number | undefined = windowOf((lines[0] as LineIn).ts);
      let m = -Infinity;
      for (const l of lines) {
        if (l.ts > m) m = l.ts;
        if (windowOf(l.ts) !== one) one = undefined;
      }
      if (one !== undefined && !this.isWritten(one, offset)) {
        groups.set(one, lines as LineIn[]);
        if (m > maxTs) maxTs = m;
      } else {
        for (const l of lines) {
          const w = windowOf(l.ts);
          if (this.isWritten(w, offset)) {
            // Already in a part written before a restart (offsets ≤ its lastOffset were all in it).
            skipped++;
            continue;
          }
          let g = groups.get(w);
          if (!g) groups.set(w, (g = []));
          g.push(l);
          if (l.ts > maxTs) maxTs = l.ts;
        }
      }
    }
    const late: { window: number; latenessMs: number }[] = [];
    const windows = new Set(groups.keys());
    if (colsWindow !== undefined) windows.add(colsWindow);
    for (const w of windows) {
      // Late = the window had expired by the watermark *before* this record, i.e. it was (or would
      // have been) sealed already. Decided from the records alone, so a re-read decides the same.
      const isLate = windowEndMs(w) + this.opts.graceMs <= wmBefore;
      if (isLate) late.push({ window: w, latenessMs: wmBefore - windowEndMs(w) });
      const key = `${w}:${isLate ? 'late' : 'main'}`;
      let buf = this.open.get(key);
      if (!buf) {
        buf = { window: w, late: isLate, firstOffset: offset, lastOffset: offset, wmAtOpen: wmBefore, runs: [], memBytes: 0, stats: new PartStats() };
        this.open.set(key, buf);
      }
      buf.lastOffset = offset;
      const group = groups.get(w);
      if (group) this.addObjects(buf, group);
      if (w === colsWindow) this.addColumns(buf, cols as ColumnRun);
    }
    if (Number.isFinite(maxTs)) this.wm = Math.max(this.wm, Math.min(maxTs, recordTs + this.opts.maxFutureSkewMs));
    this.next = offset + 1n;
    return { seal: this.take((b) => this.expired(b, this.wm, offset)), late, skipped };
  }

  private addObjects(buf: PartBuffer, group: readonly LineIn[]): void {
    const run: PartLine[] = group.slice();
    let cost = 0;
    let prev: LineIn | undefined;
    const stats = buf.stats;
    for (const l of group) {
      // PartStats.add, with the size known without reading `line`. The facets go into Sets: skip
      // that when they are the previous line's (the scanner interns them).
      stats.count++;
      if (l.ts < stats.minTs) stats.minTs = l.ts;
      if (l.ts > stats.maxTs) stats.maxTs = l.ts;
      stats.rawBytes += lineSize(l) + 1;
      if (prev === undefined || l.host !== prev.host || l.service !== prev.service || l.level !== prev.level) {
        if (l.host) stats.hosts.add(l.host);
        if (l.service) stats.services.add(l.service);
        if (l.level) stats.levels.add(l.level);
      }
      prev = l;
      cost += lineCost(l);
    }
    // Batches come sorted by @timestamp; sorting again is linear then, and fixes ties by event.id.
    run.sort(comparePartLines);
    this.addRun(buf, run, cost);
  }

  /** A batch's columns: the stats from the scanner's totals and distinct facets, no pass over the lines. */
  private addColumns(buf: PartBuffer, cols: ColumnRun): void {
    const stats = buf.stats;
    stats.count += cols.n;
    if (cols.minTs < stats.minTs) stats.minTs = cols.minTs;
    if (cols.maxTs > stats.maxTs) stats.maxTs = cols.maxTs;
    stats.rawBytes += cols.rawBytes;
    for (const h of cols.hosts) stats.hosts.add(h);
    for (const sv of cols.services) stats.services.add(sv);
    for (const lv of cols.levels) stats.levels.add(lv);
    this.addRun(buf, cols, cols.memBytes);
  }

  private addRun(buf: PartBuffer, run: Run, cost: number): void {
    if (buf.spill) {
      try {
        buf.spill.appendRun(sortedLines(run));
        return;
      } catch (err) {
        if (!isSystemError(err)) throw err;
        // The scratch disk refused it (full): the run stays in memory (a seal merges both), and the
        // compressor, told through spillError, pauses consumption until the disk takes writes again.
        this.spillError = err;
      }
    }
    buf.runs.push(run);
    buf.memBytes += cost;
    this.memBytes += cost;
  }

  /** A part written before a restart already holds this offset's events of window `w`. */
  private isWritten(w: number, offset: bigint): boolean {
    const written = this.written.get(w);
    return written !== undefined && offset <= written;
  }

  /** Marks an offset as read when it held no events (a dead-letter record, an empty batch). */
  skipOffset(offset: bigint): PartBuffer[] {
    this.next = offset + 1n;
    return this.take((b) => this.expired(b, this.wm, offset));
  }

  /**
   * The partition has been quiet for the idle timeout: seal what the wall clock says is over (a quiet
   * partition's watermark would otherwise never move). This is the one rule that uses the wall clock;
   * a part sealed by it is still complete and correctly named, only possibly followed by another.
   */
  sealIdle(nowMs: number): PartBuffer[] {
    return this.take((b) => b.late || windowEndMs(b.window) + this.opts.graceMs <= nowMs);
  }

  private expired(b: PartBuffer, wm: number, offset: bigint): boolean {
    if (b.stats.rawBytes >= this.opts.maxPartRawBytes) return true;
    if (b.late) return offset - b.lastOffset >= BigInt(this.opts.lateLingerOffsets);
    return windowEndMs(b.window) + this.opts.graceMs <= wm;
  }

  private take(pred: (b: PartBuffer) => boolean): PartBuffer[] {
    const out: PartBuffer[] = [];
    for (const [key, b] of this.open) {
      if (!pred(b)) continue;
      this.open.delete(key);
      this.memBytes -= b.memBytes;
      this.inflight.add(b);
      out.push(b);
    }
    return out;
  }

  /** Registers a dead-letter write that must be acknowledged before its offset is committed. */
  holdOffset(offset: bigint): InFlight {
    const h: InFlight = { firstOffset: offset, wmAtOpen: this.wm };
    this.inflight.add(h);
    return h;
  }

  /** A sealed part (or dead-letter object) is in S3 and c-<env>: it no longer holds the commit back. */
  done(item: InFlight): void {
    this.inflight.delete(item);
    const b = item as Partial<PartBuffer>;
    if (b.window !== undefined && b.lastOffset !== undefined) {
      const prev = this.written.get(b.window);
      if (prev === undefined || b.lastOffset > prev) this.written.set(b.window, b.lastOffset);
    }
  }

  /**
   * Moves a buffer's in-memory runs to its spill file. Returns the bytes freed. All or nothing: when the
   * disk refuses one run, the runs already appended are cut off the file again and the error thrown,
   * so every run is in exactly one place (memory or file) and a seal never sees one twice.
   */
  spillBuffer(b: PartBuffer, make: () => SpillFile): number {
    if (b.memBytes === 0) return 0;
    b.spill ??= make();
    const mark = b.spill.runCount;
    try {
      for (const run of b.runs) b.spill.appendRun(sortedLines(run));
    } catch (err) {
      b.spill.rollback(mark);
      throw err;
    }
    b.runs = [];
    const freed = b.memBytes;
    b.memBytes = 0;
    this.memBytes -= freed;
    return freed;
  }

  /** The offset that may be committed now and the state a restart needs to continue from it. */
  checkpoint(): Checkpoint {
    let c = this.next;
    let wm = this.wm;
    for (const b of [...this.open.values(), ...this.inflight]) {
      if (b.firstOffset < c) {
        c = b.firstOffset;
        wm = b.wmAtOpen;
      }
    }
    const sealed: [number, string][] = [];
    for (const [w, last] of this.written) {
      // Parts wholly below C will never be re-read: forget them (keeps the checkpoint small).
      if (last >= c) sealed.push([w, last.toString()]);
      else this.written.delete(w);
    }
    sealed.sort((a, b) => a[0] - b[0]);
    return { v: 1, partition: this.opts.partition, offset: c.toString(), watermark: Number.isFinite(wm) ? wm : null, sealed };
  }

  /** Everything buffered or in flight is released (partition revoked / shutdown). */
  clear(): PartBuffer[] {
    const all = [...this.open.values()];
    this.open.clear();
    this.memBytes = 0;
    return all;
  }
}

/** Lateness buckets for the late-events counter (label values). */
export function latenessBucket(ms: number): string {
  const m = ms / 60_000;
  if (m < 5) return '<5m';
  if (m < 60) return '5m-1h';
  if (m < 24 * 60) return '1h-1d';
  return '>1d';
}

/** For docs: one window's length. */
export const WINDOW_MS = WINDOW_SECONDS * 1000;
