import { createS3, type S3Port } from '@backlog/adapter-s3';
import { createSearch, type SearchPort } from '@backlog/adapter-search';
import type { Logger } from '@backlog/core-pipeline';
import type { DeepReadonly } from '@backlog/platform-config';
import type { MetricsRegistry } from '@backlog/platform-telemetry';
import { allowedEnvs, type QueryConfig } from './config';
import { IndexerClient } from './indexer-client';
import { type QueryMetrics, queryMetrics } from './metrics';
import { QueryService } from './service';

type Config = DeepReadonly<QueryConfig>;

export interface QueryApp {
  search: SearchPort;
  s3: S3Port;
  service: QueryService;
  metrics: QueryMetrics;
  close(): Promise<void>;
}

/** Everything the server needs, wired from the config. Framework-free. `indexerToken`: read from indexer.tokenFile by main.ts. */
export async function buildQueryApp(cfg: Config, logger: Logger, registry: MetricsRegistry, indexerToken?: string): Promise<QueryApp> {
  const s = cfg.search;
  const search = await createSearch({
    node: s.url,
    engine: s.engine,
    ...(s.apiKey ? { auth: { apiKey: s.apiKey } } : s.username ? { auth: { username: s.username, password: s.password ?? '' } } : {}),
    requestTimeoutMs: cfg.api.queryTimeoutMs,
    maxRetries: 0,
    tlsRejectUnauthorized: s.tls.rejectUnauthorized,
  });
  const s3 = createS3({ ...cfg.s3, maxAttempts: 3, connectionTimeoutMs: 2_000, requestTimeoutMs: 30_000 });
  const metrics = queryMetrics(registry);
  const token = cfg.indexer.token ?? indexerToken;
  const indexer = new IndexerClient(cfg.indexer.url, token, cfg.indexer.timeoutMs);
  const a = cfg.api;
  const r = cfg.rehydrate;
  const service = new QueryService(search, s3, indexer, metrics, logger, {
    envs: allowedEnvs(cfg),
    defaultLimit: a.defaultLimit,
    maxLimit: a.maxLimit,
    maxExportEvents: a.maxExportEvents,
    cursorKeepAliveSeconds: a.cursorKeepAliveSeconds,
    maxRangeDays: a.maxRangeDays,
    indexCacheMs: a.indexCacheMs,
    rehydrate: {
      maxEvents: r.maxEvents,
      maxBytes: r.maxBytes,
      estimateBytesPerSecond: r.estimateBytesPerSecond,
      maxRangeHours: cfg.indexer.maxRangeHours,
      ...(r.ttlHours ? { ttlHours: r.ttlHours } : {}),
    },
  });
  return {
    search,
    s3,
    service,
    metrics,
    close: async () => {
      await search.close().catch(() => undefined);
      s3.close();
    },
  };
}
