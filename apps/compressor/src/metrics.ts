import type { MetricsRegistry } from '@backlog/platform-telemetry';

/** Every metric of the compressor, named in one place (ARCHITECTURE.md habit 6). */
export function compressorMetrics(r: MetricsRegistry) {
  return {
    records: r.counter('compressor_received_records_total', 'h-<env> records read', ['partition']),
    events: r.counter('compressor_received_events_total', 'Events read from h-<env> batches', ['partition']),
    skipped: r.counter('compressor_replayed_events_skipped_total', 'Events re-read after a restart that a part written before it already holds', ['partition']),
    timestampReplaced: r.counter('compressor_timestamp_replaced_total', 'Events whose @timestamp was replaced before archiving (ADR 0015), by reason: future, before_epoch', ['reason']),
    late: r.counter('compressor_late_events_total', 'Events for a window already sealed (kept in a further part), by lateness', ['bucket']),
    deadLetters: r.counter('compressor_dead_letters_total', 'Records or lines kept as dead-letter objects, by reason', ['reason']),
    deadLetterEvents: r.counter('compressor_dropped_events_total', 'Lines not put in a part (they are in a dead-letter object), by reason', ['reason']),
    parts: r.counter('compressor_parts_written_total', 'Parts written to S3 and c-<env>', ['kind']),
    partEvents: r.counter('compressor_part_events_total', 'Events written in parts'),
    rawBytes: r.counter('compressor_part_raw_bytes_total', 'NDJSON bytes written in parts'),
    compressedBytes: r.counter('compressor_part_compressed_bytes_total', 'bz2 bytes written in parts'),
    oversizedStreams: r.counter('compressor_oversized_streams_total', 'Streams larger than a c-<env> record (a single huge event)'),
    retries: r.counter('compressor_retries_total', 'Retried writes, by target', ['target']),
    sealSeconds: r.histogram('compressor_seal_seconds', 'Seconds from seal decision to S3 + c-<env> acknowledged', [0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120]),
    buffered: r.gauge('compressor_buffered_bytes', 'Bytes of events buffered in memory (all partitions)'),
    bufferedPeak: r.gauge('compressor_buffered_bytes_peak', 'Highest compressor_buffered_bytes since start'),
    spilled: r.counter('compressor_spilled_bytes_total', 'Bytes of buffered events moved to spill files'),
    inflight: r.gauge('compressor_inflight_parts', 'Parts sealed and not yet acknowledged by S3 and c-<env>'),
    watermark: r.gauge('compressor_watermark_seconds', 'Event-time watermark per partition (epoch seconds)', ['partition']),
    committed: r.gauge('compressor_committed_offset', 'Committed h-<env> offset per partition', ['partition']),
    lag: r.gauge('compressor_committed_lag', 'Records of h-<env> not yet archived: the high watermark at the last fetch minus the committed offset', ['topic', 'partition']),
    sealedWindowEnd: r.gauge('compressor_sealed_window_end_seconds', 'End (epoch seconds) of the newest window whose main part is in S3 and c-<env>; archive lag = now - this', ['partition']),
    scratchFull: r.gauge('compressor_scratch_full', '1 while the scratch directory (spillDir) refuses writes: consumption paused, probed every second'),
    scratchErrors: r.counter('compressor_scratch_write_errors_total', 'Scratch writes the disk refused, by what was written (spill, bz2, probe) and reason (no_space, io)', ['kind', 'reason']),
    rssPeak: r.gauge('compressor_rss_peak_bytes', 'Peak resident set size of the process'),
  };
}

export type CompressorMetrics = ReturnType<typeof compressorMetrics>;
