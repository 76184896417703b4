// es-consumer: h-<env> → logs-<env>-recent-YYYY.MM.DD (README.md beside src/). Runs on the app shell
// (@backlog/platform-app), the only code that exits the process.
//
//   node --import tsx apps/es-consumer/src/main.ts [--config file.yaml]          run the consumer
//   node --import tsx apps/es-consumer/src/main.ts prune [--dry-run] [--config f] prune once and exit
import type { Logger } from '@backlog/core-pipeline';
import { type AppComponent, type AppContext, runApp } from '@backlog/platform-app';
import { ConfigError, loadConfig, redact } from '@backlog/platform-config';
import { type KafkaConnection, checkKafkaAtStart, kafkaConnection } from '@backlog/adapter-kafka';
import type { SearchPort } from '@backlog/adapter-search';
import { consumerOptions, createSearch, installTemplate, kafkaClient, searchAdapterConfig, unsupportedSettings, untilReady } from './app';
import { harvestTopic } from '@backlog/core-codec';
import { type LagPoller, startLagPoller } from './lag';
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

function loadEsConsumerConfig() {
  if (command !== 'run' && command !== 'prune') throw new ConfigError('CONFIG_INVALID', 'es-consumer', [{ path: '', message: `unknown command ${command} (run | prune)` }]);
  const cfg = loadConfig({ app: 'es-consumer', schema: esConsumerConfigSchema, file: option('--config') });
  const extra = unsupportedSettings(cfg).map((m) => ({ path: m.split(':')[0] as string, message: m.slice(m.indexOf(':') + 2) }));
  let kafkaConn: { connection: KafkaConnection; warnings: string[] } | undefined;
  // Kafka's TLS files and SASL password are read and checked with the other problems (prune does not use Kafka).
  if (command === 'run') kafkaConn = kafkaConnection('es-consumer', cfg.kafka, { extra });
  else if (extra.length) throw new ConfigError('CONFIG_INVALID', 'es-consumer', extra);
  return { cfg, kafkaConn };
}
type Loaded = ReturnType<typeof loadEsConsumerConfig>;
type Cfg = Loaded['cfg'];

const connectSearch = (cfg: Cfg, logger: Logger, stopped: () => boolean): Promise<SearchPort | undefined> =>
  untilReady('connecting to the search engine', () => createSearch(searchAdapterConfig(cfg)), logger, stopped);

async function prune(cfg: Cfg, logger: Logger, search: SearchPort, registry?: ReturnType<typeof esConsumerMetrics>): Promise<void> {
  try {
    const res = await pruneRecent(search, cfg.env, cfg.prune.days, logger, { dryRun: flag('--dry-run'), maxFutureSkewMs: cfg.timestamps.maxFutureSkewSeconds * 1000 });
    registry?.pruned.inc({ reason: 'age' }, res.deleted.length - res.future.length);
    registry?.pruned.inc({ reason: 'future' }, res.future.length);
    logger.info('pruning done', { deleted: res.deleted, future: res.future, kept: res.kept, days: cfg.prune.days });
  } catch (err) {
    logger.warn('pruning failed; next run will try again', { error: err });
  }
}

/** `prune`: once, then exit 0 (1 when interrupted before the search engine answered). */
function pruneOnce({ config: { cfg }, logger, done }: AppContext<Loaded>): AppComponent {
  let stopping = false;
  let running: Promise<number> | undefined;
  const run = async (): Promise<number> => {
    const search = await connectSearch(cfg, logger, () => stopping);
    if (!search) return 1;
    await prune(cfg, logger, search);
    await search.close();
    return 0;
  };
  return {
    start: async () => {
      running = run().catch((err: unknown) => {
        logger.error('fatal', { error: err });
        return 1;
      });
      void running.then((code) => done(code));
    },
    stop: async () => {
      stopping = true;
      return running ? await running : 0;
    },
  };
}

/** `run`: consume h-<env> into the recent indices until a signal or a fatal error. */
function consume({ config: { cfg, kafkaConn }, logger, registry, fatal }: AppContext<Loaded>): AppComponent {
  logger.info('config', { config: redact(cfg) });
  const metrics = esConsumerMetrics(registry);
  let stopping = false;
  let consumer: EsConsumer | undefined;
  let search: SearchPort | undefined;
  let timer: NodeJS.Timeout | undefined;
  let lag: LagPoller | undefined;
  let starting: Promise<void> = Promise.resolve();
  const stopConsumer = async (deadline: number) => {
    const c = consumer;
    consumer = undefined;
    if (!c) return;
    const t0 = Date.now();
    await c.stop(deadline);
    logger.info('consumer stopped', { ms: Date.now() - t0 });
  };
  const start = async (metricsHost: string, metricsPort: number) => {
    logger.info('metrics and health', { url: `http://${metricsHost}:${metricsPort}/metrics` });
    search = await connectSearch(cfg, logger, () => stopping);
    if (!search) return;
    const s = search;
    if (cfg.template.install)
      await untilReady(
        'installing the index template',
        () => installTemplate(s, cfg),
        logger,
        () => stopping,
      );
    if (stopping) return;
    logger.info('search engine', { engine: s.engine, template: cfg.template.name });
    const conn = kafkaConn as NonNullable<typeof kafkaConn>;
    const kafka = kafkaClient(cfg, conn.connection, logger);
    const c = new EsConsumer(kafka, s, metrics, logger, consumerOptions(cfg), (e) => {
      logger.error('consumer stopped for good; exiting so that a supervisor restarts it', { error: e });
      fatal();
    });
    consumer = c;
    // Refused credentials or certificates: one error naming the broker, no retries.
    const started = await checkKafkaAtStart(kafka, logger, { warnings: conn.warnings })
      .then(() =>
        untilReady(
          'starting the Kafka consumer',
          () => c.start(),
          logger,
          () => stopping,
        ),
      )
      .catch((err: Error) => err);
    if (started instanceof Error) {
      logger.error('cannot start consuming', { error: started });
      await stopConsumer(Date.now() + cfg.stopTimeoutMs);
      await s.close().catch(() => undefined);
      search = undefined;
      throw started;
    }
    if (stopping) return;
    if (cfg.prune.enabled) {
      void prune(cfg, logger, s, metrics);
      timer = setInterval(() => void prune(cfg, logger, s, metrics), cfg.prune.intervalMinutes * 60_000);
      timer.unref();
    }
    // The group's lag from the broker's point of view (metrics.groupLag), also while paused.
    const opts = consumerOptions(cfg);
    lag = startLagPoller({ admin: kafkaClient(cfg, conn.connection, logger).admin(), groupId: opts.groupId, topic: harvestTopic(cfg.env), gauge: metrics.groupLag, intervalMs: 15_000, logger });
  };
  return {
    health: () => (consumer ? { ...consumer.health() } : { ok: true, state: 'connecting' }),
    start: async (t) => {
      starting = start(t.metricsHost, t.metricsPort);
      await starting;
    },
    stop: async (deadline) => {
      stopping = true;
      // A signal during the start: the retries see `stopping` and give up; then the same stop.
      await starting.catch(() => undefined);
      await lag?.stop();
      if (timer) clearInterval(timer);
      await stopConsumer(deadline);
      await search?.close().catch(() => undefined);
    },
  };
}

runApp({
  name: 'es-consumer',
  config: loadEsConsumerConfig,
  log: ({ cfg }) => ({ level: cfg.log.level, env: cfg.env }),
  // `prune` serves no metrics: it runs once and exits.
  metrics: ({ cfg }) => (command === 'run' ? { host: cfg.metrics.host, port: cfg.metrics.port } : undefined),
  stopTimeoutMs: ({ cfg }) => cfg.stopTimeoutMs,
  create: (ctx) => (command === 'prune' ? pruneOnce(ctx) : consume(ctx)),
});
