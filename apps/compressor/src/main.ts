// compressor: h-<env> → sorted bz2 parts per (window, partition) → S3 + c-<env>; /metrics and /healthz
// on 9104. The only file that exits the process.
import { type KafkaConnection, checkKafkaAtStart, createKafka, kafkaConnection } from '@backlog/adapter-kafka';
import { createS3 } from '@backlog/adapter-s3';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig } from '@backlog/platform-config';
import { MetricsRegistry, createJsonLogger, startTelemetryServer } from '@backlog/platform-telemetry';
import { Compressor } from './compressor';
import { compressorConfigSchema, compressorSettingsSchema } from './config';

async function main(): Promise<void> {
  let cfg;
  let kafkaConn: { connection: KafkaConnection; warnings: string[] };
  try {
    cfg = loadConfig({ app: 'compressor', schema: compressorConfigSchema, file: process.argv.find((a) => a.startsWith('--config='))?.slice(9) });
    kafkaConn = kafkaConnection('compressor', cfg.kafka);
  } catch (err) {
    if (!(err instanceof ConfigError)) throw err;
    // Every problem is listed before anything opens a socket (ARCHITECTURE.md habit 2).
    process.stderr.write(`${err.message}\n`);
    process.exit(CONFIG_EXIT_CODE);
  }
  const base = createJsonLogger({ level: cfg.logLevel });
  const log = base.child?.({ app: 'compressor', env: cfg.env }) ?? base;
  // V8's small initial old generation makes the compressor mark-compact 5-9 times per ~60 MB archived instead of once (ADR 0013).
  if (!process.execArgv.some((a) => a.startsWith('--initial-old-space-size'))) log.info('V8 starts with a small old generation: more CPU in GC per MB archived; run node with --initial-old-space-size=128 (backlog start does)');
  const registry = new MetricsRegistry({ defaultMetrics: true });
  const kafka = createKafka({ ...kafkaConn.connection, clientId: `compressor-${cfg.env}`, logger: log });
  const s3 = createS3({ ...cfg.s3, maxAttempts: 2, connectionTimeoutMs: 2_000, requestTimeoutMs: 30_000 });
  const compressor = new Compressor({ env: cfg.env, settings: compressorSettingsSchema.parse(cfg), kafka, s3, logger: log, metrics: registry });
  const http = await startTelemetryServer({ host: cfg.metrics.host, port: cfg.metrics.port, registry, health: () => compressor.health() });

  let stopping = false;
  const stop = async (code: number) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping');
    await compressor.stop(20_000);
    log.info('stopped', compressor.peaks());
    await http.close().catch(() => undefined);
    s3.close();
    process.exit(code);
  };
  process.on('SIGTERM', () => void stop(0));
  process.on('SIGINT', () => void stop(0));
  compressor.onFatal = () => void stop(1);

  // Refused credentials or certificates fail the start here with one message naming the broker.
  await checkKafkaAtStart(kafka, log, { warnings: kafkaConn.warnings });
  await compressor.start();
  // Tests and supervisors wait for this line on stdout.
  process.stdout.write(`${JSON.stringify({ ready: true, metricsPort: http.port, encoder: compressor.encoder })}\n`);
}

main().catch((err: Error) => {
  process.stderr.write(`${JSON.stringify({ level: 'error', app: 'compressor', msg: 'compressor failed to start', err: err.message })}\n`);
  process.exit(1);
});
