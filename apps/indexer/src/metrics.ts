import type { MetricsRegistry } from '@backlog/platform-telemetry';

/**
 * Every metric of the indexer, named in one place (ARCHITECTURE.md habit 6). Conservation per part:
 *   read = indexed + already_indexed + filtered + rejected{reason}
 */
export function indexerMetrics(registry: MetricsRegistry) {
  return {
    requests: registry.counter('indexer_requests_total', 'API requests, by route and HTTP status', ['route', 'status'] as const),
    badRequests: registry.counter('indexer_bad_requests_total', 'Requests refused as invalid (400), by reason', ['reason'] as const),
    refused: registry.counter(
      'indexer_refused_requests_total',
      'Requests refused before any work: busy (load.maxConcurrentJobs), host (not a loopback Host without a token), unauthorized, forbidden_env',
      ['reason'] as const,
    ),
    internalErrors: registry.counter('indexer_internal_errors_total', 'Requests answered 500/503 with an error id (the detail is in the log under that id), by status', ['status'] as const),
    jobsStarted: registry.counter('indexer_jobs_started_total', 'Load jobs run by this process (new, repeated or resumed)'),
    jobsFinished: registry.counter('indexer_jobs_finished_total', 'Load jobs that finished in this process, by status', ['status'] as const),
    jobsActive: registry.gauge('indexer_jobs_active', 'Load jobs running in this process'),
    parts: registry.counter('indexer_parts_total', 'Parts finished by this process, by outcome (done, failed) and source (s3, kafka)', ['outcome', 'source'] as const),
    partFailures: registry.counter('indexer_part_failures_total', 'Failed attempts at a part, by code', ['code'] as const),
    readEvents: registry.counter('indexer_read_events_total', 'Events read from parts (inside the range)'),
    readBytes: registry.counter('indexer_read_bytes_total', 'Compressed bytes read from S3'),
    indexed: registry.counter('indexer_indexed_events_total', 'Events created in a history index'),
    alreadyIndexed: registry.counter('indexer_already_indexed_events_total', 'Events whose _id was already there (409 on create)'),
    filtered: registry.counter('indexer_filtered_events_total', 'Events the request filter rejected'),
    rejected: registry.counter('indexer_rejected_events_total', 'Events the search engine refused for good, by reason', ['reason'] as const),
    retried: registry.counter('indexer_retried_total', 'Documents re-sent after a retriable failure, by reason', ['reason'] as const),
    conflicted: registry.counter('indexer_conflicted_total', 'Documents re-sent after moving a value the mapping refused to backlog.conflicts'),
    bulkSeconds: registry.histogram('indexer_bulk_duration_seconds', 'Duration of one _bulk request', [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30]),
    lockLost: registry.counter('indexer_lock_lost_total', 'Parts abandoned because their lease was lost (another loader took over)'),
    expired: registry.counter('indexer_expired_indices_total', 'History indices deleted by the expiry reaper'),
    restored: registry.counter('indexer_restored_jobs_total', 'Jobs rebuilt from an index _meta after Redis lost them'),
    reaperErrors: registry.counter('indexer_reaper_errors_total', 'Reaper runs that failed (retried at the next interval)'),
  };
}

export type IndexerMetrics = ReturnType<typeof indexerMetrics>;
