import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createKafka } from '@backlog/adapter-kafka';
import { createBz2Decoder, partReaderIo } from '@backlog/adapter-bz2';
import { type S3Port, createS3, partStoreOf } from '@backlog/adapter-s3';
import { type BatchEvent, decodeText, encodeBatch, harvestTopic, parseManifest, type PartManifest, readPartEvents, windowOf } from '@backlog/core-codec';
import { type StackInfo, repoRoot } from '@backlog/testing';

export { freePort, sleep, waitFor } from '@backlog/testing';

export interface Rec {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
}

/** UUIDv7-style ids (time prefix, per-run random, counter), as the harvester makes them. */
export function eventId(ts: number, n: number): string {
  const hex = ts.toString(16).padStart(12, '0');
  const c = n.toString(16).padStart(12, '0');
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-7a1b-8c2d-${c}`;
}

/**
 * The h-<env> records of a small deployment: `hosts` hosts sending a 30-s batch each over `minutes`
 * minutes from `start`, plus (when `lateAfterMin` is set) one host that was offline and then sends
 * events of the first two windows more than an hour after them.
 */
export function buildRecords(opts: { start: number; minutes: number; hosts: number; perBatch: number; lateAfterMin?: number }): { records: Rec[]; ids: string[] } {
  const records: Rec[] = [];
  const ids: string[] = [];
  let n = 0;
  const push = (host: string, events: BatchEvent[]) => {
    const b = encodeBatch(events, { host, batchId: `b-${records.length}` });
    records.push({ key: b.key, value: b.value, headers: { ...b.headers } });
  };
  const ev = (ts: number, host: string, i: number): BatchEvent => {
    const id = eventId(ts, n++);
    ids.push(id);
    return {
      '@timestamp': new Date(ts).toISOString(),
      event: { id },
      host: { name: host },
      service: { name: i % 3 ? 'nginx' : 'sshd' },
      log: { level: i % 7 ? 'info' : 'error' },
      message: `request ${i} served in ${(i * 37) % 1000} ms from 10.0.${i % 255}.${(i * 7) % 255}`,
      labels: { env: 'test', input: 'file' },
    };
  };
  for (let t = opts.start; t < opts.start + opts.minutes * 60_000; t += 30_000) {
    for (let h = 0; h < opts.hosts; h++) {
      const host = `web-${h}`;
      const events: BatchEvent[] = [];
      for (let i = 0; i < opts.perBatch; i++) {
        const ts = t + Math.floor((i * 30_000) / opts.perBatch) + h;
        if (windowOf(ts) !== windowOf(t)) break;
        events.push(ev(ts, host, i));
      }
      push(host, events);
    }
    if (opts.lateAfterMin !== undefined && t === opts.start + opts.lateAfterMin * 60_000) {
      for (const w of [0, 1]) {
        const base = opts.start + w * 300_000;
        push(
          'laptop-7',
          Array.from({ length: 20 }, (_, i) => ev(base + i * 1000, 'laptop-7', i)),
        );
      }
    }
  }
  return { records, ids };
}

export async function produce(info: StackInfo, env: string, records: Rec[], partitions = 2): Promise<void> {
  const kafka = createKafka({ brokers: info.kafka.brokers, clientId: `test-${env}` });
  const admin = kafka.admin();
  await admin.connect();
  await admin.ensureTopics([{ topic: harvestTopic(env), partitions }]);
  await admin.disconnect();
  const producer = kafka.producer();
  await producer.connect();
  // One by one: the same records in the same order give the same offsets in every env.
  for (let i = 0; i < records.length; i += 50) await producer.send(harvestTopic(env), records.slice(i, i + 50));
  await producer.disconnect();
}

export function s3Of(info: StackInfo, endpoint = info.s3.endpoint): S3Port {
  return createS3({ ...info.s3, endpoint, maxAttempts: 1, connectionTimeoutMs: 1000 });
}

export async function listKeys(s3: S3Port, prefix: string): Promise<string[]> {
  const out: string[] = [];
  for await (const o of s3.list(prefix)) out.push(o.key);
  return out;
}

export async function manifests(s3: S3Port, env: string): Promise<{ key: string; m: PartManifest }[]> {
  const keys = (await listKeys(s3, `${env}/`)).filter((k) => /\/p\d+-\d+\.json$/.test(k) && !k.includes('/_state/') && !k.includes('/dead-letter/'));
  return Promise.all(keys.map(async (key) => ({ key, m: parseManifest(await s3.get(key)) })));
}

/** Event ids of every part under env/, read through the archive read path (sha256 and count checked). */
export async function archivedIds(s3: S3Port, env: string): Promise<string[]> {
  const ids: string[] = [];
  const io = partReaderIo(partStoreOf(s3));
  for (const { key, m } of await manifests(s3, env)) {
    for await (const lines of readPartEvents(io, { key: key.replace(/\.json$/, '.log.bz2'), manifest: m })) {
      for (const line of lines) ids.push((JSON.parse(line) as { event: { id: string } }).event.id);
    }
  }
  return ids;
}

/** The whole text of bz2 bytes as the JS decoder (`unbzip2-stream`) reads it. */
export function unbzip2Text(buf: Buffer): Promise<string> {
  return decodeText(createBz2Decoder({ decoder: 'unbzip2-stream' }), buf);
}

/** The compressor as a real child process (`node --import tsx apps/compressor/src/main.ts`). */
export function startCompressor(info: StackInfo, env: string, extra: Record<string, string> = {}, s3Endpoint = info.s3.endpoint): { child: ChildProcess; ready: Promise<void>; output: () => string } {
  const root = repoRoot();
  let out = '';
  const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/compressor/src/main.ts')], {
    cwd: root,
    env: {
      ...process.env,
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      BACKLOG_ENV: env,
      BACKLOG_KAFKA_BROKERS: info.kafka.brokers.join(','),
      BACKLOG_S3_ENDPOINT: s3Endpoint,
      BACKLOG_S3_BUCKET: info.s3.bucket,
      BACKLOG_S3_ACCESS_KEY_ID: info.s3.accessKeyId,
      BACKLOG_S3_SECRET_ACCESS_KEY: info.s3.secretAccessKey,
      BACKLOG_COMPRESSOR_METRICS_PORT: '0',
      BACKLOG_COMPRESSOR_IDLE_SECONDS: '3',
      BACKLOG_COMPRESSOR_COMMIT_INTERVAL_MS: '200',
      BACKLOG_COMPRESSOR_WORKERS: '2',
      // A killed member's partitions move after this; the broker's group.min.session.timeout.ms is 6 s.
      BACKLOG_COMPRESSOR_SESSION_TIMEOUT_MS: '8000',
      ...extra,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  const ready = new Promise<void>((resolve, reject) => {
    child.stdout?.on('data', (d: Buffer) => {
      out += d.toString();
      if (out.includes('"ready":true')) resolve();
    });
    child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
    child.once('exit', (code) => reject(new Error(`compressor exited ${code} before ready:\n${out}`)));
  });
  ready.catch(() => undefined);
  return { child, ready, output: () => out };
}

export function exited(child: ChildProcess): Promise<number | null> {
  return child.exitCode !== null ? Promise.resolve(child.exitCode) : new Promise((r) => child.once('exit', (c) => r(c)));
}
