import kafkajs from 'kafkajs';
import type { Admin as KAdmin, KafkaConfig as KafkaJSConfig, Consumer as KConsumer, EachBatchPayload, IHeaders, Kafka as KKafka, Producer as KProducer, RetryOptions } from 'kafkajs';
import { KafkaAdapterError, mapKafkaError } from './errors';
import { KAFKAJS_LEVEL, kafkajsLogCreator, silentLogger, type KafkaLogLevel, type Logger } from './logger';

// kafkajs is CommonJS and spreads its exports, so Node's ESM loader cannot see all of them as named
// exports; the default import (module.exports) works under Node, tsx and vitest alike.
const { Kafka } = kafkajs;

export interface KafkaConfig {
  /** `host:port` of one or more brokers (bootstrap list). */
  brokers: string[];
  /** Appears in broker logs and quotas; use the app name, e.g. `compressor-dev`. */
  clientId: string;
  /** What kafkajs itself logs. Default `warn`. */
  logLevel?: KafkaLogLevel;
  /** Where kafkajs logs go. Default: dropped. */
  logger?: Logger;
  /** TCP connect timeout, ms. Default 3,000. */
  connectionTimeoutMs?: number;
  /** Per request timeout, ms. Default 30,000 (kafkajs' default). */
  requestTimeoutMs?: number;
  /**
   * kafkajs' internal retries for every request (exponential back-off from `initialRetryTime`).
   * Default: 8 retries, 300 ms initial, 30 s max: about a minute before an error reaches the caller.
   */
  retry?: { retries?: number; initialRetryTimeMs?: number; maxRetryTimeMs?: number };
  /** TLS to the brokers. Default: plaintext. Build it from the shared settings with `kafkaConnection`. */
  tls?: KafkaTlsOptions;
  /** SASL authentication. Default: none. Build it from the shared settings with `kafkaConnection`. */
  sasl?: KafkaSaslOptions;
}

/** TLS options: PEM text, not file names (`kafkaConnection` reads and checks the files). */
export interface KafkaTlsOptions {
  /** CA certificates (PEM) trusted for the brokers' certificates. Default: Node's bundled CAs. */
  ca?: readonly string[];
  /** Client certificate chain (PEM), for listeners that require client authentication. */
  cert?: string;
  /** Private key (PEM) of `cert`. */
  key?: string;
  /** Passphrase of an encrypted `key`. */
  passphrase?: string;
  /** Verify the brokers' certificates and host names. Default true. */
  rejectUnauthorized?: boolean;
  /** SNI and the name checked against every broker's certificate. Default: each broker's host. */
  servername?: string;
}

export type KafkaSaslMechanism = 'plain' | 'scram-sha-256' | 'scram-sha-512';

export interface KafkaSaslOptions {
  mechanism: KafkaSaslMechanism;
  username: string;
  password: string;
}

/** A record to produce. `value` is opaque bytes (for h-<env>: a gzip NDJSON batch). */
export interface ProduceRecord {
  /** Partitioning key (h-<env>: the host name). null/undefined = round-robin-ish (kafkajs default partitioner). */
  key?: string | Buffer | null;
  value: Buffer;
  headers?: Record<string, string | Buffer>;
  /** Explicit partition, bypassing the key. */
  partition?: number;
  /** Record timestamp (epoch ms). Default: now. */
  timestamp?: number;
}

export interface ProduceResult {
  topic: string;
  partition: number;
  /** Offset of the first record of this request in that partition (int64 as a decimal string). */
  baseOffset: string;
}

export interface ConsumedRecord {
  topic: string;
  partition: number;
  /** int64 offset as a decimal string (kafkajs' representation; JS numbers lose precision above 2^53). */
  offset: string;
  key: Buffer | null;
  value: Buffer | null;
  /** Header values as bytes; a header sent several times keeps its first value. */
  headers: Record<string, Buffer>;
  /** Record timestamp, epoch ms. */
  timestamp: number;
}

export interface ConsumedBatch {
  topic: string;
  partition: number;
  records: ConsumedRecord[];
  /** The partition's high watermark when fetched (offset of the next record to be written). */
  highWatermark: string;
  /** Keeps the group membership alive during long processing (call at least every session timeout / 3). */
  heartbeat(): Promise<void>;
  /** False once the consumer is stopping: finish or abandon quickly. */
  isRunning(): boolean;
  /** True when a rebalance took this partition away while the batch was processed: stop working on it. */
  isStale(): boolean;
  /**
   * Marks records up to `offset` as processed *for fetching* (not committed). Only needed with
   * `autoResolve: false`; committing is always explicit (`commit`).
   */
  resolveOffset(offset: string): void;
}

export interface TopicPartitionOffset {
  topic: string;
  partition: number;
  /** The offset of the *next* record to read (Kafka's commit semantics): last processed + 1. See `nextOffset`. */
  offset: string;
}

export interface ProducerOptions {
  /** Upper bound of one produce request's wait for the acks, ms. Default 30,000. */
  ackTimeoutMs?: number;
}

export interface Producer {
  connect(): Promise<void>;
  /**
   * Produces the records to one topic and resolves when all in-sync replicas have them (acks=all).
   * Rejects with a KafkaAdapterError; nothing is acknowledged then.
   */
  send(topic: string, records: readonly ProduceRecord[]): Promise<ProduceResult[]>;
  disconnect(): Promise<void>;
}

export interface ConsumerOptions {
  groupId: string;
  /** Default 30,000 ms. The member is dropped from the group when no heartbeat arrives for this long. */
  sessionTimeoutMs?: number;
  /** Default 60,000 ms. */
  rebalanceTimeoutMs?: number;
  /** Default 3,000 ms. */
  heartbeatIntervalMs?: number;
  /** Per-partition fetch cap, bytes. Default 1 MiB. Must exceed the largest record (h-<env>: ≤ 900 KiB). */
  maxBytesPerPartition?: number;
  /** Whole fetch cap, bytes. Default 10 MiB. */
  maxBytes?: number;
  /** Broker-side wait for `minBytes`, ms. Default 500. */
  maxWaitTimeMs?: number;
}

export interface RunOptions {
  /** Partitions handled at the same time. Default 1. */
  partitionsConsumedConcurrently?: number;
  /**
   * Default true: after the handler returns, the fetch position moves past the batch (not the
   * committed offset). With false, call `batch.resolveOffset` yourself or the batch is fetched again.
   */
  autoResolve?: boolean;
}

export interface GroupJoin {
  groupId: string;
  memberId: string;
  isLeader: boolean;
  /** topic → partitions assigned to this member. */
  assignment: Record<string, number[]>;
}

export interface ConsumerCrash {
  error: KafkaAdapterError;
  /** kafkajs restarts the consumer (rejoins the group) after a retriable crash. */
  restart: boolean;
}

export interface Consumer {
  connect(): Promise<void>;
  /**
   * Subscribes before `run`. `fromBeginning` applies only to partitions without a committed offset in
   * this group. Default true: a new group reads everything still in the topic rather than skipping it.
   */
  subscribe(topics: string[], options?: { fromBeginning?: boolean }): Promise<void>;
  /** Starts consuming; resolves once started. Nothing is committed automatically. */
  run(handler: (batch: ConsumedBatch) => Promise<void>, options?: RunOptions): Promise<void>;
  /** Commits offsets explicitly (each: next offset to read). */
  commit(offsets: readonly TopicPartitionOffset[]): Promise<void>;
  /** Stops fetching these partitions (all of the topic's when `partitions` is omitted) without leaving the group. */
  pause(targets: ReadonlyArray<{ topic: string; partitions?: number[] }>): void;
  resume(targets: ReadonlyArray<{ topic: string; partitions?: number[] }>): void;
  paused(): Array<{ topic: string; partitions: number[] }>;
  /** Moves the fetch position of a partition this member owns. */
  seek(target: TopicPartitionOffset): void;
  onGroupJoin(listener: (e: GroupJoin) => void): () => void;
  onCrash(listener: (e: ConsumerCrash) => void): () => void;
  /** Leaves the group (its partitions go to other members) and closes the connections. */
  disconnect(): Promise<void>;
}

export interface TopicSpec {
  topic: string;
  partitions: number;
  /** Default: the broker's `default.replication.factor` (-1). */
  replicationFactor?: number;
  /** Topic configs, e.g. `{ 'max.message.bytes': '1048576', 'retention.ms': '604800000' }`. */
  config?: Record<string, string>;
}

export interface Admin {
  connect(): Promise<void>;
  /**
   * Creates the topics that do not exist yet and waits for their leaders. Existing topics are left
   * alone (not altered) and reported; their partition count is returned so callers can warn.
   */
  ensureTopics(specs: readonly TopicSpec[]): Promise<{ created: string[]; existing: Array<{ topic: string; partitions: number }> }>;
  /** Deletes topics; unknown ones are ignored. */
  deleteTopics(topics: readonly string[]): Promise<void>;
  listTopics(): Promise<string[]>;
  /** Per partition: earliest (`low`) and next-to-be-written (`high`) offsets. */
  topicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>>;
  /**
   * Per partition: the earliest offset whose record timestamp is ≥ `timestampMs` (the high watermark
   * where there is none), so a reader of "records since T" starts there instead of at the beginning.
   */
  topicOffsetsAt(topic: string, timestampMs: number): Promise<Array<{ partition: number; offset: string }>>;
  /** The group's committed offsets for a topic (`-1` where nothing is committed). */
  groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string }>>;
  disconnect(): Promise<void>;
}

export interface KafkaClient {
  /**
   * Connects once to each bootstrap broker (no retries, bounded by `timeoutMs`, default 10,000) and
   * fetches metadata: the check an app runs at start, so that a wrong password or an untrusted
   * certificate is one clear error naming the broker instead of a minute of retries. Resolves when
   * at least one broker answered and none refused our credentials or certificate. Rejects with
   * KAFKA_AUTH / KAFKA_TLS (not retriable, the first such failure) or KAFKA_CONNECTION / KAFKA_TIMEOUT
   * (retriable: no broker reachable now).
   */
  probe(options?: { timeoutMs?: number }): Promise<void>;
  /** An idempotent producer: acks=all, idempotent, one request in flight (kafkajs requires it for ordering). */
  producer(options?: ProducerOptions): Producer;
  consumer(options: ConsumerOptions): Consumer;
  admin(): Admin;
}

/** `offset + 1` on int64 decimal strings: the offset to commit after processing `offset`. */
export function nextOffset(offset: string): string {
  return (BigInt(offset) + 1n).toString();
}

/** A header's value as UTF-8 text, or undefined. */
export function headerText(record: Pick<ConsumedRecord, 'headers'>, name: string): string | undefined {
  return record.headers[name]?.toString('utf8');
}

export function createKafka(config: KafkaConfig): KafkaClient {
  if (!config.brokers.length) throw new KafkaAdapterError('KAFKA_INVALID_CONFIG', 'kafka: at least one broker is required');
  if (!config.clientId) throw new KafkaAdapterError('KAFKA_INVALID_CONFIG', 'kafka: clientId is required');
  const retry: RetryOptions = {
    retries: config.retry?.retries ?? 8,
    initialRetryTime: config.retry?.initialRetryTimeMs ?? 300,
    maxRetryTime: config.retry?.maxRetryTimeMs ?? 30_000,
  };
  const brokers = [...config.brokers];
  const kafkaOf = (list: string[], r: RetryOptions, logCreator = kafkajsLogCreator(config.logger ?? silentLogger)) =>
    new Kafka({
      clientId: config.clientId,
      brokers: list,
      connectionTimeout: config.connectionTimeoutMs ?? 3_000,
      requestTimeout: config.requestTimeoutMs ?? 30_000,
      retry: r,
      logLevel: KAFKAJS_LEVEL[config.logLevel ?? 'warn'],
      logCreator,
      ...securityOf(config),
    });
  const kafka = kafkaOf(brokers, retry);
  const error = (e: unknown, what: string) => mapKafkaError(e, what, brokers);
  const wrap: Wrap = Object.assign(
    async <T>(what: string, fn: () => Promise<T>): Promise<T> => {
      try {
        return await fn();
      } catch (e) {
        throw error(e, what);
      }
    },
    { error },
  );
  return {
    probe: (options) => probe(brokers, (b) => kafkaOf([b], { retries: 0 }, () => () => undefined), options?.timeoutMs ?? 10_000),
    producer: (options) => new IdempotentProducer(kafka, retry, options ?? {}, wrap),
    consumer: (options) => new GroupConsumer(kafka, retry, options, wrap),
    admin: () => new KafkaAdmin(kafka, wrap),
  };
}

/** Runs a kafkajs call and maps what it throws (`error` maps one error), naming this client's brokers. */
type Wrap = (<T>(what: string, fn: () => Promise<T>) => Promise<T>) & { error(e: unknown, what: string): KafkaAdapterError };

/**
 * kafkajs' `ssl` and `sasl` options, built fresh for each client: kafkajs stores its authenticator on
 * the `sasl` object it is given, so a shared or frozen object would break the next client.
 */
function securityOf(config: KafkaConfig): Pick<KafkaJSConfig, 'ssl' | 'sasl'> {
  const out: Pick<KafkaJSConfig, 'ssl' | 'sasl'> = {};
  const t = config.tls;
  if (t) {
    out.ssl = {
      rejectUnauthorized: t.rejectUnauthorized ?? true,
      ...(t.ca ? { ca: [...t.ca] } : {}),
      ...(t.cert !== undefined ? { cert: t.cert } : {}),
      ...(t.key !== undefined ? { key: t.key } : {}),
      ...(t.passphrase !== undefined ? { passphrase: t.passphrase } : {}),
      ...(t.servername !== undefined ? { servername: t.servername } : {}),
    };
  }
  const s = config.sasl;
  if (s) {
    const { username, password } = s;
    // One literal per mechanism: kafkajs' SASLOptions is a union discriminated by `mechanism`.
    out.sasl =
      s.mechanism === 'plain'
        ? { mechanism: 'plain', username, password }
        : s.mechanism === 'scram-sha-256'
          ? { mechanism: 'scram-sha-256', username, password }
          : { mechanism: 'scram-sha-512', username, password };
  }
  return out;
}

/** One connection per bootstrap broker, in parallel; see `KafkaClient.probe`. */
async function probe(brokers: readonly string[], kafkaFor: (broker: string) => KKafka, timeoutMs: number): Promise<void> {
  const one = async (broker: string): Promise<KafkaAdapterError | undefined> => {
    const admin = kafkaFor(broker).admin();
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<never>((_, reject) => {
      timer = setTimeout(() => reject(new KafkaAdapterError('KAFKA_TIMEOUT', `start check: broker ${broker}: no answer within ${timeoutMs} ms`)), timeoutMs);
    });
    try {
      // connect() authenticates on the seed broker and fetches the cluster's metadata through it.
      await Promise.race([admin.connect(), timeout]);
      return undefined;
    } catch (e) {
      const err = mapKafkaError(e, 'start check', [broker]);
      if (err.message.includes(`broker ${broker}`)) return err;
      // Every probe failure starts with the broker it is about (kafkajs' "Closed connection" names none).
      return new KafkaAdapterError(err.code, err.message.replace(/^start check: /, `start check: broker ${broker}: `), {
        retriable: err.retriable,
        cause: err.cause,
        ...(err.brokerError ? { brokerError: err.brokerError } : {}),
      });
    } finally {
      clearTimeout(timer);
      await admin.disconnect().catch(() => undefined);
    }
  };
  const results = await Promise.all(brokers.map(one));
  const fatal = results.find((r) => r && !r.retriable);
  if (fatal) throw fatal;
  if (results.every((r) => r !== undefined)) {
    const errs = results as KafkaAdapterError[];
    if (errs.length === 1) throw errs[0];
    throw new KafkaAdapterError(errs[0]?.code ?? 'KAFKA_CONNECTION', `start check: no broker reachable: ${errs.map((e) => e.message.replace(/^start check: /, '')).join('; ')}`, {
      cause: errs[0],
      retriable: true,
    });
  }
}

class IdempotentProducer implements Producer {
  private readonly p: KProducer;
  constructor(
    kafka: KKafka,
    retry: RetryOptions,
    private readonly options: ProducerOptions,
    private readonly wrap: Wrap,
  ) {
    this.p = kafka.producer({
      idempotent: true,
      // kafkajs guarantees ordering with idempotence only with one request in flight per broker.
      maxInFlightRequests: 1,
      // Topic auto-creation is off on our brokers; a missing topic must fail, not be created with defaults.
      allowAutoTopicCreation: false,
      // The murmur2 partitioner of kafkajs 2 (the Java client's), chosen explicitly: it keeps one key
      // on one partition and silences the start-up notice about the v1 → v2 default change.
      createPartitioner: kafkajs.Partitioners.DefaultPartitioner,
      retry,
    });
  }

  connect(): Promise<void> {
    return this.wrap('producer connect', () => this.p.connect());
  }

  async send(topic: string, records: readonly ProduceRecord[]): Promise<ProduceResult[]> {
    if (records.length === 0) return [];
    const res = await this.wrap(`produce to ${topic}`, () =>
      this.p.send({
        topic,
        acks: -1, // all in-sync replicas; required by the idempotent producer
        timeout: this.options.ackTimeoutMs ?? 30_000,
        messages: records.map((r) => ({
          key: r.key ?? null,
          value: r.value,
          ...(r.headers ? { headers: r.headers } : {}),
          ...(r.partition !== undefined ? { partition: r.partition } : {}),
          ...(r.timestamp !== undefined ? { timestamp: String(r.timestamp) } : {}),
        })),
      }),
    );
    return res.map((m) => {
      if (m.errorCode) {
        throw new KafkaAdapterError('KAFKA_PROTOCOL', `produce to ${topic}: partition ${m.partition} error code ${m.errorCode}`);
      }
      return { topic: m.topicName, partition: m.partition, baseOffset: m.baseOffset ?? m.offset ?? '-1' };
    });
  }

  disconnect(): Promise<void> {
    return this.wrap('producer disconnect', () => this.p.disconnect());
  }
}

function toHeaders(h: IHeaders | undefined): Record<string, Buffer> {
  const out: Record<string, Buffer> = {};
  if (!h) return out;
  for (const [k, v] of Object.entries(h)) {
    const first = Array.isArray(v) ? v[0] : v;
    if (first === undefined) continue;
    out[k] = typeof first === 'string' ? Buffer.from(first) : first;
  }
  return out;
}

class GroupConsumer implements Consumer {
  private readonly c: KConsumer;
  constructor(
    kafka: KKafka,
    retry: RetryOptions,
    private readonly options: ConsumerOptions,
    private readonly wrap: Wrap,
  ) {
    this.c = kafka.consumer({
      groupId: options.groupId,
      sessionTimeout: options.sessionTimeoutMs ?? 30_000,
      rebalanceTimeout: options.rebalanceTimeoutMs ?? 60_000,
      heartbeatInterval: options.heartbeatIntervalMs ?? 3_000,
      maxBytesPerPartition: options.maxBytesPerPartition ?? 1024 * 1024,
      maxBytes: options.maxBytes ?? 10 * 1024 * 1024,
      maxWaitTimeInMs: options.maxWaitTimeMs ?? 500,
      allowAutoTopicCreation: false,
      retry,
    });
  }

  connect(): Promise<void> {
    return this.wrap('consumer connect', () => this.c.connect());
  }

  subscribe(topics: string[], options: { fromBeginning?: boolean } = {}): Promise<void> {
    return this.wrap(`subscribe ${topics.join(',')}`, () => this.c.subscribe({ topics, fromBeginning: options.fromBeginning ?? true }));
  }

  run(handler: (batch: ConsumedBatch) => Promise<void>, options: RunOptions = {}): Promise<void> {
    return this.wrap('consumer run', () =>
      this.c.run({
        // Offsets are committed only by `commit`, after the next hop confirmed (ARCHITECTURE habit 4).
        autoCommit: false,
        eachBatchAutoResolve: options.autoResolve ?? true,
        partitionsConsumedConcurrently: options.partitionsConsumedConcurrently ?? 1,
        eachBatch: async (p: EachBatchPayload) => {
          const { batch } = p;
          await handler({
            topic: batch.topic,
            partition: batch.partition,
            highWatermark: batch.highWatermark,
            records: batch.messages.map((m) => ({
              topic: batch.topic,
              partition: batch.partition,
              offset: m.offset,
              key: m.key ?? null,
              value: m.value ?? null,
              headers: toHeaders(m.headers),
              timestamp: Number(m.timestamp),
            })),
            heartbeat: () => p.heartbeat(),
            isRunning: () => p.isRunning(),
            isStale: () => p.isStale(),
            resolveOffset: (o) => p.resolveOffset(o),
          });
        },
      }),
    );
  }

  commit(offsets: readonly TopicPartitionOffset[]): Promise<void> {
    return this.wrap(`commit offsets (${this.options.groupId})`, () => this.c.commitOffsets(offsets.map((o) => ({ ...o }))));
  }

  pause(targets: ReadonlyArray<{ topic: string; partitions?: number[] }>): void {
    this.c.pause(targets.map((t) => ({ ...t })));
  }

  resume(targets: ReadonlyArray<{ topic: string; partitions?: number[] }>): void {
    this.c.resume(targets.map((t) => ({ ...t })));
  }

  paused(): Array<{ topic: string; partitions: number[] }> {
    return this.c.paused().map((t) => ({ topic: t.topic, partitions: [...t.partitions] }));
  }

  seek(target: TopicPartitionOffset): void {
    this.c.seek({ ...target });
  }

  onGroupJoin(listener: (e: GroupJoin) => void): () => void {
    return this.c.on(this.c.events.GROUP_JOIN, (e) => {
      listener({
        groupId: e.payload.groupId,
        memberId: e.payload.memberId,
        isLeader: e.payload.isLeader,
        assignment: Object.fromEntries(Object.entries(e.payload.memberAssignment).map(([t, ps]) => [t, [...ps]])),
      });
    });
  }

  onCrash(listener: (e: ConsumerCrash) => void): () => void {
    return this.c.on(this.c.events.CRASH, (e) => {
      listener({ error: this.wrap.error(e.payload.error, `consumer ${this.options.groupId} crashed`), restart: e.payload.restart });
    });
  }

  disconnect(): Promise<void> {
    return this.wrap('consumer disconnect', () => this.c.disconnect());
  }
}

class KafkaAdmin implements Admin {
  private readonly a: KAdmin;
  constructor(
    kafka: KKafka,
    private readonly wrap: Wrap,
  ) {
    this.a = kafka.admin();
  }

  /**
   * A read of offsets or metadata, retried while the cluster is still settling: right after a topic is
   * created (or a leader moves) a broker may answer NOT_LEADER / LEADER_NOT_AVAILABLE for a few hundred
   * milliseconds, which is not a reason for an app to fail its start. Bounded: about 6 s, then the error.
   */
  private async read<T>(what: string, fn: () => Promise<T>): Promise<T> {
    for (let attempt = 0, delay = 100; ; attempt++, delay = Math.min(delay * 2, 1_000)) {
      try {
        return await this.wrap(what, fn);
      } catch (e) {
        const settling = e instanceof KafkaAdapterError && (e.code === 'KAFKA_NOT_LEADER' || e.code === 'KAFKA_COORDINATOR');
        if (!settling || attempt >= 8) throw e;
        await new Promise((r) => setTimeout(r, delay));
      }
    }
  }

  connect(): Promise<void> {
    return this.wrap('admin connect', () => this.a.connect());
  }

  async ensureTopics(specs: readonly TopicSpec[]): Promise<{ created: string[]; existing: Array<{ topic: string; partitions: number }> }> {
    const have = new Set(await this.listTopics());
    const missing = specs.filter((s) => !have.has(s.topic));
    const existingNames = specs.filter((s) => have.has(s.topic)).map((s) => s.topic);
    if (missing.length) {
      await this.wrap('create topics', async () => {
        try {
          await this.a.createTopics({
            waitForLeaders: true,
            topics: missing.map((s) => ({
              topic: s.topic,
              numPartitions: s.partitions,
              replicationFactor: s.replicationFactor ?? -1,
              ...(s.config ? { configEntries: Object.entries(s.config).map(([name, value]) => ({ name, value })) } : {}),
            })),
          });
        } catch (e) {
          // Another instance created some of them between our list and our create: that is fine.
          const errs = (e as { errors?: Array<{ type?: string }> }).errors;
          if (!Array.isArray(errs) || !errs.every((x) => x.type === 'TOPIC_ALREADY_EXISTS')) throw e;
        }
      });
    }
    const existing = existingNames.length
      ? await this.read('describe topics', async () => {
          const md = await this.a.fetchTopicMetadata({ topics: existingNames });
          return md.topics.map((t) => ({ topic: t.name, partitions: t.partitions.length }));
        })
      : [];
    return { created: missing.map((s) => s.topic), existing };
  }

  async deleteTopics(topics: readonly string[]): Promise<void> {
    const have = new Set(await this.listTopics());
    const present = topics.filter((t) => have.has(t));
    if (present.length) await this.wrap('delete topics', () => this.a.deleteTopics({ topics: present }));
  }

  listTopics(): Promise<string[]> {
    return this.wrap('list topics', () => this.a.listTopics());
  }

  topicOffsets(topic: string): Promise<Array<{ partition: number; low: string; high: string }>> {
    return this.read(`topic offsets ${topic}`, async () =>
      (await this.a.fetchTopicOffsets(topic)).map((p) => ({ partition: p.partition, low: p.low, high: p.high })).sort((x, y) => x.partition - y.partition),
    );
  }

  topicOffsetsAt(topic: string, timestampMs: number): Promise<Array<{ partition: number; offset: string }>> {
    return this.read(`topic offsets at ${timestampMs} ${topic}`, async () => {
      const [at, ends] = await Promise.all([this.a.fetchTopicOffsetsByTimestamp(topic, timestampMs), this.a.fetchTopicOffsets(topic)]);
      const high = new Map(ends.map((p) => [p.partition, p.high]));
      // Kafka answers -1 when no record is that recent: start at the end then.
      return at.map((p) => ({ partition: p.partition, offset: p.offset === '-1' ? (high.get(p.partition) ?? '0') : p.offset })).sort((x, y) => x.partition - y.partition);
    });
  }

  groupOffsets(groupId: string, topic: string): Promise<Array<{ partition: number; offset: string }>> {
    return this.read(`group offsets ${groupId}`, async () => {
      const res = await this.a.fetchOffsets({ groupId, topics: [topic] });
      return (res[0]?.partitions ?? []).map((p) => ({ partition: p.partition, offset: p.offset })).sort((x, y) => x.partition - y.partition);
    });
  }

  disconnect(): Promise<void> {
    return this.wrap('admin disconnect', () => this.a.disconnect());
  }
}
