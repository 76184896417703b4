// Every shell command of README.md and docs/quickstart.md (their ```sh blocks), run as written with
// bash against a running pipeline, in the documents' order. The test starts the apps `npm start` runs
// (es-consumer, compressor, harvester, indexer) as their own processes on private ports and a private
// env, against the shared stack, and rewrites only what points at those (printed for each command):
//   --env dev, logs-dev-…            → this test's env
//   ports 5514, 5170, 8080           → the harvester's private syslog (UDP+TCP), JSON lines and HTTP ports
//   http://127.0.0.1:9200            → the stack's search URL
//   `backlog demo`                   → also given those ports, and 5 s instead of its --duration
//   `<index>`                        → the history index the last `history load` printed
// Commands that cannot run here are listed with the reason (SKIPS). A command that exits non-zero, or
// a search (`_search`, `_count` on a recent index) that never finds what the commands sent, fails it.
import { spawn } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createKafka } from '@backlog/adapter-kafka';
import { type StackInfo, freePort, stackEnv, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { deletePrefix, s3Of } from '../archive/helpers';
import { type App, ROOT, startApp, stopApp } from '../e2e/helpers';

export interface DocCommand {
  file: string;
  line: number;
  text: string;
}

/** The commands of a Markdown file's ```sh / ```bash blocks: comment lines dropped, `\` continuations joined. */
export function shellCommands(file: string): DocCommand[] {
  const lines = readFileSync(join(ROOT, file), 'utf8').split('\n');
  const out: DocCommand[] = [];
  let inBlock = false;
  let pending: DocCommand | undefined;
  lines.forEach((raw, i) => {
    const fence = /^```(\w*)/.exec(raw);
    if (fence) {
      inBlock = !inBlock && ['sh', 'bash', 'shell', 'console'].includes(fence[1] ?? '');
      return;
    }
    if (!inBlock) return;
    if (pending) {
      pending.text += `\n${raw}`;
      if (!raw.endsWith('\\')) pending = undefined;
      return;
    }
    if (!raw.trim() || raw.trim().startsWith('#')) return;
    const cmd = { file, line: i + 1, text: raw };
    out.push(cmd);
    if (raw.endsWith('\\')) pending = cmd;
  });
  return out;
}

/** Commands not run here, by a pattern on their text, with the reason printed. */
const SKIPS: Array<[RegExp, string]> = [
  [/^git clone /, 'clones a repository (the test runs in a checkout)'],
  [/^npm install( && npm (start|test))?\s*$/, 'installs packages (node_modules exist); `npm test` would run this suite inside itself; `npm start` is what this test starts'],
  [/^npm start\b/, 'long-running: this test starts the same apps itself on private ports'],
  [/\bstack down\b/, 'would stop the stack the other tests share'],
  [/^deploy\/(kibana|opensearch-dashboards)\/import\.sh/, 'needs Kibana / OpenSearch Dashboards from the Docker stack (no Docker here)'],
  [/\.backlog\/dev\/logs\//, 'a file tailed by the second, sealed harvester (nacl-gateway path), which this test does not start'],
];

const DOCS = ['README.md', 'docs/quickstart.md'];

interface Ctx {
  env: string;
  searchUrl: string;
  ports: { syslog: number; json: number; http: number };
  lastIndex?: string;
}

export function rewrite(text: string, c: Ctx): string {
  let t = text
    .replace(/--env dev\b/g, `--env ${c.env}`)
    .replace(/logs-dev-/g, `logs-${c.env}-`)
    .replace(/http:\/\/127\.0\.0\.1:9200/g, c.searchUrl)
    .replace(/\b5514\b/g, String(c.ports.syslog))
    .replace(/\b5170\b/g, String(c.ports.json))
    .replace(/\b8080\b/g, String(c.ports.http));
  if (/\bbacklog(\.mjs)? demo\b/.test(t)) {
    // The ports go before a trailing comment.
    const m = /^(.*?)(\s+#.*)?$/s.exec(t.replace(/--duration \S+/, '--duration 5s')) as RegExpExecArray;
    t = `${m[1]} --udp-port ${c.ports.syslog} --tcp-port ${c.ports.syslog} --json-port ${c.ports.json} --http-port ${c.ports.http}${m[2] ?? ''}`;
  }
  if (c.lastIndex) t = t.replace(/<index>/g, c.lastIndex);
  return t;
}

function bash(script: string, env: NodeJS.ProcessEnv, timeoutMs: number): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve) => {
    const child = spawn('bash', ['-c', script], { cwd: ROOT, env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (d: Buffer) => (stdout = (stdout + d.toString()).slice(-200_000)));
    child.stderr.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-50_000)));
    const timer = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** A search on a recent index must find something (what the commands before sent), within a bound. */
const recentSearch = (t: string) => /^curl .*logs-[^/]*-recent-\*\/_(search|count)/.test(t);
const hits = (stdout: string): number => {
  try {
    const j = JSON.parse(stdout) as { count?: number; hits?: { total?: { value?: number } | number } };
    if (typeof j.count === 'number') return j.count;
    const total = j.hits?.total;
    return typeof total === 'number' ? total : (total?.value ?? 0);
  } catch {
    return 0;
  }
};

describe('README.md and docs/quickstart.md: every shell command works as written', () => {
  let info: StackInfo;
  const env = testNamespace('readme');
  const apps: App[] = [];
  const dir = mkdtempSync(join(tmpdir(), 'backlog-readme-'));
  let ctx: Ctx;
  let cmdEnv: NodeJS.ProcessEnv;

  beforeAll(async () => {
    info = stackInfo();
    const p = {
      syslog: await freePort(),
      json: await freePort(),
      http: await freePort(),
      hm: await freePort(),
      es: await freePort(),
      cm: await freePort(),
      ix: await freePort(),
      ixApi: await freePort(),
    };
    ctx = { env, searchUrl: info.search.url.replace(/\/$/, ''), ports: { syslog: p.syslog, json: p.json, http: p.http } };
    // Never the shared logs-* template: one for this env's indices only.
    const template = (app: string, prio: string) => ({
      [`BACKLOG_${app}_TEMPLATE_NAME`]: `backlog-logs-${env}`,
      [`BACKLOG_${app}_TEMPLATE_PATTERNS`]: `logs-${env}-*`,
      [`BACKLOG_${app}_TEMPLATE_PRIORITY`]: prio,
    });
    const indexer = { ...template('INDEXER', '430'), BACKLOG_INDEXER_STATE_KEY_PREFIX: `${env}:indexer:` };
    const base = stackEnv(info, env);
    cmdEnv = { ...process.env, ...base, ...indexer };
    const start = async (name: string, entry: string, health: number, extra: Record<string, string>) => {
      apps.push(await startApp(name, entry, { ...base, ...extra }, health, 90_000));
    };
    // As `backlog start` orders them: the consumers create h-<env> and c-<env> first.
    await start('es-consumer', 'apps/es-consumer/src/main.ts', p.es, { ...template('ES_CONSUMER', '420'), BACKLOG_ES_CONSUMER_METRICS_PORT: String(p.es), BACKLOG_ES_CONSUMER_PRUNE_ENABLED: 'false' });
    await start('compressor', 'apps/compressor/src/main.ts', p.cm, { BACKLOG_COMPRESSOR_METRICS_PORT: String(p.cm), BACKLOG_COMPRESSOR_SPILL_DIR: join(dir, 'compressor') });
    await start('harvester', 'apps/harvester/src/main.ts', p.hm, {
      BACKLOG_HARVESTER_METRICS_PORT: String(p.hm),
      BACKLOG_HARVESTER_STATE_DIR: join(dir, 'harvester', 'state'),
      BACKLOG_HARVESTER_SHIPPING_SPOOL_DIR: join(dir, 'harvester', 'spool'),
      // The README says "within the flush interval (30 s)"; a shorter one keeps the test short.
      BACKLOG_HARVESTER_SHIPPING_FLUSH_INTERVAL_MS: '1000',
      BACKLOG_HARVESTER_INPUTS: JSON.stringify([
        { type: 'syslog_udp', port: p.syslog },
        { type: 'syslog_tcp', port: p.syslog },
        { type: 'json_tcp', port: p.json },
        { type: 'http', port: p.http },
      ]),
    });
    await start('indexer', 'apps/indexer/src/main.ts', p.ix, { ...indexer, BACKLOG_INDEXER_METRICS_PORT: String(p.ix), BACKLOG_INDEXER_API_PORT: String(p.ixApi) });
  }, 400_000);

  afterAll(async () => {
    for (const a of [...apps].reverse()) await stopApp(a);
    rmSync(dir, { recursive: true, force: true });
    if (!info) return;
    await fetch(`${info.search.url}/logs-${env}-*`, { method: 'DELETE' }).catch(() => undefined);
    await fetch(`${info.search.url}/_index_template/backlog-logs-${env}`, { method: 'DELETE' }).catch(() => undefined);
    const admin = createKafka({ brokers: info.kafka.brokers, clientId: `readme-clean-${env}` }).admin();
    await admin.connect().catch(() => undefined);
    await admin.deleteTopics([`h-${env}`, `c-${env}`]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    const s3 = s3Of(info);
    await deletePrefix(s3, `${env}/`).catch(() => undefined);
    s3.close();
  }, 120_000);

  it('finds the commands', () => {
    for (const f of DOCS) expect(shellCommands(f).length, f).toBeGreaterThan(3);
    expect(shellCommands('README.md').map((c) => c.text)).toContain('npx backlog history load --env dev --from -1h --to now                      # that hour back into logs-dev-history-…');
  });

  it('runs each one', async () => {
    const failures: string[] = [];
    for (const file of DOCS) {
      for (const c of shellCommands(file)) {
        const where = `${c.file}:${c.line}`;
        const skip = SKIPS.find(([re]) => re.test(c.text));
        if (skip) {
          process.stdout.write(`skip ${where}: ${c.text.split('\n')[0]}\n       (${skip[1]})\n`);
          continue;
        }
        const script = rewrite(c.text, ctx);
        process.stdout.write(`run  ${where}: ${script.replace(/\s+#.*$/, '')}\n`);
        let r = await bash(script, cmdEnv, 180_000);
        if (recentSearch(c.text)) {
          // Searchable once the harvester flushed and the es-consumer indexed (bounded).
          for (let i = 0; i < 60 && r.code === 0 && hits(r.stdout) === 0; i++) {
            await new Promise((res) => setTimeout(res, 1000));
            r = await bash(script, cmdEnv, 30_000);
          }
          if (hits(r.stdout) === 0) failures.push(`${where}: ${c.text}\n  found nothing: ${r.stdout.slice(0, 500)}`);
        }
        if (r.code !== 0) failures.push(`${where}: ${c.text}\n  exit ${r.code}\n  stdout: ${r.stdout.slice(-1500)}\n  stderr: ${r.stderr.slice(-1500)}`);
        if (/^curl /.test(c.text) && /"error"\s*:/.test(r.stdout)) failures.push(`${where}: ${c.text}\n  answered an error: ${r.stdout.slice(0, 800)}`);
        const index = /logs-[a-z0-9-]+-history-[0-9a-z]+-[0-9a-z]+/.exec(r.stdout)?.[0];
        if (/\bhistory load\b/.test(c.text) && index) ctx.lastIndex = index;
      }
    }
    expect(failures, failures.join('\n\n')).toEqual([]);
  }, 900_000);
});
