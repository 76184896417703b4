// harvester: reads logs (syslog UDP/TCP, JSON lines, HTTP, files, journald, stdin), normalizes them and —
// until shipping to Kafka lands — writes them to stdout as NDJSON. The only file that exits.
//
//   node --import tsx apps/harvester/src/main.ts [--config harvester.yaml]
//   some-app | BACKLOG_HARVESTER_INPUTS='[{"type":"stdin"}]' node --import tsx apps/harvester/src/main.ts
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, redact } from '@backlog/platform-config';
import { MetricsRegistry, type TelemetryServer, createJsonLogger, startTelemetryServer } from '@backlog/platform-telemetry';
import { harvesterConfigSchema } from './config';
import { Harvester } from './harvester';

const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

let config;
try {
  config = loadConfig({ app: 'harvester', schema: harvesterConfigSchema, file: option('--config') });
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(CONFIG_EXIT_CODE);
}
const cfg = config;
// Logs go to stderr: stdout carries the events.
const logger = createJsonLogger({ level: cfg.log.level, base: { app: 'harvester', env: cfg.env } });
logger.info('config', { config: redact(cfg) });

const registry = new MetricsRegistry({ defaultMetrics: true });
const harvester = new Harvester(cfg, { logger, metrics: registry, out: process.stdout });
let telemetry: TelemetryServer | undefined;
let exitCode = 0;

async function shutdown(reason: string): Promise<void> {
  logger.info('stopping', { reason });
  const deadline = Date.now() + 10_000;
  await harvester.stop(deadline);
  await telemetry?.close();
  logger.info('stopped', { inputs: harvester.health().inputs });
}

try {
  telemetry = await startTelemetryServer({ registry, host: cfg.metrics.host, port: cfg.metrics.port, health: () => harvester.health() });
  await harvester.start();
  logger.info('started', { inputs: harvester.health().inputs, metrics: `http://${cfg.metrics.host}:${telemetry.port}/metrics` });
} catch (err) {
  logger.error('cannot start', { err });
  await telemetry?.close();
  process.exit(1);
}

const stopped = new Promise<string>((resolve) => {
  for (const sig of ['SIGTERM', 'SIGINT'] as const) process.once(sig, () => resolve(sig));
  // Only stdin (or inputs that end): exit when they ended and everything was written.
  void harvester.inputsDone?.then(() => resolve('inputs ended'));
});
process.stdout.on('error', (err) => {
  // A closed pipe downstream (`| head`) is an ordinary end, not a crash.
  exitCode = (err as NodeJS.ErrnoException).code === 'EPIPE' ? 0 : 1;
  void shutdown('stdout closed').then(() => process.exit(exitCode));
});
await shutdown(await stopped);
process.exit(exitCode);
