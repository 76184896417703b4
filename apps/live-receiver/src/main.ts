// Entry of the live-receiver (`backlog start live-receiver`, or `node --import tsx apps/live-receiver/src/main.ts`).
// Runs on the app shell (@backlog/platform-app), the only code that exits the process (ARCHITECTURE.md habit 3).
// The receiver serves its own /metrics and /healthz (beside its HTTP server), so the shell opens none.
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { runApp } from '@backlog/platform-app';
import { defaultScratchDir, ensureScratchDir, redact, writePrivateFile } from '@backlog/platform-config';
import { configuredToken, loadLiveReceiverConfig } from './config';
import { LiveReceiver } from './receiver';

// JSON lines on stderr, one per lifecycle event, never one per datagram.
runApp({
  name: 'live-receiver',
  config: () => {
    const cfg = loadLiveReceiverConfig(process.env, process.argv.find((a) => a.startsWith('--config='))?.slice('--config='.length));
    return { cfg, token: configuredToken(cfg) };
  },
  stopTimeoutMs: ({ cfg }) => cfg.stopTimeoutMs,
  forceExitGraceMs: 1000,
  create: ({ config: { cfg, token }, logger: log }) => {
    const receiver = new LiveReceiver(cfg, { log, ...(token ? { token } : {}) });
    let tokenFile: string | undefined;
    const abandon = async (msg: string, err: unknown) => {
      log.error(msg, { error: (err as Error).message });
      await receiver.stop(1000).catch(() => undefined);
      throw err;
    };
    return {
      start: async () => {
        const addr = await receiver.start().catch((err: unknown) => abandon('cannot start', err));
        const pageHost = cfg.http.host.includes(':') ? `[${cfg.http.host}]` : cfg.http.host;
        // No configured token: one was made for this run. It never goes into a log or a URL: it is written to
        // a file only this user can read (removed at stop), and the log says where.
        if (!token) {
          try {
            const dir = defaultScratchDir('live-receiver');
            ensureScratchDir(dir);
            tokenFile = join(dir, `${process.pid}.token`);
            writePrivateFile(tokenFile, `${addr.token}\n`, { overwrite: true });
          } catch (err) {
            await abandon('cannot write the generated token to a private file; configure auth.token', err);
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
            : "with auth.token in the page's sign-in form, or a one-time code from `backlog live code`",
        });
      },
      stop: async (deadline) => {
        await receiver.stop(Math.max(0, deadline - Date.now()));
        if (tokenFile) rmSync(tokenFile, { force: true });
        log.info('stopped');
      },
    };
  },
});
