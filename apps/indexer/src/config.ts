import { z } from 'zod';
import { logsTemplateConfigSchema } from '@backlog/adapter-search';
import { appConfigSchema, logSettingsSchema, metricsSettingsSchema, tokenSchema, type DeepReadonly } from '@backlog/platform-config';

const MiB = 1024 * 1024;
const port = z.number().int().min(0).max(65535);
const envName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected 1-32 chars of a-z 0-9 _ -');

/**
 * The indexer's configuration (shared connection settings + its own keys). Every key has its unit and
 * default in the doc comment (apps/indexer/README.md has the table). Unknown keys are errors.
 */
export const indexerConfigSchema = appConfigSchema({
  /** Environments the API and CLI accept. Default `[]` = only `env`. An unknown env is a 400. */
  envs: z.array(envName).default([]),
  api: z
    .object({
      /** Bind address of the HTTP API. Default 127.0.0.1. */
      host: z.string().min(1).default('127.0.0.1'),
      /** Port of the HTTP API. Default 8081 (DESIGN.md); 0 picks a free one. */
      port: port.default(8081),
      /**
       * Bearer token callers must send (`Authorization: Bearer <token>`): random, ≥ 128 bits (placeholders
       * and made-up values are refused at start; `openssl rand -hex 32` or `backlog keys token`). Default:
       * none, which is only allowed while the API binds to a loopback address, and then only requests
       * whose Host header names a loopback address are served (a DNS-rebinding defence).
       */
      token: tokenSchema.optional(),
      /**
       * A file holding the token instead (a Kubernetes Secret mounted as a file, the compose stack's
       * generated one): readable by its owner only, checked like `token` at start. Excludes `token`.
       */
      tokenFile: z.string().min(1).optional(),
      /** Longest range one request may load, hours. Default 168 (7 days). */
      maxRangeHours: z
        .number()
        .positive()
        .max(24 * 366)
        .default(168),
      /** Largest request body, bytes; more is a 413. Default 65,536. */
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * MiB)
        .default(64 * 1024),
      /** Time to receive a whole request (headers and body), ms; then 408 and the connection closes. Default 10,000. */
      requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
      /** A connection idle (no bytes either way) this long is closed, ms. Default 60,000. */
      connectionTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
      /** A kept-alive connection waits this long for its next request, ms. Default 5,000. */
      keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
      /** Requests one connection may carry before it is closed. Default 1,000. */
      maxRequestsPerSocket: z.number().int().min(1).default(1_000),
      /** Connections open at once; more are closed at once by the server. Default 256. */
      maxConnections: z.number().int().min(1).max(65_535).default(256),
    })
    .strict()
    .prefault({}),
  history: z
    .object({
      /** A history index expires this many hours after its last request. Default 24. */
      ttlHours: z
        .number()
        .positive()
        .max(24 * 365)
        .default(24),
      /** Longest expiry a request or `extend` may ask for, hours. Default 720 (30 days). */
      maxTtlHours: z
        .number()
        .positive()
        .max(24 * 365 * 5)
        .default(720),
      /** Seconds between two runs of the expiry reaper (one at start). Default 60. */
      reaperIntervalSeconds: z.number().positive().default(60),
      /** Run the expiry reaper and resume unfinished jobs in this process (servers). Default true. */
      reaper: z.boolean().default(true),
    })
    .strict()
    .prefault({}),
  load: z
    .object({
      /**
       * History loads running at once in this process (API requests and resumed jobs). A request that
       * would start one more is answered 503 `busy` with Retry-After; a resumed job waits for the next
       * reaper run. Default 4.
       */
      maxConcurrentJobs: z.number().int().min(1).max(256).default(4),
      /** Parts loaded at the same time per job. Default 4. */
      partConcurrency: z.number().int().min(1).max(64).default(4),
      /** Documents per `_bulk` request. Default 2,000. */
      bulkDocs: z.number().int().min(1).max(100_000).default(2_000),
      /** Approximate bytes per `_bulk` request. Default 8 MiB. */
      bulkBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .max(90 * MiB)
        .default(8 * MiB),
      /**
       * `_bulk` requests in flight, as a share per part: a job keeps up to partConcurrency × bulkConcurrency
       * requests in flight from one pool that every part of the job draws on. Default 2.
       */
      bulkConcurrency: z.number().int().min(1).max(16).default(2),
      /** Per-request timeout of the search engine, ms. Default 30,000. */
      requestTimeoutMs: z.number().int().min(100).default(30_000),
      /** Lease of a part's lock in Redis, ms (renewed at a third of it). A dead loader's part is taken over after this. Default 30,000. */
      leaseMs: z.number().int().min(1_000).max(600_000).default(30_000),
      /** Attempts at one part before it is reported failed (S3 or search engine errors). Default 3. */
      partAttempts: z.number().int().min(1).max(20).default(3),
      /** Bulk rounds with retriable failures (429, 5xx, engine down) before a part attempt fails. Default 8. */
      bulkAttempts: z.number().int().min(1).max(100).default(8),
      /** First back-off, ms (doubles, with jitter). Default 200. */
      initialBackoffMs: z.number().int().min(1).default(200),
      /** Longest back-off, ms. Default 10,000. */
      maxBackoffMs: z.number().int().min(10).default(10_000),
      /** Re-sends of one document after moving a value the mapping refused. Default 4. */
      maxConflictRounds: z.number().int().min(0).max(20).default(4),
      /** Bytes of a part held in memory while it is verified; more spills to a temp file. Default 64 MiB. */
      memoryBytes: z
        .number()
        .int()
        .min(MiB)
        .default(64 * MiB),
      /** Estimated load speed for `--dry-run`, compressed bytes per second. Default 4 MiB/s. */
      estimateBytesPerSecond: z
        .number()
        .positive()
        .default(4 * MiB),
    })
    .strict()
    .prefault({}),
  compressedTopic: z
    .object({
      /** Read windows not yet in S3 from `c-<env>`. Default true. */
      enabled: z.boolean().default(true),
      /** Cap on the bytes read from `c-<env>` for one plan; past it the rest is reported, not loaded. Default 256 MiB. */
      maxBytes: z
        .number()
        .int()
        .min(MiB)
        .default(256 * MiB),
      /** Give up reading `c-<env>` after this long, ms. Default 30,000. */
      timeoutMs: z.number().int().min(1_000).default(30_000),
    })
    .strict()
    .prefault({}),
  /** The `logs-*` index template (@backlog/adapter-search, shared with the es-consumer). */
  template: logsTemplateConfigSchema,
  state: z
    .object({
      /** Prefix of every Redis key of the indexer. Default `backlog:indexer:`. */
      keyPrefix: z.string().min(1).default('backlog:indexer:'),
    })
    .strict()
    .prefault({}),
  metrics: metricsSettingsSchema(9105),
  log: logSettingsSchema,
  /** Graceful stop deadline, ms: release part locks, stop the HTTP server. Default 15,000. */
  stopTimeoutMs: z.number().int().min(100).default(15_000),
});

export type IndexerConfig = z.output<typeof indexerConfigSchema>;

/** Loopback addresses and names, as a bind address or a Host header's host part. */
export const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i;

/** Problems across keys that the schema cannot see; listed all at once with the schema's. */
export function crossCheck(cfg: DeepReadonly<IndexerConfig>): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (cfg.api.token && cfg.api.tokenFile) out.push({ path: 'api.tokenFile', message: 'set api.token or api.tokenFile, not both' });
  if (!cfg.api.token && !cfg.api.tokenFile && !LOOPBACK.test(cfg.api.host))
    out.push({ path: 'api.token', message: `required when the API binds to ${cfg.api.host} (not loopback); make one with \`openssl rand -hex 32\` (or \`backlog keys token\`)` });
  if (cfg.history.ttlHours > cfg.history.maxTtlHours) out.push({ path: 'history.ttlHours', message: `exceeds history.maxTtlHours (${cfg.history.maxTtlHours})` });
  if (cfg.load.initialBackoffMs > cfg.load.maxBackoffMs) out.push({ path: 'load.initialBackoffMs', message: 'exceeds load.maxBackoffMs' });
  if (cfg.search.tls.caFile) out.push({ path: 'search.tls.caFile', message: 'a custom CA is not supported by the search adapter yet' });
  return out;
}

/** The envs requests may name. */
export function allowedEnvs(cfg: { env: string; envs: readonly string[] }): string[] {
  return cfg.envs.length ? [...cfg.envs] : [cfg.env];
}
