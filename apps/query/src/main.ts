// query: one query over any time range — recent, history and (through the indexer) the archive
// (README.md beside src/). The only file that exits.
//
//   node --import tsx apps/query/src/main.ts [--config file.yaml]   serve the API (8083) + metrics/health (9108)
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, readTokenFile, redact } from '@backlog/platform-config';
import { MetricsRegistry, createJsonLogger, startTelemetryServer, type TelemetryServer } from '@backlog/platform-telemetry';
import { buildQueryApp, type QueryApp } from './app';
import { crossCheck, queryConfigSchema } from './config';
import { startApi, type ApiServer } from './http';

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

let config;
let apiToken: string | undefined;
let indexerToken: string | undefined;
try {
  config = loadConfig({ app: 'query', schema: queryConfigSchema, file: option('--config') });
  const extra = crossCheck(config);
  if (extra.length) throw new ConfigError('CONFIG_INVALID', 'query', extra);
  apiToken = config.api.token ?? (config.api.tokenFile ? readTokenFile(config.api.tokenFile, { app: 'query', setting: 'api.tokenFile' }) : undefined);
  indexerToken = config.indexer.tokenFile ? readTokenFile(config.indexer.tokenFile, { app: 'query', setting: 'indexer.tokenFile' }) : undefined;
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(CONFIG_EXIT_CODE);
}
const cfg = config;
const logger = createJsonLogger({ level: cfg.log.level, base: { app: 'query', env: cfg.env } });

let stopRequested: () => void = () => undefined;
const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    logger.info('stopping', { signal: sig });
    stopRequested();
  });
}

async function serve(): Promise<number> {
  logger.info('config', { config: redact(cfg) });
  const registry = new MetricsRegistry({ defaultMetrics: true });
  let app: QueryApp | undefined;
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
  let exit = 0;
  let stopping = false;
  void stopSignal.then(() => (stopping = true));
  try {
    for (let wait = 500; !app && !stopping; wait = Math.min(10_000, wait * 2)) {
      try {
        app = await buildQueryApp(cfg, logger, registry, indexerToken);
      } catch (err) {
        if ((err as { retriable?: unknown }).retriable === false) throw err;
        logger.warn('connecting to the search engine failed; retrying', { error: err, inMs: wait });
        await Promise.race([new Promise((r) => setTimeout(r, wait)), stopSignal]);
      }
    }
    if (app && !stopping) {
      const a = cfg.api;
      const limits = {
        bodyLimitBytes: a.bodyLimitBytes,
        requestTimeoutMs: a.requestTimeoutMs,
        connectionTimeoutMs: a.connectionTimeoutMs,
        keepAliveTimeoutMs: a.keepAliveTimeoutMs,
        maxRequestsPerSocket: a.maxRequestsPerSocket,
        maxConnections: a.maxConnections,
        maxConcurrentQueries: a.maxConcurrentQueries,
      };
      api = await startApi(app.service, { host: a.host, port: a.port, limits, ...(apiToken ? { token: apiToken } : {}) }, logger, app.metrics);
      logger.info('query API', { url: `${api.url}/v1/query`, openapi: `${api.url}/v1/openapi.json`, envs: app.service.opts.envs, auth: apiToken ? 'bearer' : 'none (loopback names only)' });
      process.stdout.write(`${JSON.stringify({ ready: true, api: api.url, metrics: `http://${telemetry.host}:${telemetry.port}` })}\n`);
      await stopSignal;
    }
  } catch (err) {
    logger.error('query service failed', { error: err });
    exit = 1;
  }
  const deadline = setTimeout(() => {
    logger.error('stop deadline passed; exiting');
    process.exit(exit || 1);
  }, cfg.stopTimeoutMs);
  deadline.unref();
  await api?.close().catch(() => undefined);
  await app?.close().catch(() => undefined);
  await telemetry.close();
  return exit;
}

serve().then(
  (code) => process.exit(code),
  (err: unknown) => {
    logger.error('fatal', { error: err });
    process.exit(1);
  },
);
