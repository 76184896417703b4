import type { BatchEvent, SpoolPosition } from '@backlog/core-codec';

/**
 * What the inputs see of shipping. A local port until @backlog/core-pipeline's sink lands; its shape
 * follows Node's stream.Writable: write() never loses what it was given and returns false when the
 * caller should pause (TCP: stop reading; HTTP: 503 + Retry-After; UDP: drop, reason=backpressure).
 */
export interface ShipSink {
  /**
   * Takes normalized events and, optionally, the source positions that reading them reached (a file
   * offset, a journald cursor). Those are handed back through `onCommit` once every batch holding
   * the events was acknowledged by Kafka.
   */
  write(events: readonly BatchEvent[], positions?: readonly SpoolPosition[]): boolean;
  /** False while the spool is full under the `block` policy. */
  readonly writable: boolean;
  /** Called once whenever writable turns true again; returns an unsubscribe function. */
  onWritable(listener: () => void): () => void;
  /** Seconds a sender should wait before retrying (HTTP Retry-After), while not writable. */
  readonly retryAfterSeconds: number;
}

/** The next hop of a closed batch: Kafka directly, or the nacl-gateway. Resolves once Kafka acknowledged. */
export interface BatchSender {
  send(record: { key: string; value: Buffer; headers: Record<string, string> }): Promise<void>;
  close(): Promise<void>;
  /** For /healthz: whether the last attempt reached the next hop. */
  readonly connected: boolean;
}
