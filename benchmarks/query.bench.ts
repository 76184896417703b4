// query: latency of the query service (apps/query) beside the same DSL sent raw to the engine in the
// same run (ARCHITECTURE.md habit 9; issue 19 §5: p95 < 100 ms, overhead ≤ 10 %):
//   filter-100   `level:error AND service:api` over the last 24 h, 100 rows
//   histogram    `| stats count() by level, interval(1h)` over the last 24 h
// The events (default 1,000,000, spread over the last 24 h) go into logs-<env>-recent-YYYY.MM.DD of a
// bench env with the logs-* template's mappings; the service runs in process behind its real HTTP shell
// (Fastify), asked over loopback HTTP; the baseline POSTs the translated request body to `_search`
// with plain fetch. Samples alternate between the two so that both see the same cache and load.
//
//   npm run bench -- query
//   BACKLOG_BENCH_QUERY_DOCS=200000 BACKLOG_BENCH_QUERY_SAMPLES=100 npm run bench -- query
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { createS3 } from '@backlog/adapter-s3';
import { createSearch, installLogsTemplate, logsCatalogue, logsTemplateConfigSchema, translateQuery } from '@backlog/adapter-search';
import { recentIndexName } from '@backlog/core-codec';
import { appConfigSchema } from '@backlog/platform-config';
import { MetricsRegistry, createJsonLogger } from '@backlog/platform-telemetry';
import { startApi } from '../apps/query/src/http';
import { queryMetrics } from '../apps/query/src/metrics';
import { QueryService } from '../apps/query/src/service';
import { rawBulk } from './lib/bulk';
import { loadBenchConfig } from './lib/config';
import { latencySummary } from './lib/stats';

const schema = appConfigSchema({
  /** Events in the recent indices. Default 1,000,000 (issue 19 §5). */
  docs: z.number().int().min(1000).max(20_000_000).default(1_000_000),
  /** Timed requests per case and side. Default 200. */
  samples: z.number().int().min(10).max(10_000).default(200),
  /** Untimed requests per case and side first. Default 20. */
  warmup: z.number().int().min(0).max(1000).default(20),
  /** Keep the bench env's indices afterwards (to run again without loading). Default false. */
  keep: z.boolean().default(false),
  /** The env name (index logs-<env>-recent-…). Default a fresh one per run. */
  benchEnv: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/)
    .optional(),
});

const cfg = loadBenchConfig('bench-query', schema);
const log = (line: string) => process.stderr.write(`${line}\n`);
const env = cfg.benchEnv ?? `benchq${randomBytes(3).toString('hex')}`;
const base = cfg.search.url.replace(/\/+$/, '');
const HOSTS = Array.from({ length: 50 }, (_, i) => `web-${i}`);
const SERVICES = ['api', 'worker', 'auth', 'billing', 'search', 'cart', 'nginx', 'sshd'];
const LEVELS = ['info', 'info', 'info', 'info', 'warn', 'debug', 'error'];

function events(n: number, now: number): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  const span = 24 * 3_600_000;
  for (let i = 0; i < n; i++) {
    const ts = now - span + Math.floor((i * span) / n);
    out.push({
      '@timestamp': new Date(ts).toISOString(),
      event: { id: `${ts.toString(16).padStart(12, '0')}-7000-8000-${i.toString(16).padStart(12, '0')}` },
      host: { name: HOSTS[(i * 7) % HOSTS.length] },
      service: { name: SERVICES[(i * 13) % SERVICES.length] },
      log: { level: LEVELS[(i * 3) % LEVELS.length] },
      message: `request ${i} served in ${(i * 37) % 1000} ms`,
      labels: { env: 'bench', input: 'file' },
      fields: { status: [200, 404, 500][i % 3] },
    });
  }
  return out;
}

async function timed(fn: () => Promise<void>): Promise<number> {
  const t0 = performance.now();
  await fn();
  return performance.now() - t0;
}

async function main(): Promise<void> {
  const search = await createSearch({ node: cfg.search.url, engine: cfg.search.engine, requestTimeoutMs: 60_000 });
  const s3 = createS3({ ...cfg.s3 });
  const now = Date.now();
  const templateName = `backlog-logs-${env}`;
  await installLogsTemplate(search, logsTemplateConfigSchema.parse({ name: templateName, patterns: [`logs-${env}-*`], priority: 440, refreshInterval: '30s' }));
  const existing = await search.listIndices(`logs-${env}-recent-*`);
  if (!existing.length) {
    log(`loading ${cfg.docs.toLocaleString('en-US')} events into logs-${env}-recent-* …`);
    const secs = await rawBulk(base, events(cfg.docs, now), { index: (d) => recentIndexName(env, Date.parse(d['@timestamp'] as string)), bulkDocs: 5_000, workers: 2 });
    log(`loaded in ${secs.toFixed(1)} s`);
  }
  await search.refresh(`logs-${env}-*`);

  const metrics = queryMetrics(new MetricsRegistry());
  // Warnings and errors on stderr: a failed sample then says why (a 503's cause is in the service's log).
  const logger = createJsonLogger({ level: 'warn', base: { app: 'query-bench' } });
  const service = new QueryService(search, s3, undefined, metrics, logger, {
    envs: [env],
    defaultLimit: 100,
    maxLimit: 10_000,
    maxExportEvents: 1_000_000,
    cursorKeepAliveSeconds: 60,
    maxRangeDays: 400,
    rehydrate: { maxEvents: 1, maxBytes: 1, estimateBytesPerSecond: 4 << 20, maxRangeHours: 168 },
  });
  const api = await startApi(service, { host: '127.0.0.1', port: 0, limits: { maxConcurrentQueries: 64 } }, logger, metrics);
  const catalogue = logsCatalogue(search.engine);
  const from = new Date(now - 24 * 3_600_000).toISOString();
  const to = new Date(now).toISOString();
  const cases = [
    { name: 'filter-100', q: 'level:error AND service:api' },
    { name: 'histogram', q: '| stats count() by level, interval(1h)' },
  ];
  const results: Array<Record<string, unknown>> = [];
  try {
    for (const c of cases) {
      const url = `${api.url}/v1/query?${new URLSearchParams({ env, q: c.q, from, to, limit: '100' }).toString()}`;
      // The raw side: the same translated request (the same range, resolved once), straight to _search.
      const { request } = translateQuery(c.q, catalogue, search.engine, { range: { from, to }, defaultHits: 100 });
      const body = JSON.stringify({
        query: request.query,
        size: request.size,
        track_total_hits: request.trackTotalHits,
        ...(request.sort ? { sort: request.sort } : {}),
        ...(request.aggs ? { aggs: request.aggs } : {}),
      });
      const rawUrl = `${base}/logs-${env}-recent-*/_search`;
      const viaService = async () => {
        const r = await fetch(url);
        const j = (await r.json()) as { total?: number };
        if (r.status !== 200 || typeof j.total !== 'number') throw new Error(`service answered ${r.status}: ${JSON.stringify(j).slice(0, 500)}`);
      };
      const raw = async () => {
        const r = await fetch(rawUrl, { method: 'POST', headers: { 'content-type': 'application/json' }, body });
        await r.json();
        if (r.status !== 200) throw new Error(`engine answered ${r.status}`);
      };
      for (let i = 0; i < cfg.warmup; i++) {
        await viaService();
        await raw();
      }
      const s: number[] = [];
      const b: number[] = [];
      for (let i = 0; i < cfg.samples; i++) {
        s.push(await timed(viaService));
        b.push(await timed(raw));
      }
      const ls = latencySummary(s);
      const lb = latencySummary(b);
      log(`${c.name}: service p50 ${ls.p50?.toFixed(1)} ms p95 ${ls.p95?.toFixed(1)} ms · raw p50 ${lb.p50?.toFixed(1)} ms p95 ${lb.p95?.toFixed(1)} ms`);
      results.push({
        case: c.name,
        query: c.q,
        p50Ms: round(ls.p50),
        p95Ms: round(ls.p95),
        p99Ms: round(ls.p99),
        baseline: { p50Ms: round(lb.p50), p95Ms: round(lb.p95), p99Ms: round(lb.p99) },
        ratio: ls.p95 && lb.p95 ? Math.round((ls.p95 / lb.p95) * 100) / 100 : null,
        target: 'p95 < 100 ms, ≤ 1.10 × raw',
      });
    }
  } finally {
    await api.close();
    if (!cfg.keep) {
      await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
      await search.deleteIndexTemplate(templateName).catch(() => undefined);
    }
    await search.close();
    s3.close();
  }
  process.stdout.write(
    `${JSON.stringify({
      name: 'query',
      target: 'p95 < 100 ms each, overhead over raw ≤ 10 % (issue 19 §5)',
      notes: [
        'service: GET /v1/query over loopback HTTP (index listing + mappings, plan, coverage, translate, search, read, JSON); raw: the translated body POSTed to _search with fetch',
        'samples alternate service/raw; the same 24 h range, resolved once',
      ],
      params: { docs: cfg.docs, samples: cfg.samples, warmup: cfg.warmup, engine: search.engine },
      results,
    })}\n`,
  );
}

const round = (n: number | null) => (n === null ? null : Math.round(n * 10) / 10);

main().catch((e: unknown) => {
  log(`query bench failed: ${(e as Error).stack ?? String(e)}`);
  process.exit(1);
});
