import type { MetricsRegistry } from '@backlog/platform-telemetry';

/**
 * Every metric of shipping and the spool, named in one place (ARCHITECTURE.md habit 6). Registered
 * on the registry the app hands in (platform-telemetry's once it lands), so /metrics on 9101 shows them.
 */
export function shippingMetrics(m: MetricsRegistry) {
  return {
    received: m.counter('harvester_shipping_received_events_total', 'Events handed to the shipper by the inputs'),
    spooledBatches: m.counter('harvester_shipping_spooled_batches_total', 'Batches closed and written to a spool segment'),
    spooledEvents: m.counter('harvester_shipping_spooled_events_total', 'Events in closed spool segments'),
    sentBatches: m.counter('harvester_shipping_sent_batches_total', 'Send attempts of a batch to the next hop (retries included)'),
    ackedBatches: m.counter('harvester_shipping_acked_batches_total', 'Batches acknowledged by Kafka (directly or via the gateway)'),
    ackedEvents: m.counter('harvester_shipping_acked_events_total', 'Events acknowledged by Kafka'),
    rejectedAcks: m.counter(
      'harvester_shipping_rejected_acks_total',
      'Frames from the nacl-gateway refused as not an authenticated ack of a pending batch (the connection is dropped, pending batches resent), by reason: tampered, wrong_direction, wrong_env, wrong_batch, unsupported_version, too_large, truncated, malformed',
      ['reason'],
    ),
    sendErrors: m.counter('harvester_shipping_send_errors_total', 'Failed send attempts by reason (retried; a record refused for good is split or quarantined)', ['reason']),
    dropped: m.counter(
      'harvester_shipping_dropped_events_total',
      'Events dropped by reason (spool_full under drop_oldest, corrupt_segment, wal_corrupt, disk_full when the disk stays full past the in-memory hold or the stop, stopped)',
      ['reason'],
    ),
    quarantined: m.counter(
      'harvester_spool_quarantined_total',
      'Spool files moved to quarantine/, by kind (segment, wal) and reason (checksum, record_too_large, denied, unknown_topic, invalid_record)',
      ['kind', 'reason'],
    ),
    quarantinedEvents: m.counter(
      'harvester_spool_quarantined_events_total',
      'Events in segments the next hop refused for good, set aside in quarantine/ (kept for spool drain --quarantine), by reason',
      ['reason'],
    ),
    quarantinedNow: m.gauge('harvester_spool_quarantined_files', 'Files in quarantine/ now (/healthz is unhealthy while there are any)'),
    splitBatches: m.counter('harvester_shipping_split_batches_total', 'Records the broker refused as too large, split in two'),
    heldSources: m.gauge(
      'harvester_shipping_held_sources',
      'Sources (files, journald) whose positions are held for the rest of the run because a corrupt segment lost some of their lines: the next start re-reads them',
    ),
    recoveredEvents: m.counter('harvester_spool_recovered_events_total', 'Events recovered on start from WALs of a previous run'),
    batchBytes: m.histogram('harvester_shipping_batch_bytes', 'Compressed size of a closed batch (the Kafka record value), bytes', [1024, 8192, 65536, 262144, 524288, 786432, 921600]),
    flushLatency: m.histogram('harvester_shipping_flush_latency_seconds', 'From a batch being closed to its acknowledgement, seconds', [0.005, 0.02, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300]),
    spoolBytes: m.gauge('harvester_spool_bytes', 'Bytes on disk in the spool (WALs + segments)'),
    spoolSegments: m.gauge('harvester_spool_segments', 'Closed segments not yet acknowledged'),
    blocked: m.gauge('harvester_shipping_blocked', '1 while the inputs are told to stop reading (spool full under the block policy, or its disk refusing writes)'),
    diskFull: m.gauge('harvester_spool_disk_full', "1 while the spool's disk refuses writes (ENOSPC, EDQUOT, EFBIG or another I/O error): inputs paused, retried every second"),
    writeErrors: m.counter('harvester_spool_write_errors_total', 'Spool writes the disk refused, by what was written (wal, segment, probe) and reason (no_space, io)', ['kind', 'reason']),
    heldEvents: m.gauge('harvester_shipping_held_events', 'Events accepted while the disk refused writes, held in memory until it accepts them'),
  };
}

export type ShippingMetrics = ReturnType<typeof shippingMetrics>;
