import type { MetricsRegistry } from '@backlog/platform-telemetry';

/** Every metric of the gateway, named in one place (ARCHITECTURE.md habit 6). */
export function gatewayMetrics(m: MetricsRegistry) {
  return {
    connections: m.gauge('nacl_gateway_connections', 'Open sender connections'),
    connectionsClosed: m.counter(
      'nacl_gateway_connections_closed_total',
      'Connections the gateway closed for a bound, by reason: idle_timeout, address_limit (maxConnectionsPerAddress), connection_limit (maxConnections)',
      ['reason'],
    ),
    frames: m.counter('nacl_gateway_frames_received_total', 'Frames read from senders (valid or not)'),
    bytes: m.counter('nacl_gateway_received_bytes_total', 'Bytes read from senders'),
    accepted: m.counter('nacl_gateway_accepted_batches_total', 'Frames that opened, passed the replay checks and were handed to Kafka', ['sender']),
    acked: m.counter('nacl_gateway_acked_batches_total', 'Batches acknowledged to the sender after Kafka acknowledged them'),
    ackedEvents: m.counter('nacl_gateway_acked_events_total', 'Events (count header) in acknowledged batches'),
    rejected: m.counter(
      'nacl_gateway_rejected_total',
      'Frames refused, by reason: tampered, truncated, unknown_sender, replay, stale, too_large, malformed, unsupported_version, wrong_direction, wrong_env, frame_timeout, replay_store_unavailable',
      ['reason'],
    ),
    replayStoreUp: m.gauge('nacl_gateway_replay_store_up', '1 while the shared replay record (Redis) answers; 0 while frames are refused for want of it'),
    produceErrors: m.counter('nacl_gateway_produce_errors_total', 'Kafka produce failures (the sender gets a failed ack and resends)', ['code']),
    produceLatency: m.histogram('nacl_gateway_produce_latency_seconds', 'From frame opened to Kafka ack, seconds', [0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5, 30]),
    sealedBytes: m.counter('nacl_gateway_sealed_bytes_total', 'Bytes of accepted sealed frames'),
    bufferedBytes: m.gauge('nacl_gateway_buffered_bytes', 'Bytes of frames held across all connections: being read, and opened while they wait for Redis and Kafka (bounded by maxBufferedBytes)'),
    bufferedBytesPeak: m.gauge('nacl_gateway_buffered_bytes_peak', 'Highest nacl_gateway_buffered_bytes since the gateway started'),
    bufferedBytesLimit: m.gauge('nacl_gateway_buffered_bytes_limit', 'maxBufferedBytes in effect: at it the gateway stops reading from every socket until the count falls to three quarters'),
    readPauses: m.counter(
      'nacl_gateway_read_pauses_total',
      'Times the gateway stopped reading (TCP pushes back; nothing is refused), by reason: max_buffered_bytes (every socket, the byte budget is full), max_in_flight_per_connection (one socket)',
      ['reason'],
    ),
  };
}

export type GatewayMetrics = ReturnType<typeof gatewayMetrics>;
