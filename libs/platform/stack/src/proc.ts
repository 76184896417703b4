import { spawn, spawnSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { dirname } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';

/** A coded stack error: the message names the server, the cause and where its log is. */
export class StackError extends Error {
  constructor(
    readonly code: 'PORT_IN_USE' | 'JAVA_MISSING' | 'MAVEN_MISSING' | 'DOWNLOAD_FAILED' | 'START_FAILED' | 'TIMEOUT' | 'NOT_INSTALLED',
    readonly server: string,
    message: string,
    readonly logFile?: string,
  ) {
    super(`${server}: ${message}${logFile ? `\n  log: ${logFile}` : ''}`);
    this.name = 'StackError';
  }
}

/** True when something accepts TCP connections on host:port. */
export function portOpen(port: number, host = '127.0.0.1', timeoutMs = 1000): Promise<boolean> {
  return new Promise((resolve) => {
    const socket = createConnection({ port, host });
    const done = (open: boolean) => {
      socket.destroy();
      resolve(open);
    };
    socket.setTimeout(timeoutMs, () => done(false));
    socket.once('connect', () => done(true));
    socket.once('error', () => done(false));
  });
}

export function commandExists(cmd: string): boolean {
  return spawnSync('sh', ['-c', `command -v ${cmd}`], { stdio: 'ignore' }).status === 0;
}

/** The kernel's start time of a process (clock ticks since boot, /proc/<pid>/stat field 22). */
export function startTicks(pid: number): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 2 (comm) may hold spaces and parentheses: count fields after the last ')'.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

/** A pid file holds `<pid> <start ticks>`: the pair identifies the process even after the pid is reused. */
export function readPidFile(pidFile: string): { pid: number; ticks?: string } | undefined {
  if (!existsSync(pidFile)) return undefined;
  const [p, ticks] = readFileSync(pidFile, 'utf8').trim().split(/\s+/);
  const pid = Number(p);
  return Number.isInteger(pid) && pid > 0 ? { pid, ticks } : undefined;
}

export function readPid(pidFile: string): number | undefined {
  return readPidFile(pidFile)?.pid;
}

export function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/**
 * Is the process of this pid file still the one we started? A pid file can outlive its process and the
 * number can be reused, so we compare the kernel's start time recorded at spawn (servers such as
 * redis-server rewrite their command line, so that cannot serve as the check).
 */
export function ours(pidFile: string): number | undefined {
  const rec = readPidFile(pidFile);
  if (!rec || !alive(rec.pid)) return undefined;
  const now = startTicks(rec.pid);
  return rec.ticks !== undefined && now === rec.ticks ? rec.pid : undefined;
}

/** Starts a long-running server detached from this process (it outlives the CLI), output to logFile. */
export function spawnDetached(cmd: string, args: string[], opts: { logFile: string; pidFile: string; cwd: string; env?: NodeJS.ProcessEnv }): number {
  mkdirSync(dirname(opts.logFile), { recursive: true });
  const fd = openSync(opts.logFile, 'a');
  try {
    const child = spawn(cmd, args, { cwd: opts.cwd, detached: true, stdio: ['ignore', fd, fd], env: opts.env ?? process.env });
    if (child.pid === undefined) throw new Error(`could not spawn ${cmd}`);
    child.unref();
    writeFileSync(opts.pidFile, `${child.pid} ${startTicks(child.pid) ?? ''}\n`);
    return child.pid;
  } finally {
    closeSync(fd);
  }
}

/** SIGTERM, wait for a clean exit, SIGKILL after the deadline. */
export async function stopPid(pid: number, timeoutMs: number): Promise<'stopped' | 'killed' | 'gone'> {
  if (!alive(pid)) return 'gone';
  try {
    process.kill(pid, 'SIGTERM');
  } catch {
    return 'gone';
  }
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (!alive(pid)) return 'stopped';
    await sleep(200);
  }
  try {
    process.kill(pid, 'SIGKILL');
  } catch {
    /* exited meanwhile */
  }
  while (alive(pid)) await sleep(100);
  return 'killed';
}

export function removeFile(path: string): void {
  rmSync(path, { force: true });
}

/** Last lines of a log file, for error messages. */
export function tail(file: string, lines = 15): string {
  if (!existsSync(file)) return '(no log yet)';
  const text = readFileSync(file, 'utf8');
  return text
    .split('\n')
    .slice(-lines - 1)
    .join('\n');
}
