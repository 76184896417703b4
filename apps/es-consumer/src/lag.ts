import type { Admin } from '@backlog/adapter-kafka';
import type { Logger } from '@backlog/core-pipeline';
import type { Gauge } from '@backlog/platform-telemetry';

/**
 * The group's lag as the broker sees it: per partition, records above the committed offset
 * (high watermark − committed; − low watermark when the group committed nothing yet). Unlike
 * `es_consumer_lag`, which is computed when a fetch arrives, this keeps rising while consumption is
 * paused (search engine down) or stuck, which is what an operator's dashboard has to show.
 */
export function groupLag(ends: readonly { partition: number; low: string; high: string }[], committed: readonly { partition: number; offset: string }[]): Map<number, number> {
  const c = new Map(committed.map((p) => [p.partition, BigInt(p.offset)]));
  const out = new Map<number, number>();
  for (const e of ends) {
    const high = BigInt(e.high);
    const low = BigInt(e.low);
    const at = c.get(e.partition) ?? -1n;
    // -1: nothing committed; a committed offset below the low watermark was deleted by retention.
    const from = at < low ? low : at;
    out.set(e.partition, Number(high > from ? high - from : 0n));
  }
  return out;
}

export interface LagPoller {
  stop(): Promise<void>;
}

/** Polls the broker every `intervalMs` and sets `gauge{topic, partition}`. Failures are logged and retried next tick. */
export function startLagPoller(o: { admin: Admin; groupId: string; topic: string; gauge: Gauge<'topic' | 'partition'>; intervalMs: number; logger: Logger }): LagPoller {
  let connected = false;
  let running: Promise<void> = Promise.resolve();
  let warned = false;
  const tick = async () => {
    try {
      if (!connected) {
        await o.admin.connect();
        connected = true;
      }
      const [ends, committed] = await Promise.all([o.admin.topicOffsets(o.topic), o.admin.groupOffsets(o.groupId, o.topic)]);
      for (const [partition, lag] of groupLag(ends, committed)) o.gauge.set({ topic: o.topic, partition: String(partition) }, lag);
      warned = false;
    } catch (err) {
      if (!warned) o.logger.warn('cannot read the group lag from the broker; will retry', { error: err, group: o.groupId });
      warned = true;
    }
  };
  running = tick();
  const timer = setInterval(() => {
    running = running.then(tick);
  }, o.intervalMs);
  timer.unref();
  return {
    stop: async () => {
      clearInterval(timer);
      await running;
      if (connected) await o.admin.disconnect().catch(() => undefined);
    },
  };
}
