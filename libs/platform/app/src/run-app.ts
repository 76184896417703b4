import type { Logger } from '@backlog/core-pipeline';
import { CONFIG_EXIT_CODE, ConfigError } from '@backlog/platform-config';
import { type HealthReport, type LogLevel, MetricsRegistry, type TelemetryServer, createJsonLogger, startTelemetryServer } from '@backlog/platform-telemetry';

/** What an app's component gets from the shell. */
export interface AppContext<C> {
  /** What `AppSpec.config` returned: checked and frozen. */
  readonly config: C;
  /** JSON lines on stderr with `app` (and `env`) on every line. */
  readonly logger: Logger;
  /** The registry `/metrics` serves (process metrics included). */
  readonly registry: MetricsRegistry;
  /**
   * Ends the app for good (a consumer that cannot go on): drains like a signal would, then exits 1 so
   * that a supervisor restarts it. Safe to call more than once, and during start.
   */
  fatal(reason?: unknown): void;
  /**
   * The app's work is done (a one-shot command): the same drain without a "stopping" line, then exit with
   * `code` (or the one `stop()` returns).
   */
  done(code?: number): void;
}

/** Where the telemetry server listens, once it does (port 0 in the config picks a free one). */
export interface StartedTelemetry {
  readonly metricsHost: string;
  readonly metricsPort: number;
}

/** The app itself, as the shell drives it (ARCHITECTURE.md habit 3, "a written lifecycle"). */
export interface AppComponent {
  /** `/healthz` (readiness); asked from the moment the telemetry server listens, start included. Default: ok. */
  health?(): HealthReport | Promise<HealthReport>;
  /**
   * Opens the app's listeners and consumers. A throw ends the start: "<app> failed to start", exit 1.
   * Returns the fields of the ready line (`{"ready":true,…}` on stdout) when `AppSpec.readyLine` is set.
   */
  start(telemetry: StartedTelemetry): Promise<Record<string, unknown> | void>;
  /**
   * Stops intake and drains downstream by `deadline` (epoch ms). Called once. A number returned is the
   * exit code (a one-shot command that was interrupted), instead of the shell's 0 or 1.
   */
  stop(deadline: number): Promise<number | void>;
}

export interface AppSpec<C> {
  /** `compressor`, `nacl-gateway`, …: the `app` field of every log line. */
  name: string;
  /**
   * Loads and checks the config (and whatever must be read before a socket opens: key files, TLS
   * material). Throws `ConfigError` listing every problem: the shell prints them and exits 78.
   */
  config(): C;
  /** The logger's level and `env` field. Default: `info`, no `env`. */
  log?(config: C): { level?: LogLevel; env?: string };
  /**
   * Where `/metrics`, `/healthz` and `/livez` listen. Left out by an app whose component serves its own
   * (the live-receiver's, beside its HTTP server): then no telemetry server, and `start()` gets port 0.
   */
  metrics?(config: C): { host?: string; port: number } | undefined;
  /** The drain's budget after SIGTERM/SIGINT or a fatal error, ms. */
  stopTimeoutMs(config: C): number;
  /**
   * Past the drain's budget by this much, the process exits 1 whatever the component is doing, ms.
   * Default 5,000.
   */
  forceExitGraceMs?: number;
  /** Builds the component (no sockets yet: those open in `start`). */
  create(ctx: AppContext<C>): AppComponent | Promise<AppComponent>;
  /** Print `{"ready":true,…}` on stdout once started (tests and supervisors wait for it). */
  readyLine?: boolean;
}

/**
 * Runs an app: the only code that exits the process.
 *
 *   config error            → every problem on stderr, exit 78, before any socket opens
 *   create/start throws     → "<app> failed to start" logged, exit 1
 *   SIGTERM or SIGINT       → "stopping" logged once (a second signal is ignored), component.stop(deadline),
 *                             telemetry server closed, exit 0 (1 if the stop threw)
 *   ctx.fatal(reason)       → the same drain, exit 1
 *   the drain overruns      → exit 1, `forceExitGraceMs` after its deadline
 */
export function runApp<C>(spec: AppSpec<C>): void {
  void run(spec);
}

async function run<C>(spec: AppSpec<C>): Promise<void> {
  let config: C;
  try {
    config = spec.config();
  } catch (err) {
    if (err instanceof ConfigError) {
      // Every problem is listed before anything opens a socket (ARCHITECTURE.md habit 2).
      process.stderr.write(`${err.message}\n`);
      process.exit(CONFIG_EXIT_CODE);
    }
    process.stderr.write(`${JSON.stringify({ level: 'error', app: spec.name, msg: `${spec.name} failed to start`, err: (err as Error)?.message ?? String(err) })}\n`);
    process.exit(1);
  }
  const { level, env } = spec.log?.(config) ?? {};
  const logger = createJsonLogger({ ...(level ? { level } : {}), base: { app: spec.name, ...(env !== undefined ? { env } : {}) } });
  const registry = new MetricsRegistry({ defaultMetrics: true });
  const stopTimeoutMs = spec.stopTimeoutMs(config);
  const graceMs = spec.forceExitGraceMs ?? 5_000;

  let component: AppComponent | undefined;
  let telemetry: TelemetryServer | undefined;
  let stopping = false;
  const shutdown = (code: number, fields: Record<string, unknown> | undefined): void => {
    if (stopping) return;
    stopping = true;
    if (fields && code === 0) logger.info('stopping', fields);
    else if (fields) logger.error('stopping', fields);
    const force = setTimeout(() => {
      logger.error('stop exceeded its deadline; exiting', { stopTimeoutMs });
      process.exit(1);
    }, stopTimeoutMs + graceMs);
    force.unref();
    void (async () => {
      let exit = code;
      try {
        const own = await component?.stop(Date.now() + stopTimeoutMs);
        if (typeof own === 'number') exit = own;
      } catch (err) {
        logger.error('stop failed', { error: err });
        exit = 1;
      }
      await telemetry?.close().catch(() => undefined);
      process.exit(exit);
    })();
  };
  const ctx: AppContext<C> = {
    config,
    logger,
    registry,
    fatal: (reason) => shutdown(1, { reason: 'fatal', ...(reason === undefined ? {} : { error: reason }) }),
    done: (code = 0) => shutdown(code, undefined),
  };

  try {
    component = await spec.create(ctx);
    const app = component;
    const m = spec.metrics?.(config);
    if (m) telemetry = await startTelemetryServer({ registry, ...(m.host ? { host: m.host } : {}), port: m.port, health: () => app.health?.() ?? { ok: true } });
    for (const signal of ['SIGTERM', 'SIGINT'] as const) process.on(signal, () => shutdown(0, { signal }));
    const fields = await app.start({ metricsHost: telemetry?.host ?? '', metricsPort: telemetry?.port ?? 0 });
    if (stopping) return;
    // Tests and supervisors wait for this line on stdout.
    if (spec.readyLine) process.stdout.write(`${JSON.stringify({ ready: true, ...(fields ?? {}) })}\n`);
  } catch (err) {
    // A signal or a fatal error during start: the drain is under way and exits.
    if (stopping) return;
    logger.error(`${spec.name} failed to start`, { err: (err as Error)?.message ?? String(err) });
    process.exit(1);
  }
}
