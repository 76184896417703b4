import { type PartManifest, type PartLine, type StreamChunk, WINDOW_SECONDS, assemblePart, comparePartLines, mergeRuns, splitChunk, windowStartMs } from '@backlog/core-codec';
import { type PartBuffer, lineSize } from './assembler';
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

/**
 * A chunk's NDJSON as a pool input that copies itself into the pool's buffer when its job runs:
 * a scanned line straight from its batch buffer, then a newline. Nothing is assembled beforehand.
 */
function chunkInput(chunk: StreamChunk): FillInput {
  return {
    size: chunk.rawBytes,
    fill(out: Buffer): void {
      let at = 0;
      for (const l of chunk.lines) {
        if (l instanceof ScannedLine) at = l.copyTo(out, at);
        else if (typeof l.line === 'string') at += out.write(l.line, at, 'utf8');
        else {
          out.set(l.line, at);
          at += l.line.length;
        }
        out[at++] = 0x0a;
      }
      if (at !== chunk.rawBytes) throw new Error(`chunk holds ${at} bytes, expected ${chunk.rawBytes}`);
    },
  };
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
 * The lines of an in-memory part in part order (comparePartLines), without a k-way merge: every line
 * of a part lies in its window, and @timestamp is a whole number of ms, so a counting sort on the
 * millisecond within the window orders them in two linear passes; lines with the same @timestamp are
 * then sorted by comparePartLines. The result equals mergeRuns' order except among lines that compare
 * equal, which are byte-identical, so the part's bytes are the same. Undefined (the caller merges)
 * when a line lies outside the window.
 */
export function sortWindow(runs: readonly (readonly PartLine[])[], window: number): PartLine[] | undefined {
  const start = windowStartMs(window);
  counts.fill(0);
  let n = 0;
  for (const run of runs) {
    for (const l of run) {
      const k = l.ts - start;
      if (!(k >= 0 && k < WINDOW_MS && Number.isInteger(k))) return undefined;
      counts[k + 1] = (counts[k + 1] as number) + 1;
    }
    n += run.length;
  }
  for (let k = 1; k <= WINDOW_MS; k++) counts[k] = (counts[k] as number) + (counts[k - 1] as number);
  const out = new Array<PartLine>(n);
  for (const run of runs) {
    for (const l of run) {
      const k = l.ts - start;
      const at = counts[k] as number;
      out[at] = l;
      counts[k] = at + 1;
    }
  }
  for (let i = 0; i < n; ) {
    const ts = (out[i] as PartLine).ts;
    let j = i + 1;
    while (j < n && (out[j] as PartLine).ts === ts) j++;
    if (j - i > 1) {
      const tie = out.slice(i, j).sort(comparePartLines);
      for (let k = 0; k < tie.length; k++) out[i + k] = tie[k] as PartLine;
    }
    i = j;
  }
  return out;
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
  const lines: Iterable<PartLine> = sorted ?? mergeRuns([...(buf.spill?.readers() ?? []), ...buf.runs]);
  const jobRaw = opts.jobRawBytes ?? 16 * 1024 * 1024;
  let oversized = 0;
  const compressJob = async (chunks: StreamChunk[]): Promise<Stream[]> => {
    const outs = await pool.compressAll(chunks.map(chunkInput));
    const streams: Stream[] = [];
    for (const [i, bytes] of outs.entries()) {
      const chunk = chunks[i] as StreamChunk;
      if (bytes.length > opts.maxRecordBytes) {
        const halves = splitChunk(chunk);
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
  let job: StreamChunk[] = [];
  let jobBytes = 0;
  const flush = async () => {
    const p = compressJob(job);
    p.catch(() => undefined); // awaited below in order; this only stops an early rejection being "unhandled"
    pending.push(p);
    job = [];
    jobBytes = 0;
    if (pending.length > pool.options.workers) streams.push(...(await (pending.shift() as Promise<Stream[]>)));
  };
  for (const chunk of cutLines(lines, opts.streamRawBytes)) {
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
