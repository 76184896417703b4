// The end-to-end test's plumbing: each app as the real child process `backlog start` would run,
// on free loopback ports, in the test's own env, with its output kept for failure messages.
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { join } from 'node:path';
import { sleep } from '@backlog/testing';

export { freePort, sleep, stackEnv, waitFor } from '@backlog/testing';

export const ROOT = join(import.meta.dirname, '..', '..');

export interface App {
  name: string;
  child: ChildProcess;
  healthPort: number;
  output(): string;
  exited: Promise<number | null>;
}

/** Starts `node --import tsx <entry>` and waits until `/healthz` on `healthPort` answers 200. */
export async function startApp(name: string, entry: string, env: Record<string, string>, healthPort: number, timeoutMs = 60_000): Promise<App> {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, entry)], { cwd: ROOT, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  const keep = (d: Buffer) => {
    out = (out + d.toString()).slice(-20_000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  const app: App = { name, child, healthPort, output: () => out, exited };
  const until = Date.now() + timeoutMs;
  while (Date.now() < until) {
    if (child.exitCode !== null) throw new Error(`${name} exited ${child.exitCode} before healthy:\n${out}`);
    try {
      const res = await fetch(`http://127.0.0.1:${healthPort}/healthz`, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return app;
    } catch {
      /* not listening yet */
    }
    await sleep(200);
  }
  child.kill('SIGKILL');
  throw new Error(`${name} not healthy in ${timeoutMs} ms:\n${out}`);
}

/** SIGTERM (the apps flush on it), SIGKILL after `graceMs`. */
export async function stopApp(app: App | undefined, graceMs = 15_000): Promise<number | null> {
  if (!app || app.child.exitCode !== null || app.child.signalCode !== null) return app?.child.exitCode ?? null;
  app.child.kill('SIGTERM');
  const timer = setTimeout(() => app.child.kill('SIGKILL'), graceMs);
  const code = await app.exited;
  clearTimeout(timer);
  return code;
}

export function run(cmd: string, args: string[], opts: { env?: Record<string, string>; input?: string; timeoutMs?: number } = {}): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = execFile(cmd, args, { cwd: ROOT, env: { ...process.env, ...opts.env }, timeout: opts.timeoutMs ?? 120_000, maxBuffer: 64 * 1024 * 1024 }, (err, stdout, stderr) => {
      const code = err ? (typeof (err as { code?: unknown }).code === 'number' ? (err as { code: number }).code : 1) : 0;
      resolve({ code, stdout: String(stdout), stderr: String(stderr) });
    });
    if (opts.input !== undefined) child.stdin?.end(opts.input);
  });
}

/** Every hit of a query (search_after over `event.id`), as `_source`s. */
export async function searchAll(url: string, index: string, query: Record<string, unknown>): Promise<Record<string, unknown>[]> {
  const out: Record<string, unknown>[] = [];
  let after: unknown[] | undefined;
  for (;;) {
    const res = await fetch(`${url}/${index}/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ size: 1000, query, sort: [{ 'event.id': 'asc' }], ...(after ? { search_after: after } : {}) }),
    });
    if (res.status === 404) return out;
    const body = (await res.json()) as { hits?: { hits: { _source: Record<string, unknown>; sort: unknown[] }[] }; error?: unknown };
    if (!body.hits) throw new Error(`search ${index}: ${JSON.stringify(body.error ?? body)}`);
    out.push(...body.hits.hits.map((h) => h._source));
    if (body.hits.hits.length < 1000) return out;
    after = body.hits.hits[body.hits.hits.length - 1]?.sort;
  }
}
