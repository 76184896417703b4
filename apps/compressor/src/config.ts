import { availableParallelism } from 'node:os';
import { appConfigSchema, defaultScratchDir } from '@backlog/platform-config';
import { z } from 'zod';

const KiB = 1024;
const MiB = 1024 * KiB;

/**
 * The compressor's config: the shared connection settings plus these keys (README.md has the table).
 * Every key is optional; the defaults run against the local stack.
 */
export const compressorSettingsShape = {
  /** Seconds past a window's end (by event time) before it is sealed. Default 60. */
  graceSeconds: z.number().int().min(0).max(86_400).default(60),
  /** A partition with no new record for this many seconds seals what the wall clock says is over. Default 30. */
  idleSeconds: z.number().min(0.5).max(3_600).default(30),
  /** The event-time watermark never runs ahead of a record's Kafka timestamp by more than this. Default 300. */
  maxFutureSkewSeconds: z.number().int().min(0).default(300),
  timestamps: z
    .object({
      /**
       * An event more than this many seconds after its record's Kafka timestamp (or before 1970) is
       * archived at its `event.created` (else the record's time), the claimed time kept in
       * `labels.timestamp_original` (ADR 0015; the es-consumer's rule, so recent and archive agree). Not
       * the watermark's `maxFutureSkewSeconds`. Default 86,400 (one day).
       */
      maxFutureSkewSeconds: z
        .number()
        .int()
        .min(0)
        .max(10 * 365 * 86_400)
        .default(86_400),
    })
    .strict()
    .prefault({}),
  /** A late part (events for a sealed window) is sealed once its partition moved this many offsets on. Default 200. */
  lateLingerOffsets: z.number().int().min(1).default(200),
  /** Buffered events past this many bytes (all partitions) are spilled to disk. Default 256 MiB. */
  memoryCapBytes: z
    .number()
    .int()
    .min(1 * MiB)
    .default(256 * MiB),
  /**
   * Where scratch files go: spilled parts (`spill-<pid>/`, deleted after each part is written) and the
   * bz2 encoders' inputs (`bz2-<pid>/`), each a 0700 directory of this process. Default
   * `<tmp>/backlog-<uid>/compressor`, private at every level; a configured one must be this user's (or
   * root's) and not writable by others unless sticky.
   */
  spillDir: z.string().min(1).default(defaultScratchDir('compressor')),
  /** NDJSON bytes per bz2 stream (the unit a reader fetches and decodes alone). Default 4 MiB. */
  streamRawBytes: z
    .number()
    .int()
    .min(64 * KiB)
    .max(64 * MiB)
    .default(4 * MiB),
  /** Largest c-<env> record (one whole stream). Default 900 KiB (DESIGN.md). */
  maxRecordBytes: z
    .number()
    .int()
    .min(64 * KiB)
    .max(16 * MiB)
    .default(900 * KiB),
  /** A part is sealed once it holds this many NDJSON bytes, and the window continues in a further part. Default 1 GiB. */
  maxPartRawBytes: z
    .number()
    .int()
    .min(1 * MiB)
    .default(1024 * MiB),
  /** Cap on one h-<env> batch once gunzipped; a larger one is dead-lettered (`too_large`). Default 64 MiB. */
  maxBatchRawBytes: z
    .number()
    .int()
    .min(64 * KiB)
    .default(64 * MiB),
  /** bz2 encoder: `auto` = lbzip2 when installed, else bzip2 (ADR 0005). */
  codec: z.enum(['auto', 'lbzip2', 'bzip2']).default('auto'),
  /** Concurrent bz2 processes. Default: the number of cores. */
  workers: z.number().int().min(1).max(256).default(availableParallelism()),
  /** Parts sealed but not yet in S3 + c-<env>; past it, consumption waits (backpressure). Default 8. */
  maxInFlightParts: z.number().int().min(1).max(1000).default(8),
  /** How often the committed offset (and its checkpoint) may move, ms. Default 1000. */
  commitIntervalMs: z.number().int().min(50).default(1_000),
  /** Partitions of c-<env> when the compressor creates it. Default 0 = as many as h-<env> has. */
  compressedPartitions: z.number().int().min(0).default(0),
  /** Partitions of h-<env> when the compressor has to create it (normally the harvester did). Default 3. */
  harvestPartitions: z.number().int().min(1).default(3),
  /** Kafka group session timeout, ms: how long a crashed member holds its partitions before they move. Default 30,000. */
  sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
  /** Partitions handled concurrently by this member. Default 4. */
  partitionsConsumedConcurrently: z.number().int().min(1).default(4),
};

export const compressorConfigSchema = appConfigSchema({
  ...compressorSettingsShape,
  metrics: z
    .object({
      /** Bind address of /metrics and /healthz. Default 127.0.0.1. */
      host: z.string().min(1).default('127.0.0.1'),
      /** Port of /metrics and /healthz. Default 9104 (DESIGN.md). 0 = any free port. */
      port: z.number().int().min(0).max(65_535).default(9104),
    })
    .strict()
    .prefault({}),
  /** Log level. Default info. */
  logLevel: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
});

export type CompressorConfig = z.output<typeof compressorConfigSchema>;
// Strip, not strict: main.ts hands it the whole (already strictly validated) config.
export const compressorSettingsSchema = z.object(compressorSettingsShape);
export type CompressorSettings = z.output<typeof compressorSettingsSchema>;
