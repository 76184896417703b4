import { spawn, spawnSync } from 'node:child_process';

/**
 * bz2 compression on every core through spawned `lbzip2 -n1` (or `bzip2`) processes, one stream per
 * process, at most `workers` at a time. Why processes and not worker threads: there is no native bz2
 * encoder for Node, a JS one runs several times slower than lbzip2 (docs/adr/0005-bz2-by-spawned-lbzip2.md),
 * and a process per stream keeps the event loop free for Kafka heartbeats.
 */
export type Bz2Tool = 'lbzip2' | 'bzip2';

export interface Bz2PoolOptions {
  /** `auto` picks lbzip2 when installed, else bzip2. */
  tool: Bz2Tool | 'auto';
  /** Concurrent compressions. Default: the number of cores. */
  workers: number;
  /** A compression that takes longer is killed and retried (a stuck process must not stall a window). */
  timeoutMs?: number;
}

export class Bz2Error extends Error {
  readonly retriable = true;
  constructor(readonly code: 'BZ2_TOOL_MISSING' | 'BZ2_FAILED', message: string) {
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

export class Bz2Pool {
  readonly tool: Bz2Tool;
  /** Recorded in each manifest: same input + same encoder = same bytes. */
  readonly encoder: string;
  private readonly args: string[];
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  private readonly timeoutMs: number;

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
    // lbzip2 -n1: one thread per process; the pool supplies the parallelism, so each stream's bytes do
    // not depend on how many cores the machine has (lbzip2's output does not depend on -n either).
    this.args = this.tool === 'lbzip2' ? ['-n1', '-9', '-c'] : ['-9', '-c'];
    this.encoder = `${this.tool} ${chosen.version} ${this.args.filter((a) => a !== '-c').join(' ')}`;
    this.timeoutMs = options.timeoutMs ?? 120_000;
  }

  get busy(): number {
    return this.active;
  }

  /** One complete bz2 stream of `input`. */
  async compress(input: Buffer | string): Promise<Buffer> {
    await this.acquire();
    try {
      return await this.run(input);
    } finally {
      this.release();
    }
  }

  private acquire(): Promise<void> {
    if (this.active < this.options.workers) {
      this.active++;
      return Promise.resolve();
    }
    return new Promise((resolve) => this.waiting.push(() => resolve()));
  }

  private release(): void {
    const next = this.waiting.shift();
    if (next) next();
    else this.active--;
  }

  private run(input: Buffer | string): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const child = spawn(this.tool, this.args, { stdio: ['pipe', 'pipe', 'pipe'] });
      const out: Buffer[] = [];
      let err = '';
      const timer = setTimeout(() => child.kill('SIGKILL'), this.timeoutMs);
      child.stdout.on('data', (d: Buffer) => out.push(d));
      child.stderr.on('data', (d: Buffer) => (err += d.toString()));
      child.stdin.on('error', () => undefined); // EPIPE when the child died: reported by 'close'
      child.once('error', (e) => {
        clearTimeout(timer);
        reject(new Bz2Error('BZ2_FAILED', `${this.tool}: ${e.message}`));
      });
      child.once('close', (code, signal) => {
        clearTimeout(timer);
        if (code === 0) resolve(Buffer.concat(out));
        else reject(new Bz2Error('BZ2_FAILED', `${this.tool} exited ${code ?? signal}: ${err.trim()}`));
      });
      child.stdin.end(input);
    });
  }
}
