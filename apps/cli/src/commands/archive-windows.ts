import { randomBytes } from 'node:crypto';
import type { KafkaClient } from '@backlog/adapter-kafka';
import { type S3Port, isS3AdapterError } from '@backlog/adapter-s3';
import { compressedTopic, harvestTopic, parseWindowId, partKey, windowEndMs, windowStartMs } from '@backlog/core-codec';

/**
 * What `backlog archive verify` says of each window (docs/specs/archive.md, "Verifying"). A window
 * without a part in S3 is normal when nothing was sent in it; it is a loss when the compressor wrote a
 * part for it that is gone. The two look alike in S3, so verify asks the compressor's own records:
 *
 * - `c-<env>`: the compressor produces every part it wrote there (key `<window36>/p<partition>-<firstOffset>`)
 *   right after the S3 put. A key in `c-<env>` without its object in S3 is a lost part.
 * - the offsets it committed on `h-<env>` (group `compressor-<env>`) and its checkpoint beside the
 *   archive (`<env>/_state/compressor/h-<env>/p<partition>.json`, apps/compressor/README.md): every
 *   event below the committed offset is in S3, and windows that ended before the checkpoint's event-time
 *   watermark minus the grace were sealed before it. A partition whose committed offset reached its end
 *   holds nothing unarchived at all.
 *
 * States: `present` (complete parts in S3, none of the c-<env> ones lost), `missing` (a part named in
 * c-<env> is not in S3), `idle` (closed in every partition, no part and no c-<env> record: no events),
 * `open` (not yet closed: the compressor may still write its part), `unknown` (no part, and nothing
 * left to tell idle from lost: c-<env> no longer holds records that old, or Kafka could not be read).
 */
export type WindowState = 'present' | 'idle' | 'missing' | 'open' | 'unknown';

export const WINDOW_STATES: readonly WindowState[] = ['present', 'idle', 'missing', 'open', 'unknown'];

export interface WindowReport {
  window: string;
  start: string;
  state: WindowState;
  /** Complete parts in S3. */
  parts: number;
  /** c-<env> part keys (`<window36>/p<partition>-<firstOffset>`) without their S3 object. */
  lost?: string[];
  /** Why `unknown` or `open`. */
  reason?: string;
}

export interface PartitionProgress {
  partition: number;
  /** h-<env> end offset when verify looked. */
  end: string;
  /** Offset committed by compressor-<env>, null when it never committed. */
  committed: string | null;
  /** The checkpoint's offset and event-time watermark, null when there is none. */
  checkpoint: string | null;
  watermark: string | null;
  /** Windows ending at or before this are closed in this partition (null: none is). */
  closedBefore: string | null;
}

export interface CompressorEvidence {
  /** Windows ending at or before this (ms) are closed in every partition of h-<env>. */
  closedBeforeMs: number;
  partitions: PartitionProgress[];
  /** Part keys found on c-<env> (records written at or after --from). */
  compressedParts: Set<string>;
  /** c-<env> still holds every part written at or after this (ms); -Infinity: all it ever had. */
  compressedSinceMs: number;
}

/** The compressor's checkpoint object of a partition (written by apps/compressor, read here only). */
export const compressorCheckpointKey = (env: string, partition: number) => `${env}/_state/compressor/${harvestTopic(env)}/p${partition}.json`;

const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);

async function readCheckpoint(s3: S3Port, env: string, partition: number): Promise<{ offset: bigint; watermark: number | null } | undefined> {
  let body: Buffer;
  try {
    body = await s3.get(compressorCheckpointKey(env, partition), { maxBytes: 4 << 20 });
  } catch (e) {
    if (isS3AdapterError(e) && e.code === 'S3_NOT_FOUND') return undefined;
    throw e;
  }
  try {
    const cp = JSON.parse(body.toString('utf8')) as { offset?: unknown; watermark?: unknown };
    if (typeof cp.offset !== 'string' || !/^\d+$/.test(cp.offset)) return undefined;
    return { offset: BigInt(cp.offset), watermark: typeof cp.watermark === 'number' && Number.isFinite(cp.watermark) ? cp.watermark : null };
  } catch {
    return undefined;
  }
}

export interface EvidenceOptions {
  env: string;
  fromMs: number;
  nowMs: number;
  /** The compressor's graceSeconds, ms: a window is sealed once the watermark passed its end + this. */
  graceMs: number;
  /** Reading c-<env> gives up after this long (then windows without parts are `unknown`). */
  timeoutMs: number;
}

/**
 * Reads how far the compressor got (committed offsets, checkpoints) and which parts it announced on
 * c-<env> since `fromMs`. Throws when Kafka cannot be read; the caller reports windows without parts
 * as `unknown` then.
 */
export async function compressorEvidence(kafka: KafkaClient, s3: S3Port, opts: EvidenceOptions): Promise<CompressorEvidence> {
  const hTopic = harvestTopic(opts.env);
  const cTopic = compressedTopic(opts.env);
  const admin = kafka.admin();
  await admin.connect();
  let hOffsets: Array<{ partition: number; low: string; high: string }> = [];
  let committed = new Map<number, string>();
  let cOffsets: Array<{ partition: number; low: string; high: string }> = [];
  let cStarts = new Map<number, bigint>();
  try {
    const topics = await admin.listTopics();
    if (topics.includes(hTopic)) {
      hOffsets = await admin.topicOffsets(hTopic);
      committed = new Map((await admin.groupOffsets(`compressor-${opts.env}`, hTopic)).map((p) => [p.partition, p.offset]));
    }
    if (topics.includes(cTopic)) {
      cOffsets = await admin.topicOffsets(cTopic);
      // A window's part is produced after the window ended, so after --from: earlier records name none of the range's windows.
      cStarts = new Map((await admin.topicOffsetsAt(cTopic, opts.fromMs)).map((p) => [p.partition, BigInt(p.offset)]));
    }
  } finally {
    await admin.disconnect().catch(() => undefined);
  }

  const partitions: PartitionProgress[] = [];
  let closedBeforeMs = opts.nowMs - opts.graceMs;
  for (const p of hOffsets) {
    const cp = await readCheckpoint(s3, opts.env, p.partition);
    const c = committed.get(p.partition);
    const kafkaCommitted = c !== undefined && /^\d+$/.test(c) ? BigInt(c) : undefined;
    let archived = kafkaCommitted ?? -1n;
    if (cp && cp.offset > archived) archived = cp.offset;
    const low = BigInt(p.low);
    const high = BigInt(p.high);
    // Caught up (or nothing left to read): every event of the partition is in S3.
    let closed: number;
    if (low >= high || archived >= high) closed = opts.nowMs - opts.graceMs;
    else closed = cp?.watermark != null ? cp.watermark - opts.graceMs : -Infinity;
    closedBeforeMs = Math.min(closedBeforeMs, closed);
    partitions.push({
      partition: p.partition,
      end: p.high,
      committed: kafkaCommitted?.toString() ?? null,
      checkpoint: cp?.offset.toString() ?? null,
      watermark: cp?.watermark != null ? iso(cp.watermark) : null,
      closedBefore: iso(closed),
    });
  }

  // c-<env>: which parts were written. Coverage: a partition that lost records to retention covers
  // only parts written from its first record on (unless that record is older than --from).
  const compressedParts = new Set<string>();
  let compressedSinceMs = -Infinity;
  const ends = new Map(cOffsets.map((p) => [p.partition, BigInt(p.high)]));
  const needFirstTime = new Set<number>();
  for (const p of cOffsets) {
    const low = BigInt(p.low);
    const start = cStarts.get(p.partition) ?? low;
    if (low === 0n || start > low) continue;
    if (start >= BigInt(p.high)) compressedSinceMs = Math.max(compressedSinceMs, opts.nowMs);
    else needFirstTime.add(p.partition);
  }
  const pending = new Set([...ends].filter(([p, high]) => (cStarts.get(p) ?? 0n) < high).map(([p]) => p));
  if (pending.size) {
    // A private group that never commits: a one-off read of a range of offsets, keys and times only kept.
    const consumer = kafka.consumer({ groupId: `archive-verify-${opts.env}-${randomBytes(6).toString('hex')}`, maxBytesPerPartition: 4 << 20, maxWaitTimeMs: 200 });
    let finish: () => void = () => undefined;
    const finished = new Promise<void>((r) => (finish = r));
    let timer: NodeJS.Timeout | undefined;
    try {
      await consumer.connect();
      consumer.onGroupJoin((j) => {
        for (const p of j.assignment[cTopic] ?? []) {
          const at = cStarts.get(p);
          if (at !== undefined && at > 0n) consumer.seek({ topic: cTopic, partition: p, offset: at.toString() });
        }
      });
      await consumer.subscribe([cTopic], { fromBeginning: true });
      await consumer.run(async (batch) => {
        const start = cStarts.get(batch.partition) ?? 0n;
        const high = ends.get(batch.partition) ?? 0n;
        for (const r of batch.records) {
          const off = BigInt(r.offset);
          if (off < start || off >= high) continue;
          if (needFirstTime.delete(batch.partition)) compressedSinceMs = Math.max(compressedSinceMs, r.timestamp);
          const key = r.key?.toString('utf8');
          if (key) compressedParts.add(key);
        }
        const last = batch.records[batch.records.length - 1];
        if (last && BigInt(last.offset) >= high - 1n) pending.delete(batch.partition);
        if (BigInt(batch.highWatermark) <= start) pending.delete(batch.partition);
        if (pending.size === 0) finish();
      });
      const timedOut = await Promise.race([finished.then(() => false), new Promise<boolean>((r) => (timer = setTimeout(() => r(true), opts.timeoutMs)))]);
      if (timedOut) throw new Error(`reading ${cTopic} took over ${opts.timeoutMs} ms`);
    } finally {
      clearTimeout(timer);
      await consumer.disconnect().catch(() => undefined);
    }
  }
  return { closedBeforeMs, partitions, compressedParts, compressedSinceMs };
}

/**
 * Each window's state from the complete parts listed in S3 (their c-<env> keys, by window) and the
 * compressor's evidence (undefined when Kafka could not be read; `why` says why). Pure.
 */
export function classifyWindows(
  env: string,
  windows: readonly string[],
  s3Parts: ReadonlyMap<string, ReadonlySet<string>>,
  evidence: CompressorEvidence | undefined,
  why = 'Kafka could not be read',
): { reports: WindowReport[]; lostPartKeys: string[] } {
  const announced = new Map<string, string[]>();
  for (const key of evidence?.compressedParts ?? []) {
    const w = key.split('/')[0] ?? '';
    let l = announced.get(w);
    if (!l) announced.set(w, (l = []));
    l.push(key);
  }
  const reports: WindowReport[] = [];
  const lostPartKeys: string[] = [];
  for (const w of windows) {
    const win = parseWindowId(w);
    const end = windowEndMs(win);
    const inS3 = s3Parts.get(w) ?? new Set<string>();
    const lost = (announced.get(w) ?? []).filter((k) => !inS3.has(k)).sort();
    const base = { window: w, start: new Date(windowStartMs(win)).toISOString(), parts: inS3.size };
    if (lost.length) {
      reports.push({ ...base, state: 'missing', lost });
      for (const k of lost) {
        const m = /^[0-9a-z]+\/p(\d+)-(\d+)$/.exec(k);
        lostPartKeys.push(m ? partKey(env, win, Number(m[1]), m[2] as string) : k);
      }
    } else if (inS3.size) reports.push({ ...base, state: 'present' });
    else if (!evidence) reports.push({ ...base, state: 'unknown', reason: why });
    else if (end > evidence.closedBeforeMs) reports.push({ ...base, state: 'open', reason: 'the compressor has not sealed this window yet' });
    else if (end < evidence.compressedSinceMs)
      reports.push({ ...base, state: 'unknown', reason: `c-${env} no longer holds the records of parts written before ${new Date(evidence.compressedSinceMs).toISOString()}` });
    else reports.push({ ...base, state: 'idle' });
  }
  return { reports, lostPartKeys };
}
