// nacl-gateway: sealed batches from harvesters (TCP 5516) → h-<env>; /metrics and /healthz on 9102.
// The only file that exits the process.
import { type KafkaConnection, checkKafkaAtStart, createKafka, kafkaConnection } from '@backlog/adapter-kafka';
import { createRedis } from '@backlog/adapter-redis';
import { harvestTopic } from '@backlog/core-codec';
import { decodeKey, parseKeyFile, publicKeyOf } from '@backlog/core-sealed';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, readPrivateKeyFile } from '@backlog/platform-config';
import { MetricsRegistry, createJsonLogger, startTelemetryServer } from '@backlog/platform-telemetry';
import { gatewayBounds, gatewayConfigSchema } from './config';
import { Gateway, defaultMaxBufferedBytes } from './gateway';
import { gatewayMetrics } from './metrics';
import { RedisReplayStore } from './replay-store';

/** How often the replay record's Redis is pinged, ms: keeps /healthz and the up gauge current between frames. */
const REPLAY_PROBE_MS = 5_000;

const log = createJsonLogger().child?.({ app: 'nacl-gateway' }) ?? createJsonLogger();

async function main(): Promise<void> {
  let cfg;
  let kafkaConn: { connection: KafkaConnection; warnings: string[] };
  let secretKey: Uint8Array;
  try {
    cfg = loadConfig({ app: 'nacl-gateway', schema: gatewayConfigSchema, file: process.argv.find((a) => a.startsWith('--config='))?.slice(9) });
    // TLS files and the SASL password, read and checked before any socket opens.
    kafkaConn = kafkaConnection('nacl-gateway', cfg.kafka);
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
  const kafka = createKafka({ ...kafkaConn.connection, clientId: `nacl-gateway-${cfg.env}`, retry: { retries: 5, initialRetryTimeMs: 200, maxRetryTimeMs: 2000 } });
  // Refused credentials or certificates end the start here, naming the broker; an unreachable cluster
  // does not (harvesters keep their batches spooled until the gateway's produce succeeds).
  await checkKafkaAtStart(kafka, log, { warnings: kafkaConn.warnings });
  const producer = kafka.producer();
  // The replay record all replicas share (docs/specs/sealed-transport.md, "Replay"). Without Redis the
  // gateway refuses frames (fail closed) and reports itself unhealthy; it does not refuse to start.
  const redis = createRedis({ url: cfg.redis.url, keyPrefix: cfg.replayKeyPrefix, onConnectionError: (e) => log.debug('redis connection error', { err: e.message }) });
  const replay = new RedisReplayStore(redis, (up) => {
    metrics.replayStoreUp.set(up ? 1 : 0);
    if (up) log.info('replay record (redis) reachable again');
    else log.warn('replay record (redis) unreachable: frames are refused until it answers');
  });
  metrics.replayStoreUp.set(1);
  await replay.probe();
  const probe = setInterval(() => void replay.probe(), REPLAY_PROBE_MS);
  probe.unref();
  const gateway = new Gateway(
    {
      ...gatewayBounds(cfg),
      env: cfg.env,
      topic: harvestTopic(cfg.env),
      keys,
      allow: cfg.allow.map((a) => ({ name: a.name, publicKey: decodeKey(a.publicKey, `allow ${a.name}`) })),
      maxBufferedBytes: cfg.maxBufferedBytes ?? defaultMaxBufferedBytes(cfg.maxFrameBytes),
    },
    { producer, metrics, log, replay },
  );
  const { port } = await gateway.start();
  const http = await startTelemetryServer({ host: cfg.metrics.host, port: cfg.metrics.port, registry, health: () => ({ ok: gateway.listening && replay.available, senders: cfg.allow.length, replayStore: replay.available ? 'up' : 'unavailable' }) });
  log.info('nacl-gateway listening', { host: cfg.listen.host, port, metricsPort: cfg.metrics.port, topic: harvestTopic(cfg.env), senders: cfg.allow.length, maxBufferedBytes: gateway.buffered.limit });
  // Tests and supervisors wait for this line on stdout.
  process.stdout.write(`${JSON.stringify({ ready: true, port, metricsPort: http.port })}\n`);
  let stopping = false;
  const stop = async () => {
    if (stopping) return;
    stopping = true;
    clearInterval(probe);
    await gateway.stop(Date.now() + 10_000);
    await http.close();
    await producer.disconnect().catch(() => undefined);
    await redis.quit().catch(() => undefined);
    process.exit(0);
  };
  process.on('SIGTERM', () => void stop());
  process.on('SIGINT', () => void stop());
}

main().catch((err: Error) => {
  log.error('nacl-gateway failed to start', { err: err.message });
  process.exit(1);
});
