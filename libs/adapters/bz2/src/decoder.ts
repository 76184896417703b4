import { spawn } from 'node:child_process';
import { constants } from 'node:fs';
import { access } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import { delimiter, join } from 'node:path';
import { PassThrough, Readable } from 'node:stream';
import unbzip2 from 'unbzip2-stream';
import { ArchivePartError, type Bz2DecoderPort } from '@backlog/core-codec';

/**
 * The bz2 decoder of the archive read path (`Bz2DecoderPort` of core-codec): a spawned `lbzip2 -d`
 * (native, off the event loop) or `unbzip2-stream` (pure JS, in process). Both read any number of
 * concatenated streams, so a whole part object and a byte range of whole streams decode alike.
 */

export type Bz2Decoder = 'auto' | 'lbzip2' | 'unbzip2-stream';

export interface Bz2DecoderOptions {
  /** `lbzip2`, `unbzip2-stream`, or `auto` (the default): lbzip2 when it is on the PATH, else unbzip2-stream. */
  decoder?: Bz2Decoder;
  /** Threads of a spawned lbzip2 (`-n`). Default min(2, available cores). */
  threads?: number;
}

const MiB = 1024 * 1024;

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

async function resolveDecoder(opts: Bz2DecoderOptions): Promise<DecodeWith> {
  const threads = Math.max(1, Math.floor(opts.threads ?? Math.min(2, availableParallelism())));
  const want = opts.decoder ?? 'auto';
  if (want === 'unbzip2-stream') return { decoder: want, threads };
  const path = await findLbzip2();
  if (path) return { decoder: 'lbzip2', path, threads };
  if (want === 'lbzip2') throw new Error('lbzip2 is not on the PATH (scripts/prereqs.sh installs it); use decoder "auto" or "unbzip2-stream"');
  return { decoder: 'unbzip2-stream', threads };
}

const readableOf = (source: AsyncIterable<Uint8Array> | Iterable<Uint8Array>): Readable => (source instanceof Readable ? source : Readable.from(source, { objectMode: false }));

/** A bz2 decoder: which one is picked at the first use (`auto` looks for lbzip2 once). */
export function createBz2Decoder(opts: Bz2DecoderOptions = {}): Bz2DecoderPort {
  let resolved: Promise<DecodeWith> | undefined;
  const with_ = () => (resolved ??= resolveDecoder(opts));
  return {
    async name() {
      const d = await with_();
      return d.decoder === 'lbzip2' ? 'lbzip2 -d' : 'unbzip2-stream';
    },
    async *decode(source, key) {
      let d: DecodeWith;
      try {
        d = await with_();
      } catch (e) {
        resolved = undefined;
        throw e;
      }
      const src = readableOf(source);
      yield* d.decoder === 'lbzip2' ? lbzip2Chunks(src, key, d.path as string, d.threads) : unbzip2Chunks(src, key);
    },
  };
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
