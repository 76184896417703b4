import type { MetricsRegistry } from '@backlog/platform-telemetry';

/** Every metric of the query service, named in one place (ARCHITECTURE.md habit 6). */
export function queryMetrics(registry: MetricsRegistry) {
  return {
    requests: registry.counter('query_requests_total', 'API requests, by route and HTTP status', ['route', 'status'] as const),
    duration: registry.histogram(
      'query_request_duration_seconds',
      'Time to answer a request (to the last byte for exports), by route',
      [0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 120],
      ['route'] as const,
    ),
    badRequests: registry.counter('query_bad_requests_total', 'Requests refused as invalid (400), by reason (the query language error code, or the parameter)', ['reason'] as const),
    refused: registry.counter('query_refused_requests_total', 'Requests refused before any work: busy (api.maxConcurrentQueries), host (not a loopback Host without a token), unauthorized', [
      'reason',
    ] as const),
    errors: registry.counter('query_errors_total', 'Requests answered 5xx (the detail is in the log under an error id), by status', ['status'] as const),
    inFlight: registry.gauge('query_in_flight', 'Queries being answered'),
    rehydrations: registry.counter('query_rehydrations_total', 'rehydrate=auto answers, by outcome (started, over_cap, failed)', ['outcome'] as const),
    exported: registry.counter('query_exported_events_total', 'Events streamed as NDJSON'),
  };
}

export type QueryMetrics = ReturnType<typeof queryMetrics>;
