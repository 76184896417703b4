import { randomBytes } from 'node:crypto';
import { type KafkaClient, headerText } from '@backlog/adapter-kafka';
import { type PartManifest, compressedTopic, parseManifest } from '@backlog/core-codec';
import type { Logger } from '@backlog/core-pipeline';
import type { PlanProblem } from './jobs';

/**
 * Parts not yet in S3, read from `c-<env>` (DESIGN.md "Topic c-<env> and S3"; docs/specs/archive.md):
 * every record is one whole bz2 stream of a part, keyed `<window36>/p<partition>-<firstOffset>`,
 * headers `seq`, `last`, and on the last record `sha256` + `manifest`. A part is complete when the
 * record with the manifest arrived and every `seq` below it too; records are de-duplicated on
 * (key, seq) because a compressor crash produces a part's records again.
 */
export interface KafkaPart {
  id: string;
  manifest: PartManifest;
  /** The part's bz2 streams in order (their concatenation is the S3 object). */
  streams: Buffer[];
}

export interface CompressedScanOptions {
  /** Stop keeping record values past this many bytes (reported as a problem). */
  maxBytes: number;
  /** Give up after this long, ms (reported as a problem). */
  timeoutMs: number;
}

export async function readCompressedTopic(
  kafka: KafkaClient,
  env: string,
  windows: ReadonlySet<string>,
  sinceMs: number,
  opts: CompressedScanOptions,
  logger: Logger,
): Promise<{ parts: KafkaPart[]; problems: PlanProblem[] }> {
  const topic = compressedTopic(env);
  const problems: PlanProblem[] = [];
  const admin = kafka.admin();
  await admin.connect();
  let starts: Map<number, bigint>;
  let ends: Map<number, bigint>;
  try {
    if (!(await admin.listTopics()).includes(topic)) return { parts: [], problems };
    ends = new Map((await admin.topicOffsets(topic)).map((p) => [p.partition, BigInt(p.high)]));
    // c-<env> records are produced after their window closed, so nothing of a window at or after
    // `sinceMs` can sit at an offset whose record time is before it.
    starts = new Map((await admin.topicOffsetsAt(topic, sinceMs)).map((p) => [p.partition, BigInt(p.offset)]));
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
  const pending = new Set([...ends].filter(([p, high]) => (starts.get(p) ?? 0n) < high).map(([p]) => p));
  if (pending.size === 0) return { parts: [], problems };

  const streams = new Map<string, Map<number, Buffer>>();
  const manifests = new Map<string, string>();
  let held = 0;
  let capped = false;
  // A private group that never commits: this is a one-off read of a range of offsets.
  const consumer = kafka.consumer({ groupId: `indexer-scan-${env}-${randomBytes(6).toString('hex')}`, maxBytesPerPartition: 4 * 1024 * 1024, maxWaitTimeMs: 200 });
  let finish: () => void = () => undefined;
  const finished = new Promise<void>((r) => (finish = r));
  try {
    await consumer.connect();
    consumer.onGroupJoin((j) => {
      for (const p of j.assignment[topic] ?? []) {
        const at = starts.get(p);
        if (at !== undefined && at > 0n) consumer.seek({ topic, partition: p, offset: at.toString() });
      }
    });
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run(async (batch) => {
      const start = starts.get(batch.partition) ?? 0n;
      const high = ends.get(batch.partition) ?? 0n;
      for (const r of batch.records) {
        const off = BigInt(r.offset);
        if (off < start || off >= high) continue;
        const key = r.key?.toString('utf8') ?? '';
        const window = key.split('/')[0] ?? '';
        if (windows.has(window) && r.value) {
          const seq = Number(headerText(r, 'seq'));
          let m = streams.get(key);
          if (!m) streams.set(key, (m = new Map()));
          if (Number.isInteger(seq) && !m.has(seq)) {
            if (held + r.value.length > opts.maxBytes) capped = true;
            else {
              m.set(seq, r.value);
              held += r.value.length;
            }
          }
          const man = headerText(r, 'manifest');
          if (headerText(r, 'last') === '1' && man) manifests.set(key, man);
        }
      }
      const last = batch.records[batch.records.length - 1];
      if (last && BigInt(last.offset) >= high - 1n) pending.delete(batch.partition);
      if (BigInt(batch.highWatermark) <= start) pending.delete(batch.partition);
      if (pending.size === 0) finish();
    });
    const timedOut = await Promise.race([finished.then(() => false), new Promise<boolean>((r) => setTimeout(() => r(true), opts.timeoutMs).unref())]);
    if (timedOut) problems.push({ code: 'KAFKA_TIMEOUT', key: topic, message: `reading ${topic} took over ${opts.timeoutMs} ms; parts not yet in S3 may be missing` });
  } catch (e) {
    problems.push({ code: 'KAFKA_UNAVAILABLE', key: topic, message: `cannot read ${topic}: ${(e as Error).message}` });
    logger.warn('reading c-<env> failed', { topic, error: e });
  } finally {
    await consumer.disconnect().catch(() => undefined);
  }
  if (capped) problems.push({ code: 'KAFKA_CAP', key: topic, message: `over compressedTopic.maxBytes (${opts.maxBytes}) of records; the rest of ${topic} was not read` });

  const parts: KafkaPart[] = [];
  for (const [key, byseq] of streams) {
    const text = manifests.get(key);
    if (!text) {
      problems.push({ code: 'KAFKA_INCOMPLETE', key, message: 'part in c-<env> without its last record (being written?)' });
      continue;
    }
    let manifest: PartManifest;
    try {
      manifest = parseManifest(text);
    } catch (e) {
      problems.push({ code: 'BAD_MANIFEST', key, message: `manifest header: ${(e as Error).message.slice(0, 300)}` });
      continue;
    }
    const list: Buffer[] = [];
    for (let i = 0; i < manifest.streams.length; i++) {
      const b = byseq.get(i);
      if (!b) break;
      list.push(b);
    }
    if (list.length !== manifest.streams.length) {
      problems.push({ code: 'KAFKA_INCOMPLETE', key, message: `${list.length} of ${manifest.streams.length} records of the part in c-<env>` });
      continue;
    }
    parts.push({ id: key, manifest, streams: list });
  }
  return { parts, problems };
}
