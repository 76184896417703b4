import type { MetricsRegistry } from '@backlog/platform-telemetry';

/**
 * Every metric of the es-consumer, named in one place (ARCHITECTURE.md habit 6). Conservation:
 *   consumed_events + (dead-lettered lines and records) = indexed + already_indexed + dead_lettered{mapping|rejected|too_large} + …
 * so that nothing leaves the consumer without a counter saying where it went.
 */
export function esConsumerMetrics(registry: MetricsRegistry) {
  return {
    consumedRecords: registry.counter('es_consumer_consumed_records_total', 'h-<env> records (batches) consumed'),
    consumedEvents: registry.counter('es_consumer_consumed_events_total', 'Events decoded from consumed records'),
    consumedBytes: registry.counter('es_consumer_consumed_bytes_total', 'Compressed bytes of consumed records'),
    indexed: registry.counter('es_consumer_indexed_events_total', 'Events written to a recent index (created)'),
    alreadyIndexed: registry.counter('es_consumer_already_indexed_events_total', 'Events whose _id was already there (409 on create: a redelivery), counted as delivered'),
    retried: registry.counter('es_consumer_retried_total', 'Documents re-sent after a retriable failure, by reason', ['reason'] as const),
    conflicted: registry.counter('es_consumer_conflicted_total', 'Documents re-sent after moving a value the mapping refused to backlog.conflicts'),
    deadLettered: registry.counter('es_consumer_dead_lettered_total', 'Documents written to logs-<env>-dlq, by reason', ['reason'] as const),
    dropped: registry.counter('es_consumer_dropped_total', 'Documents neither indexed nor dead-lettered (the DLQ itself refused them), by reason', ['reason'] as const),
    lag: registry.gauge('es_consumer_lag', 'Records between the last fetched offset and the high watermark, by partition', ['topic', 'partition'] as const),
    groupLag: registry.gauge(
      'es_consumer_group_lag',
      "Records above the group's committed offset (high watermark − committed), by partition; read from the broker every 15 s, so it keeps rising while consumption is paused",
      ['topic', 'partition'] as const,
    ),
    committedOffset: registry.gauge('es_consumer_committed_offset', 'Last committed offset (next to read), by partition', ['topic', 'partition'] as const),
    bulkSeconds: registry.histogram('es_consumer_bulk_duration_seconds', 'Duration of one _bulk request', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    bulkDocs: registry.histogram('es_consumer_bulk_documents', 'Documents per _bulk request', [1, 10, 100, 500, 1000, 2000, 5000, 10000]),
    paused: registry.gauge('es_consumer_paused', '1 while consumption is paused because the search engine refuses or fails writes'),
    pruned: registry.counter(
      'es_consumer_pruned_indices_total',
      'Recent indices deleted by the pruning job, by reason: age (older than prune.days), future (dated after now + timestamps.maxFutureSkewSeconds)',
      ['reason'] as const,
    ),
    timestampReplaced: registry.counter('es_consumer_timestamp_replaced_total', 'Events whose @timestamp was replaced (ADR 0015), by reason: future, before_epoch', ['reason'] as const),
  };
}

export type EsConsumerMetrics = ReturnType<typeof esConsumerMetrics>;
