/**
 * The logger port of this adapter: the four levels every logger (pino, console, Nest) has, with an
 * optional structured context. Until platform/telemetry exports a shared port, the adapter defines it
 * here; any pino logger fits as is.
 */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
}

export type KafkaLogLevel = 'nothing' | 'error' | 'warn' | 'info' | 'debug';

/** Drops everything: the default when no logger is given. */
const drop = (): void => undefined;
export const silentLogger: Logger = { debug: drop, info: drop, warn: drop, error: drop };

/** A logger for development and tests that writes one JSON line per entry to stderr. */
export function consoleLogger(prefix = 'kafka'): Logger {
  const line = (level: string) => (msg: string, fields?: Record<string, unknown>) => process.stderr.write(`${JSON.stringify({ level, src: prefix, msg, ...fields })}\n`);
  return { debug: line('debug'), info: line('info'), warn: line('warn'), error: line('error') };
}

/** kafkajs numeric levels (kafkajs `logLevel` enum values, stable since 1.x). */
export const KAFKAJS_LEVEL: Record<KafkaLogLevel, number> = { nothing: 0, error: 1, warn: 2, info: 4, debug: 5 };

interface KafkaJSLogEntry {
  namespace: string;
  level: number;
  label: string;
  log: { message: string; timestamp?: string; logger?: string } & Record<string, unknown>;
}

/**
 * Known kafkajs messages that are expected in our setup and only noise at their level.
 * - "Limiting retries for the idempotent producer…": we bound retries on purpose (ARCHITECTURE
 *   habit 5); a batch that failed stays in the harvester's spool and its event ids make redelivery
 *   harmless, so the EoS warning does not apply to us.
 */
const DEMOTE = [/Limiting retries for the idempotent producer/];

/** Builds a kafkajs `logCreator` that forwards entries to the port, keeping kafkajs' extra fields. */
export function kafkajsLogCreator(logger: Logger) {
  return (_level: number) =>
    ({ namespace, level, log }: KafkaJSLogEntry): void => {
      const { message, timestamp: _t, logger: _l, ...extra } = log;
      const fields = { component: 'kafkajs', namespace, ...extra };
      if (DEMOTE.some((re) => re.test(message))) return logger.debug(message, fields);
      if (level <= 1) logger.error(message, fields);
      else if (level === 2) logger.warn(message, fields);
      else if (level <= 4) logger.info(message, fields);
      else logger.debug(message, fields);
    };
}
