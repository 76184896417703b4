// compressor: h-<env> → sorted bz2 parts per (window, partition) → S3 + c-<env>; /metrics and /healthz
// on 9104. Runs on the app shell (@backlog/platform-app), the only code that exits the process.
import { checkKafkaAtStart, createKafka, kafkaConnection } from '@backlog/adapter-kafka';
import { createS3 } from '@backlog/adapter-s3';
import { runApp } from '@backlog/platform-app';
import { loadConfig } from '@backlog/platform-config';
import { Compressor } from './compressor';
import { compressorConfigSchema, compressorSettingsSchema } from './config';

runApp({
  name: 'compressor',
  config: () => {
    const cfg = loadConfig({ app: 'compressor', schema: compressorConfigSchema, file: process.argv.find((a) => a.startsWith('--config='))?.slice(9) });
    return { cfg, kafkaConn: kafkaConnection('compressor', cfg.kafka) };
  },
  log: ({ cfg }) => ({ level: cfg.logLevel, env: cfg.env }),
  metrics: ({ cfg }) => ({ host: cfg.metrics.host, port: cfg.metrics.port }),
  stopTimeoutMs: () => 20_000,
  readyLine: true,
  create: ({ config: { cfg, kafkaConn }, logger: log, registry, fatal }) => {
    // V8's small initial old generation makes the compressor mark-compact 5-9 times per ~60 MB archived instead of once (ADR 0013).
    if (!process.execArgv.some((a) => a.startsWith('--initial-old-space-size')))
      log.info('V8 starts with a small old generation: more CPU in GC per MB archived; run node with --initial-old-space-size=128 (backlog start does)');
    const kafka = createKafka({ ...kafkaConn.connection, clientId: `compressor-${cfg.env}`, logger: log });
    const s3 = createS3({ ...cfg.s3, maxAttempts: 2, connectionTimeoutMs: 2_000, requestTimeoutMs: 30_000 });
    const compressor = new Compressor({ env: cfg.env, settings: compressorSettingsSchema.parse(cfg), kafka, s3, logger: log, metrics: registry });
    compressor.onFatal = () => fatal();
    return {
      health: () => compressor.health(),
      start: async ({ metricsPort }) => {
        // Refused credentials or certificates fail the start here with one message naming the broker.
        await checkKafkaAtStart(kafka, log, { warnings: kafkaConn.warnings });
        await compressor.start();
        return { metricsPort, encoder: compressor.encoder };
      },
      stop: async (deadline) => {
        await compressor.stop(Math.max(0, deadline - Date.now()));
        log.info('stopped', compressor.peaks());
        s3.close();
      },
    };
  },
});
