import { z } from 'zod';
import { logsTemplateConfigSchema } from '@backlog/adapter-search';
import { appConfigSchema, logSettingsSchema, metricsSettingsSchema } from '@backlog/platform-config';

const MiB = 1024 * 1024;

/**
 * The es-consumer's configuration (shared connection settings + its own keys). Every key has its unit
 * and default in the doc comment; the README's table is generated from the same names. Unknown keys
 * are errors (ARCHITECTURE.md habit 2).
 */
export const esConsumerConfigSchema = appConfigSchema({
  consumer: z
    .object({
      /** Consumer group. Default `es-consumer-<env>` (DESIGN.md). */
      groupId: z.string().min(1).optional(),
      /** Broker drops a silent member after this, ms. Default 30,000. A restarted member waits up to this long for the dead one's partitions. */
      sessionTimeoutMs: z.number().int().min(6_000).max(300_000).default(30_000),
      /** Heartbeat interval, ms. Default 3,000 (session / 10). */
      heartbeatIntervalMs: z.number().int().min(100).default(3_000),
      /** Fetch cap per partition, bytes. Default 4 MiB (must exceed the largest record, ≤ 900 KiB). */
      maxBytesPerPartition: z
        .number()
        .int()
        .min(MiB)
        .default(4 * MiB),
      /** Partitions processed at the same time. Default 2. */
      partitionsConsumedConcurrently: z.number().int().min(1).max(64).default(2),
      /** A new group starts at the oldest record still in the topic (nothing skipped). Default true. */
      fromBeginning: z.boolean().default(true),
      /** Commit at least this often while a large fetch is being indexed, ms. Default 1,000. */
      commitIntervalMs: z.number().int().min(0).default(1_000),
    })
    .strict()
    .prefault({}),
  topic: z
    .object({
      /** Create `h-<env>` when it is missing (broker auto-creation is off). Default true. */
      create: z.boolean().default(true),
      /** Partitions when this app creates `h-<env>`. Default 3. Ignored for an existing topic. */
      partitions: z.number().int().min(1).max(1024).default(3),
    })
    .strict()
    .prefault({}),
  decode: z
    .object({
      /** Cap on one record's decompressed size, bytes. Default 64 MiB; a gzip bomb is dead-lettered. */
      maxDecompressedBytes: z
        .number()
        .int()
        .min(1024)
        .default(64 * MiB),
    })
    .strict()
    .prefault({}),
  bulk: z
    .object({
      /** Documents per `_bulk` request. Default 2,000. */
      maxDocs: z.number().int().min(1).max(100_000).default(2_000),
      /** Approximate bytes per `_bulk` request (sum of source lines). Default 8 MiB (engines accept 100 MiB). */
      maxBytes: z
        .number()
        .int()
        .min(64 * 1024)
        .max(90 * MiB)
        .default(8 * MiB),
      /** `_bulk` requests in flight per partition. Default 2. */
      concurrency: z.number().int().min(1).max(32).default(2),
      /** Per-request timeout, ms. Default 30,000. A timeout is retried (writes are idempotent by `_id`). */
      requestTimeoutMs: z.number().int().min(100).default(30_000),
    })
    .strict()
    .prefault({}),
  retry: z
    .object({
      /** Fast attempts before consumption is paused (429, 5xx, timeouts, engine down). Default 5. */
      attempts: z.number().int().min(1).max(100).default(5),
      /** First back-off, ms (doubles, with jitter). Default 200. */
      initialBackoffMs: z.number().int().min(1).default(200),
      /** Longest back-off, ms; also the probe interval while paused. Default 10,000. */
      maxBackoffMs: z.number().int().min(10).default(10_000),
    })
    .strict()
    .prefault({}),
  conflicts: z
    .object({
      /** Re-sends of one document after moving a conflicting field, before it is dead-lettered. Default 4. */
      maxRounds: z.number().int().min(0).max(20).default(4),
    })
    .strict()
    .prefault({}),
  dlq: z
    .object({
      /** Bytes of the raw record/line kept in a dead-letter document (`event.original`). Default 32 KiB; Kafka and S3 keep the whole record. */
      rawMaxBytes: z
        .number()
        .int()
        .min(256)
        .default(32 * 1024),
    })
    .strict()
    .prefault({}),
  timestamps: z
    .object({
      /**
       * An event more than this many seconds after its Kafka record's time (or before 1970) is indexed at
       * its `event.created` (else the record's time), the claimed time kept in `labels.timestamp_original`
       * (ADR 0015: what an older harvester let through). Pruning deletes recent indices dated after now + this.
       * Default 86,400 (one day), as the harvester's.
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
  /** The `logs-*` index template (@backlog/adapter-search, shared with the indexer). */
  template: logsTemplateConfigSchema,
  prune: z
    .object({
      /** Run the pruning job in this process. Default true. */
      enabled: z.boolean().default(true),
      /** Keep recent indices for this many whole days. Default 7. */
      days: z.number().int().min(1).max(3650).default(7),
      /** Minutes between pruning runs (one at start). Default 60. */
      intervalMinutes: z.number().positive().default(60),
    })
    .strict()
    .prefault({}),
  metrics: metricsSettingsSchema(9103),
  log: logSettingsSchema,
  /** Graceful stop deadline, ms: stop intake, finish in-flight bulks, commit. Default 30,000. */
  stopTimeoutMs: z.number().int().min(100).default(30_000),
});

export type EsConsumerConfig = z.output<typeof esConsumerConfigSchema>;
