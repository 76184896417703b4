// es-consumer: h-<env> → logs-<env>-recent-YYYY.MM.DD (README.md beside src/). The only file that exits.
//
//   node --import tsx apps/es-consumer/src/main.ts [--config file.yaml]          run the consumer
//   node --import tsx apps/es-consumer/src/main.ts prune [--dry-run] [--config f] prune once and exit
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, redact } from '@backlog/platform-config';
import { MetricsRegistry, createJsonLogger, startTelemetryServer, type TelemetryServer } from '@backlog/platform-telemetry';
import { type KafkaConnection, checkKafkaAtStart, kafkaConnection } from '@backlog/adapter-kafka';
import type { SearchPort } from '@backlog/adapter-search';
import { consumerOptions, createSearch, installTemplate, kafkaClient, searchAdapterConfig, unsupportedSettings, untilReady } from './app';
import { harvestTopic } from '@backlog/core-codec';
import { startLagPoller } from './lag';
import { esConsumerConfigSchema } from './config';
import { EsConsumer } from './consumer';
import { esConsumerMetrics } from './metrics';
import { pruneRecent } from './prune';

const argv = process.argv.slice(2);
const flag = (name: string) => argv.includes(name);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};
const command = argv[0] && !argv[0].startsWith('-') ? argv[0] : 'run';

let config;
let kafkaConn: { connection: KafkaConnection; warnings: string[] } | undefined;
try {
  if (command !== 'run' && command !== 'prune') throw new ConfigError('CONFIG_INVALID', 'es-consumer', [{ path: '', message: `unknown command ${command} (run | prune)` }]);
  config = loadConfig({ app: 'es-consumer', schema: esConsumerConfigSchema, file: option('--config') });
  const extra = unsupportedSettings(config).map((m) => ({ path: m.split(':')[0] as string, message: m.slice(m.indexOf(':') + 2) }));
  // Kafka's TLS files and SASL password are read and checked with the other problems (prune does not use Kafka).
  if (command === 'run') kafkaConn = kafkaConnection('es-consumer', config.kafka, { extra });
  else if (extra.length) throw new ConfigError('CONFIG_INVALID', 'es-consumer', extra);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(CONFIG_EXIT_CODE);
}
const cfg = config;
const logger = createJsonLogger({ level: cfg.log.level, base: { app: 'es-consumer', env: cfg.env } });

let stopping = false;
let stopRequested: () => void = () => undefined;
const stopSignal = new Promise<void>((resolve) => (stopRequested = resolve));
for (const sig of ['SIGTERM', 'SIGINT'] as const) {
  process.on(sig, () => {
    if (stopping) return;
    stopping = true;
    logger.info('stopping', { signal: sig });
    stopRequested();
  });
}

async function connectSearch(): Promise<SearchPort | undefined> {
  return untilReady('connecting to the search engine', () => createSearch(searchAdapterConfig(cfg)), logger, () => stopping);
}

async function prune(search: SearchPort, registry?: ReturnType<typeof esConsumerMetrics>): Promise<void> {
  try {
    const res = await pruneRecent(search, cfg.env, cfg.prune.days, logger, { dryRun: flag('--dry-run'), maxFutureSkewMs: cfg.timestamps.maxFutureSkewSeconds * 1000 });
    registry?.pruned.inc({ reason: 'age' }, res.deleted.length - res.future.length);
    registry?.pruned.inc({ reason: 'future' }, res.future.length);
    logger.info('pruning done', { deleted: res.deleted, future: res.future, kept: res.kept, days: cfg.prune.days });
  } catch (err) {
    logger.warn('pruning failed; next run will try again', { error: err });
  }
}

async function runPrune(): Promise<number> {
  const search = await connectSearch();
  if (!search) return 1;
  await prune(search);
  await search.close();
  return 0;
}

async function run(): Promise<number> {
  logger.info('config', { config: redact(cfg) });
  const registry = new MetricsRegistry({ defaultMetrics: true });
  const metrics = esConsumerMetrics(registry);
  let consumer: EsConsumer | undefined;
  let telemetry: TelemetryServer;
  try {
    telemetry = await startTelemetryServer({
      registry,
      host: cfg.metrics.host,
      port: cfg.metrics.port,
      health: () => (consumer ? { ...consumer.health() } : { ok: true, state: 'connecting' }),
    });
  } catch (err) {
    logger.error('cannot serve metrics/health', { error: err, host: cfg.metrics.host, port: cfg.metrics.port });
    return 1;
  }
  logger.info('metrics and health', { url: `http://${telemetry.host}:${telemetry.port}/metrics` });

  let exit = 0;
  const search = await connectSearch();
  if (search) {
    if (cfg.template.install) await untilReady('installing the index template', () => installTemplate(search, cfg), logger, () => stopping);
    if (!stopping) {
      logger.info('search engine', { engine: search.engine, template: cfg.template.name });
      let fatal: (err: Error) => void = () => undefined;
      const fatalP = new Promise<Error>((resolve) => (fatal = resolve));
      const conn = kafkaConn as NonNullable<typeof kafkaConn>;
      const kafka = kafkaClient(cfg, conn.connection, logger);
      consumer = new EsConsumer(kafka, search, metrics, logger, consumerOptions(cfg), (e) => fatal(e));
      // Refused credentials or certificates: one error naming the broker, no retries.
      const started = await checkKafkaAtStart(kafka, logger, { warnings: conn.warnings })
        .then(() => untilReady('starting the Kafka consumer', () => (consumer as EsConsumer).start(), logger, () => stopping))
        .catch((err: Error) => err);
      if (started instanceof Error) {
        logger.error('cannot start consuming', { error: started });
        exit = 1;
      } else {
        let timer: NodeJS.Timeout | undefined;
        if (cfg.prune.enabled) {
          void prune(search, metrics);
          timer = setInterval(() => void prune(search, metrics), cfg.prune.intervalMinutes * 60_000);
          timer.unref();
        }
        // The group's lag from the broker's point of view (metrics.groupLag), also while paused.
        const opts = consumerOptions(cfg);
        const lag = startLagPoller({ admin: kafkaClient(cfg, conn.connection, logger).admin(), groupId: opts.groupId, topic: harvestTopic(cfg.env), gauge: metrics.groupLag, intervalMs: 15_000, logger });
        const why = await Promise.race([stopSignal.then(() => undefined), fatalP]);
        await lag.stop();
        if (why) {
          logger.error('consumer stopped for good; exiting so that a supervisor restarts it', { error: why });
          exit = 1;
        }
        if (timer) clearInterval(timer);
      }
      const t0 = Date.now();
      await consumer.stop(Date.now() + cfg.stopTimeoutMs);
      logger.info('consumer stopped', { ms: Date.now() - t0 });
    }
    await search.close().catch(() => undefined);
  }
  await telemetry.close();
  return exit;
}

(command === 'prune' ? runPrune() : run()).then(
  (code) => process.exit(code),
  (err: unknown) => {
    logger.error('fatal', { error: err });
    process.exit(1);
  },
);
