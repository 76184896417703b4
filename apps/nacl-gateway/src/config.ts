import { z } from 'zod';
import { appConfigSchema } from '@backlog/platform-config';

const port = z.number().int().min(1).max(65535);
const b64key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected a base64 32-byte key (backlog keys generate)');

/** The gateway's config (env prefix BACKLOG_NACL_GATEWAY_; shared kafka/env settings from platform-config). */
export const gatewayConfigSchema = appConfigSchema({
  listen: z
    .object({
      /** Address for sealed frames. Default 127.0.0.1 (expose it deliberately). */
      host: z.string().default('127.0.0.1'),
      /** TCP port for sealed frames. Default 5516. */
      port: port.default(5516),
    })
    .strict()
    .prefault({}),
  metrics: z
    .object({
      /** Address of /metrics and /healthz. Default 127.0.0.1. */
      host: z.string().default('127.0.0.1'),
      /** Port of /metrics and /healthz. Default 9102. */
      port: port.default(9102),
    })
    .strict()
    .prefault({}),
  keys: z
    .object({
      /** The gateway's key file written by `backlog keys generate --role gateway`. One of secretKeyFile/secretKey is required. */
      secretKeyFile: z.string().optional(),
      /** The gateway's secret key, base64 (prefer the file; env BACKLOG_NACL_GATEWAY_KEYS_SECRET_KEY). */
      secretKey: b64key.optional(),
    })
    .strict()
    .prefault({}),
  /** Senders allowed to deliver: name (used in the sender-name header) and base64 public key. Default: none (every frame refused). */
  allow: z.array(z.object({ name: z.string().min(1), publicKey: b64key }).strict()).default([]),
  /** Largest frame accepted, bytes. Default 2 MiB (a 900 KiB record plus overhead fits with room). */
  maxFrameBytes: z
    .number()
    .int()
    .min(1024)
    .max(64 * 1024 * 1024)
    .default(2 * 1024 * 1024),
  /** Sequence numbers remembered per sender in memory (the fast first replay check before Redis), a multiple of 32. Default 4096. */
  replayWindow: z
    .number()
    .int()
    .min(32)
    .max(1 << 20)
    .multipleOf(32)
    .default(4096),
  /**
   * Frames sealed further than this from the gateway's clock are refused (stale), ms; it also bounds how
   * long the shared replay record (Redis, `redis.url`) keeps each accepted frame. Default 600 000.
   */
  maxClockSkewMs: z
    .number()
    .int()
    .min(1000)
    .max(24 * 3_600_000)
    .default(600_000),
  /** Prefix of the gateway's Redis keys (replay records `replay:<env>:<sender>:<seq>` under it). Default `backlog:nacl-gateway:`. */
  replayKeyPrefix: z.string().min(1).default('backlog:nacl-gateway:'),
  /** Frames of one connection produced concurrently before reading pauses. Default 16. */
  maxInFlightPerConnection: z.number().int().min(1).max(1024).default(16),
  /** Open connections at most, from all addresses. Default 1024. */
  maxConnections: z.number().int().min(1).default(1024),
  /**
   * Open connections from one remote address at most; more are closed at once. Harvesters behind one
   * NAT share an address: raise it for them. Default 16.
   */
  maxConnectionsPerAddress: z.number().int().min(1).default(16),
  /** A connection with no byte received for this long, and no produce in flight, is closed, ms. Default 120 000 (harvesters reconnect on their next batch). */
  idleTimeoutMs: z.number().int().min(100).default(120_000),
  /** A frame must be complete this long after its first byte, or the connection is closed (`frame_timeout`), ms. Default 30 000 (2 MiB at ~0.6 Mbit/s). */
  frameTimeoutMs: z.number().int().min(100).default(30_000),
  /**
   * Bytes of frames held at once across all connections — frames being read plus frames opened and
   * waiting for Redis and Kafka. At it the gateway stops reading from every socket (TCP pushes back;
   * harvesters wait with their batches spooled; nothing is refused) until the count falls to three
   * quarters; it stays under this plus one frame. At least maxFrameBytes. Default: a quarter of V8's heap
   * limit, at least 2 × maxFrameBytes — 44 MiB with the `--max-old-space-size=128` of deploy/k8s and
   * `backlog start`.
   */
  maxBufferedBytes: z.number().int().min(1024).optional(),
}).superRefine((c, ctx) => {
  if (!c.keys.secretKeyFile && !c.keys.secretKey) ctx.addIssue({ code: 'custom', path: ['keys'], message: 'set keys.secretKeyFile or keys.secretKey' });
  if (c.maxBufferedBytes !== undefined && c.maxBufferedBytes < c.maxFrameBytes)
    ctx.addIssue({ code: 'custom', path: ['maxBufferedBytes'], message: `must be at least maxFrameBytes (${c.maxFrameBytes}): one frame must fit` });
});

export type GatewayConfig = z.output<typeof gatewayConfigSchema>;

type BoundsConfig = Pick<
  GatewayConfig,
  'listen' | 'maxFrameBytes' | 'replayWindow' | 'maxClockSkewMs' | 'maxInFlightPerConnection' | 'maxConnections' | 'maxConnectionsPerAddress' | 'idleTimeoutMs' | 'frameTimeoutMs'
>;

/** The Gateway's listener and bounds options from its config: their defaults are the schema's, nowhere else. */
export function gatewayBounds(c: BoundsConfig) {
  return {
    host: c.listen.host,
    port: c.listen.port,
    maxFrameBytes: c.maxFrameBytes,
    replayWindow: c.replayWindow,
    maxClockSkewMs: c.maxClockSkewMs,
    maxInFlightPerConnection: c.maxInFlightPerConnection,
    maxConnections: c.maxConnections,
    maxConnectionsPerAddress: c.maxConnectionsPerAddress,
    idleTimeoutMs: c.idleTimeoutMs,
    frameTimeoutMs: c.frameTimeoutMs,
  };
}

const shape = gatewayConfigSchema.shape;
/** gatewayBounds of the schema's defaults (tests and benchmarks start from it). */
export const defaultGatewayOptions = gatewayBounds(
  z
    .object({
      listen: shape.listen,
      maxFrameBytes: shape.maxFrameBytes,
      replayWindow: shape.replayWindow,
      maxClockSkewMs: shape.maxClockSkewMs,
      maxInFlightPerConnection: shape.maxInFlightPerConnection,
      maxConnections: shape.maxConnections,
      maxConnectionsPerAddress: shape.maxConnectionsPerAddress,
      idleTimeoutMs: shape.idleTimeoutMs,
      frameTimeoutMs: shape.frameTimeoutMs,
    })
    .parse({}),
);
