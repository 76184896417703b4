/** What the inputs see of shipping is @backlog/core-pipeline's SourceSink, which Shipper implements. */

/** The next hop of a closed batch: Kafka directly, or the nacl-gateway. Resolves once Kafka acknowledged. */
export interface BatchSender {
  send(record: { key: string; value: Buffer; headers: Record<string, string> }): Promise<void>;
  close(): Promise<void>;
  /** For /healthz: whether the last attempt reached the next hop. */
  readonly connected: boolean;
}
