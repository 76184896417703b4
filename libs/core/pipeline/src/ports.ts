/**
 * The ports every input, stage and sink of the pipeline speaks. Framework-free and I/O-free
 * (ARCHITECTURE.md "Which way imports point"): apps wire real sockets, files and Kafka behind them.
 */

/** Structured log calls. Implemented by @backlog/platform-telemetry's JSON logger; core only receives it. */
export interface Logger {
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines all carry `fields` (e.g. `{ input: 'syslog_tcp' }`). */
  child?(fields: Record<string, unknown>): Logger;
}

const noop = (): void => undefined;
/** For tests and for components built without a logger. */
export const silentLogger: Logger = { debug: noop, info: noop, warn: noop, error: noop, child: () => silentLogger };

/** `logger.child(fields)` when the implementation has it, else a wrapper that merges the fields. */
export function childLogger(logger: Logger, fields: Record<string, unknown>): Logger {
  if (logger.child) return logger.child(fields);
  const wrap =
    (fn: (msg: string, f?: Record<string, unknown>) => void) =>
    (msg: string, f?: Record<string, unknown>): void =>
      fn.call(logger, msg, { ...fields, ...f });
  return { debug: wrap(logger.debug), info: wrap(logger.info), warn: wrap(logger.warn), error: wrap(logger.error) };
}

/**
 * How far a source has read: a file offset, a journald cursor. Same shape as @backlog/core-codec's
 * `SpoolPosition`, so the shipper can carry positions through its spool unchanged.
 *
 * `source` names the reader uniquely and stably across restarts (e.g. `file:app:64769:1234` for an
 * inode, `journald:system`); `cursor` is opaque to everyone but that source.
 */
export interface SourcePosition {
  source: string;
  cursor: string | number;
}

/**
 * Where a source puts its events. Shaped like Node's `stream.Writable.write()`:
 *
 * - `write()` takes ownership of the events: they are never lost once given (the sink counts any drop
 *   its own when-full policy makes). It returns `false` when the caller should pause, exactly like
 *   `Writable.write()` returning false: a TCP input stops reading so the kernel's window closes and
 *   the peer is pushed back; an HTTP input answers 503 + Retry-After; a UDP input, which cannot push
 *   back, drops with reason `backpressure` while `writable` is false.
 * - `positions` are the source positions that reading `events` reached. The sink hands them back
 *   through the source's `commit()` once every event read before them was delivered (Kafka acked),
 *   so a restart re-reads at most what was not acknowledged (at-least-once; event ids make it idempotent).
 */
export interface SourceSink<E = unknown> {
  write(events: readonly E[], positions?: readonly SourcePosition[]): boolean;
  /** False while the caller should pause; see `onWritable`. */
  readonly writable: boolean;
  /** Called whenever `writable` turns true again; returns an unsubscribe function. */
  onWritable(listener: () => void): () => void;
  /** While not writable: seconds a remote sender should wait before retrying (HTTP Retry-After). */
  readonly retryAfterSeconds?: number;
}

/** A point in time (epoch ms) by which an operation must have finished. */
export type Deadline = number;

/**
 * An input of the pipeline (ARCHITECTURE.md habit 3, "A written lifecycle"):
 * - `start()` returns quickly (once sockets are bound / files opened) and rejects on a setup error
 *   (port in use, unreadable path) so the app can exit non-zero before it serves anything;
 * - `stop(deadline)` stops intake, hands what it already read to the sink, persists committed
 *   positions, keeps to the deadline and is safe to call twice (the second call returns the first's promise);
 * - once started, bad input never throws: it is counted, flagged or dropped with a reason.
 */
export interface Source {
  /** The component type (`syslog_udp`, `file`, …): becomes `labels.input` on every event. */
  readonly type: string;
  /** The instance name from config (unique per app); defaults to the type. */
  readonly name: string;
  start(): Promise<void>;
  stop(deadline: Deadline): Promise<void>;
  /**
   * Positions that are now safe to persist (their events were acknowledged downstream). Sources that
   * have no position (sockets) ignore it; sources ignore positions whose `source` is not theirs.
   */
  commit?(positions: readonly SourcePosition[]): void;
  /** Where the source listens, once started (for tests and logs), e.g. `{ port: 5514 }`. */
  address?(): Record<string, unknown> | undefined;
}

/**
 * The factory of one component (ARCHITECTURE.md "A component is a small folder"): an explicit registry
 * lists these; nothing registers itself by side effect.
 */
export interface ComponentFactory<Cfg, Ctx, C> {
  readonly type: string;
  /** zod schema (or anything with `parse`) of the component's config; strict, with defaults. */
  readonly configSchema: { parse(input: unknown): Cfg };
  create(config: Cfg, context: Ctx): C;
}
