import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { Bz2Pool, ENCODER_MALLOC_ENV } from './bz2-pool';

const dir = mkdtempSync(join(tmpdir(), 'bz2pool-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const text = (n: number, seed: number) =>
  Buffer.from(Array.from({ length: n }, (_, i) => `{"@timestamp":"2026-11-22T10:00:${String(i % 60).padStart(2, '0')}.000Z","n":${(i * seed) % 997},"message":"line ${i} of ${seed}"}\n`).join(''));

describe('Bz2Pool', () => {
  it('one process per job, one stream per input, bytes equal to `lbzip2 -n1 -9 < input`', async () => {
    const pool = new Bz2Pool({ tool: 'lbzip2', workers: 2, tmpDir: dir });
    expect(pool.encoder).toMatch(/^lbzip2 [\d.]+ -9$/);
    const inputs = [text(20_000, 3), text(5, 7), text(40_000, 11)];
    // The same inputs given as pieces (lines and newlines).
    const pieces = inputs.map((b) =>
      b
        .toString()
        .split(/(?<=\n)/)
        .map((l) => Buffer.from(l)),
    );
    // And as inputs that copy themselves into the pool's buffer (as the sealer hands them over).
    const fills = inputs.map((b) => ({ size: b.length, fill: (out: Buffer) => void b.copy(out) }));
    const [a, b, c] = await Promise.all([pool.compressAll(inputs), pool.compressAll(pieces), pool.compressAll(fills)]);
    for (const [i, input] of inputs.entries()) {
      const ref = execFileSync('lbzip2', ['-n1', '-9', '-c'], { input, maxBuffer: 1 << 28 });
      expect(a[i]!.equals(ref)).toBe(true);
      expect(b[i]!.equals(ref)).toBe(true);
      expect(c[i]!.equals(ref)).toBe(true);
      expect(execFileSync('bzip2', ['-d', '-c'], { input: a[i], maxBuffer: 1 << 28 }).equals(input)).toBe(true);
    }
    expect((await pool.compress('x\n')).equals(execFileSync('lbzip2', ['-n1', '-9', '-c'], { input: 'x\n' }))).toBe(true);
    await pool.close();
    // Scratch files are gone with the pool.
    expect(existsSync(join(dir, `bz2-${process.pid}`))).toBe(false);
  });

  it('runs jobs side by side up to `workers`, queues the rest, and survives a killed runner', async () => {
    const own = join(dir, 'side-by-side');
    const pool = new Bz2Pool({ tool: 'lbzip2', workers: 2, tmpDir: own });
    const jobs = Array.from({ length: 5 }, (_, i) => pool.compressAll([text(30_000, i + 1)]));
    expect(pool.busy).toBeLessThanOrEqual(2);
    const outs = await Promise.all(jobs);
    expect(outs.map((o) => execFileSync('bzip2', ['-d', '-c'], { input: o[0], maxBuffer: 1 << 28 }).length)).toEqual(Array.from({ length: 5 }, (_, i) => text(30_000, i + 1).length));
    // A runner that died is replaced: kill the pool's runner (one process starts every encoder of a
    // pool, bz2-runner.mjs), then compress again.
    const pids = execFileSync('pgrep', ['-f', `bz2-runner.mjs ${join(own, `bz2-${process.pid}`)}`], { encoding: 'utf8' })
      .trim()
      .split('\n')
      .filter(Boolean);
    expect(pids).toEqual([String(pool.runnerPid)]);
    // The encoders it starts inherit the runner's environment: malloc keeps lbzip2's buffers between files.
    for (const p of pids) {
      const env = readFileSync(`/proc/${p}/environ`, 'utf8').split('\0');
      for (const [k, v] of Object.entries(ENCODER_MALLOC_ENV)) expect(env).toContain(`${k}=${v}`);
    }
    // Jobs in flight when the runner dies fail (retriable); the next one gets a new runner.
    const inFlight = pool.compressAll([text(200_000, 5)]);
    await new Promise((r) => setTimeout(r, 50));
    for (const p of pids) process.kill(Number(p), 'SIGKILL');
    await expect(inFlight).rejects.toMatchObject({ name: 'Bz2Error', code: 'BZ2_FAILED', retriable: true });
    await new Promise((r) => setTimeout(r, 200));
    const again = await pool.compressAll([text(100, 1)]);
    expect(execFileSync('bzip2', ['-d', '-c'], { input: again[0] }).equals(text(100, 1))).toBe(true);
    await pool.close();
  });

  it('a failing encoder is a retriable error with its message, and the pool goes on', async () => {
    const pool = new Bz2Pool({ tool: 'bzip2', workers: 1, tmpDir: dir });
    expect(pool.encoder).toMatch(/^bzip2 [\d.]+ -9$/);
    const out = await pool.compressAll([text(10, 1)]);
    expect(execFileSync('bzip2', ['-d', '-c'], { input: out[0] }).equals(text(10, 1))).toBe(true);
    // Remove the scratch directory under the pool: the write fails, the error says why, nothing is left behind.
    rmSync(join(dir, `bz2-${process.pid}`), { recursive: true, force: true });
    await expect(pool.compressAll([text(10, 1)])).rejects.toMatchObject({ name: 'Bz2Error', code: 'BZ2_FAILED', retriable: true });
    await pool.close();
    expect(readdirSync(dir).filter((n) => n === `bz2-${process.pid}`)).toEqual([]);
  });

  it('starts encoders with an argument array, no shell: it runs where no `sh` is on the PATH (a distroless image)', async () => {
    // PATH holds only the encoders; before, the pool started its runners with `sh -c`, and failed here.
    const bin = mkdtempSync(join(dir, 'bin-'));
    for (const tool of ['lbzip2', 'bzip2']) symlinkSync(execFileSync('which', [tool], { encoding: 'utf8' }).trim(), join(bin, tool));
    const path = process.env.PATH;
    process.env.PATH = bin;
    let pool: Bz2Pool | undefined;
    try {
      pool = new Bz2Pool({ tool: 'lbzip2', workers: 1, tmpDir: join(dir, 'no-shell'), timeoutMs: 20_000 });
      const [out] = await pool.compressAll([text(1000, 2)]);
      expect(execFileSync('bzip2', ['-d', '-c'], { input: out, env: { PATH: path } }).equals(text(1000, 2))).toBe(true);
    } finally {
      process.env.PATH = path;
      await pool?.close();
    }
  });

  it('a scratch directory whose path holds shell metacharacters is used literally (nothing runs, nothing lands elsewhere)', async () => {
    const base = mkdtempSync(join(dir, 'meta-'));
    const odd = join(base, `a b;touch PWNED1;$(touch PWNED2)\`touch PWNED3\`'"*?[x]|&>out<in\nnext`);
    const pool = new Bz2Pool({ tool: 'lbzip2', workers: 1, tmpDir: odd });
    try {
      const [out] = await pool.compressAll([text(500, 4)]);
      expect(execFileSync('bzip2', ['-d', '-c'], { input: out }).equals(text(500, 4))).toBe(true);
    } finally {
      await pool.close();
    }
    // The only entry under `base` is the odd directory itself (now empty: the pool removed its bz2-<pid>/).
    expect(readdirSync(base)).toEqual([basename(odd)]);
    expect(readdirSync(odd)).toEqual([]);
    for (const f of ['PWNED1', 'PWNED2', 'PWNED3', 'out']) expect(existsSync(join(process.cwd(), f)), f).toBe(false);
    expect(statSync(odd).mode & 0o777).toBe(0o700);
  });

  it('keeps scratch files in a private directory: <tmp>/backlog-<uid>/compressor/bz2-<pid> by default, all 0700', async () => {
    const pool = new Bz2Pool({ tool: 'lbzip2', workers: 1 });
    try {
      const root = join(tmpdir(), `backlog-${process.getuid?.()}`);
      for (const d of [root, join(root, 'compressor'), join(root, 'compressor', `bz2-${process.pid}`)]) expect(statSync(d).mode & 0o777, d).toBe(0o700);
      await pool.compress('x\n');
    } finally {
      await pool.close();
    }
  });
});
