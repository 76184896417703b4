import { type KafkaClient, type Logger, checkKafkaAtStart, createKafka, kafkaConnection } from '@backlog/adapter-kafka';
import type { DeepReadonly, KafkaSettings } from '@backlog/platform-config';

/** Warnings on stderr as a person reads them; the rest of kafkajs' chatter stays out of a CLI's output. */
const stderrLogger: Logger = {
  debug: () => undefined,
  info: () => undefined,
  warn: (msg) => void process.stderr.write(`backlog: warning: ${msg}\n`),
  error: (msg) => void process.stderr.write(`backlog: ${msg}\n`),
};

/**
 * The Kafka client of a CLI command, built the way the apps build theirs: the shared `kafka` settings
 * (brokers, TLS files, SASL password) read and checked (a ConfigError lists every problem), then one
 * probe of the brokers, so that a refused password or certificate ends the command at once with a
 * message naming the broker. `brokers` overrides the settings' list (e.g. a `--brokers` option).
 */
export async function cliKafka(settings: DeepReadonly<KafkaSettings>, clientId: string, opts: { brokers?: readonly string[] } = {}): Promise<KafkaClient> {
  const { connection, warnings } = kafkaConnection('cli', opts.brokers ? { ...settings, brokers: [...opts.brokers] } : settings);
  const kafka = createKafka({ ...connection, clientId, logger: stderrLogger, logLevel: 'error' });
  const reach = await checkKafkaAtStart(kafka, stderrLogger, { warnings });
  if (reach === 'unreachable') throw new Error(`no Kafka broker reachable at ${connection.brokers.join(', ')}`);
  return kafka;
}
