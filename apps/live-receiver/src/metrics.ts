import { Counter, Gauge, Histogram, Registry } from 'prom-client';

/**
 * The live-receiver's metrics, named in one place (ARCHITECTURE.md habit 6). Served on the metrics
 * port by `telemetry-server.ts` until `@backlog/platform-telemetry` offers the shared server.
 */
export function createLiveMetrics() {
  const registry = new Registry();
  const r = [registry];
  return {
    registry,
    received: new Counter({ name: 'live_receiver_datagrams_received_total', help: 'UDP datagrams received', registers: r }),
    invalid: new Counter({ name: 'live_receiver_datagrams_invalid_total', help: 'Datagrams that are not live datagrams, by reason', labelNames: ['reason'] as const, registers: r }),
    duplicates: new Counter({ name: 'live_receiver_duplicates_total', help: 'Datagrams another receiver (or an earlier copy) already claimed', registers: r }),
    published: new Counter({ name: 'live_receiver_events_published_total', help: 'Events this receiver claimed first and published to the cluster', registers: r }),
    fannedIn: new Counter({ name: 'live_receiver_events_fanout_total', help: 'Deduplicated events received from the cluster channel', registers: r }),
    dropped: new Counter({ name: 'live_receiver_dropped_total', help: 'Events dropped before fan-out, by reason', labelNames: ['reason'] as const, registers: r }),
    clientDropped: new Counter({ name: 'live_receiver_client_dropped_total', help: 'Events not sent to a slow browser (replaced by a dropped marker)', registers: r }),
    skipped: new Counter({ name: 'live_receiver_gap_skipped_total', help: 'Sequence numbers skipped in the deduplicated stream (lost datagrams)', registers: r }),
    late: new Counter({ name: 'live_receiver_gap_late_total', help: 'Events that arrived after a later sequence number (reordered)', registers: r }),
    clients: new Gauge({ name: 'live_receiver_clients', help: 'Connected browsers', registers: r }),
    clientsRejected: new Counter({ name: 'live_receiver_clients_rejected_total', help: 'WebSocket upgrades refused, by reason', labelNames: ['reason'] as const, registers: r }),
    logioSent: new Counter({ name: 'live_receiver_logio_sent_total', help: 'Events forwarded to log.io', registers: r }),
    logioDropped: new Counter({ name: 'live_receiver_logio_dropped_total', help: 'Events not forwarded to log.io (queue full)', registers: r }),
    latency: new Histogram({
      name: 'live_receiver_latency_seconds',
      help: 'Harvester send (datagram `sent`) to fan-out on this receiver; across hosts it includes their clock offset',
      buckets: [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5],
      registers: r,
    }),
  };
}

export type LiveMetrics = ReturnType<typeof createLiveMetrics>;
