import { z } from 'zod';

/**
 * An app's `metrics` section: where `/metrics` and `/healthz` listen. Every key: unit and default.
 * `defaultPort` is the app's port from DESIGN.md ("Default ports").
 */
export function metricsSettingsSchema(defaultPort: number) {
  return z
    .object({
      /** Bind address of /metrics and /healthz. Default 127.0.0.1. */
      host: z.string().min(1).default('127.0.0.1'),
      /** Port of /metrics and /healthz (DESIGN.md's default for the app); 0 picks a free one. */
      port: z.number().int().min(0).max(65535).default(defaultPort),
    })
    .strict()
    .prefault({});
}

/** An app's `log` section. */
export const logSettingsSchema = z
  .object({
    /** Lowest level written: `debug`, `info`, `warn` or `error`. Default `info`. */
    level: z.enum(['debug', 'info', 'warn', 'error']).default('info'),
  })
  .strict()
  .prefault({});
