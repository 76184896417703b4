import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { createRedis, type RedisPort } from '@backlog/adapter-redis';
import { createSearch, type SearchPort } from '@backlog/adapter-search';
import { type StackInfo, repoRoot, stackEnv } from '@backlog/testing';
import { type HistoryCommand, encodeHistoryCommand } from '@backlog/platform-config';
import { Command } from 'commander';
import { registerHistory } from '../../apps/cli/src/commands/history';
import { type Rec, buildRecords, exited, freePort, manifests, produce, s3Of, startCompressor, waitFor } from '../compressor/helpers';

export { exited, freePort, manifests, s3Of, waitFor };

export interface SourceEvent {
  id: string;
  ts: number;
  host: string;
  service: string;
  level: string;
  message: string;
}

/** The events inside h-<env> records (what the archive must hold). */
export function eventsOf(records: Rec[]): SourceEvent[] {
  const out: SourceEvent[] = [];
  for (const r of records) {
    for (const line of gunzipSync(r.value).toString('utf8').split('\n')) {
      if (!line) continue;
      const e = JSON.parse(line) as { '@timestamp': string; event: { id: string }; host: { name: string }; service: { name: string }; log: { level: string }; message: string };
      out.push({ id: e.event.id, ts: Date.parse(e['@timestamp']), host: e.host.name, service: e.service.name, level: e.log.level, message: e.message });
    }
  }
  return out;
}

/**
 * An archive written by the real compressor: h-<env> records → compressor child process → bz2 parts +
 * manifests in S3 and records in c-<env>. Resolves once the manifests account for every event.
 */
export async function archiveFixture(info: StackInfo, env: string, opts: { start: number; minutes: number; hosts: number; perBatch: number }): Promise<SourceEvent[]> {
  const { records, ids } = buildRecords(opts);
  await produce(info, env, records, 2);
  const s3 = s3Of(info);
  const c = startCompressor(info, env, { BACKLOG_COMPRESSOR_STREAM_RAW_BYTES: String(256 * 1024) });
  try {
    await c.ready;
    await waitFor(`all ${ids.length} events archived`, async () => (await manifests(s3, env)).reduce((n, x) => n + x.m.count, 0) === ids.length, 150_000);
  } finally {
    c.child.kill('SIGTERM');
    await exited(c.child);
    s3.close();
  }
  return eventsOf(records);
}

export function indexerEnv(info: StackInfo, env: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    ...stackEnv(info, env),
    // Scoped so that tests never touch the shared `logs-*` template or another file's keys.
    BACKLOG_INDEXER_TEMPLATE_NAME: `backlog-logs-${env}`,
    BACKLOG_INDEXER_TEMPLATE_PATTERNS: `logs-${env}-*`,
    BACKLOG_INDEXER_TEMPLATE_PRIORITY: '430',
    BACKLOG_INDEXER_STATE_KEY_PREFIX: `${env}:indexer:`,
    BACKLOG_INDEXER_METRICS_PORT: '0',
    BACKLOG_INDEXER_LOAD_LEASE_MS: '3000',
    BACKLOG_INDEXER_HISTORY_REAPER_INTERVAL_SECONDS: '1',
    ...extra,
  };
}

export interface IndexerProc {
  child: ChildProcess;
  url: string;
  output: () => string;
  call: (method: string, path: string, body?: unknown, token?: string) => Promise<{ status: number; body: Record<string, unknown> }>;
  stop: () => Promise<number | null>;
}

/** The indexer server as a real child process on a free port. */
export async function startIndexer(info: StackInfo, env: string, extra: Record<string, string> = {}): Promise<IndexerProc> {
  const port = await freePort();
  const root = repoRoot();
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/indexer/src/main.ts')], {
    cwd: root,
    env: { ...process.env, ...indexerEnv(info, env, { BACKLOG_INDEXER_API_PORT: String(port), ...extra }) },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  // An indexer that exits before it is ready (a config problem: exit 78) fails the start at once.
  const exitedEarly = new Promise<never>((_, reject) => child.once('exit', (code) => reject(new Error(`indexer exited ${code}:\n${out}`))));
  exitedEarly.catch(() => undefined);
  await Promise.race([
    waitFor(
      'indexer ready',
      async () => {
        if (child.exitCode !== null) throw new Error(`indexer exited ${child.exitCode}:\n${out}`);
        return out.includes('"ready":true');
      },
      60_000,
      100,
    ),
    exitedEarly,
  ]);
  const url = `http://127.0.0.1:${port}`;
  const call = async (method: string, path: string, body?: unknown, token?: string) => {
    const res = await fetch(url + path, {
      method,
      headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(token ? { authorization: `Bearer ${token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
    });
    const text = await res.text();
    return { status: res.status, body: (text ? JSON.parse(text) : {}) as Record<string, unknown> };
  };
  return {
    child,
    url,
    output: () => out,
    call,
    stop: async () => {
      if (child.exitCode === null) child.kill('SIGTERM');
      return exited(child);
    },
  };
}

/**
 * `backlog history …`: the arguments parsed by the CLI's own commander definition (in this process),
 * then the indexer's `main.ts history '<json>'` run with the command, as the CLI runs it; stdout/stderr
 * captured. A usage error commander refuses comes back as exit 1 with its message.
 */
export async function runHistory(info: StackInfo, env: string, args: string[], extra: Record<string, string> = {}): Promise<{ code: number | null; stdout: string; stderr: string }> {
  let cmd: HistoryCommand | undefined;
  const program = new Command('backlog').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerHistory(program, async (c) => {
    cmd = c;
    return 0;
  });
  try {
    await program.parseAsync(['history', ...args], { from: 'user' });
  } catch (e) {
    return { code: 1, stdout: '', stderr: (e as Error).message };
  } finally {
    process.exitCode = undefined;
  }
  if (!cmd) return { code: 64, stdout: '', stderr: 'no history command' };
  const root = repoRoot();
  return new Promise((resolve) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/indexer/src/main.ts'), 'history', encodeHistoryCommand(cmd as HistoryCommand)], {
      cwd: root,
      env: { ...process.env, ...indexerEnv(info, env, extra) },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('exit', (code) => resolve({ code, stdout, stderr }));
  });
}

export function searchOf(info: StackInfo): Promise<SearchPort> {
  return createSearch({ node: info.search.url });
}

export function redisOf(info: StackInfo, env: string): RedisPort {
  return createRedis({ url: info.redis.url, keyPrefix: `${env}:indexer:` });
}

/** Polls GET /v1/history/:index until the status is final. */
export async function untilFinished(ix: IndexerProc, index: string, timeoutMs = 120_000): Promise<Record<string, unknown>> {
  return waitFor(
    `${index} finished`,
    async () => {
      const r = await ix.call('GET', `/v1/history/${index}`);
      const s = r.body.status as string;
      return r.status === 200 && (s === 'done' || s === 'partial' || s === 'failed') ? r.body : undefined;
    },
    timeoutMs,
    250,
  );
}
