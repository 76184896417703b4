import { type KafkaClient, type Producer, isProduceRefused } from '@backlog/adapter-kafka';
import type { BatchSender, SendRefusal } from './port';

/**
 * Sends closed batches straight to h-<env> with the adapter's idempotent producer (acks=all, one
 * request in flight). One record per produce request: the broker's max.message.bytes applies to a
 * whole record batch, so two 900 KiB records in one request would be refused together.
 */
export class KafkaSender implements BatchSender {
  private producer: Producer | undefined;
  private connecting: Promise<Producer> | undefined;
  connected = false;

  constructor(
    private readonly kafka: KafkaClient,
    private readonly topic: string,
    private readonly ackTimeoutMs = 30_000,
  ) {}

  async send(rec: { key: string; value: Buffer; headers: Record<string, string> }): Promise<void> {
    const p = await this.ready();
    try {
      await p.send(this.topic, [{ key: rec.key, value: rec.value, headers: rec.headers }]);
      this.connected = true;
    } catch (err) {
      this.connected = false;
      // A fenced idempotent producer (its epoch was bumped, e.g. after a long outage) never recovers:
      // start a new one; the shipper retries the batch.
      if ((err as { code?: string }).code === 'KAFKA_PRODUCER_FENCED') await this.reset();
      throw err;
    }
  }

  /** The adapter's catalogue decides (PRODUCE_REFUSED_CODES): the record's size, content, topic or rights. */
  refusal(err: unknown): SendRefusal | undefined {
    if (!isProduceRefused(err)) return undefined;
    const reason = err.code.replace(/^KAFKA_/, '').toLowerCase();
    return { kind: err.code === 'KAFKA_RECORD_TOO_LARGE' ? 'too_large' : 'refused', reason };
  }

  async close(): Promise<void> {
    await this.reset();
  }

  private ready(): Promise<Producer> {
    if (this.producer) return Promise.resolve(this.producer);
    this.connecting ??= (async () => {
      const p = this.kafka.producer({ ackTimeoutMs: this.ackTimeoutMs });
      try {
        await p.connect();
      } catch (err) {
        this.connecting = undefined;
        await p.disconnect().catch(() => undefined);
        throw err;
      }
      this.producer = p;
      this.connecting = undefined;
      return p;
    })();
    return this.connecting;
  }

  private async reset(): Promise<void> {
    const p = this.producer;
    this.producer = undefined;
    this.connected = false;
    if (p) await p.disconnect().catch(() => undefined);
  }
}
