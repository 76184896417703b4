import { randomBytes } from 'node:crypto';
import { type BatchEvent, ByteScratch, type SegmentMeta, type SpoolPosition, windowOf } from '@backlog/core-codec';
import { EventLine } from '@backlog/core-event';
import type { RecoveredWal, SegmentRef, Spool, WalHandle } from '../spool/spool';
import { type Line, encodeRawWithinCapAsync, encodeWithinCap, sortRaw, splitRecord } from './encode';
import type { EncodedBatch } from '@backlog/core-codec';
import type { ShippingMetrics } from './metrics';
import { type Logger, type SourceSink, isNoSpaceError, isSystemError } from '@backlog/core-pipeline';
import { type ShippingConfig, shippingConfigSchema } from './config';
import type { BatchSender, SendRefusal } from './port';
import { PositionTracker } from './positions';

/** The Shipper's options; their defaults are the `shipping` config schema's (config.ts, shipperOptions). */
export interface ShipperOptions {
  /** Record key and `host` header: this harvester's host name. */
  host: string;
  /** Close a batch this long after its first event, ms. */
  flushIntervalMs: number;
  /** Cap on a record's gzip value, bytes; keep it under the broker's max.message.bytes. */
  maxRecordBytes: number;
  /** Upper bound on a batch's raw NDJSON, bytes: the memory cap (highly compressible logs reach it before the 900 KiB record cap). */
  maxBatchRawBytes: number;
  /** Upper bound on events per batch. */
  maxBatchEvents: number;
  /** Open batches (one per 5-minute window) held at once; the oldest closes when exceeded. */
  maxOpenBatches: number;
  /** gzip level 1..9. */
  gzipLevel: number;
  /** Batches sent and not yet acknowledged at once. */
  maxInFlight: number;
  /** Spool size cap (WALs + segments), bytes. */
  spoolMaxBytes: number;
  /** When the spool is full: `block` tells the inputs to pause (nothing is lost), `drop_oldest` deletes the oldest unsent segment and counts it. */
  whenFull: 'block' | 'drop_oldest';
  /** Backoff between send retries, ms. */
  retryMinMs: number;
  retryMaxMs: number;
  /**
   * A batch the next hop refuses for good (not authorized, unknown topic, invalid record) moves to the
   * spool's quarantine after this many refusals in a row…
   */
  quarantineAfterAttempts: number;
  /** …spanning at least this long, ms (a topic created or an ACL fixed a moment late quarantines nothing). */
  quarantineAfterMs: number;
}

/** Back-off between send retries, ms: not configurable (the spool holds what waits). */
export const SHIP_RETRY_MIN_MS = 100;
export const SHIP_RETRY_MAX_MS = 5_000;

/** The Shipper's options from the `shipping` config section: its defaults are the schema's, nowhere else. */
export function shipperOptions(host: string, s: ShippingConfig): ShipperOptions {
  return {
    host,
    flushIntervalMs: s.flushIntervalMs,
    maxRecordBytes: s.maxRecordBytes,
    maxBatchRawBytes: s.maxBatchRawBytes,
    maxBatchEvents: s.maxBatchEvents,
    maxOpenBatches: s.maxOpenBatches,
    gzipLevel: s.gzipLevel,
    maxInFlight: s.maxInFlight,
    spoolMaxBytes: s.spool.maxBytes,
    whenFull: s.spool.whenFull,
    retryMinMs: SHIP_RETRY_MIN_MS,
    retryMaxMs: SHIP_RETRY_MAX_MS,
    quarantineAfterAttempts: s.spool.quarantineAfterAttempts,
    quarantineAfterMs: s.spool.quarantineAfterMs,
  };
}

/** shipperOptions of an empty `shipping` section (tests and benchmarks start from it). */
export const defaultShipperOptions: Omit<ShipperOptions, 'host'> = (({ host: _host, ...rest }) => rest)(shipperOptions('', shippingConfigSchema.parse({})));

export type ShipLogger = Pick<Logger, 'info' | 'warn' | 'error'>;

const silent: ShipLogger = { info: () => undefined, warn: () => undefined, error: () => undefined };

interface OpenBatch {
  id: string;
  window: number;
  /** @timestamp (ms) of each event, in WAL order; the events themselves are only in the WAL (ADR 0011). */
  ts: Float64Array;
  count: number;
  raw: number;
  wal: WalHandle;
  openedAt: number;
  positions: Map<string, string | number>;
}

/** The events of one write that fall in one window, serialized. */
interface WindowLines {
  window: number;
  text: string[];
  ts: number[];
  bytes: number;
}

/** A sink write on its way to the WALs: what is not written yet, and the batches it went into so far. */
interface PendingWrite {
  pending: WindowLines[];
  positions: readonly SpoolPosition[];
  touched: OpenBatch[];
  events: number;
  bytes: number;
}

/** A WAL of the previous run, read and waiting to be sealed (the disk was full at start). */
interface PendingRecovery {
  group: string;
  lines: Line[];
  positions: SpoolPosition[];
  createdAtMs: number;
  file: string;
}

/** Why the spool's disk refuses writes: no space (ENOSPC, EDQUOT, EFBIG), or another I/O error. */
export type DiskState = 'disk_full' | 'disk_error';

/**
 * inputs → open batch per 5-minute window (+ WAL) → closed segment (spool) → next hop → ack → delete
 * segment, commit source positions. Framework-free so it is unit-tested and benchmarked without Nest.
 */
export class Shipper implements SourceSink<BatchEvent | EventLine> {
  private readonly open = new Map<number, OpenBatch>();
  private readonly unclosed: OpenBatch[] = [];
  private readonly queue: SegmentRef[] = [];
  private readonly inflight = new Set<SegmentRef>();
  private readonly groups = new Map<string, number>();
  private readonly closedAt = new Map<number, number>();
  private readonly tracker: PositionTracker;
  private readonly listeners = new Set<() => void>();
  private readonly idleWaiters = new Set<() => void>();
  private readonly runId = randomBytes(4).toString('hex');
  private batchCounter = 0;
  private ratio = 5;
  private backoffMs = 0;
  private retryTimer: NodeJS.Timeout | undefined;
  private tick: NodeJS.Timeout | undefined;
  private blocked = false;
  /** Set while the spool's disk refuses writes (see diskFailed). */
  private disk: DiskState | undefined;
  private diskRetrying = false;
  private nextDiskRetry = 0;
  /** Writes the disk refused, in order, kept in memory until it accepts them (bounded by MAX_HELD_BYTES). */
  private readonly held: PendingWrite[] = [];
  private heldBytes = 0;
  /** WALs of the previous run whose segments could not be written at start (disk full): retried. */
  private readonly pendingRecovery: PendingRecovery[] = [];
  /** Open or unacknowledged batches by id: a held write's positions wait only for those. */
  private readonly live = new Set<string>();
  /** Segments the next hop refused for good, by seq: refusals in a row and when the first was. */
  private readonly refusals = new Map<number, { n: number; since: number }>();
  /** During start(): recovered positions are not tracked (a damaged file was found). */
  private recoveryHold = false;
  private nextQuarantineCount = 0;
  /** Closed batches whose gzip + segment write is under way (off the event loop), in order. */
  private sealing: Promise<void> = Promise.resolve();
  /** Where a seal sorts an out-of-order batch (one seal at a time). */
  private readonly sortScratch = new ByteScratch(0);
  private pendingSeals = 0;
  private stopping = false;
  private stopped: Promise<void> | undefined;
  private readonly log: ShipLogger;

  constructor(
    readonly opts: ShipperOptions,
    private readonly deps: { spool: Spool; sender: BatchSender; metrics: ShippingMetrics; onCommit?: (positions: SpoolPosition[]) => void; log?: ShipLogger },
  ) {
    this.tracker = new PositionTracker((p) => deps.onCommit?.(p));
    this.log = deps.log ?? silent;
  }

  /** Recovers the spool (resend segments, re-batch WALs), then starts sending. Returns quickly. */
  start(): { segments: number; walEvents: number; quarantined: number } {
    const rec = this.deps.spool.open();
    for (const q of rec.quarantined) {
      this.deps.metrics.quarantined.inc({ kind: q.file.includes('.wal') ? 'wal' : 'segment', reason: 'checksum' });
      this.log.warn('spool file quarantined', q);
    }
    if (rec.quarantined.length) {
      // What a damaged file held (and which sources it came from) cannot be trusted. The positions the
      // intact ones hold are not committed this run, so every input resumes from its checkpoint — before
      // any line of the previous run not yet acknowledged — and reads the lost lines again (ADR 0006 addendum).
      this.recoveryHold = true;
      this.log.warn('damaged spool files: positions of the previous run are not committed; inputs re-read from their checkpoints', { files: rec.quarantined.length });
    }
    for (const ref of rec.segments) this.enqueue(ref, ref.positions);
    let walEvents = 0;
    for (const w of rec.wals) walEvents += this.recoverWal(w);
    this.recoveryHold = false;
    this.deps.metrics.quarantinedNow.set(this.deps.spool.quarantined());
    this.deps.metrics.recoveredEvents.inc(walEvents);
    this.refreshGauges();
    // A batch closes at most a tenth of its interval late (1 s flush: 1.0–1.1 s; 30 s flush: 30–31 s).
    const period = Math.max(50, Math.min(1000, Math.floor(this.opts.flushIntervalMs / 10)));
    this.tick = setInterval(() => this.onTick(), period);
    this.tick.unref();
    this.pump();
    if (rec.segments.length || walEvents || rec.quarantined.length || rec.staleWals.length) {
      this.log.info('spool recovered', { segments: rec.segments.length, walEvents, quarantined: rec.quarantined.length, staleWals: rec.staleWals.length });
    }
    return { segments: rec.segments.length, walEvents, quarantined: rec.quarantined.length };
  }

  get writable(): boolean {
    return !this.blocked;
  }

  get retryAfterSeconds(): number {
    return Math.max(1, Math.ceil(Math.max(this.backoffMs, this.disk ? Shipper.DISK_RETRY_MS : 0, 1000) / 1000));
  }

  /**
   * Closed batches still being compressed and written, at most: beyond it, write() answers false until
   * they are on disk. It bounds the memory of a harvester whose inputs outrun gzip and the disk.
   */
  static readonly MAX_PENDING_SEALS = 1;

  /** Bytes of refused writes held in memory while the disk is full; past it they are dropped and counted. */
  static readonly MAX_HELD_BYTES = 16 * 1024 * 1024;
  /** How often a disk that refused a write is tried again, ms. */
  static readonly DISK_RETRY_MS = 1000;
  /** Size of the probe write when nothing else is waiting for the disk, bytes. */
  static readonly PROBE_BYTES = 64 * 1024;

  /** Sources whose positions are held after a corrupt segment lost some of their lines (re-read on the next start). */
  get heldSources(): string[] {
    return this.tracker.heldSources;
  }

  /** Why the spool's disk refuses writes, while it does. */
  get diskState(): DiskState | undefined {
    return this.disk;
  }

  /** Segments closed but not acknowledged, and events still in open batches. */
  get backlog(): { segments: number; openEvents: number } {
    let openEvents = 0;
    for (const b of this.open.values()) openEvents += b.count;
    return { segments: this.queue.length + this.inflight.size, openEvents };
  }

  get connected(): boolean {
    return this.deps.sender.connected;
  }

  onWritable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  write(events: readonly (BatchEvent | EventLine)[], positions: readonly SpoolPosition[] = []): boolean {
    if (this.stopping) {
      // Inputs stop before the shipper; a straggler is still never silently lost: it is counted.
      this.deps.metrics.dropped.inc({ reason: 'stopped' }, events.length);
      return false;
    }
    const now = Date.now();
    const groups = new Map<number, WindowLines>();
    let lastW = NaN;
    let g: WindowLines | undefined;
    let bytes = 0;
    for (const e of events) {
      let ts: number;
      let line: string;
      if (e instanceof EventLine) {
        // Serialized already (the syslog fast path, ADR 0012), with its @timestamp in ms.
        ts = e.ts;
        line = e.json;
      } else {
        ts = Date.parse(e['@timestamp']);
        if (Number.isNaN(ts)) {
          // normalize() guarantees a timestamp; this guards the window rule against a bug upstream.
          ts = now;
          e['@timestamp'] = new Date(now).toISOString();
        }
        line = JSON.stringify(e);
      }
      const w = windowOf(ts);
      if (w !== lastW) {
        lastW = w;
        g = groups.get(w);
        if (!g) groups.set(w, (g = { window: w, text: [], ts: [], bytes: 0 }));
      }
      g!.text.push(line);
      g!.ts.push(ts);
      g!.bytes += line.length + 1;
      bytes += line.length + 1;
    }
    const write: PendingWrite = { pending: [...groups.values()], positions, touched: [], events: events.length, bytes };
    if (this.held.length) {
      // The disk is full and earlier writes wait for it: this one waits behind them, in order.
      this.hold(write);
      return this.updateWritable();
    }
    if (!this.apply(write, now)) this.hold(write);
    return this.updateWritable();
  }

  /**
   * Appends a write's window groups to their open batches' WALs, in order. Returns false when the disk
   * refused one (nothing of that group is kept, see WalHandle.append): the write keeps the groups not yet
   * written and is retried whole from there. Positions and the received count follow only once every
   * group is on disk, so a commit or a count never runs ahead of the WAL.
   */
  private apply(write: PendingWrite, now: number): boolean {
    while (write.pending.length) {
      const grp = write.pending[0]!;
      let b: OpenBatch;
      try {
        b = this.open.get(grp.window) ?? this.openBatch(grp.window, now);
        this.deps.spool.appendWal(b.wal, grp.text, write.positions);
      } catch (err) {
        this.diskFailed('wal', err);
        return false;
      }
      write.pending.shift();
      pushTs(b, grp.ts);
      b.raw += grp.bytes;
      for (const p of write.positions) b.positions.set(p.source, p.cursor);
      if (!write.touched.includes(b)) write.touched.push(b);
    }
    const touched = write.touched;
    // A batch this write went into before the disk refused the rest may be acknowledged by now.
    this.tracker.add(
      write.positions,
      touched.filter((b) => this.live.has(b.id)).map((b) => b.id),
    );
    if (!touched.length && write.positions.length) this.tracker.done('');
    this.deps.metrics.received.inc(write.events);
    const rawCap = Math.min(this.opts.maxBatchRawBytes, Math.max(64 * 1024, this.opts.maxRecordBytes * this.ratio * 0.85));
    for (const b of touched) if (this.open.get(b.window) === b && (b.raw >= rawCap || b.count >= this.opts.maxBatchEvents)) this.closeBatch(b);
    while (this.open.size > this.opts.maxOpenBatches) {
      const oldest = [...this.open.values()].sort((a, b) => a.openedAt - b.openedAt)[0]!;
      this.closeBatch(oldest);
    }
    return true;
  }

  /** Keeps a write the disk refused in memory (bounded), to be written once space returns. */
  private hold(write: PendingWrite): void {
    if (this.heldBytes + write.bytes > Shipper.MAX_HELD_BYTES) {
      // Inputs were told to stop at the first refusal; this bound only catches what was already in flight
      // from many connections at once. Counted, never silent.
      this.deps.metrics.dropped.inc({ reason: 'disk_full' }, write.events);
      this.log.error('disk full and the in-memory hold is full: events dropped', { events: write.events });
      return;
    }
    this.held.push(write);
    this.heldBytes += write.bytes;
    this.deps.metrics.heldEvents.set(this.heldEvents());
  }

  private heldEvents(): number {
    let n = 0;
    for (const w of this.held) n += w.events;
    return n;
  }

  /**
   * A spool write failed. For lack of space (ENOSPC, EDQUOT, EFBIG) — or any other I/O error, which the
   * harvester cannot fix either — the inputs are paused (writable false: TCP stops reading, HTTP answers
   * 503 + Retry-After, UDP drops and counts) until a retry succeeds. The process never exits for it.
   */
  private diskFailed(kind: 'wal' | 'segment' | 'probe', err: unknown): void {
    const reason = isNoSpaceError(err) ? 'no_space' : 'io';
    this.deps.metrics.writeErrors.inc({ kind, reason });
    if (!this.disk && !this.diskRetrying) {
      this.deps.metrics.diskFull.set(1);
      this.log.error('spool disk refused a write: inputs paused until it accepts writes again', { kind, code: (err as { code?: string }).code, err: (err as Error).message });
    }
    this.disk = reason === 'no_space' ? 'disk_full' : 'disk_error';
    this.nextDiskRetry = Date.now() + Shipper.DISK_RETRY_MS;
    this.updateWritable();
  }

  /**
   * While the disk refuses writes (from the tick, every DISK_RETRY_MS): the previous run's WALs that could
   * not be sealed at start, then the held writes in order; with nothing to retry, a probe file asks
   * whether space is back. Batches whose seal failed are retried by the tick once this succeeded.
   */
  private retryDisk(): void {
    if (this.diskRetrying || !this.disk) return;
    this.diskRetrying = true;
    const was = this.disk;
    this.disk = undefined;
    try {
      const recovering = this.pendingRecovery.splice(0);
      for (const w of recovering) {
        if (this.disk) this.pendingRecovery.push(w);
        else this.sealRecovered(w);
      }
      const hadHeld = this.held.length > 0;
      const now = Date.now();
      while (!this.disk && this.held.length) {
        const w = this.held[0]!;
        if (!this.apply(w, now)) break;
        this.held.shift();
        this.heldBytes -= w.bytes;
      }
      if (!this.disk && !recovering.length && !hadHeld) {
        try {
          this.deps.spool.probe(Shipper.PROBE_BYTES);
        } catch (err) {
          this.diskFailed('probe', err);
        }
      }
    } finally {
      this.diskRetrying = false;
    }
    this.deps.metrics.heldEvents.set(this.heldEvents());
    if (!this.disk) {
      this.deps.metrics.diskFull.set(0);
      this.log.info('spool disk accepts writes again: inputs resume', { was });
    }
    this.updateWritable();
    this.refreshGauges();
  }

  /** Closes every open batch now (tests, `drain`, shutdown). */
  flush(): void {
    for (const b of [...this.open.values()]) this.closeBatch(b);
  }

  /** flush(), resolving once the closed batches are segments on disk (queued for sending). */
  async flushed(): Promise<void> {
    this.flush();
    await this.sealing;
  }

  /** Resolves true once nothing waits to be sent, false at the timeout. */
  drained(timeoutMs: number): Promise<boolean> {
    if (this.isIdle()) return Promise.resolve(true);
    return new Promise((resolve) => {
      const done = () => {
        clearTimeout(t);
        this.idleWaiters.delete(done);
        resolve(true);
      };
      const t = setTimeout(() => {
        this.idleWaiters.delete(done);
        resolve(false);
      }, timeoutMs);
      t.unref();
      this.idleWaiters.add(done);
    });
  }

  /**
   * Stops intake, closes the open batches into segments and sends until `deadlineMs` from now; what is
   * not acknowledged by then stays in the spool for the next start. Safe to call twice.
   */
  stop(deadlineMs = 10_000): Promise<void> {
    if (this.stopped) return this.stopped;
    this.stopping = true;
    this.stopped = (async () => {
      const end = Date.now() + deadlineMs;
      this.flush();
      await Promise.race([this.sealing, new Promise((r) => setTimeout(r, deadlineMs).unref())]);
      await this.drained(Math.max(0, end - Date.now()));
      if (this.tick) clearInterval(this.tick);
      if (this.held.length) {
        // The disk stayed full until the deadline: what the inputs handed over since is only in memory.
        const events = this.heldEvents();
        this.deps.metrics.dropped.inc({ reason: 'disk_full' }, events);
        this.log.error('stopping with the spool disk full: events held in memory are lost', { events });
        this.held.length = 0;
        this.heldBytes = 0;
      }
      if (this.retryTimer) clearTimeout(this.retryTimer);
      this.retryTimer = undefined;
      await this.deps.sender.close().catch(() => undefined);
      // Deletes of acknowledged segments run off the event loop; a file left behind would be sent again.
      await Promise.race([this.deps.spool.settled(), new Promise((r) => setTimeout(r, Math.max(100, end - Date.now())).unref())]);
      this.refreshGauges();
    })();
    return this.stopped;
  }

  private nextBatchId(): string {
    // Unique across runs and hosts, short, and sortable within a run.
    return `${this.runId}-${(this.batchCounter++).toString(36).padStart(6, '0')}`;
  }

  private openBatch(window: number, now: number): OpenBatch {
    const id = this.nextBatchId();
    const wal = this.deps.spool.createWal({ batchId: id, window, host: this.opts.host, createdAtMs: now });
    const b: OpenBatch = { id, window, ts: new Float64Array(1024), count: 0, raw: 0, wal, openedAt: now, positions: new Map() };
    this.open.set(window, b);
    this.live.add(id);
    return b;
  }

  private closeBatch(b: OpenBatch): void {
    if (this.open.get(b.window) === b) this.open.delete(b.window);
    if (b.count === 0) {
      this.live.delete(b.id);
      this.deps.spool.removeWal(b.wal);
      this.updateWritable();
      return;
    }
    const positions = [...b.positions].map(([source, cursor]) => ({ source, cursor }));
    // gzip and the segment's write + fsync run on libuv's thread pool, one batch after another (segment
    // order = close order); the event loop goes on reading inputs. The WAL keeps every event until then.
    this.pendingSeals++;
    this.updateWritable();
    this.sealing = this.sealing.then(async () => {
      try {
        await this.sealWalAsync(b, positions);
        this.deps.spool.removeWal(b.wal);
      } catch (err) {
        // Disk full or similar: the WAL still holds every event; keep the batch and retry on the next tick
        // (while the disk refuses writes: once it accepts them again).
        this.deps.metrics.sendErrors.inc({ reason: 'spool_write' });
        if (isSystemError(err)) this.diskFailed('segment', err);
        else this.log.error('could not write a spool segment; will retry', { batch: b.id, err: (err as Error).message });
        if (!this.unclosed.includes(b)) this.unclosed.push(b);
      } finally {
        this.pendingSeals--;
        // The WAL (raw NDJSON) became a gzip segment: the spool shrank, and inputs paused on the cap may go on.
        this.updateWritable();
        this.refreshGauges();
        if (this.isIdle()) for (const w of [...this.idleWaiters]) w();
      }
    });
  }

  /**
   * A closed batch → segments, with the reads, gzip and disk writes off the event loop: its events are
   * read back from its WAL (checksums verified), sorted by the timestamps kept beside it, then encoded.
   */
  private async sealWalAsync(b: OpenBatch, positions: SpoolPosition[]): Promise<void> {
    const group = b.id;
    // The batch's bytes are in memory beside its WAL; the sort scratch is the shipper's (seals run one after another).
    const raw = b.wal.takeLines();
    const sorted = sortRaw(raw, b.ts.subarray(0, b.count), this.sortScratch);
    let n = 0;
    const pieces = await encodeRawWithinCapAsync(sorted, { host: this.opts.host, level: this.opts.gzipLevel, maxRecordBytes: this.opts.maxRecordBytes }, () =>
      n++ === 0 ? group : `${group}.${n - 1}`,
    );
    const refs = await this.deps.spool.writeSegmentsAsync(pieces.map((p) => this.segmentItem(p, positions, group, b.openedAt)));
    this.spooled(group, pieces, refs);
  }

  /** Encodes within the record cap and writes the segments; `group` ties the pieces to their positions. Start-up (WAL recovery) only. */
  private sealLines(group: string, lines: Line[], positions: SpoolPosition[], createdAtMs: number): void {
    let n = 0;
    const pieces = encodeWithinCap(lines, { host: this.opts.host, level: this.opts.gzipLevel, maxRecordBytes: this.opts.maxRecordBytes }, () => (n++ === 0 ? group : `${group}.${n - 1}`));
    const refs = this.deps.spool.writeSegments(pieces.map((p) => this.segmentItem(p, positions, group, createdAtMs)));
    this.spooled(group, pieces, refs);
  }

  private segmentItem(p: EncodedBatch, positions: SpoolPosition[], group: string, createdAtMs: number) {
    return {
      meta: { batchId: p.headers['batch-id'], key: p.key, headers: { ...p.headers }, count: Number(p.headers.count), rawBytes: p.rawBytes, createdAtMs, positions, group },
      value: p.value,
    };
  }

  /** Segments are on disk: queue them for sending. */
  private spooled(group: string, pieces: EncodedBatch[], refs: SegmentRef[]): void {
    let raw = 0;
    let packed = 0;
    for (const p of pieces) {
      raw += p.rawBytes;
      packed += p.value.length;
    }
    this.ratio = Math.max(1, Math.min(30, raw / Math.max(1, packed)));
    this.groups.set(group, refs.length);
    const now = Date.now();
    for (const r of refs) {
      this.queue.push(r);
      this.closedAt.set(r.seq, now);
      this.deps.metrics.spooledBatches.inc();
      this.deps.metrics.spooledEvents.inc(r.count);
    }
    for (const p of pieces) this.deps.metrics.batchBytes.observe(p.value.length);
    this.enforceCap();
    this.refreshGauges();
    this.pump();
  }

  private recoverWal(w: RecoveredWal): number {
    const lines: Line[] = [];
    for (const chunk of w.lines) {
      for (const line of chunk.split('\n')) {
        if (!line) continue;
        try {
          const ts = Date.parse((JSON.parse(line) as BatchEvent)['@timestamp']);
          if (Number.isNaN(ts) || windowOf(ts) !== w.meta.window) throw new Error('timestamp outside the WAL window');
          lines.push({ ts, line });
        } catch {
          this.deps.metrics.dropped.inc({ reason: 'wal_corrupt' });
        }
      }
    }
    const last = new Map<string, string | number>();
    for (const p of w.positions) last.set(p.source, p.cursor);
    const positions = [...last].map(([source, cursor]) => ({ source, cursor }));
    if (lines.length && !this.recoveryHold) this.tracker.add(positions, [w.meta.batchId]);
    this.sealRecovered({ group: w.meta.batchId, lines, positions, createdAtMs: w.meta.createdAtMs, file: w.file });
    return lines.length;
  }

  /** A recovered WAL → segments, then the WAL is deleted; when the disk refuses, both wait for retryDisk. */
  private sealRecovered(r: PendingRecovery): void {
    if (r.lines.length) {
      try {
        this.sealLines(r.group, r.lines, r.positions, r.createdAtMs);
      } catch (err) {
        if (!isSystemError(err)) throw err;
        this.diskFailed('segment', err);
        this.pendingRecovery.push(r);
        return;
      }
    }
    this.deps.spool.removeWal(r.file);
  }

  private enqueue(ref: SegmentRef, positions: SpoolPosition[]): void {
    this.queue.push(ref);
    this.closedAt.set(ref.seq, Date.now());
    this.groups.set(ref.group, (this.groups.get(ref.group) ?? 0) + 1);
    if (!this.recoveryHold) this.tracker.add(positions, [ref.group]);
  }

  private pump(): void {
    if (this.retryTimer) return;
    while (this.inflight.size < this.opts.maxInFlight && this.queue.length) {
      const ref = this.queue.shift()!;
      this.inflight.add(ref);
      void this.sendOne(ref);
    }
  }

  private async sendOne(ref: SegmentRef): Promise<void> {
    let rec: ReturnType<Spool['read']>;
    try {
      rec = this.deps.spool.read(ref);
    } catch (err) {
      // Damaged on disk after it was written: quarantine, count, and never let it block the queue. Its
      // lines are lost here, so their sources' positions must not move past them: the next start reads
      // them again from the source (file, journald).
      this.deps.spool.quarantine(ref.file, { reason: 'checksum', error: (err as Error).message, batchId: ref.batchId, count: ref.count });
      this.deps.metrics.quarantined.inc({ kind: 'segment', reason: 'checksum' });
      this.deps.metrics.dropped.inc({ reason: 'corrupt_segment' }, ref.count);
      const held = this.tracker.fail(ref.group);
      this.deps.metrics.heldSources.set(this.tracker.heldSources.length);
      this.log.error('spool segment failed its checksum; quarantined. Positions of its sources are held: the next start re-reads their lines', {
        file: ref.file,
        err: (err as Error).message,
        sources: held,
      });
      this.finish(ref);
      return;
    }
    this.deps.metrics.sentBatches.inc();
    try {
      await this.deps.sender.send({ key: rec.meta.key, value: rec.value, headers: rec.meta.headers });
    } catch (err) {
      this.inflight.delete(ref);
      const refusal = this.deps.sender.refusal?.(err);
      if (refusal && this.refused(ref, rec, refusal, err)) return;
      // Back at its place in seq order, so that one host's batches keep their order as far as retries allow.
      const at = this.queue.findIndex((q) => q.seq > ref.seq);
      this.queue.splice(at < 0 ? this.queue.length : at, 0, ref);
      this.deps.metrics.sendErrors.inc({ reason: errorReason(err) });
      this.backoffMs = Math.min(this.opts.retryMaxMs, Math.max(this.opts.retryMinMs, this.backoffMs * 2));
      if (!this.retryTimer) {
        this.retryTimer = setTimeout(() => {
          this.retryTimer = undefined;
          this.pump();
        }, this.backoffMs);
      }
      return;
    }
    this.backoffMs = 0;
    this.refusals.delete(ref.seq);
    this.deps.metrics.ackedBatches.inc();
    this.deps.metrics.ackedEvents.inc(ref.count);
    const closed = this.closedAt.get(ref.seq);
    if (closed !== undefined) this.deps.metrics.flushLatency.observe((Date.now() - closed) / 1000);
    this.deps.spool.remove(ref);
    this.finish(ref);
  }

  /**
   * The next hop refused the record for good. Too large: split it in two segments of the same group
   * (positions commit when all pieces are acked); one event too large to split, or any other refusal
   * repeated `quarantineAfterAttempts` times over `quarantineAfterMs`: quarantined with its reason, its
   * positions committed (its events are kept on disk for `backlog spool drain --quarantine`), and the
   * queue goes on. Returns false to retry it with backoff like any failure.
   */
  private refused(ref: SegmentRef, rec: { meta: SegmentMeta; value: Buffer }, refusal: SendRefusal, err: unknown): boolean {
    const message = (err as Error).message;
    if (refusal.kind === 'too_large' && ref.count > 1) {
      let refs: SegmentRef[];
      try {
        const host = rec.meta.headers.host ?? rec.meta.key;
        const halves = splitRecord(rec.value, rec.meta.headers, { host, level: this.opts.gzipLevel });
        refs = this.deps.spool.writeSegments(halves.map((p) => this.segmentItem({ ...p, key: rec.meta.key }, rec.meta.positions, ref.group, rec.meta.createdAtMs)));
      } catch (e) {
        if (isSystemError(e)) this.diskFailed('segment', e);
        else this.log.error('could not split a record the broker refused as too large', { file: ref.file, err: (e as Error).message });
        return false;
      }
      // One segment becomes two of the same group; the original goes only once both are on disk.
      this.groups.set(ref.group, (this.groups.get(ref.group) ?? 1) + 1);
      this.closedAt.delete(ref.seq);
      this.refusals.delete(ref.seq);
      this.deps.spool.remove(ref);
      const now = Date.now();
      for (const r of refs) {
        const at = this.queue.findIndex((q) => q.seq > r.seq);
        this.queue.splice(at < 0 ? this.queue.length : at, 0, r);
        this.closedAt.set(r.seq, now);
      }
      this.deps.metrics.sendErrors.inc({ reason: errorReason(err) });
      this.deps.metrics.splitBatches.inc();
      this.log.warn('record refused as too large: split in two', { batchId: ref.batchId, events: ref.count, into: refs.map((r) => r.batchId) });
      this.updateWritable();
      this.refreshGauges();
      this.pump();
      return true;
    }
    const now = Date.now();
    const r = this.refusals.get(ref.seq) ?? { n: 0, since: now };
    r.n++;
    this.refusals.set(ref.seq, r);
    const single = refusal.kind === 'too_large';
    if (!single && (r.n < this.opts.quarantineAfterAttempts || now - r.since < this.opts.quarantineAfterMs)) return false;
    const reason = single ? 'record_too_large' : refusal.reason;
    this.refusals.delete(ref.seq);
    this.deps.metrics.sendErrors.inc({ reason: errorReason(err) });
    this.deps.spool.quarantine(ref.file, { reason, error: message, batchId: ref.batchId, count: ref.count });
    this.deps.metrics.quarantined.inc({ kind: 'segment', reason });
    this.deps.metrics.quarantinedEvents.inc({ reason }, ref.count);
    this.deps.metrics.quarantinedNow.set(this.deps.spool.quarantined());
    this.log.error('batch refused for good: quarantined (backlog spool inspect; drain --quarantine resends it)', { batchId: ref.batchId, events: ref.count, reason, attempts: r.n, err: message });
    this.finish(ref);
    return true;
  }

  private finish(ref: SegmentRef): void {
    this.inflight.delete(ref);
    this.closedAt.delete(ref.seq);
    const left = (this.groups.get(ref.group) ?? 1) - 1;
    if (left <= 0) {
      this.groups.delete(ref.group);
      this.live.delete(ref.group);
      this.tracker.done(ref.group);
    } else this.groups.set(ref.group, left);
    this.updateWritable();
    this.refreshGauges();
    this.pump();
    if (this.isIdle()) for (const w of [...this.idleWaiters]) w();
  }

  private isIdle(): boolean {
    return this.queue.length === 0 && this.inflight.size === 0 && this.unclosed.length === 0 && this.pendingSeals === 0 && this.held.length === 0 && this.pendingRecovery.length === 0;
  }

  private enforceCap(): void {
    if (this.opts.whenFull !== 'drop_oldest') return;
    while (this.deps.spool.bytes > this.opts.spoolMaxBytes && this.queue.length) {
      const ref = this.queue.shift()!;
      this.deps.spool.remove(ref);
      this.deps.metrics.dropped.inc({ reason: 'spool_full' }, ref.count);
      this.log.warn('spool full: dropped the oldest unsent segment', { seq: ref.seq, events: ref.count });
      this.finish(ref);
    }
  }

  private updateWritable(): boolean {
    const full = (this.opts.whenFull === 'block' && this.deps.spool.bytes >= this.opts.spoolMaxBytes) || this.pendingSeals > Shipper.MAX_PENDING_SEALS || this.disk !== undefined;
    const was = this.blocked;
    this.blocked = full;
    this.deps.metrics.blocked.set(full ? 1 : 0);
    this.deps.metrics.spoolBytes.set(this.deps.spool.bytes);
    if (was && !full) for (const l of [...this.listeners]) l();
    return !full;
  }

  private onTick(): void {
    const now = Date.now();
    for (const b of [...this.open.values()]) if (now - b.openedAt >= this.opts.flushIntervalMs) this.closeBatch(b);
    if (this.disk && now >= this.nextDiskRetry) this.retryDisk();
    if (now >= this.nextQuarantineCount) {
      // An operator may drain or purge quarantine/ while we run: count it now and then, not per write.
      this.nextQuarantineCount = now + 5_000;
      this.deps.metrics.quarantinedNow.set(this.deps.spool.quarantined());
    }
    if (!this.disk) for (const b of this.unclosed.splice(0)) this.closeBatch(b);
    this.refreshGauges();
    if (this.isIdle()) for (const w of [...this.idleWaiters]) w();
  }

  private refreshGauges(): void {
    this.deps.metrics.spoolBytes.set(this.deps.spool.bytes);
    this.deps.metrics.spoolSegments.set(this.queue.length + this.inflight.size);
  }
}

/** Appends timestamps to a batch's typed array, doubling it when full. */
function pushTs(b: OpenBatch, ts: readonly number[]): void {
  const need = b.count + ts.length;
  if (need > b.ts.length) {
    const grown = new Float64Array(Math.max(need, b.ts.length * 2));
    grown.set(b.ts.subarray(0, b.count));
    b.ts = grown;
  }
  for (let i = 0; i < ts.length; i++) b.ts[b.count++] = ts[i]!;
}

function errorReason(err: unknown): string {
  const e = err as { code?: unknown; name?: unknown };
  if (typeof e?.code === 'string' && /^[A-Z_]{2,40}$/.test(e.code)) return e.code.toLowerCase();
  if (typeof e?.name === 'string' && /^Kafka/.test(e.name)) return e.name.replace(/^Kafka/, 'kafka_').toLowerCase();
  return 'error';
}
