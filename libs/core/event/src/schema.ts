import { z } from 'zod';
import { EventError } from './errors';

/**
 * Version of the LogEvent shape. It travels in the `schema` header of every `h-<env>` record and in
 * part manifests (DESIGN.md "Topic h-<env>"); bump it only with a migration note in docs/specs/event.md.
 */
export const SCHEMA_VERSION = 1 as const;

const nonEmpty = z.string().min(1);

/** `log.syslog.*`: the syslog header exactly as sent (ECS field set "log.syslog"). Absent parts are absent. */
export const SyslogSchema = z
  .object({
    /** PRI as sent, 0..191 (RFC 5424 section 6.2.1); a lenient parse may keep an out-of-range value. */
    priority: z.number().int().min(0).optional(),
    /** RFC 5424 VERSION (1..999); absent for RFC 3164. */
    version: z.number().int().min(1).max(999).optional(),
    facility: z
      .object({ code: z.number().int().min(0), name: nonEmpty.optional() })
      .strict()
      .optional(),
    severity: z
      .object({ code: z.number().int().min(0).max(7), name: nonEmpty })
      .strict()
      .optional(),
    hostname: nonEmpty.optional(),
    appname: nonEmpty.optional(),
    /** Always a string (RFC 5424 PROCID is 1*128PRINTUSASCII, not a number). */
    procid: nonEmpty.optional(),
    msgid: nonEmpty.optional(),
    /** SD-ID → PARAM-NAME → unescaped PARAM-VALUE; a PARAM-NAME repeated in one element keeps all values (RFC 5424 6.3.3). */
    structured_data: z.record(z.string(), z.record(z.string(), z.union([z.string(), z.array(z.string())]))).optional(),
  })
  .strict();

/**
 * The one event shape (DESIGN.md "The event"), Elastic Common Schema names. The TypeScript type below
 * is inferred from this schema so the two cannot drift (ARCHITECTURE habit 1). Objects are strict:
 * anything that is not an ECS field we own belongs in `fields`.
 */
export const LogEventSchema = z
  .object({
    /** RFC 3339 UTC with millisecond precision (what Elasticsearch's `date` stores). */
    '@timestamp': z.iso.datetime(),
    event: z
      .object({
        /** UUIDv7 from the harvester (or the id the source gave); the Elasticsearch `_id`. */
        id: z.string().min(1).max(512),
        /** When the harvester received the line. */
        created: z.iso.datetime(),
        /** The raw line, only when the input is configured to keep it. */
        original: z.string().optional(),
      })
      .strict(),
    host: z.object({ name: nonEmpty }).strict().optional(),
    service: z.object({ name: nonEmpty }).strict().optional(),
    process: z
      .object({ pid: z.number().int().min(0) })
      .strict()
      .optional(),
    log: z
      .object({
        level: nonEmpty.optional(),
        syslog: SyslogSchema.optional(),
      })
      .strict()
      .optional(),
    message: z.string(),
    /** Keyword labels: env, input, parse_error, parse_warning, truncated (see docs/specs/event.md). */
    labels: z.record(z.string(), z.string()),
    /** Free-form key/values parsed from the source (bounded by normalize()). */
    fields: z.record(z.string(), z.unknown()).optional(),
  })
  .strict();

export type LogEvent = z.infer<typeof LogEventSchema>;
export type SyslogFields = z.infer<typeof SyslogSchema>;

/** Throws EventError(EVENT_INVALID) listing every problem when `v` is not a LogEvent. Not for hot paths. */
export function assertLogEvent(v: unknown): LogEvent {
  const r = LogEventSchema.safeParse(v);
  if (!r.success) {
    const problems = r.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`);
    throw new EventError('EVENT_INVALID', `not a LogEvent: ${problems.join('; ')}`, problems);
  }
  return r.data;
}
