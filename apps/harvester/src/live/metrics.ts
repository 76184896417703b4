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
  registry.observedCounter('harvester_live_sent_events_total', 'Events sent as live datagrams (once per event, whatever the number of targets)', () => s.sent);
  registry.observedCounter('harvester_live_truncated_events_total', 'Live events cut or stripped to fit a datagram', () => s.truncated);
  registry.observedCounter('harvester_live_filtered_events_total', 'Events the live filter did not select', () => s.filtered);
  registry.observedCounter(
    'harvester_live_dropped_events_total',
    'Live events not sent (or not to every target), by reason',
    () => Object.entries(s.dropped).map(([reason, n]) => [{ reason }, n] as const),
    ['reason'],
  );
}
