// The app shell, in a real child process (it exits the process): testdata/tiny-app.ts is a component on
// runApp whose behaviour the environment picks.
import { type ChildProcess, spawn } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const tinyApp = fileURLToPath(new URL('./testdata/tiny-app.ts', import.meta.url));
const root = fileURLToPath(new URL('../../../../', import.meta.url));

interface Run {
  child: ChildProcess;
  stdout: string[];
  stderr: string[];
  exited: Promise<{ code: number | null; signal: NodeJS.Signals | null }>;
  /** Resolves with the first stdout line (the ready line). */
  ready: Promise<Record<string, unknown>>;
}

function start(env: Record<string, string>): Run {
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BACKLOG_TINY_') && k !== 'TINY_MODE'));
  const child = spawn(process.execPath, ['--import', 'tsx', tinyApp], { cwd: root, env: { ...clean, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  const stdout: string[] = [];
  const stderr: string[] = [];
  let onReady: (v: Record<string, unknown>) => void = () => undefined;
  const ready = new Promise<Record<string, unknown>>((r) => (onReady = r));
  let out = '';
  child.stdout?.on('data', (d: Buffer) => {
    out += d.toString();
    for (let i = out.indexOf('\n'); i >= 0; i = out.indexOf('\n')) {
      const line = out.slice(0, i);
      out = out.slice(i + 1);
      stdout.push(line);
      if (stdout.length === 1) onReady(JSON.parse(line) as Record<string, unknown>);
    }
  });
  child.stderr?.on('data', (d: Buffer) => stderr.push(...d.toString().split('\n').filter(Boolean)));
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((r) => child.once('exit', (code, signal) => r({ code, signal })));
  return { child, stdout, stderr, exited, ready };
}

const logLines = (r: Run) => r.stderr.flatMap((l) => (l.startsWith('{') ? [JSON.parse(l) as Record<string, unknown>] : []));
const ok = { BACKLOG_TINY_PORT: '0', BACKLOG_TINY_DRAIN_MS: '200' };

describe('runApp', () => {
  it('a config with problems: every problem listed on stderr, exit 78, no ready line', async () => {
    const r = start({ BACKLOG_TINY_DRAIN_MS: 'soon', BACKLOG_TINY_SURPRISE: '1' });
    expect(await r.exited).toEqual({ code: 78, signal: null });
    const text = r.stderr.join('\n');
    expect(text).toMatch(/port/);
    expect(text).toMatch(/drainMs/);
    expect(text).toMatch(/BACKLOG_TINY_SURPRISE|surprise/i);
    expect(r.stdout).toEqual([]);
  });

  it('ready line on stdout with the telemetry port; /healthz served; SIGTERM drains within the deadline and exits 0; a second signal changes nothing', async () => {
    const r = start(ok);
    const ready = await r.ready;
    expect(ready.ready).toBe(true);
    const port = ready.metricsPort as number;
    expect(port).toBeGreaterThan(0);
    expect(await (await fetch(`http://127.0.0.1:${port}/healthz`)).json()).toEqual({ ok: true, drained: false });
    expect((await fetch(`http://127.0.0.1:${port}/metrics`)).status).toBe(200);
    r.child.kill('SIGTERM');
    r.child.kill('SIGINT');
    expect(await r.exited).toEqual({ code: 0, signal: null });
    const lines = logLines(r);
    // Once, whichever of the two signals the process handled first.
    expect(lines.filter((l) => l.msg === 'stopping')).toEqual([expect.objectContaining({ app: 'tiny', env: 'dev', level: 'info', signal: expect.stringMatching(/^SIG(TERM|INT)$/) })]);
    expect(lines.find((l) => l.msg === 'drained')).toMatchObject({ withinDeadline: true });
  });

  it('a fatal error from the component: the same drain, exit 1', async () => {
    const r = start({ ...ok, TINY_MODE: 'fatal' });
    await r.ready;
    expect(await r.exited).toEqual({ code: 1, signal: null });
    const lines = logLines(r);
    expect(lines.find((l) => l.msg === 'stopping')).toMatchObject({ level: 'error', reason: 'fatal', error: { message: 'lost the disk' } });
    expect(lines.some((l) => l.msg === 'drained')).toBe(true);
  });

  it('a one-shot that is done: the drain without a "stopping" line, exit with its code', async () => {
    const r = start({ ...ok, TINY_MODE: 'once' });
    expect(await r.exited).toEqual({ code: 3, signal: null });
    const lines = logLines(r);
    expect(lines.some((l) => l.msg === 'drained')).toBe(true);
    expect(lines.some((l) => l.msg === 'stopping')).toBe(false);
  });

  it('a start that throws: "<app> failed to start", exit 1, no ready line', async () => {
    const r = start({ ...ok, TINY_MODE: 'start-fails' });
    expect(await r.exited).toEqual({ code: 1, signal: null });
    expect(logLines(r).find((l) => l.msg === 'tiny failed to start')).toMatchObject({ err: 'cannot bind' });
    expect(r.stdout).toEqual([]);
  });

  it('a drain that overruns its deadline: exit 1 once the grace is over', async () => {
    const r = start({ ...ok, TINY_MODE: 'stuck', BACKLOG_TINY_STOP_TIMEOUT_MS: '300' });
    await r.ready;
    r.child.kill('SIGTERM');
    expect(await r.exited).toEqual({ code: 1, signal: null });
    expect(logLines(r).some((l) => l.msg === 'stop exceeded its deadline; exiting')).toBe(true);
  });
});
