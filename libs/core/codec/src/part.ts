import { createHash } from 'node:crypto';
import { z } from 'zod';
import { windowId } from './names';
import { windowEndMs, windowOf, windowStartMs } from './window';

/**
 * The bz2 part format of DESIGN.md ("Topic c-<env> and S3"): NDJSON sorted by @timestamp, compressed
 * as one or more concatenated bz2 streams cut at event boundaries, plus a JSON manifest. This file is
 * the pure half (ordering, stream cutting, manifest, c-<env> records, verification); compression and
 * all I/O live in apps/compressor and the CLI. Spec: docs/specs/archive.md.
 */

/**
 * One event of a part, as the merge sees it: its sort key and its NDJSON line (no trailing newline),
 * either as text or as its UTF-8 bytes. The compressor keeps bytes (a view into the gunzipped batch:
 * no decode to a JS string and no re-encode on the way to the bz2 encoder); readers and tests use text.
 * Both forms of the same line sort, count and serialize identically.
 */
export interface PartLine {
  /** @timestamp as epoch ms. */
  ts: number;
  /** event.id ('' when absent): the deterministic tie-break. */
  id: string;
  line: string | Uint8Array;
}

const bytesOf = (l: string | Uint8Array): Uint8Array => (typeof l === 'string' ? Buffer.from(l) : l);

/** UTF-8 bytes of a line (without its newline). */
export function lineByteLength(l: string | Uint8Array): number {
  return typeof l === 'string' ? Buffer.byteLength(l) : l.length;
}

/** Byte order of two lines (the spec's last sort key). Only reached on (@timestamp, event.id) ties. */
function compareLineBytes(a: string | Uint8Array, b: string | Uint8Array): number {
  if (typeof a === 'string' && typeof b === 'string') {
    if (a === b) return 0;
    // Plain string order is UTF-16 code unit order, which differs from byte order for some non-ASCII text.
  }
  return Buffer.compare(bytesOf(a), bytesOf(b));
}

/**
 * Total order of a part: @timestamp, then event.id, then the line's bytes. The last key makes the
 * order (and so the bytes) independent of the order batches arrived in, which is what lets a crash
 * + re-read rewrite an identical object (two identical lines are interchangeable).
 */
export function comparePartLines(a: PartLine, b: PartLine): number {
  if (a.ts !== b.ts) return a.ts < b.ts ? -1 : 1;
  if (a.id !== b.id) return a.id < b.id ? -1 : 1;
  return compareLineBytes(a.line, b.line);
}

/**
 * Sorts one run (one h-<env> batch) in place. Batches arrive sorted by @timestamp already, and V8's
 * TimSort is linear on sorted input, so this costs one pass unless a producer broke the contract
 * (or ties need the id order) — in which case it still yields the right order.
 */
export function sortRun(run: PartLine[]): PartLine[] {
  return run.sort(comparePartLines);
}

/** Sort key of a decoded event; undefined when @timestamp is missing or unparseable. */
export function partLineOf(event: Record<string, unknown>, line: string): PartLine | undefined {
  const raw = event['@timestamp'];
  const ts = typeof raw === 'string' ? Date.parse(raw) : NaN;
  if (!Number.isFinite(ts)) return undefined;
  const ev = event.event as { id?: unknown } | undefined;
  const id = ev && typeof ev.id === 'string' ? ev.id : '';
  return { ts, id, line };
}

/**
 * k-way merge of sorted runs with a binary heap: O(n log k), where a full re-sort would be
 * O(n log n) and need every event in one array. Runs may be lazy (spilled runs read from disk), so the
 * merge holds only one head per run. Equal keys come out in run order (stable).
 */
export function* mergeRuns(runs: Iterable<PartLine>[]): Generator<PartLine> {
  const its = runs.map((r) => r[Symbol.iterator]());
  const heads: PartLine[] = [];
  const idx: number[] = [];
  const less = (i: number, j: number) => {
    const a = heads[i] as PartLine;
    const b = heads[j] as PartLine;
    if (a.ts !== b.ts) return a.ts < b.ts;
    const c = comparePartLines(a, b);
    return c < 0 || (c === 0 && (idx[i] as number) < (idx[j] as number));
  };
  const swap = (i: number, j: number) => {
    [heads[i], heads[j]] = [heads[j] as PartLine, heads[i] as PartLine];
    [idx[i], idx[j]] = [idx[j] as number, idx[i] as number];
  };
  const down = (i: number) => {
    for (;;) {
      const l = 2 * i + 1;
      const r = l + 1;
      let m = i;
      if (l < heads.length && less(l, m)) m = l;
      if (r < heads.length && less(r, m)) m = r;
      if (m === i) return;
      swap(i, m);
      i = m;
    }
  };
  const up = (i: number) => {
    while (i > 0) {
      const p = (i - 1) >> 1;
      if (!less(i, p)) return;
      swap(i, p);
      i = p;
    }
  };
  its.forEach((it, k) => {
    const n = it.next();
    if (!n.done) {
      heads.push(n.value);
      idx.push(k);
      up(heads.length - 1);
    }
  });
  while (heads.length) {
    const top = heads[0] as PartLine;
    const k = idx[0] as number;
    yield top;
    const n = (its[k] as Iterator<PartLine>).next();
    if (!n.done) {
      heads[0] = n.value;
      down(0);
    } else {
      const lastH = heads.pop() as PartLine;
      const lastI = idx.pop() as number;
      if (heads.length) {
        heads[0] = lastH;
        idx[0] = lastI;
        down(0);
      }
    }
  }
}

/** A run of consecutive events that becomes one bz2 stream. */
export interface StreamChunk {
  lines: PartLine[];
  /** NDJSON bytes of `lines`, newline-terminated. */
  rawBytes: number;
  count: number;
  minTs: number;
  maxTs: number;
}

/** The NDJSON text of a chunk: one line per event, each `\n`-terminated. */
export function chunkText(lines: readonly PartLine[]): string {
  let s = '';
  for (const l of lines) s += (typeof l.line === 'string' ? l.line : Buffer.from(l.line.buffer, l.line.byteOffset, l.line.byteLength).toString('utf8')) + '\n';
  return s;
}

/** The NDJSON bytes of a chunk (what the bz2 encoder gets): one copy per line into one buffer. */
export function chunkBytes(chunk: Pick<StreamChunk, 'lines' | 'rawBytes'>): Buffer {
  const out = Buffer.allocUnsafe(chunk.rawBytes);
  let at = 0;
  for (const l of chunk.lines) {
    if (typeof l.line === 'string') at += out.write(l.line, at, 'utf8');
    else {
      out.set(l.line, at);
      at += l.line.length;
    }
    out[at++] = 0x0a;
  }
  if (at !== out.length) throw new Error(`chunk holds ${at} bytes, expected ${out.length}`);
  return out;
}

function chunkOf(lines: PartLine[]): StreamChunk {
  let raw = 0;
  for (const l of lines) raw += lineByteLength(l.line) + 1;
  return { lines, rawBytes: raw, count: lines.length, minTs: lines[0]?.ts ?? 0, maxTs: lines[lines.length - 1]?.ts ?? 0 };
}

/**
 * Cuts a sorted sequence into chunks of at most `targetRawBytes` NDJSON bytes, at event boundaries
 * (an event larger than the target is a chunk alone). The cut depends only on the lines, so it is
 * deterministic.
 */
export function* cutStreams(lines: Iterable<PartLine>, targetRawBytes: number): Generator<StreamChunk> {
  let cur: PartLine[] = [];
  let bytes = 0;
  for (const l of lines) {
    const n = lineByteLength(l.line) + 1;
    if (cur.length && bytes + n > targetRawBytes) {
      yield chunkOf(cur);
      cur = [];
      bytes = 0;
    }
    cur.push(l);
    bytes += n;
  }
  if (cur.length) yield chunkOf(cur);
}

/**
 * Halves a chunk whose compressed stream came out larger than a c-<env> record may be. Returns
 * undefined for a single event (it cannot be cut; the caller ships it as an oversized stream).
 */
export function splitChunk(chunk: StreamChunk): [StreamChunk, StreamChunk] | undefined {
  if (chunk.lines.length < 2) return undefined;
  const mid = chunk.lines.length >> 1;
  return [chunkOf(chunk.lines.slice(0, mid)), chunkOf(chunk.lines.slice(mid))];
}

/** Which bz2 encoder wrote a part. Any bzip2 decoder reads every one; the name pins the exact bytes. */
export const PART_CODECS = ['bzip2'] as const;

const streamSchema = z
  .object({
    /** Byte offset of the stream in the object. */
    offset: z.number().int().nonnegative(),
    /** Compressed length of the stream, bytes. */
    length: z.number().int().positive(),
    count: z.number().int().positive(),
    /** Epoch ms of the first and last @timestamp in the stream. */
    minTs: z.number().int(),
    maxTs: z.number().int(),
    /** NDJSON bytes of the stream once decompressed. */
    rawBytes: z.number().int().positive(),
  })
  .strict();

/** The JSON manifest beside each part (`…/p<partition>-<firstOffset>.json`). Schema version 1. */
export const partManifestSchema = z
  .object({
    schema: z.literal(1),
    /** Compression format of the object; every stream is a complete stream of this format. */
    codec: z.enum(PART_CODECS),
    /** The encoder and settings that produced the bytes, e.g. `lbzip2 2.5 -9` (same input + encoder = same bytes). */
    encoder: z.string().min(1),
    env: z.string().min(1),
    /** Source topic, `h-<env>`. */
    topic: z.string().min(1),
    /** base36 window id and its start/end (epoch ms, end exclusive). */
    window: z.string().regex(/^[0-9a-z]+$/),
    windowStart: z.number().int(),
    windowEnd: z.number().int(),
    partition: z.number().int().nonnegative(),
    /** First and last h-<env> offsets whose events are in this part (decimal strings: int64). */
    firstOffset: z.string().regex(/^\d+$/),
    lastOffset: z.string().regex(/^\d+$/),
    /** True when the window had been sealed before these events arrived (a further part of the window). */
    late: z.boolean(),
    count: z.number().int().positive(),
    minTs: z.number().int(),
    maxTs: z.number().int(),
    rawBytes: z.number().int().positive(),
    compressedBytes: z.number().int().positive(),
    /** sha256 (hex) of the whole object. */
    sha256: z.string().regex(/^[0-9a-f]{64}$/),
    /** Distinct values, sorted (what a reader filters on before fetching). */
    hosts: z.array(z.string()),
    services: z.array(z.string()),
    levels: z.array(z.string()),
    streams: z.array(streamSchema).min(1),
  })
  .strict();

export type PartManifest = z.output<typeof partManifestSchema>;
export type PartStream = z.output<typeof streamSchema>;

/** Parses a manifest; throws a zod error naming every bad field. */
export function parseManifest(json: string | Uint8Array): PartManifest {
  const text = typeof json === 'string' ? json : Buffer.from(json).toString('utf8');
  return partManifestSchema.parse(JSON.parse(text));
}

/**
 * Serializes a manifest with a fixed key order and a trailing newline, so the same part always
 * yields the same manifest bytes (the manifest holds no wall-clock time for the same reason).
 */
export function serializeManifest(m: PartManifest): Buffer {
  return Buffer.from(JSON.stringify(partManifestSchema.parse(m), null, 1) + '\n');
}

/** Collects the per-part facts of the manifest while lines stream past. */
export class PartStats {
  count = 0;
  minTs = Infinity;
  maxTs = -Infinity;
  rawBytes = 0;
  readonly hosts = new Set<string>();
  readonly services = new Set<string>();
  readonly levels = new Set<string>();

  add(line: PartLine, facets?: { host?: string; service?: string; level?: string }): void {
    this.count++;
    if (line.ts < this.minTs) this.minTs = line.ts;
    if (line.ts > this.maxTs) this.maxTs = line.ts;
    this.rawBytes += lineByteLength(line.line) + 1;
    if (facets?.host) this.hosts.add(facets.host);
    if (facets?.service) this.services.add(facets.service);
    if (facets?.level) this.levels.add(facets.level);
  }
}

/** host.name, service.name and log.level of an event, for the manifest. */
export function facetsOf(event: Record<string, unknown>): { host?: string; service?: string; level?: string } {
  const str = (o: unknown, k: string) => {
    const v = o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
    return typeof v === 'string' && v !== '' ? v : undefined;
  };
  return { host: str(event.host, 'name'), service: str(event.service, 'name'), level: str(event.log, 'level') };
}

export interface BuildManifestInput {
  encoder: string;
  env: string;
  topic: string;
  window: number;
  partition: number;
  firstOffset: string;
  lastOffset: string;
  late: boolean;
  stats: PartStats;
  /** The compressed streams in object order, with their chunk facts. */
  streams: { bytes: Uint8Array; count: number; minTs: number; maxTs: number; rawBytes: number }[];
}

/** Concatenates the streams into the object and describes it. Pure and deterministic. */
export function assemblePart(input: BuildManifestInput): { object: Buffer; manifest: PartManifest } {
  const object = Buffer.concat(input.streams.map((s) => s.bytes));
  let offset = 0;
  const streams: PartStream[] = input.streams.map((s) => {
    const st = { offset, length: s.bytes.length, count: s.count, minTs: s.minTs, maxTs: s.maxTs, rawBytes: s.rawBytes };
    offset += s.bytes.length;
    return st;
  });
  const sorted = (s: Set<string>) => [...s].sort();
  const manifest: PartManifest = {
    schema: 1,
    codec: 'bzip2',
    encoder: input.encoder,
    env: input.env,
    topic: input.topic,
    window: windowId(input.window),
    windowStart: windowStartMs(input.window),
    windowEnd: windowEndMs(input.window),
    partition: input.partition,
    firstOffset: input.firstOffset,
    lastOffset: input.lastOffset,
    late: input.late,
    count: input.stats.count,
    minTs: input.stats.minTs,
    maxTs: input.stats.maxTs,
    rawBytes: input.stats.rawBytes,
    compressedBytes: object.length,
    sha256: createHash('sha256').update(object).digest('hex'),
    hosts: sorted(input.stats.hosts),
    services: sorted(input.stats.services),
    levels: sorted(input.stats.levels),
    streams,
  };
  return { object, manifest: partManifestSchema.parse(manifest) };
}

/** Record key of a part on c-<env>: `<window36>/p<partition>-<firstOffset>`. */
export function compressedRecordKey(window: number | string, partition: number, firstOffset: string): string {
  return `${typeof window === 'number' ? windowId(window) : window}/p${partition}-${firstOffset}`;
}

export interface CompressedRecord {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/**
 * The c-<env> records of a part: one per bz2 stream (each a whole stream, so a reader decodes any
 * record alone), in object order. Headers: `seq` (0-based), `last` (`1` on the last record else
 * `0`), `count`/`min-ts`/`max-ts` of the stream, and on the last record `sha256` of the whole object
 * plus the `manifest` JSON, so a c-<env> reader needs no S3 round trip.
 */
export function compressedRecords(object: Uint8Array, manifest: PartManifest): CompressedRecord[] {
  const key = compressedRecordKey(manifest.window, manifest.partition, manifest.firstOffset);
  const buf = Buffer.from(object.buffer, object.byteOffset, object.byteLength);
  return manifest.streams.map((s, seq) => {
    const last = seq === manifest.streams.length - 1;
    const headers: Record<string, string> = {
      schema: '1',
      codec: manifest.codec,
      seq: String(seq),
      last: last ? '1' : '0',
      count: String(s.count),
      'min-ts': String(s.minTs),
      'max-ts': String(s.maxTs),
    };
    if (last) {
      headers.sha256 = manifest.sha256;
      headers.manifest = JSON.stringify(manifest);
    }
    return { key, value: buf.subarray(s.offset, s.offset + s.length), headers };
  });
}

/** The streams of a manifest that hold events in [fromMs, toMs): the byte ranges a reader fetches. */
export function streamsInRange(m: PartManifest, fromMs: number, toMs: number): PartStream[] {
  return m.streams.filter((s) => s.maxTs >= fromMs && s.minTs < toMs);
}

/** One finding of a part check, with a stable code for scripts. */
export interface PartProblem {
  code: 'SHA256_MISMATCH' | 'SIZE_MISMATCH' | 'STREAMS_INVALID' | 'STREAM_UNREADABLE' | 'COUNT_MISMATCH' | 'RANGE_MISMATCH' | 'UNSORTED' | 'WRONG_WINDOW' | 'BAD_EVENT';
  message: string;
}

/**
 * Checks a part object against its manifest: sha256, sizes, the stream table (contiguous, covering the
 * object) and — given each stream's decompressed text (or an Error where it did not decode) — counts,
 * min/max @timestamp, sort order and window membership. Pure: the caller fetches and decompresses.
 */
export function checkPart(m: PartManifest, object: Uint8Array, decoded: readonly (string | Error)[]): PartProblem[] {
  const out: PartProblem[] = [];
  if (object.length !== m.compressedBytes) out.push({ code: 'SIZE_MISMATCH', message: `object is ${object.length} bytes, manifest says ${m.compressedBytes}` });
  const sha = createHash('sha256').update(object).digest('hex');
  if (sha !== m.sha256) out.push({ code: 'SHA256_MISMATCH', message: `sha256 ${sha} != manifest ${m.sha256}` });
  let at = 0;
  for (const [i, s] of m.streams.entries()) {
    if (s.offset !== at) out.push({ code: 'STREAMS_INVALID', message: `stream ${i} starts at ${s.offset}, expected ${at}` });
    at = s.offset + s.length;
  }
  if (at !== m.compressedBytes) out.push({ code: 'STREAMS_INVALID', message: `streams cover ${at} bytes, manifest says ${m.compressedBytes}` });
  if (decoded.length !== m.streams.length) {
    out.push({ code: 'STREAMS_INVALID', message: `${decoded.length} streams decoded, manifest lists ${m.streams.length}` });
    return out;
  }
  let total = 0;
  let raw = 0;
  let prev: PartLine | undefined;
  let minTs = Infinity;
  let maxTs = -Infinity;
  const win = windowOf(m.windowStart);
  for (const [i, text] of decoded.entries()) {
    const s = m.streams[i] as PartStream;
    if (text instanceof Error) {
      out.push({ code: 'STREAM_UNREADABLE', message: `stream ${i}: ${text.message}` });
      continue;
    }
    raw += Buffer.byteLength(text);
    const lines = text.split('\n');
    if (lines[lines.length - 1] === '') lines.pop();
    let sMin = Infinity;
    let sMax = -Infinity;
    let badReported = false;
    for (const line of lines) {
      let pl: PartLine | undefined;
      try {
        pl = partLineOf(JSON.parse(line) as Record<string, unknown>, line);
      } catch {
        pl = undefined;
      }
      if (!pl) {
        if (!badReported) out.push({ code: 'BAD_EVENT', message: `stream ${i}: a line is not an event with a parseable @timestamp` });
        badReported = true;
        continue;
      }
      if (prev && comparePartLines(prev, pl) > 0 && out.filter((p) => p.code === 'UNSORTED').length === 0) {
        out.push({ code: 'UNSORTED', message: `stream ${i}: events are not in (@timestamp, event.id) order` });
      }
      if (windowOf(pl.ts) !== win && !out.some((p) => p.code === 'WRONG_WINDOW')) {
        out.push({ code: 'WRONG_WINDOW', message: `stream ${i}: event at ${new Date(pl.ts).toISOString()} is outside window ${m.window}` });
      }
      prev = pl;
      sMin = Math.min(sMin, pl.ts);
      sMax = Math.max(sMax, pl.ts);
    }
    total += lines.length;
    if (lines.length !== s.count) out.push({ code: 'COUNT_MISMATCH', message: `stream ${i}: ${lines.length} events, manifest says ${s.count}` });
    if (lines.length && (sMin !== s.minTs || sMax !== s.maxTs)) out.push({ code: 'RANGE_MISMATCH', message: `stream ${i}: @timestamp ${sMin}..${sMax}, manifest says ${s.minTs}..${s.maxTs}` });
    minTs = Math.min(minTs, sMin);
    maxTs = Math.max(maxTs, sMax);
  }
  if (!out.some((p) => p.code === 'STREAM_UNREADABLE')) {
    if (total !== m.count) out.push({ code: 'COUNT_MISMATCH', message: `${total} events, manifest says ${m.count}` });
    if (raw !== m.rawBytes) out.push({ code: 'SIZE_MISMATCH', message: `${raw} NDJSON bytes, manifest says ${m.rawBytes}` });
    if (total && (minTs !== m.minTs || maxTs !== m.maxTs)) out.push({ code: 'RANGE_MISMATCH', message: `@timestamp ${minTs}..${maxTs}, manifest says ${m.minTs}..${m.maxTs}` });
  }
  return out;
}
