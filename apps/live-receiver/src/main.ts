// Entry of the live-receiver (`backlog start live-receiver`, or `node --import tsx apps/live-receiver/src/main.ts`).
// Only this file may exit the process (ARCHITECTURE.md habit 3).
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { ConfigError, CONFIG_EXIT_CODE, defaultScratchDir, ensureScratchDir, redact, writePrivateFile } from '@backlog/platform-config';
import { configuredToken, loadLiveReceiverConfig, type LiveReceiverConfig } from './config';
import { createJsonLogger } from '@backlog/platform-telemetry';
import { LiveReceiver } from './receiver';

// JSON lines on stderr, one per lifecycle event, never one per datagram.
const log = createJsonLogger({ base: { app: 'live-receiver' } });

async function main(): Promise<void> {
  let cfg: LiveReceiverConfig;
  let token: string | undefined;
  try {
    cfg = loadLiveReceiverConfig(process.env, process.argv.find((a) => a.startsWith('--config='))?.slice('--config='.length));
    token = configuredToken(cfg);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(CONFIG_EXIT_CODE);
    }
    throw err;
  }
  const receiver = new LiveReceiver(cfg, { log, ...(token ? { token } : {}) });
  let addr;
  try {
    addr = await receiver.start();
  } catch (err) {
    log.error('cannot start', { error: (err as Error).message });
    await receiver.stop(1000).catch(() => undefined);
    process.exit(1);
  }
  const pageHost = cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host;
  // No configured token: one was made for this run. It never goes into a log or a URL: it is written to
  // a file only this user can read (removed at stop), and the log says where.
  let tokenFile: string | undefined;
  if (!token) {
    try {
      const dir = defaultScratchDir('live-receiver');
      ensureScratchDir(dir);
      tokenFile = join(dir, `${process.pid}.token`);
      writePrivateFile(tokenFile, `${addr.token}\n`, { overwrite: true });
    } catch (err) {
      log.error('cannot write the generated token to a private file; configure auth.token', { error: (err as Error).message });
      await receiver.stop(1000).catch(() => undefined);
      process.exit(1);
    }
  }
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
  log.info('live page', {
    page: `http://${pageHost}:${addr.httpPort}/`,
    signIn: tokenFile
      ? `no auth.token configured: this run's token is in ${tokenFile} (mode 0600); paste it into the page's sign-in form, or ask for a one-time code: backlog live code --token-file ${tokenFile}`
      : 'with auth.token in the page\'s sign-in form, or a one-time code from `backlog live code`',
  });

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
        if (tokenFile) rmSync(tokenFile, { force: true });
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
