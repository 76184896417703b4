import { type PartManifest, type PartLine, type StreamChunk, WINDOW_SECONDS, assemblePart, comparePartLines, mergeRuns, splitChunk, windowStartMs } from '@backlog/core-codec';
import { type LineIn, type PartBuffer, type Run, lineSize, sortedLines } from './assembler';
import type { Bz2Pool, FillInput } from './bz2-pool';
import { ScannedLine } from './scan';

export interface SealOptions {
  env: string;
  topic: string;
  partition: number;
  /** NDJSON bytes per bz2 stream before compression. */
  streamRawBytes: number;
  /** A compressed stream must fit one c-<env> record; bigger ones are cut in half and recompressed. */
  maxRecordBytes: number;
  /** NDJSON bytes handed to one encoder process (its streams are compressed one after the other). Default 16 MiB. */
  jobRawBytes?: number;
}

export interface SealedPart {
  object: Buffer;
  manifest: PartManifest;
  /** Streams that still exceed maxRecordBytes (a single huge event): shipped, and counted. */
  oversizedStreams: number;
}

type Stream = { bytes: Buffer; count: number; minTs: number; maxTs: number; rawBytes: number };

/** NDJSON bytes of a line without its newline, the line given as bytes or text. */
function copyLine(l: PartLine, out: Buffer, at: number): number {
  if (l instanceof ScannedLine) return l.copyTo(out, at);
  if (typeof l.line === 'string') return at + out.write(l.line, at, 'utf8');
  out.set(l.line, at);
  return at + l.line.length;
}

/**
 * cutStreams (core-codec) with each line's size read without making a view of it: the same chunks,
 * cut at the same lines.
 */
export function* cutLines(lines: Iterable<PartLine>, targetRawBytes: number): Generator<StreamChunk> {
  let cur: PartLine[] = [];
  let bytes = 0;
  const chunk = (): StreamChunk => ({ lines: cur, rawBytes: bytes, count: cur.length, minTs: (cur[0] as PartLine).ts, maxTs: (cur[cur.length - 1] as PartLine).ts });
  for (const l of lines) {
    const n = lineSize(l) + 1;
    if (cur.length && bytes + n > targetRawBytes) {
      yield chunk();
      cur = [];
      bytes = 0;
    }
    cur.push(l);
    bytes += n;
  }
  if (cur.length) yield chunk();
}

const WINDOW_MS = WINDOW_SECONDS * 1000;
/** Counts per millisecond of a window (+1), reused: the sort below runs synchronously. */
const counts = new Uint32Array(WINDOW_MS + 1);

/**
 * A window's lines in part order, as positions in its runs (run number, line number in the run)
 * rather than an array of objects, with each line's @timestamp beside it.
 */
export class SortedWindow {
  constructor(
    readonly runs: readonly Run[],
    readonly runOf: Uint32Array,
    readonly idxOf: Uint32Array,
    readonly ts: Float64Array,
  ) {}

  get length(): number {
    return this.ts.length;
  }

  /** Line k as an object. */
  line(k: number): PartLine {
    const run = this.runs[this.runOf[k] as number] as Run;
    const i = this.idxOf[k] as number;
    return Array.isArray(run) ? (run[i] as PartLine) : run.line(i);
  }

  /** UTF-8 bytes of line k (without its newline). */
  size(k: number): number {
    const run = this.runs[this.runOf[k] as number] as Run;
    const i = this.idxOf[k] as number;
    return Array.isArray(run) ? lineSize(run[i] as LineIn) : run.end(i) - run.start(i);
  }

  /** Every line as an object, in order (specs). */
  lines(): PartLine[] {
    return Array.from({ length: this.length }, (_, k) => this.line(k));
  }

  /** Copies lines [from, to), each followed by a newline, to out[at…]; returns the position after them. */
  fill(from: number, to: number, out: Buffer, at: number): number {
    const runs = this.runs;
    const runOf = this.runOf;
    const idxOf = this.idxOf;
    for (let k = from; k < to; k++) {
      const run = runs[runOf[k] as number] as Run;
      const i = idxOf[k] as number;
      if (Array.isArray(run)) at = copyLine(run[i] as PartLine, out, at);
      else at += run.raw.copy(out, at, run.start(i), run.end(i));
      out[at++] = 0x0a;
    }
    return at;
  }
}

/**
 * The lines of an in-memory part in part order (comparePartLines), without a k-way merge: every line
 * of a part lies in its window, and @timestamp is a whole number of ms, so a counting sort on the
 * millisecond within the window orders them in two linear passes; lines with the same @timestamp are
 * then sorted by comparePartLines. The result equals mergeRuns' order except among lines that compare
 * equal, which are byte-identical, so the part's bytes are the same. Undefined (the caller merges)
 * when a line lies outside the window. Runs need not be sorted.
 */
export function sortWindow(runs: readonly Run[], window: number): SortedWindow | undefined {
  const start = windowStartMs(window);
  // Each run's timestamps as one array: the columns' own, or read once from a (rare) run of objects.
  const times = runs.map((run): ArrayLike<number> => (Array.isArray(run) ? Float64Array.from(run, (l: PartLine) => l.ts) : run.ts));
  counts.fill(0);
  let n = 0;
  for (const ts of times) {
    for (let i = 0; i < ts.length; i++) {
      const k = (ts[i] as number) - start;
      if (!(k >= 0 && k < WINDOW_MS && Number.isInteger(k))) return undefined;
      counts[k + 1] = (counts[k + 1] as number) + 1;
    }
    n += ts.length;
  }
  for (let k = 1; k <= WINDOW_MS; k++) counts[k] = (counts[k] as number) + (counts[k - 1] as number);
  const runOf = new Uint32Array(n);
  const idxOf = new Uint32Array(n);
  const tsOut = new Float64Array(n);
  for (let r = 0; r < times.length; r++) {
    const ts = times[r] as ArrayLike<number>;
    for (let i = 0; i < ts.length; i++) {
      const t = ts[i] as number;
      const k = t - start;
      const at = counts[k] as number;
      runOf[at] = r;
      idxOf[at] = i;
      tsOut[at] = t;
      counts[k] = at + 1;
    }
  }
  const sw = new SortedWindow(runs, runOf, idxOf, tsOut);
  for (let i = 0; i < n;) {
    const ts = tsOut[i] as number;
    let j = i + 1;
    while (j < n && tsOut[j] === ts) j++;
    if (j - i > 1) {
      // Ties on @timestamp: order them by (event.id, bytes) on objects made for them alone.
      const tie = Array.from({ length: j - i }, (_, d) => ({ line: sw.line(i + d), r: runOf[i + d] as number, x: idxOf[i + d] as number }));
      tie.sort((a, b) => comparePartLines(a.line, b.line));
      for (let d = 0; d < tie.length; d++) {
        runOf[i + d] = (tie[d] as { r: number }).r;
        idxOf[i + d] = (tie[d] as { x: number }).x;
      }
    }
    i = j;
  }
  return sw;
}

/** NDJSON handed to one bz2 stream: its size and order-free figures, how to copy it out, how to halve it. */
interface Chunk {
  rawBytes: number;
  count: number;
  minTs: number;
  maxTs: number;
  input: FillInput;
  split(): [Chunk, Chunk] | undefined;
}

/** A chunk of lines as objects (a spilled part's merge). */
function listChunk(c: StreamChunk): Chunk {
  return {
    rawBytes: c.rawBytes,
    count: c.count,
    minTs: c.minTs,
    maxTs: c.maxTs,
    input: {
      size: c.rawBytes,
      fill(out: Buffer): void {
        let at = 0;
        for (const l of c.lines) {
          at = copyLine(l, out, at);
          out[at++] = 0x0a;
        }
        if (at !== c.rawBytes) throw new Error(`chunk holds ${at} bytes, expected ${c.rawBytes}`);
      },
    },
    split(): [Chunk, Chunk] | undefined {
      const halves = splitChunk(c);
      return halves && [listChunk(halves[0]), listChunk(halves[1])];
    },
  };
}

/** Lines [from, to) of a sorted window: copied straight from the batch buffers when the job runs. */
function rangeChunk(sw: SortedWindow, from: number, to: number, rawBytes: number): Chunk {
  return {
    rawBytes,
    count: to - from,
    minTs: sw.ts[from] as number,
    maxTs: sw.ts[to - 1] as number,
    input: {
      size: rawBytes,
      fill(out: Buffer): void {
        const at = sw.fill(from, to, out, 0);
        if (at !== rawBytes) throw new Error(`chunk holds ${at} bytes, expected ${rawBytes}`);
      },
    },
    split(): [Chunk, Chunk] | undefined {
      if (to - from < 2) return undefined;
      const mid = from + ((to - from) >> 1);
      let left = 0;
      for (let k = from; k < mid; k++) left += sw.size(k) + 1;
      return [rangeChunk(sw, from, mid, left), rangeChunk(sw, mid, to, rawBytes - left)];
    },
  };
}

/** cutLines over a sorted window: the same cuts, as ranges. */
export function* cutSorted(sw: SortedWindow, targetRawBytes: number): Generator<Chunk> {
  let from = 0;
  let bytes = 0;
  for (let k = 0; k < sw.length; k++) {
    const n = sw.size(k) + 1;
    if (k > from && bytes + n > targetRawBytes) {
      yield rangeChunk(sw, from, k, bytes);
      from = k;
      bytes = 0;
    }
    bytes += n;
  }
  if (sw.length > from) yield rangeChunk(sw, from, sw.length, bytes);
}

function* listChunks(lines: Iterable<PartLine>, targetRawBytes: number): Generator<Chunk> {
  for (const c of cutLines(lines, targetRawBytes)) yield listChunk(c);
}

/**
 * Seals one buffered part: k-way merge of its sorted runs (memory and spill file), cut into streams
 * at event boundaries, compressed as whole bz2 streams — the streams of up to `jobRawBytes` by one
 * encoder process, jobs side by side on every core — concatenated in order. Every
 * step is a function of the events only, so the bytes are the same on every run.
 */
export async function sealPart(buf: PartBuffer, pool: Bz2Pool, opts: SealOptions): Promise<SealedPart> {
  // In memory: a counting sort of the window. Spilled: a k-way merge reading each run from disk lazily.
  const sorted = buf.spill ? undefined : sortWindow(buf.runs, buf.window);
  const chunks = sorted ? cutSorted(sorted, opts.streamRawBytes) : listChunks(mergeRuns([...(buf.spill?.readers() ?? []), ...buf.runs.map(sortedLines)]), opts.streamRawBytes);
  const jobRaw = opts.jobRawBytes ?? 16 * 1024 * 1024;
  let oversized = 0;
  const compressJob = async (job: Chunk[]): Promise<Stream[]> => {
    const outs = await pool.compressAll(job.map((c) => c.input));
    const streams: Stream[] = [];
    for (const [i, bytes] of outs.entries()) {
      const chunk = job[i] as Chunk;
      if (bytes.length > opts.maxRecordBytes) {
        const halves = chunk.split();
        if (halves) {
          streams.push(...(await compressJob(halves)));
          continue;
        }
        oversized++;
      }
      streams.push({ bytes, count: chunk.count, minTs: chunk.minTs, maxTs: chunk.maxTs, rawBytes: chunk.rawBytes });
    }
    return streams;
  };
  // At most `workers` + 1 jobs of this part in flight: every core busy, the next job's files ready behind.
  const pending: Promise<Stream[]>[] = [];
  const streams: Stream[] = [];
  let job: Chunk[] = [];
  let jobBytes = 0;
  const flush = async () => {
    const p = compressJob(job);
    p.catch(() => undefined); // awaited below in order; this only stops an early rejection being "unhandled"
    pending.push(p);
    job = [];
    jobBytes = 0;
    if (pending.length > pool.options.workers) streams.push(...(await (pending.shift() as Promise<Stream[]>)));
  };
  for (const chunk of chunks) {
    job.push(chunk);
    jobBytes += chunk.rawBytes;
    if (jobBytes >= jobRaw) await flush();
  }
  if (job.length) await flush();
  for (const p of pending) streams.push(...(await p));
  const { object, manifest } = assemblePart({
    encoder: pool.encoder,
    env: opts.env,
    topic: opts.topic,
    window: buf.window,
    partition: opts.partition,
    firstOffset: buf.firstOffset.toString(),
    lastOffset: buf.lastOffset.toString(),
    late: buf.late,
    stats: buf.stats,
    streams,
  });
  return { object, manifest, oversizedStreams: oversized };
}
