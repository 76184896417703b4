import { MetricsRegistry, componentMetrics } from '@backlog/platform-telemetry';

/**
 * The live-receiver's metrics, named in one place (ARCHITECTURE.md habit 6). The shared component
 * families (`live_receiver_received_events_total`, `…_dropped_events_total{reason}`, …) count UDP
 * intake: received = emitted (published after dedupe) + dropped (invalid, duplicate, backpressure,
 * redis_unavailable). The rest is specific to the live view.
 */
export function createLiveMetrics() {
  const registry = new MetricsRegistry({ defaultMetrics: true });
  const c = componentMetrics(registry, 'live_receiver', []);
  return {
    registry,
    received: c.received,
    emitted: c.emitted,
    dropped: c.dropped,
    bytes: c.bytes,
    fannedIn: registry.counter('live_receiver_fanout_events_total', 'Deduplicated events received from the cluster channel (from every receiver)'),
    clientDropped: registry.counter('live_receiver_client_dropped_events_total', 'Events not sent to a slow browser (replaced by a dropped marker)'),
    skipped: registry.counter('live_receiver_gap_skipped_total', 'Sequence numbers skipped in the deduplicated stream (datagrams lost on the way)'),
    late: registry.counter('live_receiver_gap_late_total', 'Events that arrived after a later sequence number of their run (reordered)'),
    clients: registry.gauge('live_receiver_clients', 'Connected browsers'),
    clientsRejected: registry.counter('live_receiver_clients_rejected_total', 'WebSocket upgrades refused, by reason (token, query_token, origin, path, stopping, max_clients)', ['reason']),
    logins: registry.counter('live_receiver_logins_total', 'Sign-ins at /auth/login, by result (token, code, refused, limited, origin, bad_request)', ['result']),
    sessionsEnded: registry.counter('live_receiver_sessions_expired_total', 'Browser connections closed because their session expired'),
    logioSent: registry.counter('live_receiver_logio_sent_events_total', 'Events forwarded to log.io'),
    logioDropped: registry.counter('live_receiver_logio_dropped_events_total', 'Events not forwarded to log.io (queue full)'),
    latency: registry.histogram(
      'live_receiver_latency_seconds',
      'Harvester send (datagram `sent`) to fan-out on this receiver, sampled 1 in 8 events; across hosts it includes their clock offset',
      [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
    ),
  };
}

export type LiveMetrics = ReturnType<typeof createLiveMetrics>;
