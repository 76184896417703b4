// Every app, started as the real process (`node --import tsx apps/<app>/src/main.ts`) against the local
// stack with a test config, serves /metrics and /healthz, and its /metrics exposes every metric name that
// deploy/grafana's dashboard queries use. The names come from the dashboard itself (libs/testing's
// deploy/observability.ts), so a panel added for a metric no app exposes fails here, by name.
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import type { z } from 'zod';
import { encodeKey, generateKeyPair } from '@backlog/core-sealed';
import { SHARED_KEYS, configKeys, generateToken } from '@backlog/platform-config';
import { type AppName, dashboardMetricsByApp, freePort, missingMetrics, readDashboard, repoRoot, testNamespace } from '@backlog/testing';
import { compressorConfigSchema } from '../../apps/compressor/src/config';
import { esConsumerConfigSchema } from '../../apps/es-consumer/src/config';
import { harvesterConfigSchema } from '../../apps/harvester/src/config';
import { indexerConfigSchema } from '../../apps/indexer/src/config';
import { liveReceiverConfigSchema } from '../../apps/live-receiver/src/config';
import { gatewayConfigSchema } from '../../apps/nacl-gateway/src/config';

const root = repoRoot();
const dashboard = readDashboard(root);
const wanted = dashboardMetricsByApp(dashboard);
const ns = testNamespace('obs');
const scratch = mkdtempSync(join(tmpdir(), 'obs-test-'));
const running = new Set<ChildProcess>();
/** Each app's scrape, kept for the docs check below and written to .backlog/reports/metrics/<app>.prom. */
const scrapes = new Map<AppName, string>();
const reports = join(root, '.backlog', 'reports', 'metrics');

/** `BACKLOG_<APP>_…_PORT` = a free loopback port for every `port` key of the app's schema (listeners, metrics). */
async function portEnv(app: string, schema: z.ZodType): Promise<{ env: Record<string, string>; metricsPort: number }> {
  const env: Record<string, string> = {};
  let metricsPort = 0;
  for (const k of configKeys(app, schema, SHARED_KEYS).keys) {
    if (k.path[k.path.length - 1] !== 'port' || k.value.kind !== 'number' || SHARED_KEYS.has(k.path[0] as string)) continue;
    const port = await freePort();
    env[k.env] = String(port);
    if (k.path.join('.') === 'metrics.port') metricsPort = port;
  }
  if (!metricsPort) throw new Error(`${app}: its config schema has no metrics.port key`);
  return { env, metricsPort };
}

interface Started {
  child: ChildProcess;
  metrics: string;
  health: { status: number; body: Record<string, unknown> };
}

/**
 * Starts the app and waits (bounded) until /healthz answers 200: some apps register part of their
 * metrics once connected (the indexer after the search engine answered). Then one scrape. An app that
 * serves /metrics but never becomes healthy is scraped anyway, and the health answer is reported.
 */
async function startAndScrape(app: AppName, schema: z.ZodType, extra: Record<string, string>): Promise<Started> {
  const { env, metricsPort } = await portEnv(app, schema);
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps', app, 'src', 'main.ts')], {
    cwd: root,
    env: { ...process.env, BACKLOG_ENV: ns, ...env, ...extra },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  running.add(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  child.stderr?.on('data', (d: Buffer) => (out = (out + d.toString()).slice(-20_000)));
  const base = `http://127.0.0.1:${metricsPort}`;
  const until = Date.now() + 90_000;
  let health: Started['health'] | undefined;
  for (;;) {
    if (child.exitCode !== null || child.signalCode !== null) throw new Error(`${app} exited (${child.exitCode ?? child.signalCode}) before it was healthy:\n${out}`);
    try {
      const h = await fetch(`${base}/healthz`, { signal: AbortSignal.timeout(2000) });
      health = { status: h.status, body: (await h.json()) as Record<string, unknown> };
    } catch {
      /* not listening yet */
    }
    if (health?.status === 200 || (health && Date.now() > until)) break;
    if (Date.now() > until) throw new Error(`${app} did not serve ${base}/healthz within 90 s:\n${out}`);
    await new Promise((r) => setTimeout(r, 250));
  }
  const res = await fetch(`${base}/metrics`, { signal: AbortSignal.timeout(5000) });
  expect(res.status, `${app} GET /metrics`).toBe(200);
  return { child, metrics: await res.text(), health };
}

async function stop(child: ChildProcess): Promise<void> {
  if (child.exitCode === null && child.signalCode === null) {
    const exited = new Promise((r) => child.once('exit', r));
    child.kill('SIGTERM');
    const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
    await exited;
    clearTimeout(t);
  }
  running.delete(child);
}

afterAll(async () => {
  for (const c of running) await stop(c);
  rmSync(scratch, { recursive: true, force: true });
}, 60_000);

/** Metric names in the table under `### <app>` of docs/operations.md. */
function docsMetricTable(app: AppName): string[] {
  const text = readFileSync(join(root, 'docs', 'operations.md'), 'utf8');
  const start = text.indexOf(`\n### ${app}\n`);
  if (start < 0) return [];
  const rest = text.slice(start + app.length + 6);
  const end = rest.search(/\n##/);
  return [...(end < 0 ? rest : rest.slice(0, end)).matchAll(/^\| `([a-z0-9_]+)` \|/gm)].map((m) => m[1] as string);
}

/** The checks shared by every app: health answers JSON with `ok`, and no dashboard name is missing. */
async function check(app: AppName, schema: z.ZodType, extra: Record<string, string>): Promise<void> {
  expect(wanted[app].length, `the dashboard uses no ${app} metric`).toBeGreaterThan(0);
  const s = await startAndScrape(app, schema, extra);
  scrapes.set(app, s.metrics);
  mkdirSync(reports, { recursive: true });
  writeFileSync(join(reports, `${app}.prom`), s.metrics);
  try {
    expect([200, 503], JSON.stringify(s.health)).toContain(s.health.status);
    expect(typeof s.health.body.ok, `${app} /healthz body ${JSON.stringify(s.health.body)}`).toBe('boolean');
    // Node process metrics come with every app (collectDefaultMetrics).
    expect(s.metrics).toContain('# TYPE process_resident_memory_bytes gauge');
    const missing = missingMetrics(app, dashboard, s.metrics);
    expect.soft(missing, `${app} /metrics lacks names deploy/grafana/dashboards/backlog.json queries: ${missing.join(', ')}`).toEqual([]);
    // docs/operations.md's table for the app lists exactly the families it registers (Node's own aside).
    const families = [...s.metrics.matchAll(/^# TYPE (\S+) /gm)].map((m) => m[1] as string).filter((n) => !n.startsWith('process_') && !n.startsWith('nodejs_'));
    const documented = docsMetricTable(app);
    expect
      .soft(
        families.filter((n) => !documented.includes(n)),
        `${app} metrics missing from docs/operations.md "### ${app}"`,
      )
      .toEqual([]);
    expect
      .soft(
        documented.filter((n) => !families.includes(n)),
        `docs/operations.md "### ${app}" lists metrics ${app} does not expose`,
      )
      .toEqual([]);
  } finally {
    await stop(s.child);
  }
}

describe('each app exposes the metrics the Grafana dashboard queries', () => {
  it(`harvester (${wanted.harvester.length} names)`, async () => {
    await check('harvester', harvesterConfigSchema, {
      // Ships to h-<ns> through its own spool (the kafka output registers the spool and shipping metrics);
      // the live copy is on (its drop counters are on the dashboard) and aims at a port nobody listens on.
      // A TCP and the HTTP input register the connection and refused-request families.
      BACKLOG_HARVESTER_INPUTS: JSON.stringify([
        { type: 'syslog_udp', port: 0 },
        { type: 'syslog_tcp', port: 0 },
        { type: 'http', port: 0 },
      ]),
      BACKLOG_HARVESTER_STATE_DIR: join(scratch, 'harvester', 'state'),
      BACKLOG_HARVESTER_SHIPPING_SPOOL_DIR: join(scratch, 'harvester', 'spool'),
      BACKLOG_HARVESTER_LIVE_ENABLED: 'true',
      BACKLOG_HARVESTER_LIVE_TARGETS: `127.0.0.1:${await freePort()}`,
    });
  });

  it(`nacl-gateway (${wanted['nacl-gateway'].length} names)`, async () => {
    await check('nacl-gateway', gatewayConfigSchema, { BACKLOG_NACL_GATEWAY_KEYS_SECRET_KEY: encodeKey(generateKeyPair().secretKey) });
  });

  it(`es-consumer (${wanted['es-consumer'].length} names)`, async () => {
    // Leaves the shared index template and other envs' indices alone.
    await check('es-consumer', esConsumerConfigSchema, { BACKLOG_ES_CONSUMER_TEMPLATE_INSTALL: 'false', BACKLOG_ES_CONSUMER_PRUNE_ENABLED: 'false' });
  });

  it(`compressor (${wanted.compressor.length} names)`, async () => {
    await check('compressor', compressorConfigSchema, { BACKLOG_COMPRESSOR_SPILL_DIR: join(scratch, 'compressor-spill') });
  });

  it(`live-receiver (${wanted['live-receiver'].length} names)`, async () => {
    await check('live-receiver', liveReceiverConfigSchema, { BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: generateToken() });
  });

  it(`indexer (${wanted.indexer.length} names)`, async () => {
    await check('indexer', indexerConfigSchema, {});
  });
});
