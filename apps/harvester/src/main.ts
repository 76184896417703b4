// harvester: reads logs (syslog UDP/TCP, JSON lines, HTTP, files, journald, stdin), normalizes them,
// ships them to h-<env> through the disk spool (or sealed through a nacl-gateway), sends a lossy UDP
// copy to the live view when enabled, or writes NDJSON to stdout (output: stdout). The only file that exits.
//
//   node --import tsx apps/harvester/src/main.ts [--config harvester.yaml]
//   some-app | BACKLOG_HARVESTER_OUTPUT=stdout BACKLOG_HARVESTER_INPUTS='[{"type":"stdin"}]' node --import tsx apps/harvester/src/main.ts
import { getHeapStatistics } from 'node:v8';
import { type KafkaConnection, kafkaConnection } from '@backlog/adapter-kafka';
import { CONFIG_EXIT_CODE, ConfigError, loadConfig, redact } from '@backlog/platform-config';
import { MetricsRegistry, type TelemetryServer, createJsonLogger, startTelemetryServer } from '@backlog/platform-telemetry';
import type { LogEvent } from '@backlog/core-event';
import type { SourcePosition, SourceSink } from '@backlog/core-pipeline';
import { harvesterConfigSchema } from './config';
import { Harvester } from './harvester';
import { type LiveConfig, type LiveSender, createLiveSender, registerLiveSenderMetrics } from './live';
import { type Shipping, startShipping } from './shipping/wire';

/** The node flags the harvester is meant to run with (SHIPPING.md "Memory"). */
const HEAP_CAPS = '--max-old-space-size=96 --max-semi-space-size=4';
const argv = process.argv.slice(2);
const option = (name: string) => {
  const i = argv.indexOf(name);
  return i >= 0 ? argv[i + 1] : undefined;
};

let config;
let kafka: { connection: KafkaConnection; warnings: string[] } | undefined;
try {
  config = loadConfig({ app: 'harvester', schema: harvesterConfigSchema, file: option('--config') });
  // Kafka's TLS files and SASL password are read and checked now, only when this harvester ships to
  // Kafka itself: a sealed harvester never holds Kafka credentials.
  if (config.output === 'kafka' && !config.shipping.sealed.enabled) kafka = kafkaConnection('harvester', config.kafka);
} catch (err) {
  if (!(err instanceof ConfigError)) throw err;
  process.stderr.write(`${err.message}\n`);
  process.exit(CONFIG_EXIT_CODE);
}
const cfg = config;
// Logs go to stderr: stdout carries the events.
const logger = createJsonLogger({ level: cfg.log.level, base: { app: 'harvester', env: cfg.env } });
logger.info('config', { config: redact(cfg) });
// V8 sizes its heap at process start from the command line only (v8.setFlagsFromString is too late).
// Uncapped, it lets garbage grow the harvester to 200-330 MB RSS at 10,000 events/s; with the caps
// of SHIPPING.md "Memory" it stays under 150 MB, Kafka outage included.
const heapLimitMb = Math.round(getHeapStatistics().heap_size_limit / 2 ** 20);
if (heapLimitMb > 256) logger.warn('V8 heap not capped: resident memory may pass 150 MB under load', { heapLimitMb, fix: `NODE_OPTIONS="${HEAP_CAPS}"` });
// GC helper threads cost several times the CPU of collecting on the main thread (ADR 0012).
if (!process.execArgv.includes('--single-threaded-gc'))
  logger.info('V8 collects garbage on helper threads: more CPU per event; run node with --single-threaded-gc for a one-core budget (backlog start does)');

const registry = new MetricsRegistry({ defaultMetrics: true });

// The live copy never waits: it sees each event as the inputs hand it over, before shipping.
let live: LiveSender | undefined;
if (cfg.live.enabled) {
  // The sender only reads its config; the frozen config's readonly arrays are narrower than its input type.
  live = createLiveSender(cfg.live as LiveConfig, { host: cfg.host.name });
  registerLiveSenderMetrics(registry, live);
}
// Shipping starts before the inputs: it recovers the spool and commits what the last run got acknowledged,
// so a file input resumes after those lines. Commits that arrive before the inputs exist are handed over later.
let shipping: Shipping | undefined;
// Set once the inputs exist; shipping may acknowledge (recovered) batches before that.
const ready: { harvester?: Harvester } = {};
const early: SourcePosition[] = [];
try {
  if (cfg.output === 'kafka') {
    shipping = await startShipping(
      { host: cfg.host.name, env: cfg.env, ...(kafka ? { kafka } : {}), shipping: cfg.shipping },
      { registry, logger, onCommit: (p) => (ready.harvester ? ready.harvester.commit(p) : early.push(...p)) },
    );
  }
} catch (err) {
  logger.error('cannot start shipping', { err });
  process.exit(1);
}
const sink = shipping?.sink as SourceSink<LogEvent> | undefined;
const liveSender = live;
const harvester = new Harvester(cfg, { logger, metrics: registry, out: process.stdout, sink, tap: liveSender ? (e) => liveSender.send(e) : undefined });
ready.harvester = harvester;
if (early.length) harvester.commit(early);
let telemetry: TelemetryServer | undefined;
let exitCode = 0;
const health = () => {
  const h = harvester.health();
  const s = shipping?.health();
  return { ...h, ok: h.ok && (s?.ok ?? true), heapLimitMb, ...(s ? { shipping: s.shipping } : {}), ...(live ? { live: live.stats } : {}) };
};

async function shutdown(reason: string): Promise<void> {
  logger.info('stopping', { reason });
  const deadline = Date.now() + 10_000;
  // Inputs first (they hand over what they read), then shipping flushes open batches; the rest stays spooled.
  await harvester.stop(deadline);
  await shipping?.stop(deadline);
  await live?.stop();
  await telemetry?.close();
  logger.info('stopped', { inputs: harvester.health().inputs });
}

try {
  telemetry = await startTelemetryServer({ registry, host: cfg.metrics.host, port: cfg.metrics.port, health });
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
