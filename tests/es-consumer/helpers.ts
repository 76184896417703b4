// Shared by the es-consumer integration tests: realistic batches, a producer, polling, clean-up.
import { createKafka, type KafkaClient, type Producer } from '@backlog/adapter-kafka';
import { createSearch, type SearchPort } from '@backlog/adapter-search';
import { encodeBatch, harvestTopic, windowOf } from '@backlog/core-codec';
import { silentLogger } from '@backlog/core-pipeline';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { installTemplate } from '../../apps/es-consumer/src/app';
import { esConsumerConfigSchema } from '../../apps/es-consumer/src/config';

export { freePort, sleep, waitFor } from '@backlog/testing';

/** Events shaped like the harvester's, all in one 5-minute window (a batch never straddles one). */
export function makeEvents(prefix: string, n: number, baseMs = Date.now()): Record<string, unknown>[] {
  const start = windowOf(baseMs) * 300_000;
  return Array.from({ length: n }, (_, i) => ({
    '@timestamp': new Date(start + (i % 290_000)).toISOString(),
    event: { id: `${prefix}-${String(i).padStart(7, '0')}` },
    host: { name: `web-${i % 7}` },
    service: { name: 'nginx' },
    log: { level: i % 10 === 0 ? 'error' : 'info' },
    message: `GET /api/v1/orders/${i} 200 ${i % 997}ms upstream=10.0.${i % 255}.${i % 17}`,
    labels: { env: 'test', input: 'syslog_udp' },
    fields: { status: 200, bytes: i * 13, path: `/api/v1/orders/${i}` },
  }));
}

export interface Produced {
  records: number;
  events: number;
}

export async function produceBatches(producer: Producer, env: string, events: Record<string, unknown>[], perBatch: number): Promise<Produced> {
  let records = 0;
  const sorted = [...events].sort((a, b) => String(a['@timestamp']).localeCompare(String(b['@timestamp'])));
  const pending: { key: string; value: Buffer; headers: Record<string, string> }[] = [];
  for (let i = 0; i < sorted.length; i += perBatch) {
    const host = `host-${(i / perBatch) % 5}`;
    const b = encodeBatch(sorted.slice(i, i + perBatch) as never, { host, level: 1 });
    pending.push({ key: b.key, value: b.value, headers: { ...b.headers } });
    if (pending.length >= 20) {
      await producer.send(harvestTopic(env), pending.splice(0));
    }
    records++;
  }
  if (pending.length) await producer.send(harvestTopic(env), pending);
  return { records, events: events.length };
}

export interface TestEnv {
  env: string;
  kafka: KafkaClient;
  search: SearchPort;
  producer: Producer;
  /** The consumer config env variables for a child process (template scoped to this env). */
  childEnv: Record<string, string>;
  cleanup(): Promise<void>;
}

/** Topic with `partitions`, the template scoped to `logs-<env>-*` (so tests never touch `logs-*`), a producer. */
export async function setupEnv(env: string, info: { kafka: { brokers: string[] }; search: { url: string } }, partitions = 3, searchUrl = info.search.url): Promise<TestEnv> {
  const kafka = createKafka({ brokers: info.kafka.brokers, clientId: `test-${env}`, logLevel: 'nothing' });
  const admin = kafka.admin();
  await admin.connect();
  await admin.ensureTopics([{ topic: harvestTopic(env), partitions }]);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  const search = await createSearch({ node: searchUrl });
  const cfg = testConfig(env, info, searchUrl);
  await installTemplate(search, cfg);
  const childEnv: Record<string, string> = {
    BACKLOG_ENV: env,
    BACKLOG_KAFKA_BROKERS: info.kafka.brokers.join(','),
    BACKLOG_SEARCH_URL: searchUrl,
    BACKLOG_ES_CONSUMER_TEMPLATE_NAME: `backlog-logs-${env}`,
    BACKLOG_ES_CONSUMER_TEMPLATE_PATTERNS: `logs-${env}-*`,
    BACKLOG_ES_CONSUMER_TEMPLATE_PRIORITY: '410',
    BACKLOG_ES_CONSUMER_PRUNE_ENABLED: 'false',
  };
  return {
    env,
    kafka,
    search,
    producer,
    childEnv,
    async cleanup() {
      await producer.disconnect().catch(() => undefined);
      await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
      await search.deleteIndexTemplate(`backlog-logs-${env}`).catch(() => undefined);
      await search.close().catch(() => undefined);
      const a = kafka.admin();
      await a.connect().catch(() => undefined);
      await a.deleteTopics([harvestTopic(env)]).catch(() => undefined);
      await a.disconnect().catch(() => undefined);
    },
  };
}

/** The es-consumer config for a test env, through the app's own schema (defaults included). */
export function testConfig(env: string, info: { kafka: { brokers: string[] } }, searchUrl: string, over: Record<string, unknown> = {}) {
  return esConsumerConfigSchema.parse({
    env,
    kafka: { brokers: info.kafka.brokers },
    search: { url: searchUrl },
    template: { name: `backlog-logs-${env}`, patterns: [`logs-${env}-*`], priority: 410 },
    prune: { enabled: false },
    metrics: { port: 0 },
    consumer: { sessionTimeoutMs: 6_000, heartbeatIntervalMs: 1_000 },
    ...over,
  });
}

export const testLogger = process.env.BACKLOG_TEST_VERBOSE ? { ...silentLogger, info: console.error, warn: console.error, error: console.error } : silentLogger;
export const newMetrics = () => new MetricsRegistry();

/** Committed offsets of the group == high watermarks of every partition. */
export async function fullyCommitted(kafka: KafkaClient, groupId: string, topic: string): Promise<boolean> {
  const admin = kafka.admin();
  await admin.connect();
  try {
    const high = await admin.topicOffsets(topic);
    const got = await admin.groupOffsets(groupId, topic);
    // A partition that never held a record has nothing to commit (its group offset stays -1).
    return high.every((h) => h.high === h.low || got.find((g) => g.partition === h.partition)?.offset === h.high);
  } finally {
    await admin.disconnect();
  }
}

export async function countIn(search: SearchPort, index: string): Promise<number> {
  await search.refresh(index).catch(() => undefined);
  return search.count(index).catch(() => 0);
}
