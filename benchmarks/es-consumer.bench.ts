// es-consumer throughput: events/s from h-<env> into the search engine, beside a raw `_bulk` of the
// same documents in the same run (ARCHITECTURE.md habit 9). Target: ratio ≥ 0.9.
//
//   npm run bench -- es-consumer
//   BACKLOG_BENCH_ES_CONSUMER_EVENTS=500000 npm run bench -- es-consumer
//
// Both cases write with `create`, `_id = event.id`, into fresh indices made by the same template
// (refresh 1 s, 0 replicas), with the same bulk size and the same number of requests in flight.
// The baseline starts from parsed documents in memory (it only serializes and POSTs); the consumer
// starts from gzip records in Kafka (fetch, gunzip, parse, per-item checks, commits): the ratio is
// what the consumer costs on top of the engine's own indexing speed.
//
// Not measured yet: end-to-end latency from harvester receive to searchable (issue 6, item 8). It needs
// the harvester's shipping as a runnable app (apps/harvester/src/main.ts), which does not exist yet.
import { randomBytes } from 'node:crypto';
import { gunzipSync } from 'node:zlib';
import { z } from 'zod';
import { createKafka } from '@backlog/adapter-kafka';
import { createSearch } from '@backlog/adapter-search';
import { encodeBatch, harvestTopic, recentIndexName, windowOf } from '@backlog/core-codec';
import { silentLogger } from '@backlog/core-pipeline';
import { appConfigSchema } from '@backlog/platform-config';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { consumerOptions, installTemplate } from '../apps/es-consumer/src/app';
import { esConsumerConfigSchema } from '../apps/es-consumer/src/config';
import { EsConsumer } from '../apps/es-consumer/src/consumer';
import { esConsumerMetrics } from '../apps/es-consumer/src/metrics';
import { rawBulk } from './lib/bulk';
import { loadBenchConfig } from './lib/config';
import { sleep } from '@backlog/testing';

const schema = appConfigSchema({
  /** Events per case. Default 200,000. */
  events: z.number().int().min(1000).max(10_000_000).default(200_000),
  /** Events per h-<env> record. Default 2,000. */
  perBatch: z.number().int().min(1).max(50_000).default(2_000),
  /** Partitions of the fresh topic (and partitions consumed at once). Default 2. */
  partitions: z.number().int().min(1).max(64).default(2),
  /** Documents per `_bulk` (both cases). Default 2,000. */
  bulkDocs: z.number().int().min(100).max(20_000).default(2_000),
  /** `_bulk` requests in flight per partition (both cases: × partitions). Default 2. */
  concurrency: z.number().int().min(1).max(16).default(2),
  /** Give up after this many seconds per case. Default 600. */
  timeoutS: z.number().positive().default(600),
});

const cfg = loadBenchConfig('bench-es-consumer', schema);
const log = (line: string) => process.stderr.write(`${line}\n`);
const env = `bench${randomBytes(3).toString('hex')}`;

// ── events, as the harvester ships them ─────────────────────────────────────────────────────────
const LEVELS = ['info', 'info', 'info', 'warn', 'error', 'debug'];
const runBits = randomBytes(6).toString('hex');
function makeEvents(n: number): Record<string, unknown>[] {
  const start = windowOf(Date.now()) * 300_000;
  return Array.from({ length: n }, (_, i) => {
    const level = LEVELS[i % LEVELS.length] as string;
    return {
      '@timestamp': new Date(start + Math.floor((i * 290_000) / n)).toISOString(),
      event: { id: `0193${runBits}${i.toString(16).padStart(10, '0')}`, created: new Date(start + Math.floor((i * 290_000) / n) + 40).toISOString() },
      host: { name: `web-${String(i % 12).padStart(2, '0')}` },
      service: { name: ['nginx', 'api', 'worker'][i % 3] },
      log: { level, syslog: { priority: 14, facility: { code: 1, name: 'user' }, severity: { code: 6, name: 'info' }, appname: 'nginx', procid: String(1000 + (i % 50)) } },
      message: `GET /api/v1/orders/${i % 5000} HTTP/1.1 200 ${i % 9000} "-" "Mozilla/5.0 (X11; Linux x86_64)" rt=0.${i % 999} upstream=10.0.${i % 255}.${i % 17}:8080`,
      labels: { env: 'bench', input: 'syslog_udp' },
      fields: { status: 200, bytes: (i * 37) % 100_000, path: `/api/v1/orders/${i % 5000}`, user: { id: i % 777 } },
    };
  });
}

async function main() {
  const base = esConsumerConfigSchema.parse({
    env,
    template: { name: `backlog-logs-${env}`, patterns: [`logs-${env}-*`], priority: 420 },
    prune: { enabled: false },
    metrics: { port: 0 },
    consumer: { partitionsConsumedConcurrently: cfg.partitions },
    bulk: { maxDocs: cfg.bulkDocs, concurrency: cfg.concurrency },
  });
  const c = { ...base, kafka: cfg.kafka, search: cfg.search };
  const search = await createSearch({ node: cfg.search.url, engine: cfg.search.engine });
  await installTemplate(search, c);
  const kafka = createKafka({ brokers: [...cfg.kafka.brokers], clientId: `bench-${env}`, logLevel: 'nothing' });
  const admin = kafka.admin();
  await admin.connect();
  await admin.ensureTopics([{ topic: harvestTopic(env), partitions: cfg.partitions }]);

  try {
    log(
      `es-consumer bench: env ${env}, ${cfg.events} events, ${cfg.perBatch}/record, ${cfg.partitions} partitions, bulk ${cfg.bulkDocs} × ${cfg.concurrency} in flight per partition, engine ${search.engine}`,
    );
    const events = makeEvents(cfg.events);
    const records = [];
    for (let i = 0; i < events.length; i += cfg.perBatch) {
      const b = encodeBatch(events.slice(i, i + cfg.perBatch) as never, { host: `web-${(i / cfg.perBatch) % 12}` });
      records.push({ key: b.key, value: b.value, headers: { ...b.headers } });
    }
    const compressed = records.reduce((n, r) => n + r.value.length, 0);
    const producer = kafka.producer();
    await producer.connect();
    for (let i = 0; i < records.length; i += 10) await producer.send(harvestTopic(env), records.slice(i, i + 10));
    await producer.disconnect();
    log(`produced ${records.length} records, ${(compressed / 1048576).toFixed(1)} MiB compressed`);

    // ── baseline: raw _bulk of the same documents (parsed back from the same records) ─────────────
    const docs = records.flatMap((r) =>
      gunzipSync(r.value)
        .toString('utf8')
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as Record<string, unknown>),
    );
    const rawIndex = (d: Record<string, unknown>) => recentIndexName(`${env}-raw`, Date.parse(String(d['@timestamp'])));
    const baselineS = await rawBulk(cfg.search.url, docs, { index: rawIndex, bulkDocs: cfg.bulkDocs, workers: cfg.partitions * cfg.concurrency });
    const baselineRate = docs.length / baselineS;
    log(`raw _bulk: ${docs.length} docs in ${baselineS.toFixed(1)} s = ${Math.round(baselineRate)} docs/s`);

    // ── the consumer, in process, from h-<env> ───────────────────────────────────────────────────
    const metrics = esConsumerMetrics(new MetricsRegistry());
    const consumer = new EsConsumer(kafka, search, metrics, silentLogger, consumerOptions(c));
    const value = async (m: { get(): Promise<{ values: { value: number }[] }> }) => (await m.get()).values.reduce((n, v) => n + v.value, 0);
    await consumer.start();
    // The clock starts at the first consumed record (group join is start-up, not throughput).
    const deadline = Date.now() + cfg.timeoutS * 1000;
    while ((await value(metrics.consumedRecords)) === 0 && Date.now() < deadline) await sleep(5);
    const t1 = performance.now();
    while ((await value(metrics.indexed)) + (await value(metrics.alreadyIndexed)) < cfg.events && Date.now() < deadline) await sleep(20);
    const consumerS = (performance.now() - t1) / 1000;
    await consumer.stop(Date.now() + 30_000);
    const indexed = await value(metrics.indexed);
    await search.refresh(`logs-${env}-recent-*`);
    const count = await search.count(`logs-${env}-recent-*`);
    if (count !== cfg.events) throw new Error(`consumer indexed ${count} of ${cfg.events} documents`);
    const rate = indexed / consumerS;
    log(`es-consumer: ${indexed} docs in ${consumerS.toFixed(1)} s = ${Math.round(rate)} docs/s (ratio ${(rate / baselineRate).toFixed(2)})`);

    const summary = {
      name: 'es-consumer',
      target: 'docs/s ≥ 0.9 × raw _bulk',
      results: [
        {
          case: `h-<env> → ${search.engine}, ${cfg.events} events`,
          docs_per_s: Math.round(rate),
          baseline: 'raw _bulk',
          baseline_docs_per_s: Math.round(baselineRate),
          ratio: Math.round((rate / baselineRate) * 100) / 100,
          target: '≥ 0.9',
        },
      ],
      notes: [
        'Same documents, template, bulk size and requests in flight; the consumer reads gzip records from Kafka, the baseline posts parsed documents.',
        'End-to-end latency (harvester receive → searchable, flush 1 s and 30 s) is its own benchmark: npm run bench -- e2e-latency (section e2e-latency).',
      ],
      params: {
        events: cfg.events,
        perBatch: cfg.perBatch,
        partitions: cfg.partitions,
        bulkDocs: cfg.bulkDocs,
        concurrency: cfg.concurrency,
        compressedMiB: Math.round((compressed / 1048576) * 10) / 10,
        engine: search.engine,
      },
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
    await search.deleteIndexTemplate(`backlog-logs-${env}`).catch(() => undefined);
    await admin.deleteTopics([harvestTopic(env)]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    await search.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`es-consumer bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
