import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { resourceUsage } from 'node:process';
import type { Admin, ConsumedBatch, ConsumedRecord, Consumer, KafkaClient, Producer } from '@backlog/adapter-kafka';
import { type S3Port, isS3AdapterError } from '@backlog/adapter-s3';
import { CodecError, compressedRecords, compressedTopic, harvestTopic, manifestKey, partKey, serializeManifest, windowEndMs } from '@backlog/core-codec';
import { type Logger, isNoSpaceError, isSystemError } from '@backlog/core-pipeline';
import { ensurePrivateDir } from '@backlog/platform-config';
import type { MetricsRegistry } from '@backlog/platform-telemetry';
import { type Checkpoint, type InFlight, type PartBuffer, PartitionAssembler, latenessBucket } from './assembler';
import { Bz2Error, Bz2Pool } from './bz2-pool';
import type { CompressorSettings } from './config';
import { type CompressorMetrics, compressorMetrics } from './metrics';
import { BatchScanner } from './scan';
import { sealPart } from './sealer';
import { fileTimes } from './times';
import { SpillFile } from './spill';

type Settings = CompressorSettings;

export interface CompressorDeps {
  env: string;
  settings: Settings;
  kafka: KafkaClient;
  s3: S3Port;
  logger: Logger;
  metrics: MetricsRegistry;
  /** Wall clock (the idle rule only). */
  now?: () => number;
}

/** Where a partition's checkpoint lives: beside the archive, since S3 is the system of record. */
export const checkpointKey = (env: string, partition: number) => `${env}/_state/compressor/${harvestTopic(env)}/p${partition}.json`;
/** Where a record that could not be archived is kept, with its reason. */
export const deadLetterKey = (env: string, partition: number, offset: string) => `${env}/dead-letter/${harvestTopic(env)}/p${partition}-${offset}.json`;

interface PState {
  partition: number;
  asm: PartitionAssembler;
  lastRecordAt: number;
  busy: boolean;
  committed?: string;
  lastCheckpoint?: string;
  spillSeq: number;
  /** High watermark of the partition at the last fetch (for compressor_committed_lag). */
  highWatermark?: string;
  /** Newest window whose main part was written. */
  newestSealedWindow?: number;
}

class Stopped extends Error {
  constructor() {
    super('compressor stopped before the write was acknowledged');
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
/** kafkajs sends at most this many part records per request (each ≤ maxRecordBytes). */
const RECORDS_PER_SEND = 8;
/** While the scratch disk is full, how often it is probed (when no bz2 retry says so first), ms. */
const SCRATCH_PROBE_MS = 1000;
/** Size of that probe write, bytes. */
const SCRATCH_PROBE_BYTES = 1024 * 1024;

/**
 * h-<env> → sorted bz2 parts per (window, partition) → S3 (part + manifest) and c-<env>.
 * Commits an h-<env> offset only when every event below it is acknowledged by both (ADR 0005 and
 * docs/specs/archive.md). Framework-free: main.ts wires it to config, telemetry and signals.
 */
export class Compressor {
  readonly hTopic: string;
  readonly cTopic: string;
  private readonly m: CompressorMetrics;
  private readonly pool: Bz2Pool;
  private readonly states = new Map<number, PState>();
  private readonly tasks = new Set<Promise<void>>();
  /** batchLines is synchronous and its result owns what it holds, so one scanner serves every partition (its learned layouts carry over). */
  private readonly scanner = new BatchScanner();
  private readonly waiters: (() => void)[] = [];
  private consumer?: Consumer;
  private producer?: Producer;
  private admin?: Admin;
  private timers: NodeJS.Timeout[] = [];
  private inflight = 0;
  private stopping = false;
  private aborted = false;
  private committing = false;
  private started = false;
  private fatal?: Error;
  private peakBuffered = 0;
  /** The scratch directory's disk refused a write (spill file or bz2 job): consumption pauses until it takes writes again. */
  private scratchFull = false;
  private nextScratchProbe = 0;
  private stopPromise?: Promise<void>;
  private readonly now: () => number;
  /** Called when the consumer crashed for good; main.ts decides to exit. */
  onFatal?: (err: Error) => void;
  /** This process's spill files: a private directory in the scratch location (bz2-pool removes a dead run's). */
  private readonly spillDir: string;

  constructor(private readonly deps: CompressorDeps) {
    this.hTopic = harvestTopic(deps.env);
    this.cTopic = compressedTopic(deps.env);
    this.m = compressorMetrics(deps.metrics);
    // The pool prepares the scratch location (private, checked) and removes what a killed run left there.
    this.pool = new Bz2Pool({ tool: deps.settings.codec, workers: deps.settings.workers, tmpDir: deps.settings.spillDir });
    this.spillDir = join(deps.settings.spillDir, `spill-${process.pid}`);
    this.now = deps.now ?? Date.now;
  }

  get encoder(): string {
    return this.pool.encoder;
  }

  /** Ensures the topics, joins group `compressor-<env>` and starts consuming; returns once running. */
  async start(): Promise<void> {
    const s = this.deps.settings;
    this.admin = this.deps.kafka.admin();
    await this.admin.connect();
    await this.admin.ensureTopics([{ topic: this.hTopic, partitions: s.harvestPartitions }]);
    const hParts = (await this.admin.topicOffsets(this.hTopic)).length;
    await this.admin.ensureTopics([
      {
        topic: this.cTopic,
        partitions: s.compressedPartitions || hParts,
        // One whole stream per record plus headers (the last carries the manifest).
        config: { 'max.message.bytes': String(s.maxRecordBytes + 512 * 1024) },
      },
    ]);
    this.producer = this.deps.kafka.producer();
    await this.producer.connect();
    this.consumer = this.deps.kafka.consumer({
      groupId: `compressor-${this.deps.env}`,
      sessionTimeoutMs: s.sessionTimeoutMs,
      heartbeatIntervalMs: Math.min(3_000, Math.floor(s.sessionTimeoutMs / 3)),
      // A record is ≤ 900 KiB by contract; leave room so one never stalls a fetch.
      maxBytesPerPartition: 2 * 1024 * 1024,
      maxBytes: 16 * 1024 * 1024,
    });
    await this.consumer.connect();
    this.consumer.onGroupJoin((e) => {
      // After a rebalance kafkajs fetches from the committed offsets again, so in-memory state of
      // every partition is stale: drop it and reopen each from its checkpoint when records arrive.
      this.deps.logger.info('group joined', { assignment: e.assignment[this.hTopic] ?? [] });
      for (const st of this.states.values()) this.dropState(st);
      this.states.clear();
    });
    this.consumer.onCrash((e) => {
      this.deps.logger.error('consumer crashed', { code: e.error.code, error: e.error.message, restart: e.restart });
      if (!e.restart && !this.stopping) {
        this.fatal = e.error;
        this.onFatal?.(e.error);
      }
    });
    await this.consumer.subscribe([this.hTopic], { fromBeginning: true });
    await this.consumer.run((b) => this.onBatch(b), { autoResolve: false, partitionsConsumedConcurrently: s.partitionsConsumedConcurrently });
    this.timers.push(setInterval(() => void this.commitTick(), s.commitIntervalMs));
    this.timers.push(setInterval(() => this.idleTick(), Math.min(1000, s.idleSeconds * 500)));
    this.started = true;
    this.deps.logger.info('compressor started', { topic: this.hTopic, out: this.cTopic, encoder: this.pool.encoder, workers: s.workers });
  }

  health(): { ok: boolean; [k: string]: unknown } {
    return {
      // Unhealthy while the scratch disk is full: consumption is paused until an operator frees space.
      ok: this.started && !this.fatal && !this.stopping && !this.scratchFull,
      scratch: this.scratchFull ? 'full' : 'ok',
      partitions: [...this.states.keys()].sort((a, b) => a - b),
      inflightParts: this.inflight,
      bufferedBytes: this.bufferedBytes(),
      bufferedPeakBytes: this.peakBuffered,
      encoder: this.pool.encoder,
    };
  }

  /** Peak buffered bytes and peak RSS since start (the issue asks the peak to be reported). */
  peaks(): { bufferedBytes: number; rssBytes: number } {
    return { bufferedBytes: this.peakBuffered, rssBytes: resourceUsage().maxRSS * 1024 };
  }

  /**
   * Stops intake, waits for sealed parts to be acknowledged (until the deadline), commits, leaves the
   * group. Open windows are *not* sealed early: that would change the parts an uninterrupted run
   * writes; the next owner re-reads them from the committed offset. Safe to call twice.
   */
  stop(deadlineMs = 30_000): Promise<void> {
    this.stopPromise ??= this.doStop(deadlineMs);
    return this.stopPromise;
  }

  private async doStop(deadlineMs: number): Promise<void> {
    const until = this.now() + deadlineMs;
    this.stopping = true;
    for (const t of this.timers) clearInterval(t);
    this.wake();
    if (this.consumer) this.consumer.pause([{ topic: this.hTopic }]);
    while (this.tasks.size && this.now() < until) await Promise.race([sleep(200), ...this.tasks]);
    if (this.tasks.size) {
      this.deps.logger.warn('stop deadline: abandoning unacknowledged parts (they are re-read on restart)', { parts: this.tasks.size });
      this.aborted = true;
    }
    await this.commitTick(true).catch(() => undefined);
    await this.consumer?.disconnect().catch(() => undefined);
    await this.producer?.disconnect().catch(() => undefined);
    await this.admin?.disconnect().catch(() => undefined);
    for (const st of this.states.values()) this.dropState(st);
    this.states.clear();
    await this.pool.close().catch(() => undefined);
    rmSync(this.spillDir, { recursive: true, force: true });
    this.m.rssPeak.set(this.peaks().rssBytes);
  }

  private dropState(st: PState): void {
    for (const b of st.asm.clear()) b.spill?.delete();
  }

  private async openPartition(partition: number): Promise<PState> {
    const key = checkpointKey(this.deps.env, partition);
    const cp = await this.retry('s3', async () => {
      try {
        return JSON.parse((await this.deps.s3.get(key)).toString('utf8')) as Checkpoint;
      } catch (e) {
        if (isS3AdapterError(e) && e.code === 'S3_NOT_FOUND') return undefined;
        throw e;
      }
    });
    const s = this.deps.settings;
    const asm = new PartitionAssembler(
      {
        partition,
        graceMs: s.graceSeconds * 1000,
        maxFutureSkewMs: s.maxFutureSkewSeconds * 1000,
        lateLingerOffsets: s.lateLingerOffsets,
        maxPartRawBytes: s.maxPartRawBytes,
      },
      { offset: cp ? BigInt(cp.offset) : 0n, checkpoint: cp },
    );
    const st: PState = { partition, asm, lastRecordAt: this.now(), busy: false, committed: cp?.offset, lastCheckpoint: cp ? JSON.stringify(cp) : undefined, spillSeq: 0 };
    this.deps.logger.info('partition opened', { partition, from: cp?.offset ?? 'committed offset', watermark: cp?.watermark ?? null, sealedWindows: cp?.sealed.length ?? 0 });
    return st;
  }

  private async onBatch(batch: ConsumedBatch): Promise<void> {
    const p = batch.partition;
    let st = this.states.get(p);
    if (!st) {
      st = await this.openPartition(p);
      if (this.stopping || batch.isStale()) return;
      this.states.set(p, st);
    }
    st.busy = true;
    st.highWatermark = batch.highWatermark;
    this.updateLag(st);
    try {
      for (const rec of batch.records) {
        await this.waitCapacity(batch, st);
        if (this.stopping || !batch.isRunning() || batch.isStale() || this.states.get(p) !== st) return;
        const off = BigInt(rec.offset);
        // Below the checkpoint: a commit that did not land after its checkpoint did; already archived.
        if (off >= st.asm.nextOffset) this.processRecord(st, rec, off);
        batch.resolveOffset(rec.offset);
        st.lastRecordAt = this.now();
      }
    } finally {
      st.busy = false;
      st.lastRecordAt = this.now();
    }
  }

  private processRecord(st: PState, rec: ConsumedRecord, off: bigint): void {
    const s = this.deps.settings;
    const plabel = String(st.partition);
    this.m.records.inc({ partition: plabel });
    if (!rec.value || rec.value.length === 0) {
      this.deadLetter(st, rec, 'empty', 'record has no value');
      this.launch(st, st.asm.skipOffset(off));
      return;
    }
    let decoded;
    try {
      // Raw lines kept as bytes, sort key and facets read by a scanner (scan.ts): no JSON.parse per event.
      decoded = this.scanner.batchLines(rec.value, s.maxBatchRawBytes);
    } catch (e) {
      if (!(e instanceof CodecError)) throw e;
      const reason = e.code === 'BATCH_TOO_LARGE' ? 'too_large' : e.code === 'BATCH_NOT_GZIP' ? 'not_gzip' : 'corrupt';
      this.deadLetter(st, rec, reason, e.message);
      this.launch(st, st.asm.skipOffset(off));
      return;
    }
    const { bad } = decoded;
    this.m.events.inc({ partition: plabel }, decoded.count);
    if (bad.length) this.deadLetter(st, rec, 'bad_lines', `${bad.length} line(s) are not archivable events`, bad);
    // Times far ahead of the record (or before 1970) would open windows that never close (ADR 0015).
    const { cols, slowLines, replaced } = fileTimes(decoded, rec.timestamp, s.timestamps.maxFutureSkewSeconds * 1000);
    for (const [reason, n] of replaced) this.m.timestampReplaced.inc({ reason }, n);
    const res = st.asm.addRecord(off, rec.timestamp, slowLines, cols);
    if (st.asm.spillError !== undefined) {
      // A spilled part's new run stayed in memory: the scratch disk is full.
      this.scratchRefused('spill', st.asm.spillError);
      st.asm.spillError = undefined;
    }
    if (res.skipped) this.m.skipped.inc({ partition: plabel }, res.skipped);
    for (const l of res.late) this.m.late.inc({ bucket: latenessBucket(l.latenessMs) });
    if (Number.isFinite(st.asm.watermark)) this.m.watermark.set({ partition: plabel }, st.asm.watermark / 1000);
    this.enforceMemory();
    this.launch(st, res.seal);
  }

  private updateLag(st: PState): void {
    if (st.highWatermark === undefined || st.committed === undefined) return;
    const lag = BigInt(st.highWatermark) - BigInt(st.committed);
    this.m.lag.set({ topic: this.hTopic, partition: String(st.partition) }, Number(lag > 0n ? lag : 0n));
  }

  private bufferedBytes(): number {
    let n = 0;
    for (const st of this.states.values()) n += st.asm.memBytes;
    return n;
  }

  /** Spills the largest buffers once the buffered bytes pass the cap, down to half of it. */
  private enforceMemory(): void {
    let total = this.bufferedBytes();
    if (total > this.peakBuffered) {
      this.peakBuffered = total;
      this.m.bufferedPeak.set(total);
    }
    const cap = this.deps.settings.memoryCapBytes;
    if (total > cap) {
      const all = [...this.states.values()].flatMap((st) => st.asm.buffers().map((b) => ({ st, b })));
      all.sort((x, y) => y.b.memBytes - x.b.memBytes);
      for (const { st, b } of all) {
        if (total <= cap / 2) break;
        let freed: number;
        try {
          freed = st.asm.spillBuffer(b, () => SpillFile.create(this.spillDir, `${this.deps.env}-p${st.partition}-${b.window}-${b.firstOffset}-${process.pid}-${st.spillSeq++}.spill`));
        } catch (e) {
          if (!isSystemError(e)) throw e;
          // The runs stay in memory (spillBuffer is all or nothing); consumption pauses, so memory stops growing.
          this.scratchRefused('spill', e);
          break;
        }
        total -= freed;
        this.m.spilled.inc(freed);
      }
    }
    this.m.buffered.set(total);
  }

  private async waitCapacity(batch: ConsumedBatch, st: PState): Promise<void> {
    let lastBeat = this.now();
    while ((this.inflight >= this.deps.settings.maxInFlightParts || this.scratchFull) && !this.stopping) {
      await new Promise<void>((r) => {
        const t = setTimeout(r, 1000);
        this.waiters.push(() => {
          clearTimeout(t);
          r();
        });
      });
      st.lastRecordAt = this.now();
      // Backpressure can last as long as S3 is down: keep the group membership alive meanwhile.
      if (this.now() - lastBeat > 2000) {
        lastBeat = this.now();
        await batch.heartbeat().catch(() => undefined);
      }
    }
  }

  private wake(): void {
    for (const w of this.waiters.splice(0)) w();
  }

  private idleTick(): void {
    if (this.stopping) return;
    if (this.scratchFull && this.now() >= this.nextScratchProbe) this.probeScratch();
    const idleMs = this.deps.settings.idleSeconds * 1000;
    const now = this.now();
    for (const st of this.states.values()) {
      if (st.busy || now - st.lastRecordAt < idleMs) continue;
      this.launch(st, st.asm.sealIdle(now));
    }
  }

  private launch(st: PState, bufs: PartBuffer[]): void {
    for (const b of bufs) this.track(st, b, () => this.writePart(st, b));
  }

  private track(st: PState, item: InFlight, work: () => Promise<void>): void {
    this.inflight++;
    this.m.inflight.set(this.inflight);
    const t0 = this.now();
    const task = work()
      .then(() => {
        st.asm.done(item);
        this.m.sealSeconds.observe((this.now() - t0) / 1000);
      })
      .catch((e: unknown) => {
        if (!(e instanceof Stopped)) this.deps.logger.error('part write failed', { partition: st.partition, error: (e as Error).message });
      })
      .finally(() => {
        this.inflight--;
        this.m.inflight.set(this.inflight);
        this.tasks.delete(task);
        (item as Partial<PartBuffer>).spill?.delete();
        this.wake();
      });
    this.tasks.add(task);
  }

  private async writePart(st: PState, b: PartBuffer): Promise<void> {
    const s = this.deps.settings;
    const env = this.deps.env;
    const sealed = await this.retry('bz2', async () => {
      try {
        const part = await sealPart(b, this.pool, { env, topic: this.hTopic, partition: st.partition, streamRawBytes: s.streamRawBytes, maxRecordBytes: s.maxRecordBytes });
        this.scratchOk();
        return part;
      } catch (e) {
        // Nothing of a failed job is used: the part is made again, whole, once the scratch disk has room.
        if (e instanceof Bz2Error && e.code === 'BZ2_NO_SPACE') this.scratchRefused('bz2', e);
        throw e;
      }
    });
    const { object, manifest } = sealed;
    const first = b.firstOffset.toString();
    // Part first, manifest second: a manifest present means its part is complete.
    await this.retry('s3', () => this.deps.s3.put(partKey(env, b.window, st.partition, first), object, { contentType: 'application/x-bzip2' }));
    await this.retry('s3', () => this.deps.s3.put(manifestKey(env, b.window, st.partition, first), serializeManifest(manifest), { contentType: 'application/json' }));
    const recs = compressedRecords(object, manifest);
    for (let i = 0; i < recs.length; i += RECORDS_PER_SEND) {
      const chunk = recs.slice(i, i + RECORDS_PER_SEND);
      await this.retry('kafka', () =>
        (this.producer as Producer).send(
          this.cTopic,
          chunk.map((r) => ({ key: r.key, value: r.value, headers: r.headers })),
        ),
      );
    }
    this.m.parts.inc({ kind: b.late ? 'late' : 'main' });
    if (!b.late && (st.newestSealedWindow === undefined || b.window > st.newestSealedWindow)) {
      st.newestSealedWindow = b.window;
      this.m.sealedWindowEnd.set({ partition: String(st.partition) }, windowEndMs(b.window) / 1000);
    }
    this.m.partEvents.inc(manifest.count);
    this.m.rawBytes.inc(manifest.rawBytes);
    this.m.compressedBytes.inc(manifest.compressedBytes);
    if (sealed.oversizedStreams) this.m.oversizedStreams.inc(sealed.oversizedStreams);
    this.deps.logger.debug('part written', { window: manifest.window, partition: st.partition, firstOffset: first, count: manifest.count, late: manifest.late, streams: manifest.streams.length });
  }

  /**
   * The scratch directory's disk refused a write (ENOSPC, EDQUOT, EFBIG, or another I/O error): stop
   * taking records (waitCapacity) until a bz2 job or a probe write succeeds. Commits go on only as far as
   * parts are acknowledged, so nothing past an unwritten event is committed; no part is written from a
   * failed job or a torn spill file.
   */
  private scratchRefused(kind: 'spill' | 'bz2' | 'probe', e: unknown): void {
    this.m.scratchErrors.inc({ kind, reason: isNoSpaceError(e) || (e instanceof Bz2Error && e.code === 'BZ2_NO_SPACE') ? 'no_space' : 'io' });
    this.nextScratchProbe = this.now() + SCRATCH_PROBE_MS;
    if (this.scratchFull) return;
    this.scratchFull = true;
    this.m.scratchFull.set(1);
    this.deps.logger.error('scratch disk refused a write: consumption paused until it accepts writes again', { kind, dir: this.spillDir, error: (e as Error).message });
  }

  private scratchOk(): void {
    if (!this.scratchFull) return;
    this.scratchFull = false;
    this.m.scratchFull.set(0);
    this.deps.logger.info('scratch disk accepts writes again: consumption resumes');
    this.wake();
  }

  /** A write of SCRATCH_PROBE_BYTES in the scratch directory, removed at once: whether space returned. */
  private probeScratch(): void {
    const dir = this.spillDir;
    const file = join(dir, `probe-${process.pid}`);
    try {
      ensurePrivateDir(dir);
      const fd = openSync(file, 'w');
      try {
        const buf = Buffer.alloc(SCRATCH_PROBE_BYTES);
        for (let off = 0; off < buf.length;) off += writeSync(fd, buf, off, buf.length - off);
      } finally {
        closeSync(fd);
      }
      this.scratchOk();
    } catch (e) {
      this.scratchRefused('probe', e);
    } finally {
      rmSync(file, { force: true });
    }
  }

  private deadLetter(st: PState, rec: ConsumedRecord, reason: string, message: string, badLines?: { line: number; reason: string; raw: string }[]): void {
    const hold = st.asm.holdOffset(BigInt(rec.offset));
    this.m.deadLetters.inc({ reason });
    if (badLines) this.m.deadLetterEvents.inc({ reason }, badLines.length);
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(rec.headers)) headers[k] = v.toString('utf8');
    // Deterministic content (no wall-clock time): a re-read rewrites the same object.
    const body = {
      schema: 1,
      reason,
      message,
      topic: rec.topic,
      partition: rec.partition,
      offset: rec.offset,
      timestamp: rec.timestamp,
      key: rec.key?.toString('utf8') ?? null,
      headers,
      ...(badLines ? { badLines } : { valueBase64: rec.value?.toString('base64') ?? null }),
    };
    const key = deadLetterKey(this.deps.env, rec.partition, rec.offset);
    this.deps.logger.warn('dead letter', { partition: rec.partition, offset: rec.offset, reason, message, key });
    this.track(st, hold, () => this.retry('s3', () => this.deps.s3.put(key, Buffer.from(JSON.stringify(body) + '\n'), { contentType: 'application/json' })).then(() => undefined));
  }

  /** Moves each partition's committed offset to its checkpoint: checkpoint object first, then Kafka. */
  private async commitTick(final = false): Promise<void> {
    if (this.committing || !this.consumer) return;
    this.committing = true;
    try {
      for (const st of [...this.states.values()]) {
        const cp = st.asm.checkpoint();
        const json = JSON.stringify(cp);
        if (json === st.lastCheckpoint && cp.offset === st.committed) continue;
        try {
          if (json !== st.lastCheckpoint) {
            await this.deps.s3.put(checkpointKey(this.deps.env, st.partition), Buffer.from(json), { contentType: 'application/json' });
            st.lastCheckpoint = json;
          }
          if (cp.offset !== st.committed) {
            await this.consumer.commit([{ topic: this.hTopic, partition: st.partition, offset: cp.offset }]);
            st.committed = cp.offset;
            this.m.committed.set({ partition: String(st.partition) }, Number(cp.offset));
            this.updateLag(st);
          }
        } catch (e) {
          // Not fatal: the next tick tries again, and a restart resumes from the older commit.
          if (!final) this.deps.logger.warn('commit failed, will retry', { partition: st.partition, error: (e as Error).message });
        }
      }
    } finally {
      this.committing = false;
    }
  }

  /**
   * Retries a write until it succeeds: S3 or Kafka being down makes the compressor wait (consumption
   * stops through backpressure), never lose or skip data. Gives up only when stop's deadline passed.
   */
  private async retry<T>(target: 's3' | 'kafka' | 'bz2', fn: () => Promise<T>): Promise<T> {
    let delay = 250;
    let attempt = 0;
    for (;;) {
      if (this.aborted) throw new Stopped();
      try {
        return await fn();
      } catch (e) {
        if (this.aborted) throw new Stopped();
        attempt++;
        this.m.retries.inc({ target });
        if (attempt === 1 || attempt % 20 === 0) this.deps.logger.warn(`${target} write failed, retrying`, { attempt, error: (e as Error).message, code: (e as { code?: string }).code });
        await sleep(delay);
        delay = Math.min(5_000, delay * 2);
      }
    }
  }
}
