import { hostname } from 'node:os';
import { WHEN_FULL_POLICIES } from '@backlog/core-pipeline';
import { appConfigSchema, logSettingsSchema, metricsSettingsSchema } from '@backlog/platform-config';
import { z } from 'zod';
import { type InputConfig, inputConfigSchema } from './inputs/registry';
import { liveConfigSchema } from './live';
import { shippingConfigSchema } from './shipping/config';

/** What runs with no config at all: the listeners `backlog start` announces (DESIGN.md "Default ports"). */
export const DEFAULT_INPUTS: InputConfig[] = [{ type: 'syslog_udp' }, { type: 'syslog_tcp' }, { type: 'json_tcp' }, { type: 'http' }].map((c) => inputConfigSchema.parse(c));

/**
 * The harvester's configuration: the shared connection settings plus its own keys. Every key documents
 * its unit and default; unknown keys are errors (ARCHITECTURE.md habit 2).
 */
export const harvesterConfigSchema = appConfigSchema({
  /**
   * Where events go: `kafka` (batches to h-<env> through the disk spool, or sealed through a
   * nacl-gateway; see SHIPPING.md) or `stdout` (NDJSON, for pipes and debugging). Default `kafka`.
   */
  output: z.enum(['kafka', 'stdout']).default('kafka'),
  /** Batching, spool and transport to Kafka (SHIPPING.md). */
  shipping: shippingConfigSchema.prefault({}),
  /** The lossy UDP copy for the live view (docs/specs/live-datagram.md). Off unless enabled. */
  live: liveConfigSchema.prefault({}),
  host: z
    .object({
      /** `host.name` of events that name none, and the Kafka record key. Default: the OS host name. */
      name: z
        .string()
        .min(1)
        .default(() => hostname()),
    })
    .strict()
    .prefault({}),
  timestamps: z
    .object({
      /**
       * An event time more than this many seconds after its receive time is not taken: the event is filed
       * at its receive time, the claimed time kept in `labels.timestamp_original` and flagged
       * `labels.timestamp_replaced: future` (times before 1970: `before_epoch`). Default 86,400 (one day:
       * clocks a little fast and time-zone mistakes of up to 14 h keep their time). ADR 0015.
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
  /** Directory for checkpoints (file offsets, journald cursor). Default `.backlog/harvester/state`. */
  stateDir: z.string().min(1).default('.backlog/harvester/state'),
  /**
   * The inputs, each `{ type, …its keys }` (see README's table). Names (default: the type) must be
   * unique. Default: syslog_udp and syslog_tcp on 127.0.0.1:5514, json_tcp on :5170, http on :8080.
   */
  inputs: z
    .array(inputConfigSchema)
    .default(() => DEFAULT_INPUTS.map((c) => ({ ...c })))
    .superRefine((inputs, ctx) => {
      const seen = new Set<string>();
      inputs.forEach((c, i) => {
        const name = c.name ?? c.type;
        if (seen.has(name)) ctx.addIssue({ code: 'custom', path: [i, 'name'], message: `duplicate input name ${name}: give each input of the same type a name` });
        seen.add(name);
      });
    }),
  queue: z
    .object({
      /** Events held between the inputs and the output. Default 10 000. */
      capacity: z.number().int().min(1).max(10_000_000).default(10_000),
      /** When full: `block` pauses the inputs (TCP/file/stdin/journald push back, HTTP answers 503, UDP drops and counts); or `drop_oldest` / `drop_newest` (counted). Default `block`. */
      whenFull: z.enum(WHEN_FULL_POLICIES).default('block'),
    })
    .strict()
    .prefault({}),
  metrics: metricsSettingsSchema(9101),
  log: logSettingsSchema,
});

export type HarvesterConfig = z.output<typeof harvesterConfigSchema>;
