import type { KafkaClient } from './client';
import type { Logger } from './logger';

/**
 * What every app and CLI command does right after building its Kafka client, before its own work:
 * logs the settings' warnings, then probes the bootstrap brokers once (`KafkaClient.probe`).
 *
 * - A refusal that repeats (wrong user or password, SASL mechanism not enabled, untrusted or
 *   mismatched certificate: KAFKA_AUTH, KAFKA_TLS) is thrown, its message naming the broker: the
 *   caller exits non-zero with it instead of retrying the same credentials forever.
 * - No broker reachable now (retriable) is logged and answered `'unreachable'`: apps that ride out
 *   outages (the harvester's spool, the gateway) start anyway; the others retry as they always did.
 */
export async function checkKafkaAtStart(kafka: KafkaClient, log: Logger, options: { warnings?: readonly string[]; timeoutMs?: number } = {}): Promise<'ok' | 'unreachable'> {
  for (const w of options.warnings ?? []) log.warn(w);
  try {
    await kafka.probe(options.timeoutMs === undefined ? {} : { timeoutMs: options.timeoutMs });
    return 'ok';
  } catch (err) {
    const e = err as { retriable?: unknown; message?: unknown; code?: unknown };
    if (e.retriable !== true) throw err;
    log.warn(
      'Kafka not reachable at start; going on and retrying (if this persists, check that kafka.brokers, kafka.ssl and kafka.sasl match the listener: a TLS or SASL listener closes plaintext connections)',
      {
        code: e.code,
        error: e.message,
      },
    );
    return 'unreachable';
  }
}
