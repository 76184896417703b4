import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { ensurePrivateDir, generateToken, readTokenFile, writePrivateFile } from '@backlog/platform-config';
import { repoRoot } from '@backlog/platform-stack';

/**
 * The live page's token on a developer's machine, and the way into the page without it ever sitting
 * in a URL or a log (docs/adr/0019-defaults-tokens-sessions-and-bounds.md):
 *
 * - `backlog start` keeps one random token per env in `.backlog/<env>/live-receiver.token` (mode 0600,
 *   made once, reused), hands it to the receiver, and prints the page's address with a **one-time
 *   login code** the receiver issued for it — a code dies after one use or a few minutes.
 * - `backlog live code` asks the receiver for another code with the same token.
 * - The page's sign-in form takes the code (or the token itself) and gets an HttpOnly session cookie.
 */

export const DEFAULT_LIVE_URL = 'http://127.0.0.1:8082';

/** Where `backlog start` keeps the env's live token. */
export const liveTokenFile = (root: string, env: string) => join(root, '.backlog', env, 'live-receiver.token');

/** The env's live token: read from its 0600 file, or made and written there the first time. */
export function ensureLiveToken(root: string, env: string): { token: string; file: string; created: boolean } {
  const file = liveTokenFile(root, env);
  if (existsSync(file)) return { token: tokenFromFile(file, 'the live token file'), file, created: false };
  ensurePrivateDir(join(root, '.backlog', env));
  const token = generateToken();
  writePrivateFile(file, `${token}\n`);
  return { token, file, created: true };
}

/** A token from a file of the user's alone (refused like a private key when others may read it). */
function tokenFromFile(file: string, what: string): string {
  return readTokenFile(file, { app: 'cli', setting: what });
}

/** Asks the receiver at `url` for a one-time login code, with the token. */
export async function requestLoginCode(url: string, token: string): Promise<{ code: string; expiresAt: number }> {
  const res = await fetch(new URL('/auth/code', url), { method: 'POST', headers: { authorization: `Bearer ${token}` }, signal: AbortSignal.timeout(5_000) });
  if (res.status !== 201) throw new Error(`the live-receiver at ${url} answered ${res.status} to a login code request${res.status === 401 ? ' (not its token)' : ''}`);
  return (await res.json()) as { code: string; expiresAt: number };
}

/**
 * What `backlog start` prints about the live page: its address and a one-time code, or, when no code
 * can be had, where the token is. Never the token, never a URL holding one.
 */
export async function liveSignInLines(url: string, token: string, tokenFile: string | undefined): Promise<string[]> {
  const page = `${url.replace(/\/+$/, '')}/`;
  try {
    const { code, expiresAt } = await requestLoginCode(url, token);
    const minutes = Math.max(1, Math.round((expiresAt - Date.now()) / 60_000));
    return [`live view ${page}`, `sign in with the one-time code ${code} (one use, ${minutes} min; \`backlog live code\` prints another)`];
  } catch {
    return [`live view ${page}`, tokenFile ? `sign in with the token in ${tokenFile}` : 'sign in with $BACKLOG_LIVE_RECEIVER_AUTH_TOKEN'];
  }
}

/** `backlog live code`: a new one-time login code for the live page. */
export function registerLive(program: Command): void {
  const live = program.command('live').description('the live view: sign-in codes for its page');
  live
    .command('code')
    .description('print a one-time login code for the live page (asks the receiver with the token; the token itself is never printed)')
    .option('--env <env>', 'environment whose token `backlog start` keeps in .backlog/<env>/', process.env.BACKLOG_ENV ?? 'dev')
    .option('--url <url>', 'the live-receiver', DEFAULT_LIVE_URL)
    .option('--token-file <file>', 'read the token from this file (mode 0600) instead')
    .option('--json', 'machine-readable output')
    .action(async (opts: { env: string; url: string; tokenFile?: string; json?: boolean }) => {
      let token: string;
      if (opts.tokenFile) token = tokenFromFile(opts.tokenFile, '--token-file');
      else if (process.env.BACKLOG_LIVE_RECEIVER_AUTH_TOKEN) token = process.env.BACKLOG_LIVE_RECEIVER_AUTH_TOKEN;
      else {
        const file = liveTokenFile(repoRoot(), opts.env);
        if (!existsSync(file)) throw new Error(`no token: ${file} does not exist (\`backlog start\` makes it), and neither --token-file nor $BACKLOG_LIVE_RECEIVER_AUTH_TOKEN is set`);
        token = tokenFromFile(file, 'the live token file');
      }
      const { code, expiresAt } = await requestLoginCode(opts.url, token);
      if (opts.json) process.stdout.write(`${JSON.stringify({ url: `${opts.url.replace(/\/+$/, '')}/`, code, expiresAt })}\n`);
      else process.stdout.write(`${opts.url.replace(/\/+$/, '')}/  one-time code ${code} (valid until ${new Date(expiresAt).toLocaleTimeString()})\n`);
    });
}
