import { createHash } from 'node:crypto';
import { StringDecoder } from 'node:string_decoder';
import { parsePartKey, windowId, windowPrefix } from './names';
import { type PartManifest, type PartProblem, type PartStream, checkPart, parseManifest, streamsInRange } from './part';
import { windowsInRange } from './window';

/**
 * The one read path of the archive (docs/specs/archive.md, "Readers"): list the parts of a time range
 * without scanning the bucket, and read one part's NDJSON event lines — from S3 or from bytes already
 * at hand (the records of `c-<env>`) — verified against its manifest before anything is handed out;
 * or check a whole part (`checkStoredPart`, for `backlog archive verify`). Pure logic: the object
 * store, the bz2 decoder and the scratch space are ports (`PartStore`, `Bz2DecoderPort`,
 * `SpoolFactory`), implemented by `@backlog/adapter-s3` (`partStoreOf`) and `@backlog/adapter-bz2`.
 */

/** A byte range of an object, HTTP Range semantics. */
export interface ByteRange {
  start: number;
  endInclusive: number;
}

/** Where parts and manifests are kept (S3: `partStoreOf` in `@backlog/adapter-s3`). */
export interface PartStore {
  /** Every object under `prefix`. */
  list(prefix: string): AsyncIterable<{ key: string; size: number }>;
  /** The whole object, refused above `maxBytes`. */
  get(key: string, options: { maxBytes: number }): Promise<Uint8Array>;
  /** The object, or a range of it, as a stream of chunks. */
  getStream(key: string, range?: ByteRange): Promise<AsyncIterable<Uint8Array>>;
  /**
   * What an error thrown by this store means for a part: the key is absent (`not_found`), the object is
   * over `maxBytes` (`too_large`), or anything else (undefined: the store failed; thrown as it is).
   */
  failureOf(e: unknown): 'not_found' | 'too_large' | undefined;
}

/**
 * A bz2 decoder (`createBz2Decoder` in `@backlog/adapter-bz2`: a spawned `lbzip2 -d`, or the JS
 * `unbzip2-stream`). Reads any number of concatenated streams. Contract: corrupt input throws
 * `ArchivePartError` DECOMPRESS (with `key`); an error of `source` is thrown as it is; a decoder that
 * cannot start is a plain Error (the part is not to blame). Stopping the iteration early stops the
 * decoder and `source`.
 */
export interface Bz2DecoderPort {
  /** What decodes, e.g. `lbzip2 -d` or `unbzip2-stream`. */
  name(): Promise<string>;
  decode(source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, key: string): AsyncIterable<Buffer>;
}

/** A byte sink that stays in memory up to a bound and spills to scratch space above it (`@backlog/adapter-bz2`). */
export interface ByteSpool {
  readonly size: number;
  write(b: Buffer): Promise<void>;
  /** No more writes. */
  seal(): Promise<void>;
  /** The content, in chunks. */
  chunks(): AsyncIterable<Buffer>;
  /** The whole content when it is held in memory, else undefined. */
  inMemory(): Buffer | undefined;
  dispose(): Promise<void>;
}

export type SpoolFactory = (memoryBytes: number) => ByteSpool;

/** A complete part in the store: its object and manifest both exist and the manifest parsed. */
export interface ArchivePart {
  /** Key of the bz2 object. */
  key: string;
  manifestKey: string;
  manifest: PartManifest;
  /** Object size as listed (equal to `manifest.compressedBytes` for a sound part). */
  size: number;
}

/**
 * A part to read: one in the store, or one whose object is at hand (`object`: the concatenated
 * `c-<env>` records; `key` then names it in errors, e.g. the record key).
 */
export interface ReadablePart {
  key: string;
  manifest: PartManifest;
  object?: Uint8Array;
}

export interface ArchiveProblem {
  code: 'MISSING_MANIFEST' | 'MISSING_PART' | 'BAD_MANIFEST';
  key: string;
  message: string;
}

export interface ArchiveListing {
  /** Complete parts holding events in [fromMs, toMs) (all parts with `includeOutOfRange`), sorted by window, partition, firstOffset. */
  parts: ArchivePart[];
  /** base36 ids of every window overlapping [fromMs, toMs), in order: the prefixes listed. */
  windows: string[];
  /** Windows with no complete part (nothing in the store yet, or only a part whose manifest is not written). */
  windowsWithoutParts: string[];
  problems: ArchiveProblem[];
  /** Complete parts left out because all their events lie outside [fromMs, toMs) (edge windows). */
  outOfRange: number;
}

export interface ListArchiveOptions {
  /** Keep parts whose events all lie outside the range (a checker wants every part of the windows). Default false. */
  includeOutOfRange?: boolean;
  /** Manifests fetched at the same time. Default 8. */
  concurrency?: number;
}

export type ArchivePartErrorCode = 'SHA256_MISMATCH' | 'COUNT_MISMATCH' | 'DECOMPRESS' | 'MISSING' | 'BAD_EVENT';

/** A part that cannot be read as its manifest describes it. `key` is the object's key. */
export class ArchivePartError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: ArchivePartErrorCode,
    readonly key: string,
    message: string,
    cause?: unknown,
  ) {
    super(`${key}: ${message}`, cause === undefined ? undefined : { cause });
    this.name = 'ArchivePartError';
  }
}

export function isArchivePartError(e: unknown): e is ArchivePartError {
  return e instanceof ArchivePartError;
}

/** Runs `fn` over `items` with at most `n` at a time. */
export async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(
    Array.from({ length: Math.min(Math.max(1, n), items.length) }, async () => {
      while (i < items.length) await fn(items[i++] as T);
    }),
  );
}

const cmpOffsets = (a: string, b: string) => (a.length !== b.length ? a.length - b.length : a < b ? -1 : a > b ? 1 : 0);

/** True when some event of the part may lie in [fromMs, toMs). */
export function partOverlaps(m: PartManifest, fromMs: number, toMs: number): boolean {
  return m.maxTs >= fromMs && m.minTs < toMs;
}

/**
 * The parts of `env` in [fromMs, toMs). Lists `windowPrefix(env, w)` for each window of the range and
 * nothing else. A part without manifest (an interrupted write), a manifest without part, or a
 * manifest that does not parse or does not describe its key becomes a problem, never an exception;
 * store errors (unreachable, access denied) are thrown.
 */
export async function listArchiveParts(store: PartStore, env: string, fromMs: number, toMs: number, opts: ListArchiveOptions = {}): Promise<ArchiveListing> {
  const windows = windowsInRange(fromMs, toMs);
  const problems: ArchiveProblem[] = [];
  const found: { base: string; window: number; partition: number; firstOffset: string; size: number }[] = [];
  const perWindow = await Promise.all(
    windows.map(async (w) => {
      const objects = new Map<string, number>();
      const mans = new Set<string>();
      const meta = new Map<string, { partition: number; firstOffset: string }>();
      for await (const o of store.list(windowPrefix(env, w))) {
        const p = parsePartKey(o.key);
        if (!p || p.window !== windowId(w)) continue;
        const base = o.key.replace(/\.(log\.bz2|json)$/, '');
        meta.set(base, { partition: p.partition, firstOffset: p.firstOffset });
        if (p.kind === 'part') objects.set(base, o.size);
        else mans.add(base);
      }
      return { w, objects, mans, meta };
    }),
  );
  for (const { w, objects, mans, meta } of perWindow) {
    for (const [b] of objects) {
      if (!mans.has(b)) problems.push({ code: 'MISSING_MANIFEST', key: `${b}.log.bz2`, message: 'part without its manifest (a write in progress or interrupted, or a deleted manifest)' });
    }
    for (const b of mans) {
      const size = objects.get(b);
      if (size === undefined) problems.push({ code: 'MISSING_PART', key: `${b}.json`, message: 'manifest without its part' });
      else found.push({ base: b, window: w, size, ...(meta.get(b) as { partition: number; firstOffset: string }) });
    }
  }
  const parts: ArchivePart[] = [];
  await pool(found, opts.concurrency ?? 8, async (f) => {
    const manifestKey = `${f.base}.json`;
    let bytes: Uint8Array;
    try {
      bytes = await store.get(manifestKey, { maxBytes: 16 * 1024 * 1024 });
    } catch (e) {
      if (store.failureOf(e) === undefined) throw e;
      problems.push({ code: 'BAD_MANIFEST', key: manifestKey, message: (e as Error).message });
      return;
    }
    let manifest: PartManifest;
    try {
      manifest = parseManifest(bytes);
    } catch (e) {
      problems.push({ code: 'BAD_MANIFEST', key: manifestKey, message: `invalid manifest: ${(e as Error).message.slice(0, 300)}` });
      return;
    }
    const wrong: string[] = [];
    if (manifest.env !== env) wrong.push(`env ${manifest.env}`);
    if (manifest.window !== windowId(f.window)) wrong.push(`window ${manifest.window}`);
    if (manifest.partition !== f.partition) wrong.push(`partition ${manifest.partition}`);
    if (manifest.firstOffset !== f.firstOffset) wrong.push(`firstOffset ${manifest.firstOffset}`);
    if (wrong.length) {
      problems.push({ code: 'BAD_MANIFEST', key: manifestKey, message: `manifest does not describe its key: ${wrong.join(', ')}` });
      return;
    }
    parts.push({ key: `${f.base}.log.bz2`, manifestKey, manifest, size: f.size });
  });
  parts.sort((a, b) => a.manifest.windowStart - b.manifest.windowStart || a.manifest.partition - b.manifest.partition || cmpOffsets(a.manifest.firstOffset, b.manifest.firstOffset));
  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const withParts = new Set(parts.map((p) => p.manifest.window));
  const kept = opts.includeOutOfRange ? parts : parts.filter((p) => partOverlaps(p.manifest, fromMs, toMs));
  return {
    parts: kept,
    windows: windows.map(windowId),
    windowsWithoutParts: windows.map(windowId).filter((w) => !withParts.has(w)),
    problems,
    outOfRange: parts.length - kept.length,
  };
}

export interface ReadPartOptions {
  /** Events with @timestamp ≥ fromMs only. Default: no lower bound. */
  fromMs?: number;
  /** Events with @timestamp < toMs only. Default: no upper bound. */
  toMs?: number;
  /**
   * Check the object's sha256 and size and the event count against the manifest before yielding
   * anything (the part is downloaded and decompressed first, in memory up to `memoryBytes`, spilled to
   * scratch space above). Default true. With false the part is streamed, and for a sub-range only the
   * byte ranges of its streams in range are fetched.
   */
  verify?: boolean;
  /** Lines per yielded batch. Default 1000. */
  batchLines?: number;
  /** Bytes held in memory (compressed object, then decompressed lines) before spilling. Default 64 MiB. */
  memoryBytes?: number;
  /** Called with each chunk of compressed bytes received from the store (progress). */
  onBytes?: (n: number) => void;
}

/** What reading a part needs: the store (for parts not at hand), the decoder and scratch space. */
export interface PartReaderIo {
  store?: PartStore;
  decoder: Bz2DecoderPort;
  spool: SpoolFactory;
}

const MiB = 1024 * 1024;

/** Byte ranges to fetch: consecutive streams merged into one request. */
export function rangesOf(streams: readonly PartStream[]): ByteRange[] {
  const out: ByteRange[] = [];
  for (const s of streams) {
    const last = out[out.length - 1];
    if (last && last.endInclusive + 1 === s.offset) last.endInclusive = s.offset + s.length - 1;
    else out.push({ start: s.offset, endInclusive: s.offset + s.length - 1 });
  }
  return out;
}

/** The @timestamp of an NDJSON event line in epoch ms, or undefined. */
export function lineTimestamp(line: string): number | undefined {
  try {
    const raw = (JSON.parse(line) as Record<string, unknown>)['@timestamp'];
    const ts = typeof raw === 'string' ? Date.parse(raw) : NaN;
    return Number.isFinite(ts) ? ts : undefined;
  } catch {
    return undefined;
  }
}

/** Splits decompressed chunks into lines (without '\n'); the text must end with a newline. */
async function* linesOf(chunks: AsyncIterable<Buffer>, key: string): AsyncGenerator<string> {
  const text = new StringDecoder('utf8');
  let rest = '';
  for await (const chunk of chunks) {
    const s = rest + text.write(chunk);
    const lines = s.split('\n');
    rest = lines.pop() as string;
    for (const l of lines) yield l;
  }
  rest += text.end();
  if (rest !== '') throw new ArchivePartError('DECOMPRESS', key, 'the decompressed text does not end with a newline (a truncated part?)');
}

/** Lines of text held by a spool (written as NDJSON). */
async function* spoolLines(spool: ByteSpool, key: string): AsyncGenerator<string> {
  const whole = spool.inMemory();
  if (!whole) {
    yield* linesOf(spool.chunks(), key);
    return;
  }
  const text = whole.toString('utf8');
  let at = 0;
  for (;;) {
    const nl = text.indexOf('\n', at);
    if (nl < 0) break;
    yield text.slice(at, nl);
    at = nl + 1;
  }
}

async function openObject(io: PartReaderIo, part: ReadablePart, range?: ByteRange): Promise<AsyncIterable<Uint8Array> | Iterable<Uint8Array>> {
  if (part.object) {
    const o = part.object;
    return [range ? o.subarray(range.start, range.endInclusive + 1) : o];
  }
  if (!io.store) throw new Error(`${part.key}: no store to read the part from`);
  try {
    return await io.store.getStream(part.key, range);
  } catch (e) {
    if (io.store.failureOf(e) === 'not_found') throw new ArchivePartError('MISSING', part.key, 'the part object is gone (deleted after listing?)', e);
    throw e;
  }
}

async function* counted(src: AsyncIterable<Uint8Array> | Iterable<Uint8Array>, onBytes: ((n: number) => void) | undefined): AsyncGenerator<Uint8Array> {
  for await (const c of src) {
    onBytes?.(c.length);
    yield c;
  }
}

/**
 * The NDJSON event lines of one part whose @timestamp lies in [fromMs, toMs), in part order
 * (@timestamp, event.id), as batches of at most `batchLines` strings without '\n'.
 *
 * With `verify` (the default) nothing is yielded before the object's size and sha256 and the number
 * of events decompressed match the manifest; a mismatch throws `ArchivePartError` (SHA256_MISMATCH,
 * COUNT_MISMATCH, DECOMPRESS, MISSING). A line without a parseable @timestamp in a part that straddles
 * the range throws BAD_EVENT (a sound part has none). Store errors are thrown as the store threw them.
 */
export async function* readPartEvents(io: PartReaderIo, part: ReadablePart, opts: ReadPartOptions = {}): AsyncGenerator<string[]> {
  const m = part.manifest;
  const from = opts.fromMs ?? -Infinity;
  const to = opts.toMs ?? Infinity;
  const batchLines = Math.max(1, opts.batchLines ?? 1000);
  if (!partOverlaps(m, from, to)) return;
  if (m.codec !== 'bzip2') throw new ArchivePartError('DECOMPRESS', part.key, `codec ${String(m.codec)} is not supported (bzip2 only)`);
  // Whole part in range: no line needs its @timestamp read.
  const filter = !(m.minTs >= from && m.maxTs < to);
  const inRange = (line: string): boolean => {
    if (!filter) return true;
    const ts = lineTimestamp(line);
    if (ts === undefined) throw new ArchivePartError('BAD_EVENT', part.key, `a line is not an event with a parseable @timestamp: ${line.slice(0, 120)}`);
    return ts >= from && ts < to;
  };
  const source = async (range?: ByteRange) => (opts.onBytes ? counted(await openObject(io, part, range), opts.onBytes) : openObject(io, part, range));

  if (opts.verify === false) {
    const streams = filter ? streamsInRange(m, from, to) : m.streams;
    const sources = streams.length === m.streams.length ? [undefined] : rangesOf(streams);
    let batch: string[] = [];
    for (const range of sources) {
      for await (const line of linesOf(io.decoder.decode(await source(range), part.key), part.key)) {
        if (!inRange(line)) continue;
        batch.push(line);
        if (batch.length >= batchLines) {
          yield batch;
          batch = [];
        }
      }
    }
    if (batch.length) yield batch;
    return;
  }

  const memory = opts.memoryBytes ?? 64 * MiB;
  const object = io.spool(memory);
  const lines = io.spool(memory);
  try {
    // 1. Download (or take), hashing on the way.
    const hash = createHash('sha256');
    for await (const c of await source()) {
      const b = Buffer.isBuffer(c) ? c : Buffer.from(c.buffer, c.byteOffset, c.byteLength);
      hash.update(b);
      await object.write(b);
    }
    await object.seal();
    const sha = hash.digest('hex');
    if (sha !== m.sha256 || object.size !== m.compressedBytes) {
      throw new ArchivePartError('SHA256_MISMATCH', part.key, `object is ${object.size} bytes with sha256 ${sha}; manifest says ${m.compressedBytes} bytes, sha256 ${m.sha256}`);
    }
    // 2. Decompress, counting every event and keeping those in range.
    let count = 0;
    let kept = 0;
    if (!filter) {
      // Every event is kept: the decompressed bytes are spooled as they come, events counted as newlines.
      let last = 10;
      for await (const chunk of io.decoder.decode(object.chunks(), part.key)) {
        for (let at = chunk.indexOf(10); at >= 0; at = chunk.indexOf(10, at + 1)) count++;
        if (chunk.length) last = chunk[chunk.length - 1] as number;
        await lines.write(chunk);
      }
      if (last !== 10) throw new ArchivePartError('DECOMPRESS', part.key, 'the decompressed text does not end with a newline (a truncated part?)');
      kept = count;
    } else {
      let pending: string[] = [];
      let pendingBytes = 0;
      const flush = async () => {
        if (!pending.length) return;
        await lines.write(Buffer.from(pending.join('\n') + '\n'));
        pending = [];
        pendingBytes = 0;
      };
      for await (const line of linesOf(io.decoder.decode(object.chunks(), part.key), part.key)) {
        count++;
        if (!inRange(line)) continue;
        kept++;
        pending.push(line);
        pendingBytes += line.length + 1;
        if (pendingBytes >= MiB) await flush();
      }
      await flush();
    }
    await lines.seal();
    await object.dispose();
    if (count !== m.count) throw new ArchivePartError('COUNT_MISMATCH', part.key, `${count} events decompressed, manifest says ${m.count}`);
    // 3. Hand out.
    let batch: string[] = [];
    let n = 0;
    for await (const line of spoolLines(lines, part.key)) {
      batch.push(line);
      n++;
      if (batch.length >= batchLines) {
        yield batch;
        batch = [];
      }
    }
    if (batch.length) yield batch;
    if (n !== kept) throw new ArchivePartError('DECOMPRESS', part.key, `spooled ${kept} lines, read back ${n}`);
  } finally {
    await object.dispose();
    await lines.dispose();
  }
}

/** The whole decoded text of bz2 bytes (any number of concatenated streams). Throws as the decoder does. */
export async function decodeText(decoder: Bz2DecoderPort, bytes: Uint8Array, key = 'bz2'): Promise<string> {
  const out: Buffer[] = [];
  for await (const c of decoder.decode([bytes], key)) out.push(c);
  return Buffer.concat(out).toString('utf8');
}

/** Each stream of a part object decoded alone (as `checkPart` wants it), or the Error where it did not decode. */
export function decodeStreams(decoder: Bz2DecoderPort, m: PartManifest, object: Uint8Array, key = 'part'): Promise<(string | Error)[]> {
  return Promise.all(
    m.streams.map((s) =>
      s.offset + s.length <= object.length
        ? decodeText(decoder, object.subarray(s.offset, s.offset + s.length), key).catch((e: unknown) => (e instanceof Error ? e : new Error(String(e))))
        : Promise.resolve(new Error("stream beyond the object's end")),
    ),
  );
}

/** One finding of `checkStoredPart`: `checkPart`'s, or the object gone from the store. */
export interface StoredPartProblem {
  code: PartProblem['code'] | 'MISSING_PART';
  message: string;
}

/**
 * Fetches a listed part whole and checks it against its manifest (`checkPart`: sha256, sizes, stream
 * table, per-stream and total counts, @timestamp ranges, order, window). An object gone or over its
 * manifest's size (+1 MiB) is a problem, not an exception (`bytes` then undefined: nothing was checked);
 * other store errors are thrown.
 */
export async function checkStoredPart(io: { store: PartStore; decoder: Bz2DecoderPort }, part: ArchivePart): Promise<{ problems: StoredPartProblem[]; bytes?: number }> {
  const m = part.manifest;
  let object: Uint8Array;
  try {
    object = await io.store.get(part.key, { maxBytes: Math.max(m.compressedBytes, 1) + MiB });
  } catch (e) {
    const failure = io.store.failureOf(e);
    if (!failure) throw e;
    return { problems: [{ code: failure === 'not_found' ? 'MISSING_PART' : 'SIZE_MISMATCH', message: (e as Error).message }] };
  }
  return { problems: checkPart(m, object, await decodeStreams(io.decoder, m, object, part.key)), bytes: object.length };
}
