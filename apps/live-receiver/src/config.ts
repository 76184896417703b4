import { z } from 'zod';
import { appConfigSchema, ConfigError, loadConfig, readTokenFile, tokenSchema, type DeepReadonly } from '@backlog/platform-config';

const host = z.string().min(1);
const port = z.number().int().min(0).max(65_535);

/**
 * The live-receiver's config (README.md has the table). Every listener binds to loopback unless
 * told otherwise: the live view shows raw log lines, so exposing it is a decision, not a default.
 */
export const liveReceiverConfigSchema = appConfigSchema({
  udp: z
    .object({
      /** Address the datagram listener binds. Default `127.0.0.1`; `0.0.0.0` to receive from other hosts. */
      host: host.default('127.0.0.1'),
      /** UDP port harvesters send to. Default 5515. */
      port: port.default(5515),
      /** Kernel receive buffer, bytes (SO_RCVBUF; Linux caps it at net.core.rmem_max). Default 8 MiB. */
      recvBufferBytes: z
        .number()
        .int()
        .min(65_536)
        .default(8 * 1024 * 1024),
    })
    .strict()
    .prefault({}),
  http: z
    .object({
      /** Address of the page + WebSocket listener. Default `127.0.0.1` (loopback only). */
      host: host.default('127.0.0.1'),
      /** Port of the page (`/`) and the WebSocket (`/ws`). Default 8082. */
      port: port.default(8082),
      /** Most browsers connected at once; more are refused with 503. Default 200. */
      maxClients: z.number().int().min(1).default(200),
      /**
       * Origins (`https://logs.example.com`) besides the page's own whose pages may open the WebSocket
       * and sign in — e.g. a console served elsewhere. Default none: only the origin the page is served from.
       */
      allowedOrigins: z.array(z.string().regex(/^https?:\/\/[^/\s]+$/, 'expected an origin: scheme://host[:port], no path')).default([]),
      /** Time to receive a whole HTTP request, ms; then the connection is closed. Default 10,000. */
      requestTimeoutMs: z.number().int().min(100).max(600_000).default(10_000),
    })
    .strict()
    .prefault({}),
  metrics: z
    .object({
      /** Address of `/metrics` and `/healthz`. Default `127.0.0.1`. */
      host: host.default('127.0.0.1'),
      /** Default 9106. */
      port: port.default(9106),
    })
    .strict()
    .prefault({}),
  auth: z
    .object({
      /**
       * The access token (≥ 128 random bits; placeholders are refused: `openssl rand -hex 32` or
       * `backlog keys token`). Programs send it as `Authorization: Bearer` on `/ws`; a browser posts it
       * once to `/auth/login` (the page's sign-in form) for a session cookie. Never in a URL.
       * Default: a random one made at start and written to a 0600 file (its path is logged, not it).
       */
      token: tokenSchema.optional(),
      /** A file holding the token instead (readable by its owner only; checked like `token` at start). Excludes `token`. */
      tokenFile: z.string().min(1).optional(),
      /** How long a browser session (the HttpOnly cookie the login sets) lasts, minutes. Default 720 (12 h). */
      sessionMinutes: z
        .number()
        .int()
        .min(1)
        .max(60 * 24 * 30)
        .default(720),
      /** How long a one-time login code (`POST /auth/code`, `backlog live code`) stays valid, minutes. Default 10. */
      loginCodeMinutes: z
        .number()
        .int()
        .min(1)
        .max(24 * 60)
        .default(10),
      /** Failed logins per minute on this receiver before every login is refused (429) for the rest of the minute. Default 20. */
      maxLoginFailuresPerMinute: z.number().int().min(1).max(10_000).default(20),
      /** Session cookies get `Secure`: `auto` = when the request came over TLS (or `X-Forwarded-Proto: https`). Default auto. */
      secureCookie: z.enum(['auto', 'always', 'never']).default('auto'),
    })
    .strict()
    .prefault({}),
  dedupe: z
    .object({
      /** How long a `(host, run, seq)` is remembered in Redis, ms. Duplicates arrive within ms; default 10,000. */
      ttlMs: z.number().int().min(100).default(10_000),
      /** Datagrams per Redis round trip at most. Default 512. */
      maxBatch: z.number().int().min(1).max(10_000).default(512),
      /** Round trips in flight at once. Default 8. */
      maxInFlight: z.number().int().min(1).max(256).default(8),
      /** Datagrams waiting for a round trip beyond which new ones are dropped (`backpressure`). Default 50,000. */
      maxPending: z.number().int().min(1).default(50_000),
    })
    .strict()
    .prefault({}),
  clients: z
    .object({
      /** Events queued per browser before new ones are dropped and a "N dropped" marker is queued. Default 5,000. */
      queueEvents: z.number().int().min(10).default(5_000),
      /** Bytes the WebSocket may hold unsent before the receiver stops writing to it (then its queue fills). Default 1 MiB. */
      highWaterBytes: z
        .number()
        .int()
        .min(1024)
        .default(1024 * 1024),
      /** Events per WebSocket message at most. Default 1,000. */
      maxBatch: z.number().int().min(1).default(1_000),
      /**
       * Least time between two messages to a browser, ms: under load, what arrives within it is sent
       * as one message (a browser pays per message, not per byte). The first event after a quiet
       * spell is sent at once. 0 = every event-loop turn. Default 25.
       */
      flushIntervalMs: z.number().int().min(0).max(1000).default(25),
    })
    .strict()
    .prefault({}),
  logio: z
    .object({
      /** Forward each (deduplicated) event to a log.io server's TCP input. Default false. */
      enabled: z.boolean().default(false),
      /** log.io server host. Default `127.0.0.1`. */
      host: host.default('127.0.0.1'),
      /** log.io TCP input port. Default 6689 (log.io's). */
      port: port.default(6689),
      /** log.io stream name; `{env}` becomes the event's `labels.env`. Default `{env}`. */
      stream: z.string().min(1).default('{env}'),
      /** Messages buffered while the server is slow or away; newer ones are dropped beyond it. Default 10,000. */
      queueMessages: z.number().int().min(1).default(10_000),
    })
    .strict()
    .prefault({}),
  /** Time allowed for a graceful stop on SIGTERM, ms. Default 5,000. */
  stopTimeoutMs: z.number().int().min(100).default(5_000),
});

export type LiveReceiverConfig = DeepReadonly<z.output<typeof liveReceiverConfigSchema>>;

/** Loads and validates the config (throws one ConfigError listing every problem). */
export function loadLiveReceiverConfig(env: Record<string, string | undefined> = process.env, file?: string): LiveReceiverConfig {
  const cfg = loadConfig({ app: 'live-receiver', schema: liveReceiverConfigSchema, env, ...(file ? { file } : {}) });
  if (cfg.auth.token && cfg.auth.tokenFile) throw new ConfigError('CONFIG_INVALID', 'live-receiver', [{ path: 'auth.tokenFile', message: 'set auth.token or auth.tokenFile, not both' }]);
  return cfg;
}

/** The configured token: `auth.token`, else the content of `auth.tokenFile` (checked; ConfigError), else undefined. */
export function configuredToken(cfg: LiveReceiverConfig): string | undefined {
  return cfg.auth.token ?? (cfg.auth.tokenFile ? readTokenFile(cfg.auth.tokenFile, { app: 'live-receiver', setting: 'auth.tokenFile' }) : undefined);
}
