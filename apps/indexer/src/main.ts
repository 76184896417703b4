// indexer: any time range of the archive → logs-<env>-history-<start36>-<end36> that expires (README.md beside src/).
// The only file that exits.
//
//   node --import tsx apps/indexer/src/main.ts [--config file.yaml]            serve the API (8081) + metrics/health (9105)
//   node --import tsx apps/indexer/src/main.ts history '<json>'               what `backlog history load|list|extend|drop …` runs
import { type KafkaConnection, kafkaConnection } from '@backlog/adapter-kafka';
import { parseHistoryIndex } from '@backlog/core-codec';
import { CONFIG_EXIT_CODE, ConfigError, type HistoryCommand, HistoryCommandError, decodeHistoryCommand, loadConfig, readTokenFile, redact } from '@backlog/platform-config';
import { MetricsRegistry, createJsonLogger, startTelemetryServer, type TelemetryServer } from '@backlog/platform-telemetry';
import { buildIndexer, installTemplate, type Indexer } from './app';
import { runHistoryCli } from './cli';
import { crossCheck, indexerConfigSchema } from './config';
import { startApi, type ApiServer } from './http';
import { reapOnce } from './reaper';

const argv = process.argv.slice(2);
const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'serve';
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

// The CLI parsed the user's options (commander) and passes the result as one JSON argument.
let historyCmd: HistoryCommand | undefined;
if (command === 'history') {
  try {
    if (argv.length !== 2) throw new HistoryCommandError('main.ts history takes the command as one JSON argument, as `backlog history …` passes it; run `npx backlog history --help`');
    historyCmd = decodeHistoryCommand(argv[1]);
  } catch (e) {
    process.stderr.write(`${(e as Error).message}\n`);
    process.exit(e instanceof HistoryCommandError ? e.exitCode : 64);
  }
}

let config;
let kafkaConn: { connection: KafkaConnection; warnings: string[] } | undefined;
let apiToken: string | undefined;
try {
  if (command !== 'serve' && command !== 'history') throw new ConfigError('CONFIG_INVALID', 'indexer', [{ path: '', message: `unknown command ${command} (serve | history)` }]);
  config = loadConfig({ app: 'indexer', schema: indexerConfigSchema, file: historyCmd?.config ?? option('--config') });
  const extra = crossCheck(config);
  // Kafka (c-<env>) only when it is read: its TLS files and SASL password are checked with the rest.
  if (config.compressedTopic.enabled) kafkaConn = kafkaConnection('indexer', config.kafka, { extra });
  else if (extra.length) throw new ConfigError('CONFIG_INVALID', 'indexer', extra);
  // A token from a file is read (and checked like one in the environment) before anything opens.
  apiToken = config.api.token ?? (config.api.tokenFile && command === 'serve' ? readTokenFile(config.api.tokenFile, { app: 'indexer', setting: 'api.tokenFile' }) : undefined);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(CONFIG_EXIT_CODE);
}
const cfg = config;
// Logs go to stderr; the CLI keeps stdout for its own output and logs warnings and above only unless asked.
const logger = createJsonLogger({ level: command === 'history' && !process.env.BACKLOG_INDEXER_LOG_LEVEL ? 'warn' : cfg.log.level, base: { app: 'indexer', env: cfg.env } });

const abort = new AbortController();
let stopRequested: () => void = () => undefined;
const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (abort.signal.aborted) return;
    logger.info('stopping', { signal: sig });
    abort.abort();
    stopRequested();
  });
}

async function history(): Promise<number> {
  const cmd = historyCmd as HistoryCommand;
  // The CLI runs with the operator's own access to the stores: `extend`/`drop` may name an index of any
  // env (the API, for remote callers, only those of the envs it serves).
  const named = cmd.sub === 'extend' || cmd.sub === 'drop' ? parseHistoryIndex(cmd.index)?.env : undefined;
  const env = cmd.sub === 'load' || cmd.sub === 'list' ? cmd.env : undefined;
  const ix = await buildIndexer(cfg, logger, new MetricsRegistry(), [...(env ? [env] : []), ...(named ? [named] : [])], kafkaConn);
  try {
    return await runHistoryCli(
      ix,
      cmd,
      {
        out: (s) => process.stdout.write(`${s}\n`),
        err: (s) => process.stderr.write(s.endsWith('\n') || s.startsWith('\r') ? s : `${s}\n`),
        tty: process.stderr.isTTY === true && process.stdout.isTTY === true,
      },
      logger,
      abort.signal,
    );
  } finally {
    await ix.close();
  }
}

async function serve(): Promise<number> {
  logger.info('config', { config: redact(cfg) });
  const registry = new MetricsRegistry({ defaultMetrics: true });
  let ix: Indexer | undefined;
  let api: ApiServer | undefined;
  let telemetry: TelemetryServer;
  try {
    telemetry = await startTelemetryServer({
      registry,
      host: cfg.metrics.host,
      port: cfg.metrics.port,
      health: () => (api ? { ok: true, state: 'serving', api: api.url } : { ok: false, state: 'starting' }),
    });
  } catch (err) {
    logger.error('cannot serve metrics/health', { error: err, host: cfg.metrics.host, port: cfg.metrics.port });
    return 1;
  }
  logger.info('metrics and health', { url: `http://${telemetry.host}:${telemetry.port}/metrics` });
  let exit = 0;
  let reaper: NodeJS.Timeout | undefined;
  try {
    for (let wait = 500; !ix && !abort.signal.aborted; wait = Math.min(10_000, wait * 2)) {
      try {
        ix = await buildIndexer(cfg, logger, registry, [], kafkaConn);
        if (cfg.template.install) await installTemplate(ix.search, cfg);
      } catch (err) {
        if ((err as { retriable?: unknown }).retriable === false) throw err;
        await ix?.close().catch(() => undefined);
        ix = undefined;
        logger.warn('connecting to the search engine failed; retrying', { error: err, inMs: wait });
        await new Promise((r) => setTimeout(r, wait));
      }
    }
    if (ix && !abort.signal.aborted) {
      const live = ix;
      const a = cfg.api;
      const limits = {
        bodyLimitBytes: a.bodyLimitBytes,
        requestTimeoutMs: a.requestTimeoutMs,
        connectionTimeoutMs: a.connectionTimeoutMs,
        keepAliveTimeoutMs: a.keepAliveTimeoutMs,
        maxRequestsPerSocket: a.maxRequestsPerSocket,
        maxConnections: a.maxConnections,
      };
      api = await startApi(live.service, { host: a.host, port: a.port, limits, ...(apiToken ? { token: apiToken } : {}) }, logger, live.metrics);
      logger.info('indexer API', { url: `${api.url}/v1/history`, openapi: `${api.url}/openapi.json`, envs: live.service.opts.envs, auth: apiToken ? 'bearer' : 'none (loopback names only)' });
      process.stdout.write(`${JSON.stringify({ ready: true, api: api.url, metrics: `http://${telemetry.host}:${telemetry.port}` })}\n`);
      if (cfg.history.reaper) {
        const tick = async () => {
          try {
            const resumed = await live.service.resumeUnfinished();
            if (resumed.length) logger.info('resuming unfinished history loads', { indices: resumed });
            await reapOnce({ search: live.search, store: live.store, metrics: live.metrics, logger }, live.service.opts.envs, cfg.history.ttlHours);
          } catch (err) {
            live.metrics.reaperErrors.inc();
            logger.warn('reaper run failed; next interval tries again', { error: err });
          }
        };
        void tick();
        reaper = setInterval(() => void tick(), cfg.history.reaperIntervalSeconds * 1000);
      }
      await stopSignal;
    }
  } catch (err) {
    logger.error('indexer failed', { error: err });
    exit = 1;
  }
  if (reaper) clearInterval(reaper);
  const deadline = setTimeout(() => {
    logger.error('stop deadline passed; exiting');
    process.exit(exit || 1);
  }, cfg.stopTimeoutMs);
  deadline.unref();
  await api?.close().catch(() => undefined);
  await ix?.close().catch(() => undefined);
  await telemetry.close();
  return exit;
}

(command === 'history' ? history() : serve()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    logger.error('fatal', { error: err });
    process.exit(1);
  },
);
