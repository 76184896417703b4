import { Counter } from 'prom-client';
import type { MetricsRegistry } from '@backlog/platform-telemetry';
import type { LiveSender } from './sender';

/**
 * Exposes a LiveSender's counts on the harvester's registry, read at scrape time: the send path
 * only bumps plain numbers (a prom-client inc() per event would cost more than the send).
 *   harvester_live_sent_events_total, harvester_live_truncated_events_total,
 *   harvester_live_filtered_events_total, harvester_live_dropped_events_total{reason}
 */
export function registerLiveSenderMetrics(registry: MetricsRegistry, sender: LiveSender): void {
  const s = sender.stats;
  const counter = (name: string, help: string, read: () => number) =>
    new Counter({
      name,
      help,
      registers: [registry.registry],
      collect() {
        // Counters only grow, and the stats only grow: mirror the current value.
        this.reset();
        this.inc(read());
      },
    });
  counter('harvester_live_sent_events_total', 'Events sent as live datagrams (once per event, whatever the number of targets)', () => s.sent);
  counter('harvester_live_truncated_events_total', 'Live events cut or stripped to fit a datagram', () => s.truncated);
  counter('harvester_live_filtered_events_total', 'Events the live filter did not select', () => s.filtered);
  new Counter({
    name: 'harvester_live_dropped_events_total',
    help: 'Live events not sent (or not to every target), by reason',
    labelNames: ['reason'],
    registers: [registry.registry],
    collect() {
      this.reset();
      for (const [reason, n] of Object.entries(s.dropped)) this.inc({ reason }, n);
    },
  });
}
