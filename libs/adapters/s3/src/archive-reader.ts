import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { constants, createReadStream } from 'node:fs';
import { type FileHandle, access, mkdtemp, open, rm } from 'node:fs/promises';
import { availableParallelism, tmpdir } from 'node:os';
import { delimiter, join } from 'node:path';
import { createInterface } from 'node:readline';
import { PassThrough, Readable } from 'node:stream';
import { StringDecoder } from 'node:string_decoder';
import unbzip2 from 'unbzip2-stream';
import {
  type PartManifest,
  type PartStream,
  parseManifest,
  parsePartKey,
  streamsInRange,
  windowId,
  windowPrefix,
  windowsInRange,
} from '@backlog/core-codec';
import { isS3AdapterError } from './errors';
import type { S3Port } from './s3';

/**
 * Reading the bz2 archive (docs/specs/archive.md, "Readers"): list the parts of a time range without
 * scanning the bucket (only the prefixes of the range's windows are listed), and stream one part's
 * NDJSON event lines, verified against its manifest before anything is handed out.
 */

/** A complete part: its object and manifest both exist and the manifest parsed. */
export interface ArchivePart {
  /** S3 key of the bz2 object. */
  key: string;
  manifestKey: string;
  manifest: PartManifest;
  /** Object size as listed (equal to `manifest.compressedBytes` for a sound part). */
  size: number;
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
  /** Windows with no complete part (nothing in S3 yet, or only a part whose manifest is not written). */
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

async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
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
 * S3 errors (unreachable, access denied) are thrown.
 */
export async function listArchiveParts(s3: S3Port, env: string, fromMs: number, toMs: number, opts: ListArchiveOptions = {}): Promise<ArchiveListing> {
  const windows = windowsInRange(fromMs, toMs);
  const problems: ArchiveProblem[] = [];
  const found: { base: string; window: number; partition: number; firstOffset: string; size: number }[] = [];
  const perWindow = await Promise.all(
    windows.map(async (w) => {
      const objects = new Map<string, number>();
      const mans = new Set<string>();
      const meta = new Map<string, { partition: number; firstOffset: string }>();
      for await (const o of s3.list(windowPrefix(env, w))) {
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
    let manifest: PartManifest;
    try {
      manifest = parseManifest(await s3.get(manifestKey, { maxBytes: 16 * 1024 * 1024 }));
    } catch (e) {
      if (isS3AdapterError(e) && e.code !== 'S3_NOT_FOUND' && e.code !== 'S3_TOO_LARGE') throw e;
      problems.push({ code: 'BAD_MANIFEST', key: manifestKey, message: isS3AdapterError(e) ? e.message : `invalid manifest: ${(e as Error).message.slice(0, 300)}` });
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

export type ArchivePartErrorCode = 'SHA256_MISMATCH' | 'COUNT_MISMATCH' | 'DECOMPRESS' | 'MISSING' | 'BAD_EVENT';

/** A part that cannot be read as its manifest describes it. `key` is the object's key. */
export class ArchivePartError extends Error {
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

export interface ReadPartOptions {
  /** Events with @timestamp ≥ fromMs only. Default: no lower bound. */
  fromMs?: number;
  /** Events with @timestamp < toMs only. Default: no upper bound. */
  toMs?: number;
  /**
   * Check the object's sha256 and size and the event count against the manifest before yielding
   * anything (the part is downloaded and decompressed first, in memory up to `memoryBytes`, spilled to
   * a temp file above). Default true. With false the part is streamed, and for a sub-range only the
   * byte ranges of its streams in range are fetched.
   */
  verify?: boolean;
  /** Lines per yielded batch. Default 1000. */
  batchLines?: number;
  /** Bytes held in memory (compressed object, then decompressed lines) before spilling to a temp file. Default 64 MiB. */
  memoryBytes?: number;
  /** Directory for spill files. Default os.tmpdir(). */
  tmpDir?: string;
  /** Called with each chunk of compressed bytes received from S3 (progress). */
  onBytes?: (n: number) => void;
  /**
   * bz2 decoder: `lbzip2` (a spawned `lbzip2 -d`, native and off the event loop), `unbzip2-stream`
   * (pure JS, in process), or `auto` (the default): lbzip2 when it is on the PATH, else unbzip2-stream.
   * Both read any number of concatenated streams.
   */
  decoder?: Bz2Decoder;
  /** Threads of a spawned lbzip2 (`-n`). Default min(2, available cores). */
  decoderThreads?: number;
}

export type Bz2Decoder = 'auto' | 'lbzip2' | 'unbzip2-stream';

const MiB = 1024 * 1024;

/** Byte ranges to fetch: consecutive streams merged into one request. */
function rangesOf(streams: readonly PartStream[]): { start: number; endInclusive: number }[] {
  const out: { start: number; endInclusive: number }[] = [];
  for (const s of streams) {
    const last = out[out.length - 1];
    if (last && last.endInclusive + 1 === s.offset) last.endInclusive = s.offset + s.length - 1;
    else out.push({ start: s.offset, endInclusive: s.offset + s.length - 1 });
  }
  return out;
}

/** The @timestamp of an NDJSON event line in epoch ms, or undefined. */
function timestampOf(line: string): number | undefined {
  try {
    const raw = (JSON.parse(line) as Record<string, unknown>)['@timestamp'];
    const ts = typeof raw === 'string' ? Date.parse(raw) : NaN;
    return Number.isFinite(ts) ? ts : undefined;
  } catch {
    return undefined;
  }
}

let lbzip2Path: Promise<string | undefined> | undefined;

/** The lbzip2 executable on the PATH (looked up once), or undefined. */
export function findLbzip2(): Promise<string | undefined> {
  lbzip2Path ??= (async () => {
    for (const dir of (process.env.PATH ?? '').split(delimiter)) {
      if (!dir) continue;
      const file = join(dir, 'lbzip2');
      try {
        await access(file, constants.X_OK);
        return file;
      } catch {
        // not here
      }
    }
    return undefined;
  })();
  return lbzip2Path;
}

interface DecodeWith {
  decoder: 'lbzip2' | 'unbzip2-stream';
  /** The lbzip2 executable. */
  path?: string;
  threads: number;
}

async function resolveDecoder(opts: ReadPartOptions): Promise<DecodeWith> {
  const threads = Math.max(1, Math.floor(opts.decoderThreads ?? Math.min(2, availableParallelism())));
  const want = opts.decoder ?? 'auto';
  if (want === 'unbzip2-stream') return { decoder: want, threads };
  const path = await findLbzip2();
  if (path) return { decoder: 'lbzip2', path, threads };
  if (want === 'lbzip2') throw new Error('lbzip2 is not on the PATH (scripts/prereqs.sh installs it); use decoder "auto" or "unbzip2-stream"');
  return { decoder: 'unbzip2-stream', threads };
}

/**
 * Decompresses bz2 (any number of concatenated streams) into chunks of plain bytes. A corrupt input
 * throws ArchivePartError DECOMPRESS; an error of `source` (S3) is thrown as it is; a decoder that
 * cannot start (lbzip2 gone) is a plain Error — the part is not to blame, the caller may retry.
 */
function bz2Chunks(source: Readable, key: string, d: DecodeWith): AsyncGenerator<Buffer> {
  return d.decoder === 'lbzip2' ? lbzip2Chunks(source, key, d.path as string, d.threads) : unbzip2Chunks(source, key);
}

async function* unbzip2Chunks(source: Readable, key: string): AsyncGenerator<Buffer> {
  const dec = unbzip2();
  const out = new PassThrough({ highWaterMark: 4 * MiB });
  const fail = (e: unknown) => out.destroy(new ArchivePartError('DECOMPRESS', key, `bz2: ${(e as Error)?.message ?? String(e)}`, e));
  source.once('error', (e) => out.destroy(e));
  dec.once('error', fail);
  source.pipe(dec).pipe(out);
  try {
    for await (const chunk of out as AsyncIterable<Buffer>) yield chunk;
  } finally {
    source.destroy();
    out.on('error', () => undefined);
    out.destroy();
  }
}

async function* lbzip2Chunks(source: Readable, key: string, path: string, threads: number): AsyncGenerator<Buffer> {
  const child = spawn(path, ['-d', '-c', `-n${threads}`], { stdio: ['pipe', 'pipe', 'pipe'] });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; error?: Error }>((resolve) => {
    child.once('error', (error) => resolve({ code: null, signal: null, error }));
    child.once('close', (code, signal) => resolve({ code, signal }));
  });
  let stderr = '';
  child.stderr.on('data', (b: Buffer) => {
    if (stderr.length < 4096) stderr += b.toString('utf8');
  });
  // lbzip2 stops reading at the first bad byte: the write side then fails (EPIPE) and its exit status says why.
  child.stdin.on('error', () => undefined);
  let sourceError: unknown;
  source.once('error', (e) => {
    sourceError = e;
    child.kill('SIGKILL');
  });
  source.pipe(child.stdin);
  let done = false;
  try {
    for await (const chunk of child.stdout as AsyncIterable<Buffer>) yield chunk;
    const r = await exited;
    if (sourceError !== undefined) throw sourceError;
    if (r.error) throw new Error(`${key}: cannot run lbzip2: ${r.error.message}`, { cause: r.error });
    if (r.code !== 0) throw new ArchivePartError('DECOMPRESS', key, `bz2: lbzip2 -d exited with ${r.code ?? r.signal}: ${stderr.trim().slice(0, 300) || 'no message'}`);
    done = true;
  } finally {
    source.unpipe(child.stdin);
    source.destroy();
    if (!done && child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
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

/** A byte sink that stays in memory up to a bound and spills to a temp file above it. */
class Spool {
  private chunks: Buffer[] = [];
  private held = 0;
  private file: FileHandle | undefined;
  private path: string | undefined;
  private dir: string | undefined;
  size = 0;

  constructor(
    private readonly limit: number,
    private readonly tmp: string,
  ) {}

  async write(b: Buffer): Promise<void> {
    this.size += b.length;
    if (!this.file && this.held + b.length <= this.limit) {
      this.chunks.push(b);
      this.held += b.length;
      return;
    }
    if (!this.file) {
      this.dir = await mkdtemp(join(this.tmp, 'backlog-part-'));
      this.path = join(this.dir, 'spool');
      this.file = await open(this.path, 'w');
      for (const c of this.chunks) await this.file.write(c);
      this.chunks = [];
      this.held = 0;
    }
    await this.file.write(b);
  }

  async seal(): Promise<void> {
    await this.file?.close();
  }

  spilled(): boolean {
    return this.path !== undefined;
  }

  readable(): Readable {
    return this.path ? createReadStream(this.path, { highWaterMark: MiB }) : Readable.from(this.chunks);
  }

  /** The whole content, when it is in memory. */
  buffer(): Buffer {
    return Buffer.concat(this.chunks, this.held);
  }

  async dispose(): Promise<void> {
    this.chunks = [];
    await this.file?.close().catch(() => undefined);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Lines of text held by a spool (written as NDJSON). */
async function* spoolLines(spool: Spool): AsyncGenerator<string> {
  if (!spool.spilled()) {
    const text = spool.buffer().toString('utf8');
    let at = 0;
    for (;;) {
      const nl = text.indexOf('\n', at);
      if (nl < 0) break;
      yield text.slice(at, nl);
      at = nl + 1;
    }
    return;
  }
  const rl = createInterface({ input: spool.readable(), crlfDelay: Infinity });
  try {
    for await (const l of rl) yield l;
  } finally {
    rl.close();
  }
}

async function openObject(s3: S3Port, key: string, range?: { start: number; endInclusive: number }): Promise<Readable> {
  try {
    return await s3.getStream(key, range);
  } catch (e) {
    if (isS3AdapterError(e) && e.code === 'S3_NOT_FOUND') throw new ArchivePartError('MISSING', key, 'the part object is gone (deleted after listing?)', e);
    throw e;
  }
}

/**
 * The NDJSON event lines of one part whose @timestamp lies in [fromMs, toMs), in part order
 * (@timestamp, event.id), as batches of at most `batchLines` strings without '\n'.
 *
 * With `verify` (the default) nothing is yielded before the object's size and sha256 and the number
 * of events decompressed match the manifest; a mismatch throws `ArchivePartError` (SHA256_MISMATCH,
 * COUNT_MISMATCH, DECOMPRESS, MISSING). A line without a parseable @timestamp in a part that straddles
 * the range throws BAD_EVENT (a sound part has none). S3 errors are thrown as `S3AdapterError`.
 */
export async function* readPartEvents(s3: S3Port, part: ArchivePart, opts: ReadPartOptions = {}): AsyncGenerator<string[]> {
  const m = part.manifest;
  const from = opts.fromMs ?? -Infinity;
  const to = opts.toMs ?? Infinity;
  const batchLines = Math.max(1, opts.batchLines ?? 1000);
  if (!partOverlaps(m, from, to)) return;
  if (m.codec !== 'bzip2') throw new ArchivePartError('DECOMPRESS', part.key, `codec ${String(m.codec)} is not supported (bzip2 only)`);
  const decodeWith = await resolveDecoder(opts);
  // Whole part in range: no line needs its @timestamp read.
  const filter = !(m.minTs >= from && m.maxTs < to);
  const inRange = (line: string): boolean => {
    if (!filter) return true;
    const ts = timestampOf(line);
    if (ts === undefined) throw new ArchivePartError('BAD_EVENT', part.key, `a line is not an event with a parseable @timestamp: ${line.slice(0, 120)}`);
    return ts >= from && ts < to;
  };
  const counted = (src: Readable): Readable => {
    if (opts.onBytes) src.on('data', (c: Buffer) => opts.onBytes?.(c.length));
    return src;
  };

  if (opts.verify === false) {
    const streams = filter ? streamsInRange(m, from, to) : m.streams;
    const sources = streams.length === m.streams.length ? [undefined] : rangesOf(streams);
    let batch: string[] = [];
    for (const range of sources) {
      for await (const line of linesOf(bz2Chunks(counted(await openObject(s3, part.key, range)), part.key, decodeWith), part.key)) {
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
  const tmp = opts.tmpDir ?? tmpdir();
  const object = new Spool(memory, tmp);
  const lines = new Spool(memory, tmp);
  try {
    // 1. Download, hashing on the way.
    const hash = createHash('sha256');
    for await (const c of counted(await openObject(s3, part.key)) as AsyncIterable<Buffer>) {
      hash.update(c);
      await object.write(c);
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
      for await (const chunk of bz2Chunks(object.readable(), part.key, decodeWith)) {
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
      for await (const line of linesOf(bz2Chunks(object.readable(), part.key, decodeWith), part.key)) {
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
    for await (const line of spoolLines(lines)) {
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
