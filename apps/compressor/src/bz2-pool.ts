import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, readdirSync, rmSync, writeSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { join } from 'node:path';
import { isNoSpaceError } from '@backlog/core-pipeline';
import { fileURLToPath } from 'node:url';
import { defaultScratchDir, ensurePrivateDir, ensureScratchDir } from '@backlog/platform-config';

/**
 * bz2 compression on every core through spawned `lbzip2` (or `bzip2`) processes
 * (docs/adr/0005-bz2-by-spawned-lbzip2.md).
 *
 * A job is a list of inputs, each of which becomes one complete bz2 stream. The inputs are written to
 * scratch files and one process compresses them all (`lbzip2 -n1 -9 -f -- f0 f1 …` writes
 * `f0.bz2 f1.bz2 …`), so a job costs one process start, not one per stream; `workers` jobs run side
 * by side, one per core. Process starts are not free: Node forks itself to spawn, which costs ~10 ms
 * of CPU in the parent and as much in the child once the compressor holds a few hundred MiB. They are
 * made by a small long-lived Node process (`bz2-runner.mjs`, started with the pool while this process
 * is still small), which starts each encoder with an argument array — no shell parses a path.
 *
 * lbzip2's output does not depend on its thread count or on stdin vs file input (checked), so the
 * bytes are those of `lbzip2 -n1 -9 < chunk` (deterministic parts).
 */
export type Bz2Tool = 'lbzip2' | 'bzip2';

export interface Bz2PoolOptions {
  /** `auto` picks lbzip2 when installed, else bzip2. */
  tool: Bz2Tool | 'auto';
  /** Cores to compress on. Default: the number of cores. */
  workers: number;
  /** A job that takes longer is killed and fails (the caller retries). Default 120 s plus 60 s per 32 MiB. */
  timeoutMs?: number;
  /** Where scratch files go (a private `bz2-<pid>/` inside). Default `<tmp>/backlog-<uid>/compressor`. */
  tmpDir?: string;
}

export class Bz2Error extends Error {
  readonly retriable = true;
  constructor(
    /** BZ2_NO_SPACE: the scratch directory's disk is full (ENOSPC, EDQUOT, EFBIG); retry once it has room. */
    readonly code: 'BZ2_TOOL_MISSING' | 'BZ2_FAILED' | 'BZ2_NO_SPACE',
    message: string,
  ) {
    super(message);
    this.name = 'Bz2Error';
  }
}

function installed(tool: Bz2Tool): string | undefined {
  const r = spawnSync(tool, ['--version'], { encoding: 'utf8' });
  if (r.error) return undefined;
  const text = `${r.stdout}${r.stderr}`;
  const m = tool === 'lbzip2' ? /lbzip2 version ([\d.]+)/.exec(text) : /Version ([\d.]+)/.exec(text);
  return m?.[1] ?? 'unknown';
}

/**
 * glibc malloc settings for the encoder processes. lbzip2 allocates its block buffers afresh for every
 * input file; by default glibc serves those from mmap and hands them back at free, so each file of a
 * job page-faults its ~10 MiB of work memory in again (26,000 minor faults and +10 % CPU for the 13
 * streams of 50 MB, against one process on the whole file). Served from the heap and kept (threshold
 * 32 MiB, glibc's maximum on 64-bit; trim only above 256 MiB), a job faults its memory in once:
 * ~3,000 faults, the CPU of one lbzip2 on the whole file (docs/adr/0005, "Revision 4"). The bytes
 * written do not depend on where memory comes from.
 */
export const ENCODER_MALLOC_ENV = { MALLOC_MMAP_THRESHOLD_: String(32 << 20), MALLOC_TRIM_THRESHOLD_: String(256 << 20) } as const;

/** The process starter beside this file (plain JS, run by node without tsx: see its header). */
const RUNNER = fileURLToPath(new URL('./bz2-runner.mjs', import.meta.url));

/**
 * The pool's end of bz2-runner.mjs: one process for all of a pool's jobs. A job is an encoder started
 * there with an argument array in the scratch directory; its exit status comes back on a line. If the
 * runner dies, its jobs fail (retriable) and the next job starts a new one.
 */
class Runner {
  private readonly child: ChildProcess;
  private buf = '';
  private readonly pending = new Map<number, { resolve: (code: number) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  /** Exited (or killed): never given a job again. */
  dead = false;

  constructor(readonly dir: string) {
    // NODE_OPTIONS may carry the compressor's own flags (a loader, heap sizes): not the runner's business.
    const { NODE_OPTIONS: _ignored, ...env } = process.env;
    // The encoders inherit the runner's environment: glibc malloc settings for them (ENCODER_MALLOC_ENV).
    this.child = spawn(process.execPath, [RUNNER, dir], { stdio: ['pipe', 'pipe', 'inherit'], env: { ...env, ...ENCODER_MALLOC_ENV } });
    this.child.stdin?.on('error', () => undefined);
    this.child.stdout?.setEncoding('utf8');
    this.child.stdout?.on('data', (d: string) => {
      this.buf += d;
      let nl: number;
      while ((nl = this.buf.indexOf('\n')) >= 0) {
        const line = this.buf.slice(0, nl);
        this.buf = this.buf.slice(nl + 1);
        let msg: { id?: unknown; code?: unknown; error?: unknown };
        try {
          msg = JSON.parse(line) as typeof msg;
        } catch {
          continue;
        }
        const p = typeof msg.id === 'number' ? this.pending.get(msg.id) : undefined;
        if (!p) continue;
        this.pending.delete(msg.id as number);
        this.holdIfBusy();
        if (typeof msg.error === 'string') p.reject(new Bz2Error('BZ2_FAILED', `cannot start the encoder: ${msg.error}`));
        else p.resolve(Number(msg.code));
      }
    });
    this.child.once('exit', (code, signal) => {
      this.dead = true;
      const all = [...this.pending.values()];
      this.pending.clear();
      for (const p of all) p.reject(new Bz2Error('BZ2_FAILED', `bz2 runner exited ${code ?? signal}`));
    });
    this.child.once('error', (err) => {
      this.dead = true;
      for (const p of this.pending.values()) p.reject(new Bz2Error('BZ2_FAILED', `bz2 runner: ${err.message}`));
      this.pending.clear();
    });
    this.holdIfBusy();
  }

  get pid(): number | undefined {
    return this.child.pid;
  }

  /** An idle runner must not keep the process alive; a busy one must (its jobs' promises are pending). */
  private holdIfBusy(): void {
    const on = this.pending.size > 0;
    const handles = [this.child, this.child.stdout, this.child.stdin] as unknown as ({ ref?: () => void; unref?: () => void } | null)[];
    for (const h of handles) (on ? h?.ref : h?.unref)?.call(h);
  }

  /** Runs `file args…` in the scratch directory, its stderr to `stderrFile` there; the id (for kill) and its exit status. */
  run(file: string, args: readonly string[], stderrFile: string): { id: number; done: Promise<number> } {
    const id = ++this.nextId;
    const done = new Promise<number>((resolve, reject) => {
      if (this.dead) return reject(new Bz2Error('BZ2_FAILED', 'bz2 runner is gone'));
      this.pending.set(id, { resolve, reject });
      this.holdIfBusy();
      this.child.stdin?.write(`${JSON.stringify({ id, cwd: this.dir, file, args, stderr: stderrFile })}\n`);
    });
    return { id, done };
  }

  /** Kills a job's encoder (its process group); the job then ends with a non-zero status. */
  kill(id: number): void {
    if (!this.dead) this.child.stdin?.write(`${JSON.stringify({ kill: id })}\n`);
  }

  close(): Promise<void> {
    if (this.dead) return Promise.resolve();
    return new Promise((resolve) => {
      this.child.ref();
      this.child.once('exit', () => resolve());
      this.child.stdin?.end();
    });
  }
}

let seq = 0;

/** strerror(3) of ENOSPC, EDQUOT and EFBIG, as lbzip2 and bzip2 print them. */
const NO_SPACE_TEXT = /No space left on device|Disk quota exceeded|File too large/;

/** An input that copies its `size` bytes into the buffer it is given, when its job runs (nothing is assembled before). */
export interface FillInput {
  readonly size: number;
  fill(out: Buffer): void;
}

/** One input: its bytes, its pieces (e.g. each line and its newline), or a FillInput. */
export type Bz2Input = Uint8Array | readonly Uint8Array[] | FillInput;

/** Scratch buffer the pieces of an input are copied into, reused (inputs are written one at a time). */
let scratch = Buffer.allocUnsafe(0);
/** Bigger inputs get a buffer of their own rather than growing the shared one for good. */
const SCRATCH_MAX = 16 << 20;

/**
 * Writes an input to a scratch file with one write. An input given as pieces (each line and its
 * newline) is first copied into a reused buffer: one memcpy per line costs far less than a writev of
 * two iovecs per line (the kernel's per-iovec work, the arrays of pieces per call).
 */
function writeInput(path: string, input: Bz2Input): number {
  let bytes: Uint8Array;
  if (input instanceof Uint8Array) bytes = input;
  else if (!Array.isArray(input)) {
    const f = input as FillInput;
    const n = f.size;
    if (scratch.length < n && n <= SCRATCH_MAX) scratch = Buffer.allocUnsafe(Math.max(n, Math.min(SCRATCH_MAX, scratch.length * 2)));
    const out = n <= scratch.length ? scratch.subarray(0, n) : Buffer.allocUnsafe(n);
    f.fill(out);
    bytes = out;
  } else {
    const pieces = input as readonly Uint8Array[];
    let n = 0;
    for (const p of pieces) n += p.length;
    if (scratch.length < n && n <= SCRATCH_MAX) scratch = Buffer.allocUnsafe(Math.max(n, Math.min(SCRATCH_MAX, scratch.length * 2)));
    const out = n <= scratch.length ? scratch : Buffer.allocUnsafe(n);
    let at = 0;
    for (const p of pieces) {
      if (p.length === 1) out[at++] = p[0] as number;
      else {
        out.set(p, at);
        at += p.length;
      }
    }
    bytes = out.subarray(0, n);
  }
  const fd = openSync(path, 'w');
  try {
    let done = 0;
    // writeSync may write less than asked (a full disk reports an error instead): finish the rest.
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } finally {
    closeSync(fd);
  }
  return bytes.length;
}

/**
 * Scratch directories of compressors that died (kill -9) are removed by the next one: the bz2 pool's
 * `bz2-<pid>/` and the spill files' `spill-<pid>/` (compressor.ts), both in the scratch location.
 */
function removeStale(parent: string): void {
  let names: string[] = [];
  try {
    names = readdirSync(parent);
  } catch {
    return;
  }
  for (const n of names) {
    const m = /^(?:bz2|spill)-(\d+)$/.exec(n);
    if (!m || Number(m[1]) === process.pid) continue;
    try {
      process.kill(Number(m[1]), 0);
    } catch (e) {
      if ((e as NodeJS.ErrnoException).code === 'ESRCH') rmSync(join(parent, n), { recursive: true, force: true });
    }
  }
}

export class Bz2Pool {
  readonly tool: Bz2Tool;
  /** Recorded in each manifest: same input + same encoder = same bytes (the thread count does not change them). */
  readonly encoder: string;
  /** The encoder's arguments before `--` and the job's file names (each an argument of its own). */
  private readonly args: readonly string[];
  /** Jobs that may run at once. */
  private readonly slots: number;
  private runner: Runner;
  private live = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly dir: string;
  private closed = false;

  constructor(readonly options: Bz2PoolOptions) {
    const pick: Bz2Tool[] = options.tool === 'auto' ? ['lbzip2', 'bzip2'] : [options.tool];
    let chosen: { tool: Bz2Tool; version: string } | undefined;
    for (const t of pick) {
      const v = installed(t);
      if (v) {
        chosen = { tool: t, version: v };
        break;
      }
    }
    if (!chosen) throw new Bz2Error('BZ2_TOOL_MISSING', `none of ${pick.join(', ')} is installed (scripts/prereqs.sh installs them)`);
    this.tool = chosen.tool;
    const workers = Math.max(1, options.workers || availableParallelism());
    // One single-threaded job per core: lbzip2 -n2 spends ~5 % more CPU than -n1 on the same bytes
    // (thread hand-offs), and parts (or a big part's jobs) side by side fill the cores as well.
    this.slots = workers;
    this.args = this.tool === 'lbzip2' ? ['-n1', '-9', '-f'] : ['-9', '-f'];
    this.encoder = `${this.tool} ${chosen.version} -9`;
    // Scratch files hold log lines: a private directory of this process, inside a private location
    // (platform-config private-files), never a predictable shared /tmp path.
    const parent = options.tmpDir ?? defaultScratchDir('compressor');
    ensureScratchDir(parent);
    this.dir = join(parent, `bz2-${process.pid}`);
    removeStale(parent);
    ensurePrivateDir(this.dir);
    // Start the runner now, while this process is small (a fork copies its page tables).
    this.runner = new Runner(this.dir);
  }

  /** Jobs running now. */
  get busy(): number {
    return this.live;
  }

  /** One complete bz2 stream of `input`. */
  async compress(input: Uint8Array | string): Promise<Buffer> {
    const [out] = await this.compressAll([typeof input === 'string' ? Buffer.from(input) : input]);
    return out as Buffer;
  }

  /**
   * One complete bz2 stream per input, in order, made by one process. An input may be given as its
   * bytes, as its pieces (e.g. each line and its newline) or as a FillInput; pieces and FillInputs are
   * copied into one reused buffer and written with one write.
   */
  async compressAll(inputs: readonly Bz2Input[]): Promise<Buffer[]> {
    if (inputs.length === 0) return [];
    if (this.closed) throw new Bz2Error('BZ2_FAILED', 'bz2 pool is closed');
    await this.acquire();
    const base = `j${++seq}`;
    const names = inputs.map((_, i) => `${base}-${i}`);
    const errFile = `${base}.err`;
    try {
      let bytes = 0;
      for (const [i, input] of inputs.entries()) bytes += writeInput(join(this.dir, names[i] as string), input);
      const timeoutMs = this.options.timeoutMs ?? 120_000 + Math.ceil(bytes / (32 << 20)) * 60_000;
      // A runner that died (killed, out of memory) is replaced for the next job.
      if (this.runner.dead) this.runner = new Runner(this.dir);
      const runner = this.runner;
      const job = runner.run(this.tool, [...this.args, '--', ...names], errFile);
      let timer: NodeJS.Timeout | undefined;
      const code = await Promise.race([
        job.done,
        new Promise<number>((_, reject) => {
          timer = setTimeout(() => {
            runner.kill(job.id);
            reject(new Bz2Error('BZ2_FAILED', `${this.tool} took longer than ${timeoutMs} ms`));
          }, timeoutMs);
        }),
      ]).finally(() => clearTimeout(timer));
      if (code !== 0) {
        let err = '';
        try {
          err = readFileSync(join(this.dir, errFile), 'utf8').trim();
        } catch {
          /* no message */
        }
        // The encoder is another process: its errno reaches us only as the text it prints (strerror).
        throw new Bz2Error(NO_SPACE_TEXT.test(err) ? 'BZ2_NO_SPACE' : 'BZ2_FAILED', `${this.tool} exited ${code}: ${err}`);
      }
      return names.map((n) => readFileSync(join(this.dir, `${n}.bz2`)));
    } catch (e) {
      throw e instanceof Bz2Error ? e : new Bz2Error(isNoSpaceError(e) ? 'BZ2_NO_SPACE' : 'BZ2_FAILED', `${this.tool}: ${(e as Error).message}`);
    } finally {
      for (const n of names) {
        rmSync(join(this.dir, n), { force: true });
        rmSync(join(this.dir, `${n}.bz2`), { force: true });
      }
      rmSync(join(this.dir, errFile), { force: true });
      this.release();
    }
  }

  /** The process that starts this pool's encoders (for tests and diagnostics). */
  get runnerPid(): number | undefined {
    return this.runner.pid;
  }

  private acquire(): Promise<void> {
    if (this.live < this.slots) {
      this.live++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(resolve));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.live--;
  }

  /** Ends the runner (encoders still running are killed: their jobs fail, retriable) and removes the scratch directory. */
  async close(): Promise<void> {
    this.closed = true;
    await this.runner.close();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
