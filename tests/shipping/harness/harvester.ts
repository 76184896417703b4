// A harvester process for the shipping fault tests and the benchmark: the real inputs (by their
// factories, as main.ts builds them) feeding the real shipping (startShipping), with /metrics and
// /healthz. Used because apps/harvester/src/main.ts is being written in parallel; once it accepts
// the same config, the tests can spawn it instead (the composition below is what it does).
//   node --import tsx tests/shipping/harness/harvester.ts <config.json>
import { readFileSync } from 'node:fs';
import { hostname } from 'node:os';
import type { Source, SourcePosition, SourceSink } from '@backlog/core-pipeline';
import { MetricsRegistry, createJsonLogger, startTelemetryServer } from '@backlog/platform-telemetry';
import { shippingConfigSchema } from '../../../apps/harvester/src/shipping/config';
import { startShipping } from '../../../apps/harvester/src/shipping/wire';

interface HarnessConfig {
  host?: string;
  env: string;
  brokers: string[];
  stateDir: string;
  metricsPort: number;
  shipping: unknown;
  inputs: ({ type: string } & Record<string, unknown>)[];
}

type Factory = { type: string; configSchema: { parse(v: unknown): unknown }; create(cfg: unknown, ctx: unknown): Source };

async function factoryOf(type: string): Promise<Factory> {
  const mod = (await import(`../../../apps/harvester/src/inputs/${type}/index.ts`)) as Record<string, unknown>;
  const f = Object.values(mod).find((v): v is Factory => typeof v === 'object' && v !== null && (v as Factory).type === type && typeof (v as Factory).create === 'function');
  if (!f) throw new Error(`no factory for input ${type}`);
  return f;
}

async function main() {
  const cfg = JSON.parse(readFileSync(process.argv[2]!, 'utf8')) as HarnessConfig;
  const registry = new MetricsRegistry({ defaultMetrics: true });
  const logger = createJsonLogger({ level: 'warn' });
  const sources: Source[] = [];
  const host = cfg.host ?? hostname();
  // Positions acknowledged while the previous run's spool drains, before the inputs exist: handed over once they do.
  const early: SourcePosition[] = [];
  const shipping = await startShipping(
    { host, env: cfg.env, kafka: { connection: { brokers: cfg.brokers }, warnings: [] }, shipping: shippingConfigSchema.parse(cfg.shipping) },
    { registry, logger, onCommit: (p) => (sources.length ? sources.forEach((s) => s.commit?.(p)) : early.push(...p)) },
  );
  for (const raw of cfg.inputs) {
    const f = await factoryOf(raw.type);
    const ctx = { sink: shipping.sink as unknown as SourceSink<unknown>, logger, metrics: registry, hostname: host, labels: { env: cfg.env }, stateDir: cfg.stateDir };
    sources.push(f.create(f.configSchema.parse(raw), ctx));
  }
  if (early.length) for (const s of sources) s.commit?.(early);
  for (const s of sources) await s.start();
  const telemetry = await startTelemetryServer({ registry, port: cfg.metricsPort, health: () => shipping.health() });
  process.stdout.write(`${JSON.stringify({ ready: true, pid: process.pid, metricsPort: telemetry.port, inputs: sources.map((s) => ({ type: s.type, ...s.address?.() })) })}\n`);
  let stopping = false;
  process.on('SIGTERM', () => {
    if (stopping) return;
    stopping = true;
    void (async () => {
      const deadline = Date.now() + 10_000;
      for (const s of sources) await s.stop(deadline);
      await shipping.stop(deadline);
      await telemetry.close();
      process.exit(0);
    })();
  });
}

main().catch((err: Error) => {
  process.stderr.write(`harness harvester failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
