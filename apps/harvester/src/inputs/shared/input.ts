import type { Logger, SourcePosition, SourceSink } from '@backlog/core-pipeline';
import { childLogger } from '@backlog/core-pipeline';
import { type ComponentMetrics, type MetricsRegistry, componentMetrics } from '@backlog/platform-telemetry';
import { EventLine, type LogEvent, sourceIdentity } from '@backlog/core-event';
import { eventLabelsJson } from '@backlog/core-parse';
import type { z } from 'zod';
import { type FlagReason, type HarvestEvent, type LineFormat, makeEvent, makeSyslogEvent } from './event';

/** What the harvester hands every input it creates. */
export interface InputContext {
  /** Where events go (the shipper, or main.ts's stdout writer). */
  sink: SourceSink<HarvestEvent>;
  logger: Logger;
  metrics: MetricsRegistry;
  /** This machine's host name: `host.name` when a record names none. */
  hostname: string;
  /** Labels on every event (e.g. `{ env: 'prod' }`). */
  labels?: Record<string, string>;
  /** Directory for checkpoint files (file offsets, journald cursor). */
  stateDir: string;
  /** normalize()'s `maxFutureSkewMs` (config `timestamps.maxFutureSkewSeconds`, ADR 0015); default one day. */
  maxFutureSkewMs?: number;
}

/** Reasons an input drops a record instead of emitting it. Each one is a metric label. */
export type DropReason =
  | 'backpressure' // UDP only: it cannot push back, and the sink is full
  | 'body_too_large' // HTTP 413: the sender is told, the whole request counts as one dropped record
  | 'too_many_records' // HTTP 413: more records than maxRecordsPerRequest; the sender is told, the request counts as one
  | 'unsupported_media_type' // HTTP 415: a content type or encoding we do not read; the sender is told, the request counts as one
  | 'bad_request' // HTTP 400: a body we could not read at all (bad gzip); the sender is told
  | 'empty' // a record with nothing in it (empty datagram)
  | 'shutdown'; // read after stop() began

/** Per-input totals, mirrored into the metrics. received = emitted + Σ dropped; flagged ⊆ emitted. */
export class InputStats {
  received = 0;
  emitted = 0;
  bytes = 0;
  readonly flagged = new Map<string, number>();
  readonly dropped = new Map<string, number>();
  get droppedTotal(): number {
    let n = 0;
    for (const v of this.dropped.values()) n += v;
    return n;
  }
  get flaggedTotal(): number {
    let n = 0;
    for (const v of this.flagged.values()) n += v;
    return n;
  }
  toJSON(): Record<string, unknown> {
    return { received: this.received, emitted: this.emitted, bytes: this.bytes, flagged: Object.fromEntries(this.flagged), dropped: Object.fromEntries(this.dropped) };
  }
}

type Labels = 'input' | 'name';

/**
 * The bookkeeping every input shares: counting (metrics + InputStats), turning records into events,
 * and writing them to the sink. Inputs compose it rather than inherit from it.
 */
export class InputCore {
  readonly stats = new InputStats();
  readonly logger: Logger;
  private readonly m: ComponentMetrics<Labels>;
  private readonly l: Record<Labels, string>;
  readonly labels: Record<string, string>;
  /** `labels` of this input's events as JSON, for the syslog fast path (makeSyslogEvent). */
  readonly labelsJson: string;

  constructor(
    readonly type: string,
    readonly name: string,
    readonly ctx: InputContext,
  ) {
    this.logger = childLogger(ctx.logger, { input: type, name });
    this.m = componentMetrics(ctx.metrics, 'harvester_input', ['input', 'name'] as const);
    this.l = { input: type, name };
    this.labels = { ...ctx.labels, ...(name !== type ? { input_name: name } : {}) };
    this.labelsJson = eventLabelsJson(this.labels, type);
  }

  get sink(): SourceSink<HarvestEvent> {
    return this.ctx.sink;
  }

  /** A record arrived (datagram, frame, line, array element). */
  received(n = 1, bytes = 0): void {
    this.stats.received += n;
    this.stats.bytes += bytes;
    this.m.received.inc(this.l, n);
    if (bytes) this.m.bytes.inc(this.l, bytes);
  }

  dropped(reason: DropReason, n = 1): void {
    this.stats.dropped.set(reason, (this.stats.dropped.get(reason) ?? 0) + n);
    this.m.dropped.inc({ ...this.l, reason }, n);
  }

  /**
   * Who sent a record, as this input knows it: the namespace of an event id the record names itself
   * (ADR 0015). `peer` is the remote address of a network input, the path of a tailed file, '' otherwise.
   */
  source(peer = ''): string {
    return sourceIdentity(this.ctx.hostname, this.name, peer);
  }

  /** normalize()'s `maxFutureSkewMs` for this input's events. */
  get maxFutureSkewMs(): number | undefined {
    return this.ctx.maxFutureSkewMs;
  }

  /** Parse + normalize one record; never throws. `peer`: see `source`; a file input's is its path. */
  event(raw: Buffer | string, format: LineFormat, flags?: readonly FlagReason[], originalBytes?: number, extra?: { receivedAt?: Date; file?: string; eventId?: string; peer?: string }): LogEvent {
    return makeEvent(raw, {
      format,
      input: this.type,
      receivedAt: extra?.receivedAt ?? new Date(),
      hostname: this.ctx.hostname,
      labels: this.labels,
      flags,
      originalBytes,
      file: extra?.file,
      eventId: extra?.eventId,
      source: this.source(extra?.peer ?? extra?.file),
      maxFutureSkewMs: this.ctx.maxFutureSkewMs,
    });
  }

  /** event() for a syslog record: a clean one takes the fast path to its NDJSON line (ADR 0012). */
  syslogEvent(raw: Buffer, format: LineFormat, flags?: readonly FlagReason[], originalBytes?: number, peer?: string): HarvestEvent {
    return makeSyslogEvent(
      raw,
      {
        format,
        input: this.type,
        receivedAt: new Date(),
        hostname: this.ctx.hostname,
        labels: this.labels,
        flags,
        originalBytes,
        source: this.source(peer),
        maxFutureSkewMs: this.ctx.maxFutureSkewMs,
      },
      this.labelsJson,
    );
  }

  /** Hands events to the sink, counting them. Returns the sink's answer: false = pause reading. */
  emit(events: readonly HarvestEvent[], positions?: readonly SourcePosition[]): boolean {
    if (events.length === 0 && !positions?.length) return this.ctx.sink.writable;
    for (const e of events) {
      // An EventLine is only made for a record without flags (makeSyslogEvent).
      if (e instanceof EventLine) continue;
      const labels = e.labels;
      for (const reason of FLAG_LABELS) {
        if (labels[reason] !== undefined) {
          this.stats.flagged.set(reason, (this.stats.flagged.get(reason) ?? 0) + 1);
          this.m.flagged.inc({ ...this.l, reason });
        }
      }
    }
    this.stats.emitted += events.length;
    this.m.emitted.inc(this.l, events.length);
    return this.ctx.sink.write(events, positions);
  }
}

const FLAG_LABELS = ['parse_error', 'truncated', 'invalid_utf8', 'partial_frame', 'framing_error', 'timestamp_replaced'] as const;

/** A component factory of the harvester (ARCHITECTURE.md: `{ type, configSchema, create }`). */
export interface InputFactory<S extends z.ZodType = z.ZodType> {
  readonly type: string;
  readonly configSchema: S;
  create(config: z.output<S>, context: InputContext): import('@backlog/core-pipeline').Source;
}
