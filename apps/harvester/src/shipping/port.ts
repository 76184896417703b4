/** What the inputs see of shipping is @backlog/core-pipeline's SourceSink, which Shipper implements. */

/** The next hop of a closed batch: Kafka directly, or the nacl-gateway. Resolves once Kafka acknowledged. */
export interface BatchSender {
  send(record: { key: string; value: Buffer; headers: Record<string, string> }): Promise<void>;
  close(): Promise<void>;
  /** For /healthz: whether the last attempt reached the next hop. */
  readonly connected: boolean;
  /**
   * Whether a send error means the next hop refuses this record for good (sending it again fails the
   * same way): `too_large` (the shipper splits it), `refused` (set aside in quarantine after a few
   * attempts). `reason` is a metric label. Undefined: retry with backoff (outages, timeouts).
   */
  refusal?(err: unknown): SendRefusal | undefined;
}

export interface SendRefusal {
  kind: 'too_large' | 'refused';
  reason: string;
}
