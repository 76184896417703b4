// Entry of the live-receiver (`backlog start live-receiver`, or `node --import tsx apps/live-receiver/src/main.ts`).
// Only this file may exit the process (ARCHITECTURE.md habit 3).
import { ConfigError, CONFIG_EXIT_CODE, redact } from '@backlog/platform-config';
import { loadLiveReceiverConfig, type LiveReceiverConfig } from './config';
import { createJsonLogger } from '@backlog/platform-telemetry';
import { LiveReceiver } from './receiver';

// JSON lines on stderr, one per lifecycle event, never one per datagram.
const log = createJsonLogger({ base: { app: 'live-receiver' } });

async function main(): Promise<void> {
  let cfg: LiveReceiverConfig;
  try {
    cfg = loadLiveReceiverConfig(process.env, process.argv.find((a) => a.startsWith('--config='))?.slice('--config='.length));
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(CONFIG_EXIT_CODE);
    }
    throw err;
  }
  const receiver = new LiveReceiver(cfg, { log });
  let addr;
  try {
    addr = await receiver.start();
  } catch (err) {
    log.error('cannot start', { error: (err as Error).message });
    await receiver.stop(1000).catch(() => undefined);
    process.exit(1);
  }
  const pageHost = cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host;
  log.info('listening', {
    id: addr.id,
    udp: `${cfg.udp.host}:${addr.udpPort}`,
    http: `${cfg.http.host}:${addr.httpPort}`,
    metrics: `${cfg.metrics.host}:${addr.metricsPort}`,
    udpPort: addr.udpPort,
    httpPort: addr.httpPort,
    metricsPort: addr.metricsPort,
    config: redact(cfg),
  });
  if (!cfg.auth.token) {
    // No configured token: one was made for this run; show it once, on the terminal that started us.
    log.info('no auth.token configured; this run accepts the generated token below', { page: `http://${pageHost}:${addr.httpPort}/?token=${addr.token}` });
  }

  let stopping = false;
  const stop = (signal: string) => {
    if (stopping) return;
    stopping = true;
    log.info('stopping', { signal });
    const force = setTimeout(() => {
      log.error('stop exceeded its deadline; exiting');
      process.exit(1);
    }, cfg.stopTimeoutMs + 1000);
    force.unref();
    receiver.stop(cfg.stopTimeoutMs).then(
      () => {
        log.info('stopped');
        process.exit(0);
      },
      (err: Error) => {
        log.error('stop failed', { error: err.message });
        process.exit(1);
      },
    );
  };
  process.on('SIGTERM', () => stop('SIGTERM'));
  process.on('SIGINT', () => stop('SIGINT'));
}

void main();
