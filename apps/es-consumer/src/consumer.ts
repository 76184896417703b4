import { KafkaAdapterError, type ConsumedBatch, type Consumer, type KafkaClient } from '@backlog/adapter-kafka';
import type { SearchPort } from '@backlog/adapter-search';
import { harvestTopic } from '@backlog/core-codec';
import { Lifecycle, settleBy, type Logger } from '@backlog/core-pipeline';
import { decodeRecord, type WriteItem } from './document';
import type { EsConsumerMetrics } from './metrics';
import { OffsetTracker } from './offsets';
import { BulkWriter, type WriterOptions } from './writer';

export interface EsConsumerOptions {
  env: string;
  groupId: string;
  consumer: {
    sessionTimeoutMs: number;
    heartbeatIntervalMs: number;
    maxBytesPerPartition: number;
    partitionsConsumedConcurrently: number;
    fromBeginning: boolean;
    commitIntervalMs: number;
  };
  topic: { create: boolean; partitions: number };
  maxDecompressedBytes: number;
  /** Config `timestamps.maxFutureSkewSeconds` in ms (ADR 0015); default one day. */
  maxFutureSkewMs?: number;
  writer: Omit<WriterOptions, 'env'>;
}

export interface EsConsumerHealth {
  ok: boolean;
  state: string;
  paused: boolean;
  assigned: Record<string, number[]>;
  lastError?: string;
}

/**
 * h-<env> → search engine. One Kafka fetch of one partition at a time is decoded, written through the
 * BulkWriter, and committed as far as every document below the offset is settled (indexed, already
 * indexed, or dead-lettered). Framework-free: main.ts wires it, tests and the benchmark drive it directly.
 */
export class EsConsumer {
  private readonly life = new Lifecycle();
  private consumer?: Consumer;
  private readonly writer: BulkWriter;
  private readonly topic: string;
  /** Set by stop(): take no new fetch. */
  private intakeStopped = false;
  /** Set when the stop deadline passed: abandon in-flight work (it is redelivered). */
  private abandon = false;
  private assigned: Record<string, number[]> = {};
  private lastError: string | undefined;
  private crashed = false;

  constructor(
    private readonly kafka: KafkaClient,
    search: Pick<SearchPort, 'bulk'>,
    private readonly metrics: EsConsumerMetrics,
    private readonly logger: Logger,
    private readonly opts: EsConsumerOptions,
    private readonly onFatal: (err: Error) => void = () => undefined,
  ) {
    this.topic = harvestTopic(opts.env);
    this.writer = new BulkWriter(
      search,
      metrics,
      logger,
      { ...opts.writer, env: opts.env },
      {
        onPause: (paused, why) => this.setPaused(paused, why),
      },
    );
  }

  start(): Promise<void> {
    return this.life.start(async () => {
      if (this.opts.topic.create) {
        const admin = this.kafka.admin();
        await admin.connect();
        try {
          const res = await admin.ensureTopics([{ topic: this.topic, partitions: this.opts.topic.partitions }]);
          if (res.created.length) this.logger.info('created topic', { topic: this.topic, partitions: this.opts.topic.partitions });
        } finally {
          await admin.disconnect().catch(() => undefined);
        }
      }
      const c = this.kafka.consumer({
        groupId: this.opts.groupId,
        sessionTimeoutMs: this.opts.consumer.sessionTimeoutMs,
        heartbeatIntervalMs: this.opts.consumer.heartbeatIntervalMs,
        maxBytesPerPartition: this.opts.consumer.maxBytesPerPartition,
        maxBytes: Math.max(this.opts.consumer.maxBytesPerPartition * 2, 10 * 1024 * 1024),
      });
      this.consumer = c;
      c.onGroupJoin((e) => {
        this.assigned = e.assignment;
        this.logger.info('joined group', { groupId: e.groupId, assignment: e.assignment });
      });
      c.onCrash((e) => {
        this.lastError = e.error.message;
        this.logger.error('kafka consumer crashed', { error: e.error, restart: e.restart });
        if (!e.restart) {
          this.crashed = true;
          this.onFatal(e.error);
        }
      });
      await c.connect();
      await c.subscribe([this.topic], { fromBeginning: this.opts.consumer.fromBeginning });
      // Offsets are resolved by hand (autoResolve false): a fetch abandoned half-way is fetched again
      // from its first unsettled record instead of being skipped.
      await c.run((batch) => this.handle(batch), { partitionsConsumedConcurrently: this.opts.consumer.partitionsConsumedConcurrently, autoResolve: false });
      this.logger.info('consuming', { topic: this.topic, groupId: this.opts.groupId });
    });
  }

  /** Stops intake, lets in-flight bulks finish and commits, until `deadline` (epoch ms); then abandons. */
  stop(deadline: number): Promise<void> {
    return this.life.stop(async () => {
      this.intakeStopped = true;
      const timer = setTimeout(
        () => {
          this.abandon = true;
        },
        Math.max(0, deadline - Date.now() - 1_000),
      );
      timer.unref();
      try {
        // kafkajs' disconnect waits for the batch being processed; our handler sees `abandon` once the
        // deadline is near and returns without committing what is not settled.
        if (this.consumer) await settleBy(this.consumer.disconnect(), deadline);
      } finally {
        clearTimeout(timer);
      }
    });
  }

  health(): EsConsumerHealth {
    const state = this.crashed ? 'crashed' : this.life.state;
    const h: EsConsumerHealth = { ok: !this.crashed && (this.life.state === 'running' || this.life.state === 'starting'), state, paused: this.writer.paused, assigned: this.assigned };
    if (this.lastError) h.lastError = this.lastError;
    return h;
  }

  private setPaused(paused: boolean, why: string): void {
    this.metrics.paused.set(paused ? 1 : 0);
    if (paused) this.lastError = `search engine: ${why}`;
    // Explicit pause: no partition of the topic is fetched while the engine refuses writes, so nothing
    // piles up in memory (the handler in progress keeps probing and heart-beating).
    try {
      if (paused) this.consumer?.pause([{ topic: this.topic }]);
      else this.consumer?.resume([{ topic: this.topic }]);
    } catch (err) {
      this.logger.warn('pause/resume failed', { error: err });
    }
  }

  private async handle(batch: ConsumedBatch): Promise<void> {
    if (this.intakeStopped || batch.records.length === 0) return;
    const { topic, partition } = batch;
    const tracker = new OffsetTracker();
    const items: WriteItem[] = [];
    const ctx = { env: this.opts.env, maxDecompressedBytes: this.opts.maxDecompressedBytes, rawMaxBytes: this.opts.writer.rawMaxBytes, maxFutureSkewMs: this.opts.maxFutureSkewMs };
    for (const rec of batch.records) {
      const decoded = decodeRecord(rec, ctx);
      this.metrics.consumedRecords.inc();
      this.metrics.consumedBytes.inc(rec.value?.length ?? 0);
      this.metrics.consumedEvents.inc(decoded.events);
      tracker.add(rec.offset, decoded.items.length);
      for (const it of decoded.items) {
        if (it.replaced) this.metrics.timestampReplaced.inc({ reason: it.replaced });
        items.push(it);
      }
    }
    const last = batch.records[batch.records.length - 1]?.offset ?? '0';
    const lag = BigInt(batch.highWatermark) - BigInt(last) - 1n;
    this.metrics.lag.set({ topic, partition: String(partition) }, Number(lag < 0n ? 0n : lag));

    let lastCommit = Date.now();
    let committing: Promise<void> = Promise.resolve();
    let stale = false;
    const commit = (force: boolean) => {
      // Commits run one after another (a later one never overtakes an earlier one).
      committing = committing.then(async () => {
        const offset = tracker.toCommit();
        if (!offset || stale || (!force && Date.now() - lastCommit < this.opts.consumer.commitIntervalMs)) return;
        try {
          await this.consumer?.commit([{ topic, partition, offset }]);
          tracker.markCommitted(offset);
          lastCommit = Date.now();
          // Fetching may move on up to here too; anything above is fetched again if we abandon.
          batch.resolveOffset((BigInt(offset) - 1n).toString());
          this.metrics.committedOffset.set({ topic, partition: String(partition) }, Number(offset));
        } catch (err) {
          if (err instanceof KafkaAdapterError && err.code === 'KAFKA_REBALANCE') {
            // The partition moved to another member, which re-reads from the last commit: stop here.
            stale = true;
            this.logger.info('commit refused after a rebalance; partition handed over', { topic, partition, offset });
          } else {
            this.lastError = (err as Error).message;
            this.logger.warn('commit failed; will be retried with the next one (a redelivery is harmless)', { topic, partition, offset, error: err });
          }
        }
      });
      return committing;
    };

    // kafkajs sends heartbeats only when the handler asks; a fetch of several MiB can take longer to
    // index than the session timeout, so beat on a timer while we work (kafkajs throttles it to the
    // heartbeat interval). A beat that fails means a rebalance: the batch then reports isStale().
    const beat = setInterval(() => void batch.heartbeat().catch(() => undefined), Math.max(100, Math.floor(this.opts.consumer.heartbeatIntervalMs / 2)));
    let done: boolean;
    try {
      done = await this.writer.write(
        items,
        (item) => {
          tracker.settle(item.origin.offset);
          if (Date.now() - lastCommit >= this.opts.consumer.commitIntervalMs) void commit(false);
        },
        {
          heartbeat: () => batch.heartbeat(),
          aborted: () => this.abandon || stale || batch.isStale(),
        },
      );
      await commit(true);
    } finally {
      clearInterval(beat);
    }
    if (!done) this.logger.info('fetch abandoned before every document settled; the rest is redelivered', { topic, partition, open: tracker.open });
  }
}
