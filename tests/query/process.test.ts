// The query service as the real process (`node --import tsx apps/query/src/main.ts`): config checked
// before anything opens (off-loopback without a token: exit 78), a token from an owner-only file, health
// and metrics on their own port, and the token never in its output.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { freePort, repoRoot, stackEnv, stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { afterAll, describe, expect, it } from 'vitest';

const TOKEN = 'e1f3a5c7b9d2e4f6a8c0b1d3e5f7a9c2b4d6e8f0a1c3e5b7d9f2a4c6e8b0d1f3';

function start(env: Record<string, string>): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(repoRoot(), 'apps/query/src/main.ts')], { cwd: repoRoot(), env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((r) => child.once('exit', (code) => r(code)));
  return { child, output: () => out, exited };
}

describe('apps/query/src/main.ts', () => {
  const info = stackInfo();
  const env = testNamespace('qproc');
  const dir = mkdtempSync(join(tmpdir(), 'qproc-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('refuses to listen off loopback without a token (exit 78, the reason named)', async () => {
    const p = start({ ...stackEnv(info, env), BACKLOG_QUERY_API_HOST: '0.0.0.0', BACKLOG_QUERY_API_PORT: '0', BACKLOG_QUERY_METRICS_PORT: '0' });
    expect(await p.exited).toBe(78);
    expect(p.output()).toMatch(/api\.token/);
  });

  it('serves with a token from a file: 401 without it, answers with it, health and metrics; the token never printed', async () => {
    const file = join(dir, 'token');
    writeFileSync(file, `${TOKEN}\n`);
    chmodSync(file, 0o600);
    const [port, metricsPort] = [await freePort(), await freePort()];
    const p = start({ ...stackEnv(info, env), BACKLOG_QUERY_API_PORT: String(port), BACKLOG_QUERY_METRICS_PORT: String(metricsPort), BACKLOG_QUERY_API_TOKEN_FILE: file });
    try {
      await waitFor(
        'query service ready',
        async () => {
          if (p.child.exitCode !== null) throw new Error(`exited ${p.child.exitCode}: ${p.output()}`);
          return p.output().includes('"ready":true');
        },
        60_000,
        100,
      );
      const url = `http://127.0.0.1:${port}/v1/query?env=${env}&q=level:error&from=-1h`;
      expect((await fetch(url)).status).toBe(401);
      const ok = await fetch(url, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(ok.status).toBe(200);
      expect(await ok.json()).toMatchObject({ kind: 'hits', total: 0, complete: true });
      const bad = await fetch(`http://127.0.0.1:${port}/v1/query?env=${env}&q=sevice:api`, { headers: { authorization: `Bearer ${TOKEN}` } });
      expect(bad.status).toBe(400);
      expect((await fetch(`http://127.0.0.1:${metricsPort}/healthz`)).status).toBe(200);
      const metrics = await (await fetch(`http://127.0.0.1:${metricsPort}/metrics`)).text();
      expect(metrics).toMatch(/query_requests_total\{route="GET \/v1\/query",status="401"\} 1/);
      expect(metrics).toMatch(/query_bad_requests_total\{reason="FIELD_UNKNOWN"\} 1/);
      expect(metrics).toMatch(/query_request_duration_seconds_bucket/);
    } finally {
      p.child.kill('SIGTERM');
      expect(await p.exited).toBe(0);
    }
    expect(p.output()).not.toContain(TOKEN);
  });
});
