// A tiny app on the shell, for run-app.spec.ts (run as a child process: the shell exits the process).
//   BACKLOG_TINY_PORT, BACKLOG_TINY_DRAIN_MS: required numbers (left out: exit 78, both listed)
//   TINY_MODE=fatal        the component reports a fatal error 100 ms after start
//   TINY_MODE=start-fails  start() throws
//   TINY_MODE=stuck        stop() never returns (the shell's deadline ends it)
//   TINY_MODE=once         a one-shot: done(3) right after start
import { setTimeout as sleep } from 'node:timers/promises';
import { z } from 'zod';
import { loadConfig } from '@backlog/platform-config';
import { runApp } from '../index';

const schema = z.object({ env: z.string().default('dev'), port: z.coerce.number().int().min(0), drainMs: z.coerce.number().int().min(0), stopTimeoutMs: z.coerce.number().int().default(2_000) }).strict();
const mode = process.env.TINY_MODE ?? 'normal';

runApp({
  name: 'tiny',
  config: () => loadConfig({ app: 'tiny', schema, knownApps: ['tiny'] }),
  log: (cfg) => ({ env: cfg.env }),
  metrics: (cfg) => ({ port: cfg.port }),
  stopTimeoutMs: (cfg) => cfg.stopTimeoutMs,
  forceExitGraceMs: 500,
  readyLine: true,
  create: ({ config, logger, fatal, done }) => {
    let drained = false;
    return {
      health: () => ({ ok: true, drained }),
      start: async (t) => {
        if (mode === 'start-fails') throw new Error('cannot bind');
        if (mode === 'fatal') setTimeout(() => fatal(new Error('lost the disk')), 100);
        if (mode === 'once') setTimeout(() => done(3), 0);
        return { metricsPort: t.metricsPort };
      },
      stop: async (deadline) => {
        if (mode === 'stuck') await new Promise(() => undefined);
        await sleep(config.drainMs);
        drained = true;
        logger.info('drained', { withinDeadline: Date.now() <= deadline });
      },
    };
  },
});
