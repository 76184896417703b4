import type { Writable } from 'node:stream';
import { eventJson } from '@backlog/core-event';
import type { HarvestEvent } from './inputs/shared/event';
import { type Logger, QueueSink, type Source, type SourcePosition, type SourceSink, settleBy } from '@backlog/core-pipeline';
import type { DeepReadonly } from '@backlog/platform-config';
import type { MetricsRegistry } from '@backlog/platform-telemetry';
import type { HarvesterConfig } from './config';
import type { InputStats } from './inputs/shared/input';
import { type InputConfig, createInput } from './inputs/registry';

type WithStats = Source & { core?: { stats: InputStats }; done?: Promise<void> };

/**
 * inputs → the shipper (output `kafka`: batches to h-<env>, positions committed after the broker's ack,
 * SHIPPING.md) or a bounded queue → NDJSON on stdout (output `stdout`), framework-free. With stdout,
 * positions are committed to the inputs once the stream accepted the lines (the write callback).
 */
export class Harvester {
  /** What the inputs write to: the shipper (output kafka) or the stdout queue. */
  readonly sink: SourceSink<HarvestEvent>;
  private readonly queue?: QueueSink<HarvestEvent>;
  readonly inputs: WithStats[];
  private running = false;
  private loop?: Promise<void>;
  private stopP?: Promise<void>;

  constructor(
    cfg: DeepReadonly<HarvesterConfig>,
    private readonly deps: {
      logger: Logger;
      metrics: MetricsRegistry;
      out?: Writable;
      sink?: SourceSink<HarvestEvent>;
      /** Sees every event as the inputs hand it over (the live copy); must never block or throw. */
      tap?: (event: HarvestEvent) => void;
    },
  ) {
    if (deps.sink) {
      // Shipping: the shipper is the bounded stage (spool cap + when-full policy) and commits positions after Kafka acked.
      this.sink = deps.sink;
    } else {
      const dropped = deps.metrics.counter('harvester_queue_dropped_events_total', 'Events dropped by the queue between inputs and output, by reason', ['reason']);
      this.queue = new QueueSink<HarvestEvent>({ capacity: cfg.queue.capacity, whenFull: cfg.queue.whenFull, onDrop: (_e, reason) => dropped.inc({ reason }) });
      this.sink = this.queue;
    }
    const tap = deps.tap;
    const inputSink: SourceSink<HarvestEvent> = tap ? tapSink(this.sink, tap) : this.sink;
    const ctx = {
      sink: inputSink,
      logger: deps.logger,
      metrics: deps.metrics,
      hostname: cfg.host.name,
      labels: { env: cfg.env },
      stateDir: cfg.stateDir,
      maxFutureSkewMs: cfg.timestamps.maxFutureSkewSeconds * 1000,
    };
    // Input configs are only read; the frozen config's readonly types are narrower than the schemas' outputs.
    this.inputs = cfg.inputs.map((c) => createInput(c as InputConfig, ctx) as WithStats);
  }

  /** Starts every input; if one cannot start (port in use), the others are stopped and the error thrown. */
  async start(): Promise<void> {
    const started: Source[] = [];
    try {
      for (const input of this.inputs) {
        await input.start();
        started.push(input);
      }
    } catch (err) {
      await Promise.all(started.map((s) => s.stop(Date.now() + 2000)));
      throw err;
    }
    this.running = true;
    if (this.queue) this.loop = this.drain(this.queue);
  }

  /** Resolves when every input that can end (stdin) ended, if all of them can; never otherwise. */
  get inputsDone(): Promise<void> | undefined {
    return this.inputs.every((i) => i.done) ? Promise.all(this.inputs.map((i) => i.done)).then(() => undefined) : undefined;
  }

  private async drain(queue: QueueSink<HarvestEvent>): Promise<void> {
    const out = this.deps.out ?? process.stdout;
    for (;;) {
      if (queue.size === 0) {
        if (!this.running) return;
        await Promise.race([queue.waitForEvents(), new Promise((r) => setTimeout(r, 200))]);
        continue;
      }
      const { events, positions } = queue.take(1000);
      let text = '';
      for (const e of events) text += `${eventJson(e)}\n`;
      await new Promise<void>((resolve, reject) => out.write(text, (err) => (err ? reject(err) : resolve())));
      if (positions.length) this.commit(positions);
    }
  }

  /** Positions whose events were delivered (written out, or acknowledged by Kafka): inputs may persist them. */
  commit(positions: readonly SourcePosition[]): void {
    for (const input of this.inputs) input.commit?.(positions);
  }

  /** Stops intake, writes out what is queued, persists checkpoints; keeps to the deadline; safe twice. */
  stop(deadline: number): Promise<void> {
    this.stopP ??= (async () => {
      await Promise.all(this.inputs.map((i) => i.stop(deadline)));
      this.running = false;
      if (this.loop) await settleBy(this.loop, deadline);
      this.queue?.close();
    })();
    return this.stopP;
  }

  health(): { ok: boolean; inputs: Record<string, unknown>[]; queued: number } {
    return {
      ok: this.running,
      queued: this.queue?.size ?? 0,
      inputs: this.inputs.map((i) => ({ type: i.type, name: i.name, ...(i.address?.() ?? {}), ...(i.core ? i.core.stats.toJSON() : {}) })),
    };
  }
}

/** A sink that shows each event to `tap` before handing it on; backpressure is the inner sink's. */
function tapSink(sink: SourceSink<HarvestEvent>, tap: (event: HarvestEvent) => void): SourceSink<HarvestEvent> {
  return {
    write(events, positions) {
      for (const e of events) tap(e);
      return sink.write(events, positions);
    },
    get writable() {
      return sink.writable;
    },
    onWritable: (listener) => sink.onWritable(listener),
    get retryAfterSeconds() {
      return sink.retryAfterSeconds;
    },
  };
}
