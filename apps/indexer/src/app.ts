import { randomBytes } from 'node:crypto';
import { hostname } from 'node:os';
import { type KafkaConnection, checkKafkaAtStart, createKafka } from '@backlog/adapter-kafka';
import { createRedis, type RedisPort } from '@backlog/adapter-redis';
import { createS3, type S3Port } from '@backlog/adapter-s3';
import { createSearch, installLogsTemplate, logsCatalogue, type SearchPort } from '@backlog/adapter-search';
import type { Logger } from '@backlog/core-pipeline';
import type { DeepReadonly } from '@backlog/platform-config';
import type { MetricsRegistry } from '@backlog/platform-telemetry';
import { allowedEnvs, type IndexerConfig } from './config';
import { JobStore } from './jobs';
import { HistoryLoader } from './loader';
import { type IndexerMetrics, indexerMetrics } from './metrics';
import { HistoryService } from './service';

type Config = DeepReadonly<IndexerConfig>;

/** Everything the server and the CLI share, wired from the config. Framework-free. */
export interface Indexer {
  cfg: Config;
  search: SearchPort;
  s3: S3Port;
  redis: RedisPort;
  store: JobStore;
  loader: HistoryLoader;
  service: HistoryService;
  metrics: IndexerMetrics;
  owner: string;
  close(): Promise<void>;
}

export async function installTemplate(search: SearchPort, cfg: Config): Promise<void> {
  await installLogsTemplate(search, cfg.template);
}

/**
 * `kafka`: the brokers with TLS/SASL (`kafkaConnection`, checked at start), needed when
 * `compressedTopic.enabled`; its start check runs here, so refused credentials fail the build.
 */
export async function buildIndexer(
  cfg: Config,
  logger: Logger,
  registry: MetricsRegistry,
  extraEnvs: readonly string[] = [],
  kafkaConn?: { connection: KafkaConnection; warnings: readonly string[] },
): Promise<Indexer> {
  // Kafka first: refused credentials fail here, before any other connection is opened.
  if (cfg.compressedTopic.enabled && !kafkaConn) throw new Error('buildIndexer: compressedTopic.enabled needs the Kafka connection');
  const kafka =
    cfg.compressedTopic.enabled && kafkaConn
      ? createKafka({ ...kafkaConn.connection, clientId: `indexer-${cfg.env}`, logger: logger.child?.({ src: 'kafkajs' }) ?? logger, logLevel: 'error', retry: { retries: 3 } })
      : undefined;
  if (kafka && kafkaConn) await checkKafkaAtStart(kafka, logger, { warnings: kafkaConn.warnings });
  const s = cfg.search;
  const search = await createSearch({
    node: s.url,
    engine: s.engine,
    ...(s.apiKey ? { auth: { apiKey: s.apiKey } } : s.username ? { auth: { username: s.username, password: s.password ?? '' } } : {}),
    requestTimeoutMs: cfg.load.requestTimeoutMs,
    maxRetries: 0,
    tlsRejectUnauthorized: s.tls.rejectUnauthorized,
  });
  const s3 = createS3({ ...cfg.s3, maxAttempts: 3, connectionTimeoutMs: 2_000, requestTimeoutMs: 60_000 });
  const redis = createRedis({ url: cfg.redis.url, keyPrefix: cfg.state.keyPrefix, onConnectionError: (e) => logger.debug('redis connection error', { error: e }) });
  const metrics = indexerMetrics(registry);
  const store = new JobStore(redis);
  const owner = `${hostname()}-${process.pid}-${randomBytes(4).toString('hex')}`;
  const l = cfg.load;
  const loader = new HistoryLoader(
    { s3, search, store, ...(kafka ? { kafka } : {}), metrics, logger },
    {
      owner,
      partConcurrency: l.partConcurrency,
      leaseMs: l.leaseMs,
      partAttempts: l.partAttempts,
      memoryBytes: l.memoryBytes,
      bulk: {
        maxDocs: l.bulkDocs,
        maxBytes: l.bulkBytes,
        concurrency: l.bulkConcurrency,
        attempts: l.bulkAttempts,
        initialBackoffMs: l.initialBackoffMs,
        maxBackoffMs: l.maxBackoffMs,
        maxConflictRounds: l.maxConflictRounds,
      },
      planner: { compressedTopic: { ...cfg.compressedTopic } },
    },
  );
  const envs = [...new Set([...allowedEnvs(cfg), ...extraEnvs])];
  const service = new HistoryService(store, search, loader, metrics, logger, {
    envs,
    maxRangeHours: cfg.api.maxRangeHours,
    maxTtlHours: cfg.history.maxTtlHours,
    ttlHours: cfg.history.ttlHours,
    maxConcurrentJobs: cfg.load.maxConcurrentJobs,
    catalogue: logsCatalogue(search.engine),
  });
  return {
    cfg,
    search,
    s3,
    redis,
    store,
    loader,
    service,
    metrics,
    owner,
    close: async () => {
      await service.stop();
      await Promise.allSettled([search.close(), redis.quit()]);
      s3.close();
    },
  };
}
