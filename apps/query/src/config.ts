import { z } from 'zod';
import { appConfigSchema, logSettingsSchema, metricsSettingsSchema, tokenSchema, type DeepReadonly } from '@backlog/platform-config';

const MiB = 1024 * 1024;
const port = z.number().int().min(0).max(65535);
const envName = z.string().regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected 1-32 chars of a-z 0-9 _ -');
const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

/**
 * The query service's configuration (shared connection settings + its own keys). Every key has its
 * unit and default in the doc comment (apps/query/README.md has the table). Unknown keys are errors.
 * The listener's keys are the indexer's (`api.*`), so one hardening guide serves both.
 */
export const queryConfigSchema = appConfigSchema({
  /** Environments requests may name. Default `[]` = only `env`. An unknown env is a 400. */
  envs: z.array(envName).default([]),
  api: z
    .object({
      /** Bind address of the HTTP API. Default 127.0.0.1. */
      host: z.string().min(1).default('127.0.0.1'),
      /** Port of the HTTP API. Default 8083 (DESIGN.md); 0 picks a free one. */
      port: port.default(8083),
      /**
       * Bearer token callers must send (`Authorization: Bearer <token>`), as the indexer's: random, ≥ 128
       * bits. Default: none, allowed only while the API binds to a loopback address, and then only
       * requests whose Host header names a loopback address are served (a DNS-rebinding defence).
       */
      token: tokenSchema.optional(),
      /** A file holding the token instead (owner-only), checked like `token` at start. Excludes `token`. */
      tokenFile: z.string().min(1).optional(),
      /** Largest request body, bytes; more is a 413. Default 65,536. */
      bodyLimitBytes: z
        .number()
        .int()
        .min(1024)
        .max(16 * MiB)
        .default(64 * 1024),
      /** Time to receive a whole request (headers and body), ms; then 408. Default 10,000. */
      requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
      /** A connection idle (no bytes either way) this long is closed, ms. Default 60,000. */
      connectionTimeoutMs: z.number().int().min(100).max(3_600_000).default(60_000),
      /** A kept-alive connection waits this long for its next request, ms. Default 5,000. */
      keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
      /** Requests one connection may carry before it is closed. Default 1,000. */
      maxRequestsPerSocket: z.number().int().min(1).default(1_000),
      /** Connections open at once; more are closed at once. Default 256. */
      maxConnections: z.number().int().min(1).max(65_535).default(256),
      /** Queries answered at once; one more is a 503 `busy` with Retry-After. Default 16. */
      maxConcurrentQueries: z.number().int().min(1).max(1024).default(16),
      /** Longest time one query may take at the engine, ms; then 504. Default 30,000. */
      queryTimeoutMs: z.number().int().min(100).max(600_000).default(30_000),
      /** Largest `limit` of one page of events. Default 10,000 (the engine's max_result_window). */
      maxLimit: z.number().int().min(1).max(10_000).default(10_000),
      /** Events without `limit`. Default 100. */
      defaultLimit: z.number().int().min(1).max(10_000).default(100),
      /** Most events one NDJSON export streams. Default 1,000,000. */
      maxExportEvents: z.number().int().min(1).max(100_000_000).default(1_000_000),
      /** A page cursor (point in time) stays valid this long after its last use, seconds. Default 120. */
      cursorKeepAliveSeconds: z.number().int().min(10).max(3_600).default(120),
      /** The env's index list, `_meta` and field catalogue are reused this long, ms (a finished load is seen that much later). Default 2,000. */
      indexCacheMs: z.number().int().min(0).max(60_000).default(2_000),
      /** Longest range one query may name, days. Default 400. */
      maxRangeDays: z.number().positive().max(3_660).default(400),
    })
    .strict()
    .prefault({}),
  indexer: z
    .object({
      /** The indexer's API, which loads archive-only spans (`rehydrate=auto`). Default http://127.0.0.1:8081. */
      url: httpUrl.default('http://127.0.0.1:8081'),
      /** Its bearer token (its `api.token`). Default: none (a loopback indexer without one). */
      token: tokenSchema.optional(),
      /** A file holding that token (owner-only). Excludes `token`. */
      tokenFile: z.string().min(1).optional(),
      /** Time for one call to the indexer, ms. Default 10,000. */
      timeoutMs: z.number().int().min(100).max(120_000).default(10_000),
      /** Longest archive span one load may cover, hours (the indexer's `api.maxRangeHours`). Default 168. */
      maxRangeHours: z
        .number()
        .positive()
        .max(24 * 366)
        .default(168),
    })
    .strict()
    .prefault({}),
  rehydrate: z
    .object({
      /** Most events (archive manifests' counts, before the filter) one query may load; a request may ask for less. Default 5,000,000. */
      maxEvents: z.number().int().min(1).default(5_000_000),
      /** Most compressed archive bytes one query may load; a request may ask for less. Default 1 GiB. */
      maxBytes: z
        .number()
        .int()
        .min(1)
        .default(1024 * MiB),
      /** Load speed the estimate assumes, compressed bytes per second (as the indexer's dry run). Default 4 MiB/s. */
      estimateBytesPerSecond: z
        .number()
        .positive()
        .default(4 * MiB),
      /** Expiry of a history index this service asks for, hours. Default: the indexer's history.ttlHours. */
      ttlHours: z
        .number()
        .positive()
        .max(24 * 365)
        .optional(),
    })
    .strict()
    .prefault({}),
  metrics: metricsSettingsSchema(9108),
  log: logSettingsSchema,
  /** Graceful stop deadline, ms. Default 10,000. */
  stopTimeoutMs: z.number().int().min(100).default(10_000),
});

export type QueryConfig = z.output<typeof queryConfigSchema>;

/** Loopback addresses and names, as a bind address or a Host header's host part (the indexer's rule). */
export const LOOPBACK = /^(127\.\d{1,3}\.\d{1,3}\.\d{1,3}|::1|\[::1\]|localhost)$/i;

/** Problems across keys that the schema cannot see. */
export function crossCheck(cfg: DeepReadonly<QueryConfig>): { path: string; message: string }[] {
  const out: { path: string; message: string }[] = [];
  if (cfg.api.token && cfg.api.tokenFile) out.push({ path: 'api.tokenFile', message: 'set api.token or api.tokenFile, not both' });
  if (!cfg.api.token && !cfg.api.tokenFile && !LOOPBACK.test(cfg.api.host))
    out.push({ path: 'api.token', message: `required when the API binds to ${cfg.api.host} (not loopback); make one with \`openssl rand -hex 32\` (or \`backlog keys token\`)` });
  if (cfg.indexer.token && cfg.indexer.tokenFile) out.push({ path: 'indexer.tokenFile', message: 'set indexer.token or indexer.tokenFile, not both' });
  if (cfg.api.defaultLimit > cfg.api.maxLimit) out.push({ path: 'api.defaultLimit', message: `exceeds api.maxLimit (${cfg.api.maxLimit})` });
  if (cfg.search.tls.caFile) out.push({ path: 'search.tls.caFile', message: 'a custom CA is not supported by the search adapter yet' });
  return out;
}

export function allowedEnvs(cfg: { env: string; envs: readonly string[] }): string[] {
  return cfg.envs.length ? [...cfg.envs] : [cfg.env];
}
