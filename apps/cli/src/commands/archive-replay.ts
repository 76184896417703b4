import { resolve } from 'node:path';
import type { Producer, ProduceRecord } from '@backlog/adapter-kafka';
import type { S3Port } from '@backlog/adapter-s3';
import { type BatchEvent, encodeBatch, harvestTopic } from '@backlog/core-codec';
import { CheckpointStore, type RunOptions, type RunSummary, RunTracker, defaultStatePath, planRun, stableUuid, stallAfterParts, stallForever } from './archive-run';

/**
 * `backlog archive replay --topic T`: the events of [from, to) produced again as h-<env> records
 * (gzip NDJSON batches, docs/specs/topic-h.md) so that es-consumer or the compressor can read the
 * topic like a harvester's. One part at a time, in window order; a part is checkpointed once every
 * record of it is acknowledged (acks=all, idempotent producer), so a rerun never produces a finished
 * part again. A part interrupted half-way is produced again whole on resume: its first records then
 * exist twice, with the same `batch-id` and the same event ids (downstream de-duplicates on
 * `event.id`, the document `_id`).
 */

export interface ReplayBatchOptions {
  /** NDJSON bytes per batch before it is cut. Default 1 MiB. */
  maxRawBytes: number;
  /** A batch whose gzip value is larger is halved (the broker's max.message.bytes). Default 900 KiB. */
  maxValueBytes: number;
  /** All hosts' pending events together; above it every pending batch is cut. Default 16 MiB. */
  maxPendingBytes: number;
}

export const DEFAULT_REPLAY_BATCH: ReplayBatchOptions = { maxRawBytes: 1 << 20, maxValueBytes: 900 * 1024, maxPendingBytes: 16 << 20 };

/**
 * Turns one part's events into h-<env> records: per `host.name` (the record key, so one host's
 * batches stay in order on one partition), in part order (@timestamp sorted, one window: a batch never
 * straddles windows), cut by size. Batch ids derive from the part key and the batch's sequence
 * number, so the same part replayed again yields the same ids. Deterministic.
 */
export class ReplayBatcher {
  private readonly pending = new Map<string, { events: BatchEvent[]; raw: number }>();
  private pendingBytes = 0;
  private seq = 0;

  constructor(
    private readonly partKey: string,
    private readonly opts: ReplayBatchOptions = DEFAULT_REPLAY_BATCH,
  ) {}

  /** Adds an event (its NDJSON line and parsed form); returns the records that became full. */
  add(event: BatchEvent, line: string): ProduceRecord[] {
    const host = typeof event.host?.name === 'string' && event.host.name ? event.host.name : '_unknown';
    const n = Buffer.byteLength(line) + 1;
    const out: ProduceRecord[] = [];
    const full = this.pending.get(host);
    if (full && full.raw + n > this.opts.maxRawBytes) out.push(...this.cut(host));
    let p = this.pending.get(host);
    if (!p) this.pending.set(host, (p = { events: [], raw: 0 }));
    p.events.push(event);
    p.raw += n;
    this.pendingBytes += n;
    if (this.pendingBytes > this.opts.maxPendingBytes) out.push(...this.flush());
    return out;
  }

  /** Every pending batch as records (end of the part). */
  flush(): ProduceRecord[] {
    const out: ProduceRecord[] = [];
    for (const host of [...this.pending.keys()].sort()) out.push(...this.cut(host));
    return out;
  }

  private cut(host: string): ProduceRecord[] {
    const p = this.pending.get(host);
    this.pending.delete(host);
    if (!p || !p.events.length) return [];
    this.pendingBytes -= p.raw;
    return this.encode(host, p.events);
  }

  private encode(host: string, events: BatchEvent[]): ProduceRecord[] {
    const b = encodeBatch(events, { host, batchId: stableUuid(`${this.partKey}#${this.seq}`) });
    if (b.value.length > this.opts.maxValueBytes && events.length > 1) {
      const mid = events.length >> 1;
      return [...this.encode(host, events.slice(0, mid)), ...this.encode(host, events.slice(mid))];
    }
    this.seq++;
    return [{ key: b.key, value: b.value, headers: { ...b.headers } }];
  }
}

export interface ReplayOptions extends RunOptions {
  topic: string;
  batch?: Partial<ReplayBatchOptions>;
  /** Bytes of records per produce request. Default 4 MiB. */
  maxRequestBytes?: number;
}

/** Why a topic must not be a replay target without --force. */
export function replayTargetRefusal(env: string, topic: string): string | undefined {
  if (topic === harvestTopic(env)) return `${topic} is the live topic of env ${env}: the compressor would archive these events a second time`;
  if (/^c-/.test(topic)) return `${topic} looks like a compressed-parts topic (c-<env>), which holds bz2 streams, not h-<env> batches`;
  return undefined;
}

export async function replayArchive(s3: S3Port, producer: Producer, opts: ReplayOptions): Promise<RunSummary> {
  const identity = { op: 'replay' as const, env: opts.env, from: new Date(opts.fromMs).toISOString(), to: new Date(opts.toMs).toISOString(), filter: opts.filter.text, topic: opts.topic };
  const statePath = opts.statePath ? resolve(opts.statePath) : defaultStatePath(opts.root, { op: 'replay', env: opts.env, fromMs: opts.fromMs, toMs: opts.toMs, topic: opts.topic });
  const cp = CheckpointStore.open(statePath, identity, opts.restart ?? false);
  cp.save();
  const run = new RunTracker(await planRun(s3, opts.env, opts.fromMs, opts.toMs, opts.filter), cp, opts);
  const progress = run.progress;
  const filtering = !opts.filter.matchesAll;
  const matches = opts.filter.test;
  const maxRequest = opts.maxRequestBytes ?? 4 << 20;
  const stall = stallAfterParts();
  let records = 0;

  for await (const r of run.read(s3, opts)) {
    let bad = r.bad;
    let events = 0;
    if (!bad && r.batches) {
      const batcher = new ReplayBatcher(r.part.key, { ...DEFAULT_REPLAY_BATCH, ...opts.batch });
      let queue: ProduceRecord[] = [];
      let queued = 0;
      let sentBatches = 0;
      const send = async (force: boolean) => {
        if (!queue.length || (!force && queued < maxRequest)) return;
        const q = queue;
        queue = [];
        queued = 0;
        await producer.send(opts.topic, q);
        records += q.length;
        sentBatches++;
        if (stall !== undefined && run.finishedHere === stall && sentBatches === 1) await stallForever();
      };
      const enqueue = async (recs: ProduceRecord[]) => {
        for (const rec of recs) {
          queue.push(rec);
          queued += rec.value.length;
        }
        await send(false);
      };
      try {
        for await (const batch of r.batches) {
          let n = 0;
          for (const line of batch) {
            const ev = JSON.parse(line) as BatchEvent;
            if (filtering && !matches(ev)) continue;
            n++;
            await enqueue(batcher.add(ev, line));
          }
          events += n;
          progress.events += n;
          progress.tick();
          // The stall hook wants a record of the part out before it stops.
          if (stall !== undefined && run.finishedHere === stall) await send(true);
        }
        await enqueue(batcher.flush());
        await send(true);
      } catch (e) {
        progress.events -= events;
        bad = run.badPart(r.part, e as Error);
      }
    }
    if (bad) {
      run.corruptPart(bad);
      continue;
    }
    run.partDone(r.part.key, { events });
  }
  progress.end();
  return run.summary(identity, { topic: opts.topic }, { state: statePath }, { records });
}
