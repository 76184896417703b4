// `npm start` → `backlog start`: the live page's address comes with a one-time login code, never with
// the token (issue 17 §7). The real CLI starts the real live-receiver (on free ports, against the test
// Redis); everything either process writes is read back and must not hold the token.
import { type ChildProcess, spawn } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { afterAll, describe, expect, it } from 'vitest';
import { generateToken, tokenProblems } from '@backlog/platform-config';
import { freePort, repoRoot, stackEnv, stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { ensureLiveToken, liveTokenFile, registerLive } from '../../apps/cli/src/commands/live';

const root = repoRoot();
const env = testNamespace('livestart');
let start: ChildProcess | undefined;
/** The page port of the receiver `backlog start` runs below. */
let livePort = 0;

afterAll(async () => {
  if (start && start.exitCode === null) {
    const gone = new Promise((r) => start?.once('exit', r));
    start.kill('SIGTERM');
    await gone;
  }
  rmSync(join(root, '.backlog', env), { recursive: true, force: true });
}, 30_000);

const signInWith = async (port: number, body: Record<string, string>) =>
  (await fetch(`http://127.0.0.1:${port}/auth/login`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) })).status;

describe('backlog start: the live page', () => {
  it('keeps one random token per env in a 0600 file, reused on the next run; refuses the file when others can read it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-token-'));
    const a = ensureLiveToken(dir, 'dev');
    expect(a.created).toBe(true);
    expect(a.file).toBe(liveTokenFile(dir, 'dev'));
    expect(statSync(a.file).mode & 0o777).toBe(0o600);
    expect(tokenProblems(a.token)).toEqual([]);
    const b = ensureLiveToken(dir, 'dev');
    expect(b).toEqual({ ...a, created: false });
    chmodSync(a.file, 0o644);
    expect(() => ensureLiveToken(dir, 'dev')).toThrow(/permissions 0644 .* are too open/);
  });

  it('prints the address and a one-time login code — no token in any line of the CLI or the receiver — and the code signs a browser in once', async () => {
    const [httpPort, metricsPort] = [await freePort(), await freePort()];
    livePort = httpPort;
    let out = '';
    start = spawn(process.execPath, [join(root, 'bin/backlog.mjs'), 'start', 'live-receiver', '--env', env], {
      cwd: root,
      env: {
        ...process.env,
        ...stackEnv(stackInfo(), env),
        BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: '',
        BACKLOG_LIVE_RECEIVER_HTTP_PORT: String(httpPort),
        BACKLOG_LIVE_RECEIVER_METRICS_PORT: String(metricsPort),
        BACKLOG_LIVE_RECEIVER_UDP_PORT: '0',
      },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    start.stdout?.on('data', (d: Buffer) => (out += d.toString()));
    start.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    await waitFor(
      'the live page lines',
      async () => {
        if (start?.exitCode !== null) throw new Error(`backlog start exited ${start?.exitCode}:\n${out}`);
        return /live view http:\/\/127\.0\.0\.1:\d+\/\S*\n.*\n/.test(out) && out.includes('Ctrl-C stops');
      },
      90_000,
      200,
    );
    // Nothing anyone may paste, forward or collect in a log holds a URL with a token, nor the token.
    expect(out).not.toMatch(/[?#&]token=/);
    const token = readFileSync(liveTokenFile(root, env), 'utf8').trim();
    expect(tokenProblems(token)).toEqual([]);
    expect(out.includes(token), out).toBe(false);
    expect(out).toContain(`live view http://127.0.0.1:${httpPort}/\n`);
    const code = /one-time code ([0-9A-Z]{4}-[0-9A-Z]{4})/.exec(out)?.[1] as string;
    expect(code, out).toBeDefined();
    expect(await signInWith(httpPort, { code })).toBe(200);
    expect(await signInWith(httpPort, { code })).toBe(401);

    // `backlog live code` asks for another with the env's token file.
    const program = new Command().exitOverride();
    registerLive(program);
    const printed: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (printed.push(s), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'backlog', 'live', 'code', '--env', env, '--url', `http://127.0.0.1:${httpPort}`, '--json']);
    } finally {
      process.stdout.write = write;
    }
    const again = JSON.parse(printed.join('')) as { code: string; url: string };
    expect(again.url).toBe(`http://127.0.0.1:${httpPort}/`);
    expect(again.code).not.toBe(code);
    expect(printed.join('')).not.toContain(token);
    expect(await signInWith(httpPort, { code: again.code })).toBe(200);
  });

  it('`backlog live code` refuses a token file others can read, and a token the receiver does not know', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'live-code-'));
    const file = join(dir, 'token');
    writeFileSync(file, `${generateToken()}\n`, { mode: 0o644 });
    chmodSync(file, 0o644);
    const run = async (args: string[]) => {
      const program = new Command().exitOverride();
      registerLive(program);
      await program.parseAsync(['node', 'backlog', 'live', 'code', ...args]);
    };
    await expect(run(['--token-file', file])).rejects.toThrow(/too open/);
    chmodSync(file, 0o600);
    await expect(run(['--token-file', file, '--url', `http://127.0.0.1:${livePort}`])).rejects.toThrow(/answered 401 .*not its token/);
  });
});
