import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';

/**
 * A prom-client registry with get-or-create helpers. prom-client throws when a name is registered twice;
 * components are created per config entry (two `file` inputs), so they ask for their metric families here
 * and share them, told apart by labels.
 */
export class MetricsRegistry {
  readonly registry: Registry;

  constructor(opts: { defaultMetrics?: boolean; prefix?: string; registry?: Registry } = {}) {
    this.registry = opts.registry ?? new Registry();
    // Process metrics (RSS, heap, event-loop lag, fds) come for free and are what a host operator looks at first.
    if (opts.defaultMetrics) collectDefaultMetrics({ register: this.registry, prefix: opts.prefix ?? '' });
  }

  counter<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Counter<L> {
    return this.getOrCreate(name, () => new Counter<L>({ name, help, labelNames, registers: [this.registry] }), Counter) as Counter<L>;
  }

  gauge<L extends string = never>(name: string, help: string, labelNames: readonly L[] = []): Gauge<L> {
    return this.getOrCreate(name, () => new Gauge<L>({ name, help, labelNames, registers: [this.registry] }), Gauge) as Gauge<L>;
  }

  histogram<L extends string = never>(name: string, help: string, buckets: number[], labelNames: readonly L[] = []): Histogram<L> {
    return this.getOrCreate(name, () => new Histogram<L>({ name, help, labelNames, buckets, registers: [this.registry] }), Histogram) as Histogram<L>;
  }

  /**
   * A counter whose value is read at scrape time from counts the component keeps itself, so that its
   * hot path only bumps plain numbers (a prom-client `inc()` per event can cost more than the work).
   * `read` returns the current total, or with `labelNames` one `[labels, total]` pair per series; the
   * totals must only grow. Registered once: a second registration of the name throws.
   */
  observedCounter(name: string, help: string, read: () => number): void;
  observedCounter<L extends string>(name: string, help: string, read: () => Iterable<readonly [Record<L, string>, number]>, labelNames: readonly L[]): void;
  observedCounter(name: string, help: string, read: () => number | Iterable<readonly [Record<string, string>, number]>, labelNames: readonly string[] = []): void {
    new Counter<string>({
      name,
      help,
      labelNames,
      registers: [this.registry],
      collect() {
        // Mirror the current totals.
        this.reset();
        const v = read();
        if (typeof v === 'number') this.inc(v);
        else for (const [labels, n] of v) this.inc(labels, n);
      },
    });
  }

  /** Prometheus text exposition. */
  metrics(): Promise<string> {
    return this.registry.metrics();
  }
  get contentType(): string {
    return this.registry.contentType;
  }

  private getOrCreate(name: string, make: () => unknown, kind: abstract new (...a: never[]) => unknown): unknown {
    const existing = this.registry.getSingleMetric(name);
    if (existing) {
      if (!(existing instanceof kind)) throw new Error(`metric ${name} is already registered as another type`);
      return existing;
    }
    return make();
  }
}

/**
 * The metric families every pipeline component has, named `<component>_…` in one place
 * (ARCHITECTURE.md habit 6):
 *   <component>_received_events_total{…labels}          everything that came in (a datagram, a frame, a line)
 *   <component>_flagged_events_total{…labels, reason}   emitted, but marked (parse_error, truncated, …)
 *   <component>_dropped_events_total{…labels, reason}   not emitted, and why (backpressure, too_large, …)
 *   <component>_received_bytes_total{…labels}
 * so that received = emitted + dropped holds per component, and flagged ⊆ emitted.
 */
export function componentMetrics<L extends string>(registry: MetricsRegistry, component: string, labelNames: readonly L[]) {
  const withReason = [...labelNames, 'reason'] as const;
  return {
    received: registry.counter(`${component}_received_events_total`, `Events received by ${component}`, labelNames),
    emitted: registry.counter(`${component}_emitted_events_total`, `Events handed downstream by ${component} (flagged ones included)`, labelNames),
    flagged: registry.counter(`${component}_flagged_events_total`, `Events emitted by ${component} with a flag (parse error, truncated), by reason`, withReason),
    dropped: registry.counter(`${component}_dropped_events_total`, `Events dropped by ${component}, by reason`, withReason),
    bytes: registry.counter(`${component}_received_bytes_total`, `Bytes received by ${component}`, labelNames),
  };
}
export type ComponentMetrics<L extends string> = ReturnType<typeof componentMetrics<L>>;
