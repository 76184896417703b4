// Running backlog apps as real processes from a benchmark: `node --import tsx <entry>` (as `backlog start`
// does; not the tsx CLI, whose extra process a SIGKILL would orphan), output kept for the failure report,
// and every child killed when the benchmark exits for whatever reason.
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';

export { freePort } from '@backlog/testing';

const running = new Set<ChildProcess>();
// Last resort: an exception, process.exit() or a signal's exit never leaves an app behind.
process.on('exit', () => {
  for (const c of running) c.kill('SIGKILL');
});

export interface AppProcess {
  readonly name: string;
  readonly child: ChildProcess;
  /** Whether it has exited. */
  exited(): boolean;
  /** The last output lines (stdout and stderr), for an error message. */
  tail(lines?: number): string;
  /** SIGTERM, then SIGKILL after `graceMs`; resolves with the exit code (or signal name). */
  stop(graceMs?: number): Promise<string>;
}

/**
 * Starts `node [nodeArgs] --import tsx <root>/<entry>` with `env` added to (or, for `undefined`, removed
 * from) this process's. `nodeArgs`: what `backlog start` gives that app (e.g. V8 flags Node refuses in NODE_OPTIONS).
 */
export function spawnApp(root: string, name: string, entry: string, env: Record<string, string | undefined>, nodeArgs: readonly string[] = []): AppProcess {
  const childEnv: NodeJS.ProcessEnv = { ...process.env };
  for (const [k, v] of Object.entries(env)) {
    if (v === undefined) delete childEnv[k];
    else childEnv[k] = v;
  }
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(root, entry)], { cwd: root, env: childEnv, stdio: ['ignore', 'pipe', 'pipe'] });
  running.add(child);
  let out = '';
  const keep = (d: Buffer) => {
    out += d.toString();
    if (out.length > 256_000) out = out.slice(-128_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  let status: string | undefined;
  const exit = new Promise<string>((resolve) => {
    child.once('exit', (code, sig) => {
      running.delete(child);
      status = code !== null ? String(code) : String(sig);
      resolve(status);
    });
  });
  return {
    name,
    child,
    exited: () => status !== undefined,
    tail: (lines = 30) => out.trimEnd().split('\n').slice(-lines).join('\n'),
    stop: async (graceMs = 15_000) => {
      if (status !== undefined) return status;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), graceMs);
      const s = await exit;
      clearTimeout(t);
      return s;
    },
  };
}
