// nacl-gateway: sealed batches from harvesters (TCP 5516) → h-<env>; /metrics and /healthz on 9102.
// Runs on the app shell (@backlog/platform-app), the only code that exits the process.
import { checkKafkaAtStart, createKafka, kafkaConnection } from '@backlog/adapter-kafka';
import { createRedis } from '@backlog/adapter-redis';
import { harvestTopic } from '@backlog/core-codec';
import { decodeKey, parseKeyFile, publicKeyOf } from '@backlog/core-sealed';
import { runApp } from '@backlog/platform-app';
import { loadConfig, readPrivateKeyFile } from '@backlog/platform-config';
import { gatewayBounds, gatewayConfigSchema } from './config';
import { Gateway, defaultMaxBufferedBytes } from './gateway';
import { gatewayMetrics } from './metrics';
import { RedisReplayStore } from './replay-store';

/** How often the replay record's Redis is pinged, ms: keeps /healthz and the up gauge current between frames. */
const REPLAY_PROBE_MS = 5_000;

runApp({
  name: 'nacl-gateway',
  config: () => {
    const cfg = loadConfig({ app: 'nacl-gateway', schema: gatewayConfigSchema, file: process.argv.find((a) => a.startsWith('--config='))?.slice(9) });
    // TLS files and the SASL password, read and checked before any socket opens.
    const kafkaConn = kafkaConnection('nacl-gateway', cfg.kafka);
    // A key file others can read is refused like ssh refuses one (exit 78 with the reason).
    const secretKey = cfg.keys.secretKeyFile
      ? parseKeyFile(readPrivateKeyFile(cfg.keys.secretKeyFile, { app: 'nacl-gateway', setting: 'keys.secretKeyFile' }).toString('utf8')).secretKey
      : decodeKey(cfg.keys.secretKey!, 'keys.secretKey');
    return { cfg, kafkaConn, secretKey };
  },
  metrics: ({ cfg }) => ({ host: cfg.metrics.host, port: cfg.metrics.port }),
  stopTimeoutMs: () => 10_000,
  readyLine: true,
  create: ({ config: { cfg, kafkaConn, secretKey }, logger: log, registry }) => {
    const keys = { secretKey, publicKey: publicKeyOf(secretKey) };
    const metrics = gatewayMetrics(registry);
    const kafka = createKafka({ ...kafkaConn.connection, clientId: `nacl-gateway-${cfg.env}`, retry: { retries: 5, initialRetryTimeMs: 200, maxRetryTimeMs: 2000 } });
    const producer = kafka.producer();
    // The replay record all replicas share (docs/specs/sealed-transport.md, "Replay"). Without Redis the
    // gateway refuses frames (fail closed) and reports itself unhealthy; it does not refuse to start.
    let redis: ReturnType<typeof createRedis> | undefined;
    let replay: RedisReplayStore | undefined;
    let gateway: Gateway | undefined;
    let probe: NodeJS.Timeout | undefined;
    return {
      health: () => ({ ok: Boolean(gateway?.listening && replay?.available), senders: cfg.allow.length, replayStore: replay?.available ? 'up' : 'unavailable' }),
      start: async ({ metricsPort }) => {
        // Refused credentials or certificates end the start here, naming the broker; an unreachable cluster
        // does not (harvesters keep their batches spooled until the gateway's produce succeeds).
        await checkKafkaAtStart(kafka, log, { warnings: kafkaConn.warnings });
        redis = createRedis({ url: cfg.redis.url, keyPrefix: cfg.replayKeyPrefix, onConnectionError: (e) => log.debug('redis connection error', { err: e.message }) });
        const store = new RedisReplayStore(redis, (up) => {
          metrics.replayStoreUp.set(up ? 1 : 0);
          if (up) log.info('replay record (redis) reachable again');
          else log.warn('replay record (redis) unreachable: frames are refused until it answers');
        });
        replay = store;
        metrics.replayStoreUp.set(1);
        await store.probe();
        probe = setInterval(() => void store.probe(), REPLAY_PROBE_MS);
        probe.unref();
        gateway = new Gateway(
          {
            ...gatewayBounds(cfg),
            env: cfg.env,
            topic: harvestTopic(cfg.env),
            keys,
            allow: cfg.allow.map((a) => ({ name: a.name, publicKey: decodeKey(a.publicKey, `allow ${a.name}`) })),
            maxBufferedBytes: cfg.maxBufferedBytes ?? defaultMaxBufferedBytes(cfg.maxFrameBytes),
          },
          { producer, metrics, log, replay: store },
        );
        const { port } = await gateway.start();
        log.info('nacl-gateway listening', {
          host: cfg.listen.host,
          port,
          metricsPort: cfg.metrics.port,
          topic: harvestTopic(cfg.env),
          senders: cfg.allow.length,
          maxBufferedBytes: gateway.buffered.limit,
        });
        return { port, metricsPort };
      },
      stop: async (deadline) => {
        if (probe) clearInterval(probe);
        await gateway?.stop(deadline);
        await producer.disconnect().catch(() => undefined);
        await redis?.quit().catch(() => undefined);
      },
    };
  },
});
