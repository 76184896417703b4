import { z } from 'zod';
import { logsTemplate } from './logs-template';
import type { SearchPort } from './port';

/**
 * The `template` section of every app that installs the `logs-*` index template (es-consumer for the
 * recent indices, indexer for the history indices): one schema, so both read the same keys
 * (`BACKLOG_<APP>_TEMPLATE_*`) with the same defaults and install the same template.
 */
export const logsTemplateConfigSchema = z
  .object({
    /** Install/refresh the `logs-*` index template at start (es-consumer and indexer install the same one). Default true. */
    install: z.boolean().default(true),
    /** Template name. Default `backlog-logs`. */
    name: z.string().min(1).default('backlog-logs'),
    /** Index patterns. Default `['logs-*']` (DESIGN.md: one template for `logs-*`). */
    patterns: z.array(z.string().min(1)).min(1).default(['logs-*']),
    /** Priority; must exceed Elasticsearch 8's built-in `logs` template (100). Default 200. */
    priority: z.number().int().min(101).default(200),
    /** Primary shards per index. Default 1. */
    shards: z.number().int().min(1).max(64).default(1),
    /** Replicas. Default 0 (single node); set 1+ on a cluster. */
    replicas: z.number().int().min(0).max(8).default(0),
    /** `index.refresh_interval`. Default `1s`: what the 3 s end-to-end target needs (docs/specs/recent-index.md). */
    refreshInterval: z
      .string()
      .regex(/^(-1|\d+(ms|s|m))$/, 'expected e.g. 1s, 500ms, 30s or -1')
      .default('1s'),
  })
  .strict()
  .prefault({});

export type LogsTemplateConfig = z.output<typeof logsTemplateConfigSchema>;

/** Installs (or refreshes) the `logs-*` template as `t` describes it, with the engine's free-form object type. */
export async function installLogsTemplate(search: SearchPort, t: Readonly<Omit<LogsTemplateConfig, 'patterns'>> & { readonly patterns: readonly string[] }): Promise<void> {
  await search.putIndexTemplate(
    t.name,
    logsTemplate({ patterns: t.patterns, priority: t.priority, shards: t.shards, replicas: t.replicas, refreshInterval: t.refreshInterval, freeForm: search.freeFormObjectMapping() }),
  );
}
