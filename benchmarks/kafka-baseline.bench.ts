// Baseline: a bare kafkajs produce/consume loop of prepared gzip batches on the local broker.
//
// This IS the baseline (ratio 1.0 against itself): later benchmarks of the harvester's shipper, the
// nacl-gateway, the es-consumer and the compressor divide their figures by these, measured on the same
// machine, to show what our code costs on top of Kafka and kafkajs themselves.
//
// Records are shaped like `h-<env>` records (DESIGN.md): gzip(NDJSON of ECS events sorted by
// @timestamp), ~500 KiB compressed, with the record headers, keyed by host. They are built before the
// clock starts, so only Kafka + kafkajs are measured.
//
//   npm run bench -- kafka-baseline
//   BACKLOG_KAFKA_BROKERS=k1:9092 BACKLOG_BENCH_KAFKA_SECONDS=30 npm run bench -- kafka-baseline
import { randomBytes } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { Kafka, logLevel, Partitioners, type Message } from 'kafkajs';
import { z } from 'zod';
import { kafkaConnection } from '@backlog/adapter-kafka';
import { appConfigSchema } from '@backlog/platform-config';
import { loadBenchConfig } from './lib/config';

const schema = appConfigSchema({
  /** Seconds per produce case (each also stops at `maxMib`). Default 20. */
  seconds: z.number().positive().max(300).default(20),
  /** Upper bound of bytes produced per case, MiB. Default 512. */
  maxMib: z.number().positive().default(512),
  /** Compressed size of one record, KiB (DESIGN.md: ≤ 900 KiB; the harvester flushes well below). Default 500. */
  recordKib: z.number().int().min(16).max(900).default(500),
  /** Distinct prepared records, reused round-robin. Default 8. */
  distinct: z.number().int().min(1).max(64).default(8),
  /** Partitions of the fresh topic. Default 1 (one consumer, one producer: the bare loop). */
  partitions: z.number().int().min(1).max(64).default(1),
  /** Seconds to wait for the consumer to read everything back. Default 120. */
  consumeTimeoutS: z.number().positive().default(120),
});

const cfg = loadBenchConfig('bench-kafka', schema);

const log = (line: string) => process.stderr.write(`${line}\n`);
const MiB = 1024 * 1024;

// ── realistic events ────────────────────────────────────────────────────────────────────────────
// A small seeded PRNG so every run builds the same bytes (comparable compression ratios).
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(0xbac106);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;

const HOSTS = Array.from({ length: 12 }, (_, i) => `web-${String(i + 1).padStart(2, '0')}`);
const PATHS = ['/api/v1/orders', '/api/v1/users', '/api/v1/cart', '/static/app.js', '/healthz', '/api/v1/search', '/login'];
const AGENTS = [
  'Mozilla/5.0 (X11; Linux x86_64) AppleWebKit/537.36 (KHTML, like Gecko) Chrome/131.0 Safari/537.36',
  'curl/8.5.0',
  'kube-probe/1.31',
  'Mozilla/5.0 (iPhone; CPU iPhone OS 18_1 like Mac OS X) AppleWebKit/605.1.15 Mobile/15E148',
];
const APP_MSGS = [
  'upstream timed out (110: Connection timed out) while reading response header from upstream',
  'connection reset by peer',
  'user login succeeded',
  'cache miss for key session:%s',
  'GC pause 12ms',
  'payment authorised for order %s',
  'retrying request to inventory-service (attempt 2/5)',
];
const LEVELS = ['info', 'info', 'info', 'info', 'warn', 'error', 'debug'];
const SEVERITY: Record<string, [number, string]> = { debug: [7, 'debug'], info: [6, 'info'], warn: [4, 'warning'], error: [3, 'err'] };

// Event ids as DESIGN.md "The event": UUIDv7, ms timestamp + per-run random + monotonic counter.
const runBits = randomBytes(6).toString('hex');
let counter = 0;
function uuidv7(ms: number): string {
  const t = ms.toString(16).padStart(12, '0');
  const c = (counter++ & 0xffffffff).toString(16).padStart(8, '0');
  return `${t.slice(0, 8)}-${t.slice(8)}-7${runBits.slice(0, 3)}-${(0x8 | (parseInt(runBits.slice(3, 4), 16) & 0x3)).toString(16)}${runBits.slice(4, 7)}-${runBits.slice(7, 11)}${c}`;
}

function event(ms: number): Record<string, unknown> {
  const host = pick(HOSTS);
  const ts = new Date(ms).toISOString();
  if (rnd() < 0.6) {
    const status = pick([200, 200, 200, 201, 204, 301, 404, 500, 502]);
    const path = `${pick(PATHS)}/${Math.floor(rnd() * 100000)}`;
    return {
      '@timestamp': ts,
      event: { id: uuidv7(ms), created: new Date(ms + 40).toISOString() },
      host: { name: host },
      service: { name: 'nginx' },
      log: {
        level: status >= 500 ? 'error' : 'info',
        syslog: { priority: 190, facility: { code: 23, name: 'local7' }, severity: { code: 6, name: 'info' }, hostname: host, appname: 'nginx', procid: String(1000 + Math.floor(rnd() * 50)) },
      },
      message: `10.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)}.${Math.floor(rnd() * 255)} - - [${ts}] "GET ${path} HTTP/1.1" ${status} ${Math.floor(rnd() * 50000)} "-" "${pick(AGENTS)}"`,
      labels: { env: 'bench', input: 'syslog_udp' },
      fields: { http: { status }, duration_ms: Math.round(rnd() * 2000) / 10 },
    };
  }
  const level = pick(LEVELS);
  const [code, name] = SEVERITY[level] as [number, string];
  const service = pick(['checkout', 'inventory', 'auth', 'search']);
  return {
    '@timestamp': ts,
    event: { id: uuidv7(ms), created: new Date(ms + 25).toISOString() },
    host: { name: host },
    service: { name: service },
    log: {
      level,
      syslog: {
        priority: 8 + code,
        version: 1,
        facility: { code: 1, name: 'user' },
        severity: { code, name },
        hostname: host,
        appname: service,
        procid: String(2000 + Math.floor(rnd() * 200)),
        msgid: 'ID47',
      },
    },
    message: pick(APP_MSGS).replace('%s', randomBytes(4).toString('hex')),
    labels: { env: 'bench', input: 'syslog_tcp' },
    fields: { trace_id: randomBytes(8).toString('hex'), user_id: Math.floor(rnd() * 5000) },
  };
}

/** One `h-<env>`-like record of ~recordKib compressed: events of one 5-minute window, sorted. */
function buildRecord(startMs: number, eventsPerRecord: number): { message: Message; raw: number; events: number } {
  const step = 300_000 / eventsPerRecord; // spread over the window, so the batch never straddles it
  const lines: string[] = [];
  for (let i = 0; i < eventsPerRecord; i++) lines.push(JSON.stringify(event(Math.floor(startMs + i * step))));
  const ndjson = Buffer.from(`${lines.join('\n')}\n`);
  const value = gzipSync(ndjson);
  const host = pick(HOSTS);
  const window = Math.floor(startMs / 300_000);
  return {
    raw: ndjson.length,
    events: eventsPerRecord,
    message: {
      key: host,
      value,
      headers: {
        schema: '1',
        'content-encoding': 'gzip',
        count: String(eventsPerRecord),
        'min-ts': String(startMs),
        'max-ts': String(Math.floor(startMs + (eventsPerRecord - 1) * step)),
        window: window.toString(36),
        host,
        'batch-id': randomBytes(8).toString('hex'),
      },
    },
  };
}

async function main(): Promise<void> {
  const base = Math.floor(Date.parse('2026-11-22T10:00:00Z') / 300_000) * 300_000;
  // Calibrate events per record from a sample's compressed size, then build the records.
  const sample = Array.from({ length: 2000 }, (_, i) => JSON.stringify(event(base + i * 100))).join('\n');
  const perEvent = gzipSync(Buffer.from(sample)).length / 2000;
  const eventsPerRecord = Math.floor((cfg.recordKib * 1024) / perEvent);
  const records = Array.from({ length: cfg.distinct }, (_, i) => buildRecord(base + i * 300_000, eventsPerRecord));
  const avgBytes = records.reduce((a, r) => a + (r.message.value as Buffer).length, 0) / records.length;
  const avgRaw = records.reduce((a, r) => a + r.raw, 0) / records.length;
  const recordAt = (i: number) => records[i % records.length] as (typeof records)[number];
  log(`prepared ${records.length} records: ${eventsPerRecord} events, ${(avgBytes / 1024).toFixed(0)} KiB gzip (${(avgRaw / MiB).toFixed(1)} MiB NDJSON, ${(avgRaw / avgBytes).toFixed(1)}:1) each`);

  // The same TLS/SASL material the apps use (kafka.ssl / kafka.sasl), handed to raw kafkajs.
  const { connection } = kafkaConnection('bench-kafka', cfg.kafka);
  const kafka = new Kafka({
    clientId: 'backlog-bench',
    brokers: connection.brokers,
    ...(connection.tls ? { ssl: { ...connection.tls, ca: connection.tls.ca ? [...connection.tls.ca] : undefined } } : {}),
    ...(connection.sasl ? { sasl: { mechanism: connection.sasl.mechanism, username: connection.sasl.username, password: connection.sasl.password } as never } : {}),
    logLevel: logLevel.ERROR,
  });
  const topic = `bench-kafka-${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const admin = kafka.admin();
  await admin.connect();
  let cleaned = false;
  const cleanup = async () => {
    if (cleaned) return;
    cleaned = true;
    await admin.deleteTopics({ topics: [topic], timeout: 30_000 }).catch((e: Error) => log(`could not delete topic ${topic}: ${e.message}`));
    await admin.disconnect().catch(() => undefined);
  };
  // Bounded in time whatever happens: the hard deadline cleans up and exits non-zero.
  const hardDeadlineS = cfg.seconds * 2 + cfg.consumeTimeoutS * 2 + 120;
  const hard = setTimeout(() => {
    log(`hard deadline of ${hardDeadlineS}s reached`);
    void cleanup().finally(() => process.exit(2));
  }, hardDeadlineS * 1000);
  hard.unref();

  try {
    await admin.createTopics({
      topics: [{ topic, numPartitions: cfg.partitions, replicationFactor: 1, configEntries: [{ name: 'max.message.bytes', value: String(1024 * 1024 + 1024) }] }],
      waitForLeaders: true,
    });
    log(`topic ${topic} (${cfg.partitions} partition${cfg.partitions > 1 ? 's' : ''}) on ${cfg.kafka.brokers.join(',')}`);

    // The DESIGN.md producer: idempotent, acks=all, no kafkajs compression (records are gzip already).
    const producer = kafka.producer({ idempotent: true, maxInFlightRequests: 1, createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
    // Warm-up: connections, metadata, the producer id; not measured.
    await producer.send({ topic, acks: -1, messages: [recordAt(0).message] });
    let totalRecords = 1;
    let totalEvents = eventsPerRecord;

    const results: Record<string, unknown>[] = [];
    // One record per send: kafkajs packs every message of a send for one partition into ONE record
    // batch, and the broker caps a batch at max.message.bytes (1 MiB by default), so two ~500 KiB
    // records in one send are refused (MESSAGE_TOO_LARGE). A shipper therefore sends one record at a time
    // per partition; this loop measures exactly that.
    for (const perSend of [1]) {
      let n = 0;
      let bytes = 0;
      let raw = 0;
      const t0 = performance.now();
      const until = t0 + cfg.seconds * 1000;
      while (performance.now() < until && bytes < cfg.maxMib * MiB) {
        const batch = Array.from({ length: perSend }, (_, i) => recordAt(n + i));
        await producer.send({ topic, acks: -1, messages: batch.map((r) => r.message) });
        n += perSend;
        for (const r of batch) {
          bytes += (r.message.value as Buffer).length;
          raw += r.raw;
        }
      }
      const s = (performance.now() - t0) / 1000;
      totalRecords += n;
      totalEvents += n * eventsPerRecord;
      const row = {
        case: `produce, ${perSend} record${perSend > 1 ? 's' : ''}/send`,
        'MB/s': bytes / 1e6 / s,
        'records/s': n / s,
        'events/s': (n * eventsPerRecord) / s,
        'raw MB/s': raw / 1e6 / s,
        baseline: 'self',
        ratio: 1,
      };
      log(`${row.case}: ${n} records in ${s.toFixed(1)}s → ${row['MB/s'].toFixed(1)} MB/s, ${row['records/s'].toFixed(1)} records/s`);
      results.push(row);
    }
    await producer.disconnect();

    // Consume everything back, twice: bare (bytes only), then with gunzip + line count (what every
    // consumer of h-<env> must at least do).
    for (const gunzip of [false, true]) {
      const consumer = kafka.consumer({ groupId: `${topic}-${gunzip ? 'gunzip' : 'bare'}`, maxBytesPerPartition: 16 * MiB, maxBytes: 64 * MiB, allowAutoTopicCreation: false });
      await consumer.connect();
      await consumer.subscribe({ topic, fromBeginning: true });
      let n = 0;
      let bytes = 0;
      let events = 0;
      let first = 0;
      let last = 0;
      const tStart = performance.now();
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`consumer read ${n} of ${totalRecords} records in ${cfg.consumeTimeoutS}s`)), cfg.consumeTimeoutS * 1000);
        consumer
          .run({
            autoCommit: false,
            eachBatch: async ({ batch }) => {
              if (!first) first = performance.now();
              for (const m of batch.messages) {
                n++;
                bytes += m.value?.length ?? 0;
                if (gunzip && m.value) {
                  const text = gunzipSync(m.value);
                  // Count lines without building strings: what a decoder must touch anyway.
                  for (let i = text.indexOf(10); i !== -1; i = text.indexOf(10, i + 1)) events++;
                }
              }
              last = performance.now();
              if (n >= totalRecords) {
                clearTimeout(timer);
                resolve();
              }
            },
          })
          .catch(reject);
      });
      await consumer.disconnect();
      // Timed from the first fetched batch: the group join (a few seconds, a fixed cost) is shown apart.
      const s = (last - first) / 1000;
      const row: Record<string, unknown> = { case: gunzip ? 'consume + gunzip' : 'consume', 'MB/s': bytes / 1e6 / s, 'records/s': n / s };
      if (gunzip) {
        if (events !== totalEvents) throw new Error(`gunzip counted ${events} events, expected ${totalEvents}`);
        row['events/s'] = events / s;
      }
      row['join s'] = (first - tStart) / 1000;
      row.baseline = 'self';
      row.ratio = 1;
      log(
        `${row.case}: ${n} records in ${s.toFixed(1)}s → ${(row['MB/s'] as number).toFixed(1)} MB/s, ${(row['records/s'] as number).toFixed(1)} records/s (group join ${(row['join s'] as number).toFixed(1)}s)`,
      );
      results.push(row);
    }

    const round = (v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v);
    const summary = {
      name: 'kafka-baseline',
      results: results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
      notes: [
        'This IS the baseline (ratio 1.0 against itself): later benchmarks of the shipper, gateway, es-consumer and compressor divide their figures by these.',
        'Records: gzip(NDJSON of ECS events, one 5-minute window, sorted), built before timing; MB/s counts compressed record bytes, raw MB/s the NDJSON inside.',
        'Producer: kafkajs 2.2.4, idempotent, acks=all, maxInFlightRequests 1, one record per send (kafkajs puts all records of a send to one partition in one record batch, which the broker caps at max.message.bytes = 1 MiB: two 500 KiB records per send are refused). Consumer: one member, maxBytesPerPartition 16 MiB, timed from its first batch (group join shown as "join s").',
        'Broker: the local stack (single KRaft node, JVM heap 768 MiB) on the same machine as the client.',
      ],
      params: {
        brokers: cfg.kafka.brokers.join(','),
        partitions: cfg.partitions,
        recordKib: Math.round(avgBytes / 1024),
        eventsPerRecord,
        ratio: Math.round((avgRaw / avgBytes) * 10) / 10,
        secondsPerCase: cfg.seconds,
        records: totalRecords,
      },
    };
    await cleanup();
    clearTimeout(hard);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } catch (err) {
    await cleanup();
    throw err;
  }
}

main().catch((err: Error) => {
  log(`kafka-baseline failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
