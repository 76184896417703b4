import { createKafka, type KafkaClient, type KafkaConnection } from '@backlog/adapter-kafka';
import { createSearch, installLogsTemplate, type SearchConfigInput, type SearchPort } from '@backlog/adapter-search';
import type { Logger } from '@backlog/core-pipeline';
import type { DeepReadonly } from '@backlog/platform-config';
import type { EsConsumerConfig } from './config';
import type { EsConsumerOptions } from './consumer';

type Config = DeepReadonly<EsConsumerConfig>;

/** Problems the schema cannot see: settings the adapters do not support yet. Listed all at once. */
export function unsupportedSettings(cfg: Config): string[] {
  const out: string[] = [];
  if (cfg.search.tls.caFile) out.push('search.tls.caFile: a custom CA is not supported by the search adapter yet');
  return out;
}

export function searchAdapterConfig(cfg: Config): SearchConfigInput {
  const s = cfg.search;
  return {
    node: s.url,
    engine: s.engine,
    ...(s.apiKey ? { auth: { apiKey: s.apiKey } } : s.username ? { auth: { username: s.username, password: s.password ?? '' } } : {}),
    requestTimeoutMs: cfg.bulk.requestTimeoutMs,
    // Our writer retries with back-off and pauses; the client's own retries would only multiply timeouts.
    maxRetries: 0,
    tlsRejectUnauthorized: s.tls.rejectUnauthorized,
  };
}

/** `connection`: the brokers with their TLS and SASL settings, from `kafkaConnection` at start. */
export function kafkaClient(cfg: Config, connection: KafkaConnection, logger: Logger): KafkaClient {
  return createKafka({ ...connection, clientId: `es-consumer-${cfg.env}`, logger: logger.child?.({ src: 'kafkajs' }) ?? logger, logLevel: 'warn' });
}

export function consumerOptions(cfg: Config): EsConsumerOptions {
  return {
    env: cfg.env,
    groupId: cfg.consumer.groupId ?? `es-consumer-${cfg.env}`,
    consumer: { ...cfg.consumer },
    topic: { ...cfg.topic },
    maxDecompressedBytes: cfg.decode.maxDecompressedBytes,
    maxFutureSkewMs: cfg.timestamps.maxFutureSkewSeconds * 1000,
    writer: {
      rawMaxBytes: cfg.dlq.rawMaxBytes,
      maxDocs: cfg.bulk.maxDocs,
      maxBytes: cfg.bulk.maxBytes,
      concurrency: cfg.bulk.concurrency,
      retry: { ...cfg.retry },
      maxConflictRounds: cfg.conflicts.maxRounds,
    },
  };
}

export async function installTemplate(search: SearchPort, cfg: Config): Promise<void> {
  await installLogsTemplate(search, cfg.template);
}

/** Retries `fn` (e.g. reaching the search engine at start) until it succeeds or `stopped()` says so. */
export async function untilReady<T>(what: string, fn: () => Promise<T>, logger: Logger, stopped: () => boolean, maxWaitMs = 10_000): Promise<T | undefined> {
  let wait = 500;
  for (;;) {
    try {
      return await fn();
    } catch (err) {
      const retriable = (err as { retriable?: unknown }).retriable;
      if (retriable === false) throw err;
      if (stopped()) return undefined;
      logger.warn(`${what} failed; retrying`, { error: err, inMs: wait });
      await new Promise((r) => setTimeout(r, wait));
      if (stopped()) return undefined;
      wait = Math.min(maxWaitMs, wait * 2);
    }
  }
}

export { createSearch };
