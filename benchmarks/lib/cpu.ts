// CPU accounting shared by the benchmarks that set a pipeline against a bare tool (lbzip2, bzip2):
// this process's CPU and its reaped children's, and one timed tool run on a file.
import { spawnSync } from 'node:child_process';
import { closeSync, openSync, readFileSync, statSync } from 'node:fs';
import { performance } from 'node:perf_hooks';

export interface Cpu {
  /** This process, all its threads, seconds. */
  self: number;
  /** Its children that have exited and been reaped (from /proc/self/stat), seconds. */
  children: number;
}

/** CPU seconds of this process (all threads) and of its reaped children, from /proc/self/stat. */
export function cpuNow(): Cpu {
  const f = readFileSync('/proc/self/stat', 'utf8').split(') ')[1]?.split(' ') ?? [];
  const tick = 100; // USER_HZ on Linux
  const n = (i: number) => Number(f[i]) / tick;
  // Fields after "(comm) ": state=0 … utime=11 stime=12 cutime=13 cstime=14.
  const u = process.cpuUsage();
  return { self: (u.user + u.system) / 1e6, children: n(13) + n(14) };
}

export function cpuSince(a: Cpu): Cpu {
  const b = cpuNow();
  return { self: b.self - a.self, children: b.children - a.children };
}

/** One tool run on a file (stdin) into a file (stdout): wall seconds, CPU seconds (the child's), output bytes. */
export function timeTool(cmd: string, args: string[], file: string, outFile: string): { seconds: number; cpuSeconds: number; bytes: number } {
  const inFd = openSync(file, 'r');
  const outFd = openSync(outFile, 'w');
  const c0 = cpuNow();
  const t0 = performance.now();
  const r = spawnSync(cmd, args, { stdio: [inFd, outFd, 'pipe'] });
  const seconds = (performance.now() - t0) / 1000;
  const cpu = cpuSince(c0);
  closeSync(inFd);
  closeSync(outFd);
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr?.toString() ?? r.error?.message}`);
  return { seconds, cpuSeconds: cpu.children, bytes: statSync(outFile).size };
}
