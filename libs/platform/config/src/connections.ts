import { z } from 'zod';

/**
 * The connection settings every app and the CLI share: where Kafka, the search engine, S3 and
 * Redis are, and the environment name. The defaults are the local stack of DESIGN.md ("Default
 * ports"), so `npm start` needs no config at all; pointing backlog at existing servers is one
 * config file (`BACKLOG_CONFIG=/etc/backlog.yaml`) or a few shared variables
 * (`BACKLOG_KAFKA_BROKERS=k1:9092,k2:9092`, `BACKLOG_SEARCH_URL=https://es:9200`, …) —
 * see docs/adr/0001-local-stack-from-maven-central.md.
 */

/** `host:port`, IPv6 in brackets (`[::1]:9092`). Kafka's bootstrap format. */
const hostPort = z.string().regex(/^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9.-]+):\d{1,5}$/, 'expected host:port, e.g. 127.0.0.1:9092');

const httpUrl = z.url({ protocol: /^https?$/, error: 'expected an http:// or https:// URL' });

export const kafkaSettingsSchema = z
  .object({
    /** Bootstrap brokers, `host:port`. Default `['127.0.0.1:9092']` (the local stack). Env: comma-separated. */
    brokers: z.array(hostPort).min(1).default(['127.0.0.1:9092']),
    /** Connect with TLS. Default false (the local stack is plaintext on loopback). */
    ssl: z.boolean().default(false),
    /** SASL authentication for managed clusters. Default: none. */
    sasl: z
      .object({
        mechanism: z.enum(['plain', 'scram-sha-256', 'scram-sha-512']),
        username: z.string().min(1),
        password: z.string().min(1),
      })
      .strict()
      .optional(),
  })
  .strict();

export const searchSettingsSchema = z
  .object({
    /** Base URL of the Elasticsearch/OpenSearch HTTP API. Default `http://127.0.0.1:9200`. */
    url: httpUrl.default('http://127.0.0.1:9200'),
    /**
     * Which API dialect: `auto` asks the server once at start (`GET /`, `version.distribution`).
     * Default `auto`. Set it when the server hides its version (some proxies do).
     */
    engine: z.enum(['auto', 'elasticsearch', 'opensearch']).default('auto'),
    /** Basic auth user. Default: none (the local stack has no security). Needs `password`. */
    username: z.string().min(1).optional(),
    /** Basic auth password. Default: none. */
    password: z.string().optional(),
    /** Elasticsearch API key (the base64 `id:key` form). Default: none. Excludes username/password. */
    apiKey: z.string().min(1).optional(),
    tls: z
      .object({
        /** Verify the server's certificate. Default true; false only for self-signed dev clusters. */
        rejectUnauthorized: z.boolean().default(true),
        /** PEM file of the CA that signed the server's certificate. Default: the system's CAs. */
        caFile: z.string().min(1).optional(),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.username !== undefined && s.password === undefined) ctx.addIssue({ code: 'custom', path: ['password'], message: 'username is set but password is not' });
    if (s.password !== undefined && s.username === undefined) ctx.addIssue({ code: 'custom', path: ['username'], message: 'password is set but username is not' });
    if (s.apiKey !== undefined && s.username !== undefined) ctx.addIssue({ code: 'custom', path: ['apiKey'], message: 'use either apiKey or username/password, not both' });
  });

export const s3SettingsSchema = z
  .object({
    /** S3 API endpoint. Default `http://127.0.0.1:9000` (the local S3Proxy; MinIO in docker-compose). For AWS: `https://s3.<region>.amazonaws.com`. */
    endpoint: httpUrl.default('http://127.0.0.1:9000'),
    /** Region used for request signing. Default `us-east-1`. */
    region: z.string().min(1).default('us-east-1'),
    /** Bucket of the archive (system of record). Default `backlog`. */
    bucket: z
      .string()
      .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, 'expected an S3 bucket name (3-63 chars: a-z 0-9 . -)')
      .default('backlog'),
    /** Access key id. Default `backlog` (the local stack's). */
    accessKeyId: z.string().min(1).default('backlog'),
    /** Secret access key. Default `backlog-secret` (the local stack's). */
    secretAccessKey: z.string().min(1).default('backlog-secret'),
    /** Path-style URLs (`endpoint/bucket/key`). Default true: S3Proxy and MinIO need it; AWS accepts it. */
    forcePathStyle: z.boolean().default(true),
  })
  .strict();

export const redisSettingsSchema = z
  .object({
    /** `redis://[user:pass@]host:port[/db]` or `rediss://` for TLS. Default `redis://127.0.0.1:6379`. */
    url: z.url({ protocol: /^rediss?$/, error: 'expected a redis:// or rediss:// URL' }).default('redis://127.0.0.1:6379'),
  })
  .strict();

/**
 * The shared keys, as a shape so an app's schema can spread them (see `appConfigSchema`). Every
 * group uses `prefault({})` so that an absent group still gets its inner defaults (zod 4's
 * `default({})` would return `{}` unparsed).
 */
export const connectionSettingsShape = {
  /** Environment name: part of topic (`h-<env>`), index (`logs-<env>-…`) and S3 key names. Default `dev`. */
  env: z
    .string()
    .regex(/^[a-z0-9][a-z0-9_-]{0,31}$/, 'expected 1-32 chars of a-z 0-9 _ - (it becomes part of topic and index names)')
    .default('dev'),
  kafka: kafkaSettingsSchema.prefault({}),
  search: searchSettingsSchema.prefault({}),
  s3: s3SettingsSchema.prefault({}),
  redis: redisSettingsSchema.prefault({}),
};

/** The top-level keys that also answer to the shared `BACKLOG_<PATH>` variables. */
export const SHARED_KEYS: ReadonlySet<string> = new Set(Object.keys(connectionSettingsShape));

export const connectionSettingsSchema = z.object(connectionSettingsShape).strict();
export type ConnectionSettings = z.output<typeof connectionSettingsSchema>;

/**
 * An app's whole config schema: the shared connection settings plus the app's own keys, unknown
 * keys rejected. `appConfigSchema({ http: z.object({ port: … }).strict().prefault({}) })`.
 */
export function appConfigSchema<T extends z.ZodRawShape>(shape: T) {
  return z.object({ ...connectionSettingsShape, ...shape }).strict();
}
