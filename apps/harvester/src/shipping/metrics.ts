import { Counter, Gauge, Histogram, type Registry } from 'prom-client';

/**
 * Every metric of shipping and the spool, named in one place (ARCHITECTURE.md habit 6). Registered
 * on the registry the app hands in (platform-telemetry's once it lands), so /metrics on 9101 shows them.
 */
export function shippingMetrics(registry: Registry) {
  const r = [registry];
  return {
    received: new Counter({ name: 'harvester_shipping_received_events_total', help: 'Events handed to the shipper by the inputs', registers: r }),
    spooledBatches: new Counter({ name: 'harvester_shipping_spooled_batches_total', help: 'Batches closed and written to a spool segment', registers: r }),
    spooledEvents: new Counter({ name: 'harvester_shipping_spooled_events_total', help: 'Events in closed spool segments', registers: r }),
    sentBatches: new Counter({ name: 'harvester_shipping_sent_batches_total', help: 'Send attempts of a batch to the next hop (retries included)', registers: r }),
    ackedBatches: new Counter({ name: 'harvester_shipping_acked_batches_total', help: 'Batches acknowledged by Kafka (directly or via the gateway)', registers: r }),
    ackedEvents: new Counter({ name: 'harvester_shipping_acked_events_total', help: 'Events acknowledged by Kafka', registers: r }),
    sendErrors: new Counter({ name: 'harvester_shipping_send_errors_total', help: 'Failed send attempts by reason (each is retried)', labelNames: ['reason'], registers: r }),
    dropped: new Counter({ name: 'harvester_shipping_dropped_events_total', help: 'Events dropped by reason (spool_full under drop_oldest, quarantined segments)', labelNames: ['reason'], registers: r }),
    quarantined: new Counter({ name: 'harvester_spool_quarantined_total', help: 'Spool files that failed their checksum and were moved to quarantine/', labelNames: ['kind'], registers: r }),
    recoveredEvents: new Counter({ name: 'harvester_spool_recovered_events_total', help: 'Events recovered on start from WALs of a previous run', registers: r }),
    batchBytes: new Histogram({ name: 'harvester_shipping_batch_bytes', help: 'Compressed size of a closed batch (the Kafka record value), bytes', buckets: [1024, 8192, 65536, 262144, 524288, 786432, 921600], registers: r }),
    flushLatency: new Histogram({ name: 'harvester_shipping_flush_latency_seconds', help: 'From a batch being closed to its acknowledgement, seconds', buckets: [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300], registers: r }),
    spoolBytes: new Gauge({ name: 'harvester_spool_bytes', help: 'Bytes on disk in the spool (WALs + segments)', registers: r }),
    spoolSegments: new Gauge({ name: 'harvester_spool_segments', help: 'Closed segments not yet acknowledged', registers: r }),
    blocked: new Gauge({ name: 'harvester_shipping_blocked', help: '1 while the spool is full under the block policy (inputs are told to stop reading)', registers: r }),
  };
}

export type ShippingMetrics = ReturnType<typeof shippingMetrics>;
