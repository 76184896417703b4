import { z } from 'zod';

const b64key = z.string().regex(/^[A-Za-z0-9+/]{43}=$/, 'expected a base64 32-byte key (backlog keys generate)');

/** The harvester's `shipping` config section (env BACKLOG_HARVESTER_SHIPPING_*). Every field: unit and default. */
export const shippingConfigSchema = z
  .object({
    /** Close a batch this long after its first event, ms. Default 30 000 (DESIGN.md). */
    flushIntervalMs: z.number().int().min(10).max(3_600_000).default(30_000),
    /** Cap on one record's gzip value, bytes; below the broker's max.message.bytes. Default 921 600 (900 KiB). */
    maxRecordBytes: z
      .number()
      .int()
      .min(1024)
      .max(64 * 1024 * 1024)
      .default(900 * 1024),
    /** Memory cap on one batch's raw NDJSON, bytes (keeps the harvester small; records stay well under 900 KiB). Default 2 MiB (ADR 0011). */
    maxBatchRawBytes: z
      .number()
      .int()
      .min(1024)
      .default(2 * 1024 * 1024),
    /** Events per batch at most. Default 200 000. */
    maxBatchEvents: z.number().int().min(1).default(200_000),
    /** Open batches (one per 5-minute window) at once. Default 4. */
    maxOpenBatches: z.number().int().min(1).max(64).default(4),
    /** gzip level 1..9. Default 3 (ADR 0011: a third of level 6's CPU, records ~13 % larger). */
    gzipLevel: z.number().int().min(1).max(9).default(3),
    /** Batches awaiting their ack at once. Default 4. */
    maxInFlight: z.number().int().min(1).max(64).default(4),
    /** How long start-up waits for the previous run's spooled batches to be acknowledged before inputs open, ms. Default 15 000. */
    startupDrainMs: z.number().int().min(0).default(15_000),
    spool: z
      .object({
        /** Spool directory. Default `.backlog/harvester/spool` under the working directory. */
        dir: z.string().default('.backlog/harvester/spool'),
        /** Size cap of WALs + segments, bytes. Default 1 GiB. */
        maxBytes: z
          .number()
          .int()
          .min(64 * 1024)
          .default(1024 * 1024 * 1024),
        /** When full: `block` (inputs pause; nothing is lost) or `drop_oldest` (oldest unsent segment deleted, counted). Default block. */
        whenFull: z.enum(['block', 'drop_oldest']).default('block'),
        /** fsync each segment and the directory before it counts as spooled. Default true. */
        fsync: z.boolean().default(true),
        /**
         * A batch the next hop refuses for good (not authorized, unknown topic, invalid record; a record too
         * large is split first) moves to `quarantine/` after this many refusals in a row… Default 5.
         */
        quarantineAfterAttempts: z.number().int().min(1).max(1000).default(5),
        /** …spanning at least this long, ms (a topic created or an ACL fixed late quarantines nothing). Default 60 000. */
        quarantineAfterMs: z.number().int().min(0).default(60_000),
      })
      .strict()
      .prefault({}),
    sealed: z
      .object({
        /** Ship through the nacl-gateway instead of straight to Kafka. Default false. */
        enabled: z.boolean().default(false),
        /** The gateway (or its load balancer), host:port. Default 127.0.0.1:5516. */
        gateway: z
          .string()
          .regex(/^[^:]+:\d{1,5}$/)
          .default('127.0.0.1:5516'),
        /** This harvester's key file (`backlog keys generate --role harvester`). */
        keyFile: z.string().optional(),
        /** This harvester's secret key, base64 (prefer keyFile). */
        secretKey: b64key.optional(),
        /** The gateway's public key, base64. */
        gatewayPublicKey: b64key.optional(),
        /** A frame's wait for its ack before the connection is dropped and the batch resent, ms. Default 60 000. */
        ackTimeoutMs: z.number().int().min(100).default(60_000),
      })
      .strict()
      .prefault({}),
  })
  .strict()
  .superRefine((c, ctx) => {
    if (!c.sealed.enabled) return;
    if (!c.sealed.keyFile && !c.sealed.secretKey) ctx.addIssue({ code: 'custom', path: ['sealed', 'keyFile'], message: 'sealed shipping needs keyFile or secretKey' });
    if (!c.sealed.gatewayPublicKey) ctx.addIssue({ code: 'custom', path: ['sealed', 'gatewayPublicKey'], message: 'sealed shipping needs the gateway public key' });
  })
  .prefault({});

export type ShippingConfig = z.output<typeof shippingConfigSchema>;
