// nacl-gateway: sealed batches from harvesters (TCP 5516) → h-<env>; /metrics and /healthz on 9102.
// The only file that exits the process.
import { createKafka } from '@backlog/adapter-kafka';
import { harvestTopic } from '@backlog/core-codec';
import { decodeKey, parseKeyFile, publicKeyOf } from '@backlog/core-sealed';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, readPrivateKeyFile } from '@backlog/platform-config';
import { MetricsRegistry, createJsonLogger, startTelemetryServer } from '@backlog/platform-telemetry';
import { gatewayConfigSchema } from './config';
import { Gateway } from './gateway';
import { gatewayMetrics } from './metrics';

const log = createJsonLogger().child?.({ app: 'nacl-gateway' }) ?? createJsonLogger();

async function main(): Promise<void> {
  let cfg;
  let secretKey: Uint8Array;
  try {
    cfg = loadConfig({ app: 'nacl-gateway', schema: gatewayConfigSchema, file: process.argv.find((a) => a.startsWith('--config='))?.slice(9) });
    // A key file others can read is refused like ssh refuses one (exit 78 with the reason).
    secretKey = cfg.keys.secretKeyFile
      ? parseKeyFile(readPrivateKeyFile(cfg.keys.secretKeyFile, { app: 'nacl-gateway', setting: 'keys.secretKeyFile' }).toString('utf8')).secretKey
      : decodeKey(cfg.keys.secretKey!, 'keys.secretKey');
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    process.stderr.write(`${err.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  const keys = { secretKey, publicKey: publicKeyOf(secretKey) };
  const registry = new MetricsRegistry({ defaultMetrics: true });
  const metrics = gatewayMetrics(registry);
  const kafka = createKafka({ brokers: [...cfg.kafka.brokers], clientId: `nacl-gateway-${cfg.env}`, retry: { retries: 5, initialRetryTimeMs: 200, maxRetryTimeMs: 2000 } });
  const producer = kafka.producer();
  const gateway = new Gateway(
    {
      host: cfg.listen.host,
      port: cfg.listen.port,
      topic: harvestTopic(cfg.env),
      keys,
      allow: cfg.allow.map((a) => ({ name: a.name, publicKey: decodeKey(a.publicKey, `allow ${a.name}`) })),
      maxFrameBytes: cfg.maxFrameBytes,
      replayWindow: cfg.replayWindow,
      maxClockSkewMs: cfg.maxClockSkewMs,
      maxInFlightPerConnection: cfg.maxInFlightPerConnection,
      maxConnections: cfg.maxConnections,
    },
    { producer, metrics, log },
  );
  const { port } = await gateway.start();
  const http = await startTelemetryServer({ host: cfg.metrics.host, port: cfg.metrics.port, registry, health: () => ({ ok: gateway.listening, senders: cfg.allow.length }) });
  log.info('nacl-gateway listening', { host: cfg.listen.host, port, metricsPort: cfg.metrics.port, topic: harvestTopic(cfg.env), senders: cfg.allow.length });
  // Tests and supervisors wait for this line on stdout.
  process.stdout.write(`${JSON.stringify({ ready: true, port, metricsPort: http.port })}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    await gateway.stop(Date.now() + 10_000);
    await http.close();
    await producer.disconnect().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: Error) => {
  log.error('nacl-gateway failed to start', { err: err.message });
  process.exit(1);
});
