import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { repoRoot, stackDown, stackUp } from '@backlog/platform-stack';
import { type DevConfig, SEALED_HARVESTER_PORTS, ensureDevConfig } from './dev-config';
import { DEFAULT_LIVE_URL, ensureLiveToken, liveSignInLines } from './live';

/**
 * The pipeline's apps as `backlog start` runs them. An app whose entry does not exist yet is skipped
 * with a note, so `npm start` always starts whatever the checkout contains. Ports are DESIGN.md's.
 */
export const APPS = [
  // The consumers first: they create h-<env> and c-<env>, so the harvesters' first batches find their topic.
  { name: 'es-consumer', entry: 'apps/es-consumer/src/main.ts', health: 'http://127.0.0.1:9103/healthz', shows: [] },
  { name: 'compressor', entry: 'apps/compressor/src/main.ts', health: 'http://127.0.0.1:9104/healthz', shows: [] },
  { name: 'nacl-gateway', entry: 'apps/nacl-gateway/src/main.ts', health: 'http://127.0.0.1:9102/healthz', shows: ['sealed frames TCP 127.0.0.1:5516'] },
  {
    name: 'harvester',
    entry: 'apps/harvester/src/main.ts',
    health: 'http://127.0.0.1:9101/healthz',
    shows: ['syslog UDP+TCP 127.0.0.1:5514', 'JSON lines TCP 127.0.0.1:5170', 'HTTP http://127.0.0.1:8080/logs'],
  },
  {
    // A second harvester on the same machine, shipping sealed through the nacl-gateway (dev-config.ts).
    name: 'harvester-sealed',
    entry: 'apps/harvester/src/main.ts',
    health: `http://127.0.0.1:${SEALED_HARVESTER_PORTS.metrics}/healthz`,
    shows: [
      `syslog UDP+TCP 127.0.0.1:${SEALED_HARVESTER_PORTS.syslog}`,
      `JSON lines TCP 127.0.0.1:${SEALED_HARVESTER_PORTS.json}`,
      `HTTP http://127.0.0.1:${SEALED_HARVESTER_PORTS.http}/logs`,
      'files .backlog/dev/logs/*.log',
    ],
  },
  { name: 'indexer', entry: 'apps/indexer/src/main.ts', health: 'http://127.0.0.1:9105/healthz', shows: ['indexer API http://127.0.0.1:8081/v1/history'] },
  // After the indexer: it loads archive-only spans for rehydrate=auto.
  {
    name: 'query',
    entry: 'apps/query/src/main.ts',
    health: 'http://127.0.0.1:9108/healthz',
    shows: ['query API http://127.0.0.1:8083/v1/query', "try: backlog query 'level:error | stats count() by service' --from -2h"],
  },
  // Its address is printed with a one-time login code (live.ts), never with the token.
  { name: 'live-receiver', entry: 'apps/live-receiver/src/main.ts', health: 'http://127.0.0.1:9106/healthz', shows: [] },
] as const;

/** V8 heap caps for harvesters started here (the outage test's figures: resident ≤ 150 MB at 10,000 events/s). */
export const HARVESTER_HEAP_FLAGS = ['--max-old-space-size=96', '--max-semi-space-size=4'];
/** Collection on the main thread only, and no pretenuring of short-lived event strings: a per-host agent's CPU budget is one core (ADR 0012). Node refuses these in NODE_OPTIONS. */
export const HARVESTER_GC_FLAGS = ['--single-threaded-gc', '--no-allocation-site-pretenuring'];

/**
 * The nacl-gateway's heap cap, as deploy/k8s gives it: its default byte budget (maxBufferedBytes) is a
 * quarter of V8's heap limit, 44 MiB with this (docs/adr/0014-sealed-transport-v2.md, addendum).
 */
export const GATEWAY_HEAP_FLAGS = ['--max-old-space-size=128'];

/**
 * The compressor's old generation starts at 128 MiB: V8's small default made it mark-compact 5-9 times
 * per ~60 MB of NDJSON archived (each batch's buffers and text are short-lived but large), ~20 % more of
 * its own CPU; with it, once (ADR 0013, decision 4). Node refuses it in NODE_OPTIONS.
 */
export const COMPRESSOR_NODE_FLAGS = ['--initial-old-space-size=128'];

const say = (line: string) => process.stdout.write(`${line}\n`);
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function waitHealthy(url: string, child: ChildProcess, timeoutMs: number): Promise<boolean> {
  const until = Date.now() + timeoutMs;
  while (Date.now() < until && child.exitCode === null) {
    try {
      const res = await fetch(url, { signal: AbortSignal.timeout(1000) });
      if (res.ok) return true;
    } catch {
      /* not yet */
    }
    await sleep(300);
  }
  return false;
}

/** `backlog start [app…]`: run the apps (optionally the local stack first) until Ctrl-C. */
export function registerStart(program: Command): void {
  program
    .command('start')
    .argument('[apps...]', `apps to run (default: all that exist): ${APPS.map((a) => a.name).join(', ')}`)
    .option('--with-stack', 'bring the local stack up first, and stop what this started on exit')
    .option('--keep-stack', 'with --with-stack: leave the stack running on exit')
    .option('--env <env>', 'environment name', process.env.BACKLOG_ENV ?? 'dev')
    .description('run the pipeline apps against the local stack (or the configured servers)')
    .action(async (names: string[], opts: { withStack?: boolean; keepStack?: boolean; env: string }) => {
      const root = repoRoot();
      const unknown = names.filter((n) => !APPS.some((a) => a.name === n));
      if (unknown.length) throw new Error(`unknown app(s): ${unknown.join(', ')}; known: ${APPS.map((a) => a.name).join(', ')}`);
      let startedServers: string[] = [];
      if (opts.withStack) {
        const t0 = Date.now();
        const res = await stackUp({ say });
        startedServers = res.started;
        say(`stack ready in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
      }
      const chosen = APPS.filter((a) => names.length === 0 || names.includes(a.name));
      const children: { name: string; child: ChildProcess }[] = [];
      const liveOn = chosen.some((a) => a.name === 'live-receiver');
      // The live page needs a token: the configured one, else this env's own (random, kept 0600 under
      // .backlog/<env>/ so a restart keeps signed-in browsers). It is handed to the receiver and never printed.
      const live = liveOn ? (process.env.BACKLOG_LIVE_RECEIVER_AUTH_TOKEN ? { token: process.env.BACKLOG_LIVE_RECEIVER_AUTH_TOKEN, file: undefined } : ensureLiveToken(root, opts.env)) : undefined;
      // Its page and health ports, as configured in the environment (DESIGN.md's by default).
      const liveUrl = process.env.BACKLOG_LIVE_RECEIVER_HTTP_PORT ? `http://127.0.0.1:${process.env.BACKLOG_LIVE_RECEIVER_HTTP_PORT}` : DEFAULT_LIVE_URL;
      const liveHealth = `http://127.0.0.1:${process.env.BACKLOG_LIVE_RECEIVER_METRICS_PORT ?? '9106'}/healthz`;
      let dev: DevConfig | undefined;
      for (const app of chosen) {
        // Without a configured key pair, the gateway and the sealed harvester use the local run's own
        // (written once under .backlog/dev/); with one configured (BACKLOG_NACL_GATEWAY_*), the gateway
        // uses it and the sealed harvester is left to the operator.
        const gatewayConfigured = Object.keys(process.env).some((k) => k.startsWith('BACKLOG_NACL_GATEWAY_KEYS_') || k === 'BACKLOG_NACL_GATEWAY_CONFIG');
        if (app.name === 'harvester-sealed' && gatewayConfigured) {
          say(`${app.name.padEnd(16)} skipped: the nacl-gateway uses your configured keys (point a harvester at it with shipping.sealed.*)`);
          continue;
        }
        if ((app.name === 'nacl-gateway' || app.name === 'harvester-sealed') && !gatewayConfigured) dev ??= ensureDevConfig(root, opts.env, { liveTargets: liveOn ? '127.0.0.1:5515' : undefined });
        if (!existsSync(join(root, app.entry))) {
          say(`${app.name.padEnd(16)} not built yet (no ${app.entry}), skipped`);
          continue;
        }
        // The harvester's memory bound (≤ 150 MB resident through a Kafka outage) needs V8's heap capped
        // from the command line (apps/harvester/SHIPPING.md "Memory"); an operator's NODE_OPTIONS wins.
        const isHarvester = app.entry === 'apps/harvester/src/main.ts';
        const heapCapped = /max-old-space-size/.test(process.env.NODE_OPTIONS ?? '');
        const heap = heapCapped ? [] : isHarvester ? HARVESTER_HEAP_FLAGS : app.name === 'nacl-gateway' ? GATEWAY_HEAP_FLAGS : [];
        const gc = isHarvester && process.env.BACKLOG_HARVESTER_PARALLEL_GC !== '1' ? HARVESTER_GC_FLAGS : [];
        const compressor = app.entry === 'apps/compressor/src/main.ts' ? COMPRESSOR_NODE_FLAGS : [];
        const child = spawn(process.execPath, [...heap, ...gc, ...compressor, '--import', 'tsx', join(root, app.entry)], {
          cwd: root,
          stdio: ['ignore', 'inherit', 'inherit'],
          env: {
            ...process.env,
            BACKLOG_ENV: opts.env,
            // With the live-receiver in the same run, the harvester sends it the live copy (unless configured otherwise).
            ...(app.name === 'harvester' && liveOn && process.env.BACKLOG_HARVESTER_LIVE_ENABLED === undefined
              ? { BACKLOG_HARVESTER_LIVE_ENABLED: 'true', BACKLOG_HARVESTER_LIVE_TARGETS: '127.0.0.1:5515' }
              : {}),
            ...(app.name === 'live-receiver' && live ? { BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: live.token } : {}),
            // The local run's own config files (platform-config reads $BACKLOG_<APP>_CONFIG).
            ...(app.name === 'nacl-gateway' && dev ? { BACKLOG_NACL_GATEWAY_CONFIG: dev.gatewayConfig } : {}),
            ...(app.name === 'harvester-sealed' && dev ? { BACKLOG_HARVESTER_CONFIG: dev.sealedHarvesterConfig } : {}),
          },
        });
        children.push({ name: app.name, child });
        const health = app.name === 'live-receiver' ? liveHealth : app.health;
        const ok = await waitHealthy(health, child, 60_000);
        say(`${app.name.padEnd(16)} ${ok ? 'healthy' : 'NOT healthy'}  ${health}`);
        for (const s of app.shows) say(`${''.padEnd(18)}${s}`);
        if (app.name === 'live-receiver' && live && ok) for (const s of await liveSignInLines(liveUrl, live.token, live.file)) say(`${''.padEnd(18)}${s}`);
        if (!ok) say(`${''.padEnd(18)}(its log is above; the other apps keep running)`);
      }
      say('');
      say(
        `env ${opts.env}: Kafka 127.0.0.1:9092 · search http://127.0.0.1:9200 (index patterns logs-${opts.env}-recent-*, logs-${opts.env}-history-*) · S3 http://127.0.0.1:9000/backlog/${opts.env}/ · Redis 127.0.0.1:6379`,
      );
      say('Ctrl-C stops the apps (each flushes what it buffered).');

      let stopping = false;
      const stop = async () => {
        if (stopping) return;
        stopping = true;
        say('\nstopping…');
        for (const { child } of children) if (child.exitCode === null) child.kill('SIGTERM');
        await Promise.all(children.map(({ child }) => (child.exitCode !== null ? undefined : new Promise((r) => child.once('exit', r)))));
        if (opts.withStack && !opts.keepStack && startedServers.length) await stackDown({ say, only: startedServers });
        process.exit(0);
      };
      process.on('SIGINT', () => void stop());
      process.on('SIGTERM', () => void stop());
      if (children.length === 0) {
        say('no app to run yet; the stack stays up until Ctrl-C.');
      }
      await new Promise(() => undefined);
    });
}
