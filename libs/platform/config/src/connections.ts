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

/** The name of an environment variable (`KAFKA_PASSWORD`), not its value. */
const envName = z.string().regex(/^[A-Za-z_][A-Za-z0-9_]*$/, 'expected the NAME of an environment variable, e.g. KAFKA_PASSWORD');

/**
 * TLS to the brokers. Files are read and checked at start (readable, PEM parses, the key matches the
 * certificate, the key file not readable by group/others) by `kafkaConnection` in @backlog/adapter-kafka,
 * every problem listed before a socket opens. Keys other than `enabled` need `enabled: true`: a CA or a
 * client certificate that would be silently ignored is refused.
 */
export const kafkaTlsSettingsSchema = z
  .object(
    {
      /** Connect with TLS (the broker's SSL or SASL_SSL listener). Default false (the local stack is plaintext on loopback). */
      enabled: z.boolean().default(false),
      /** PEM file with the CA certificate(s) that signed the brokers' certificates. Default: Node's bundled public CAs. */
      caFile: z.string().min(1).optional(),
      /** PEM file with this client's certificate (chain), for listeners with `ssl.client.auth=required`. Needs `keyFile`. Default: none. */
      certFile: z.string().min(1).optional(),
      /** PEM file with the private key of `certFile` (PKCS#8, PKCS#1 or SEC1, may be encrypted); mode 0600 or stricter. Default: none. */
      keyFile: z.string().min(1).optional(),
      /** File holding the passphrase of an encrypted `keyFile` (one trailing newline is ignored). Default: none. */
      keyPassphraseFile: z.string().min(1).optional(),
      /** Name of the environment variable holding the passphrase of an encrypted `keyFile`. Default: none. */
      keyPassphraseEnv: envName.optional(),
      /**
       * Verify each broker's certificate chain and host name. Default true. `false` is accepted with a
       * warning at start (anyone on the path can then impersonate the brokers and read the password of SASL PLAIN).
       */
      rejectUnauthorized: z.boolean().default(true),
      /**
       * Host name sent as SNI and checked against every broker's certificate. Default: each broker's own
       * host (as given in `brokers` and in the cluster's metadata); set it when brokers are reached by IP.
       */
      servername: z.string().min(1).optional(),
    },
    {
      error: (iss) => (iss.code === 'invalid_type' ? 'expected a mapping, e.g. { enabled: true, caFile: /etc/backlog/kafka-ca.pem } (kafka.ssl is no longer a boolean: kafka.ssl.enabled)' : undefined),
    },
  )
  .strict()
  .superRefine((t, ctx) => {
    if (!t.enabled) {
      for (const k of ['caFile', 'certFile', 'keyFile', 'keyPassphraseFile', 'keyPassphraseEnv', 'servername'] as const) {
        if (t[k] !== undefined) ctx.addIssue({ code: 'custom', path: [k], message: 'is set but kafka.ssl.enabled is false: it would be ignored' });
      }
      if (!t.rejectUnauthorized) ctx.addIssue({ code: 'custom', path: ['rejectUnauthorized'], message: 'is set but kafka.ssl.enabled is false: it would be ignored' });
    }
    if (t.certFile !== undefined && t.keyFile === undefined) ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'certFile is set but keyFile is not' });
    if (t.keyFile !== undefined && t.certFile === undefined) ctx.addIssue({ code: 'custom', path: ['certFile'], message: 'keyFile is set but certFile is not' });
    if (t.keyPassphraseFile !== undefined && t.keyPassphraseEnv !== undefined)
      ctx.addIssue({ code: 'custom', path: ['keyPassphraseEnv'], message: 'use either keyPassphraseFile or keyPassphraseEnv, not both' });
    if ((t.keyPassphraseFile !== undefined || t.keyPassphraseEnv !== undefined) && t.keyFile === undefined)
      ctx.addIssue({ code: 'custom', path: ['keyFile'], message: 'a key passphrase is set but keyFile is not' });
  });

/** The SASL mechanisms the Kafka adapter implements (kafkajs 2.2.4: PLAIN, SCRAM-SHA-256, SCRAM-SHA-512). */
export const KAFKA_SASL_MECHANISMS = ['plain', 'scram-sha-256', 'scram-sha-512'] as const;

/** The variable read for the SASL password when neither `passwordFile` nor `passwordEnv` is set. */
export const DEFAULT_KAFKA_PASSWORD_ENV = 'BACKLOG_KAFKA_SASL_PASSWORD';

/**
 * SASL authentication. The password is never part of the config (so it is never printed, and never sits
 * in a committed file): it comes from `passwordFile`, or from the environment variable `passwordEnv`
 * names (default `BACKLOG_KAFKA_SASL_PASSWORD`), read at start by `kafkaConnection`.
 */
export const kafkaSaslSettingsSchema = z
  .object({
    /**
     * `plain`, `scram-sha-256` or `scram-sha-512` (lowercase, as Kafka's mechanism names). OAUTHBEARER,
     * GSSAPI (Kerberos) and AWS IAM are refused: the adapter does not implement them.
     */
    mechanism: z.enum(KAFKA_SASL_MECHANISMS, {
      error: (iss) => `expected plain, scram-sha-256 or scram-sha-512${typeof iss.input === 'string' ? ` (got "${iss.input}": OAUTHBEARER, GSSAPI and AWS IAM are not supported)` : ''}`,
    }),
    /** SASL user name. */
    username: z.string().min(1),
    /** File holding the password (one trailing newline is ignored); mode 0600 or stricter. Default: none. */
    passwordFile: z.string().min(1).optional(),
    /** Name of the environment variable holding the password. Default `BACKLOG_KAFKA_SASL_PASSWORD` (when `passwordFile` is not set). */
    passwordEnv: envName.optional(),
  })
  .strict()
  .superRefine((s, ctx) => {
    if (s.passwordFile !== undefined && s.passwordEnv !== undefined) ctx.addIssue({ code: 'custom', path: ['passwordEnv'], message: 'use either passwordFile or passwordEnv, not both' });
  });

export const kafkaSettingsSchema = z
  .object({
    /** Bootstrap brokers, `host:port`. Default `['127.0.0.1:9092']` (the local stack). Env: comma-separated. */
    brokers: z.array(hostPort).min(1).default(['127.0.0.1:9092']),
    /** TLS to the brokers (see `kafkaTlsSettingsSchema`). Default: off. */
    ssl: kafkaTlsSettingsSchema.prefault({}),
    /** SASL authentication (see `kafkaSaslSettingsSchema`). Default: none. */
    sasl: kafkaSaslSettingsSchema.optional(),
  })
  .strict();
export type KafkaSettings = z.output<typeof kafkaSettingsSchema>;

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
