import { type PartManifest, type PartLine, type StreamChunk, assemblePart, chunkText, cutStreams, mergeRuns, splitChunk } from '@backlog/core-codec';
import type { PartBuffer } from './assembler';
import type { Bz2Pool } from './bz2-pool';

export interface SealOptions {
  env: string;
  topic: string;
  partition: number;
  /** NDJSON bytes per bz2 stream before compression. */
  streamRawBytes: number;
  /** A compressed stream must fit one c-<env> record; bigger ones are cut in half and recompressed. */
  maxRecordBytes: number;
}

export interface SealedPart {
  object: Buffer;
  manifest: PartManifest;
  /** Streams that still exceed maxRecordBytes (a single huge event): shipped, and counted. */
  oversizedStreams: number;
}

type Stream = { bytes: Buffer; count: number; minTs: number; maxTs: number; rawBytes: number };

/**
 * Seals one buffered part: k-way merge of its sorted runs (memory and spill file), cut into streams
 * at event boundaries, each compressed as a whole bz2 stream on the pool (all cores), concatenated in
 * order. Every step is a function of the events only, so the bytes are the same on every run.
 */
export async function sealPart(buf: PartBuffer, pool: Bz2Pool, opts: SealOptions): Promise<SealedPart> {
  const runs: Iterable<PartLine>[] = [...(buf.spill?.readers() ?? []), ...buf.runs];
  let oversized = 0;
  const compressChunk = async (chunk: StreamChunk): Promise<Stream[]> => {
    const bytes = await pool.compress(chunkText(chunk.lines));
    if (bytes.length > opts.maxRecordBytes) {
      const halves = splitChunk(chunk);
      if (halves) return [...(await compressChunk(halves[0])), ...(await compressChunk(halves[1]))];
      oversized++;
    }
    return [{ bytes, count: chunk.count, minTs: chunk.minTs, maxTs: chunk.maxTs, rawBytes: chunk.rawBytes }];
  };
  // Keep the pool busy but bound the raw text held: at most workers+1 chunks in flight per part.
  const lookahead = pool.options.workers + 1;
  const pending: Promise<Stream[]>[] = [];
  const streams: Stream[] = [];
  for (const chunk of cutStreams(mergeRuns(runs), opts.streamRawBytes)) {
    const p = compressChunk(chunk);
    p.catch(() => undefined); // awaited below in order; this only stops an early rejection being "unhandled"
    pending.push(p);
    if (pending.length >= lookahead) streams.push(...(await (pending.shift() as Promise<Stream[]>)));
  }
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
