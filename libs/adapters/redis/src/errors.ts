/**
 * Coded errors of the Redis adapter. Callers branch on `code`/`retriable`, never on ioredis messages.
 */
export type RedisErrorCode =
  /** Not connected and the reconnect attempts for this command ran out (connection refused, reset). Retriable. */
  | 'REDIS_UNAVAILABLE'
  /** No reply within `commandTimeoutMs`. Retriable (our commands are idempotent or guarded by NX). */
  | 'REDIS_TIMEOUT'
  /** The server is busy (LOADING, BUSY, TRYAGAIN, MASTERDOWN, READONLY during failover). Retriable. */
  | 'REDIS_BUSY'
  /** The server rejected the command (WRONGTYPE, syntax, NOPERM…). */
  | 'REDIS_COMMAND'
  /** Used after `quit()`. */
  | 'REDIS_CLOSED'
  /** Invalid adapter configuration or arguments. */
  | 'REDIS_CONFIG_INVALID';

const RETRIABLE: ReadonlySet<RedisErrorCode> = new Set<RedisErrorCode>(['REDIS_UNAVAILABLE', 'REDIS_TIMEOUT', 'REDIS_BUSY']);

export class RedisAdapterError extends Error {
  readonly retriable: boolean;
  constructor(
    readonly code: RedisErrorCode,
    message: string,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'RedisAdapterError';
    this.retriable = RETRIABLE.has(code);
  }
}

export function isRedisAdapterError(e: unknown): e is RedisAdapterError {
  return e instanceof RedisAdapterError;
}

const BUSY_REPLY = /^(LOADING|BUSY|TRYAGAIN|MASTERDOWN|READONLY|CLUSTERDOWN)\b/;

/** Maps an ioredis error. `closed` tells whether the adapter was quit (then "Connection is closed" is ours). */
export function mapRedisError(e: unknown, what: string, closed = false): RedisAdapterError {
  if (e instanceof RedisAdapterError) return e;
  const err = (e ?? {}) as { name?: unknown; message?: unknown; code?: unknown };
  const name = typeof err.name === 'string' ? err.name : '';
  const msg = typeof err.message === 'string' ? err.message : String(e);
  const mk = (code: RedisErrorCode) => new RedisAdapterError(code, `${what}: ${msg}`, e);
  if (name === 'ReplyError') return mk(BUSY_REPLY.test(msg) ? 'REDIS_BUSY' : 'REDIS_COMMAND');
  if (/Command timed out/i.test(msg)) return mk('REDIS_TIMEOUT');
  if (/Connection is closed/i.test(msg)) return mk(closed ? 'REDIS_CLOSED' : 'REDIS_UNAVAILABLE');
  if (name === 'MaxRetriesPerRequestError' || /ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|ETIMEDOUT/.test(`${String(err.code)} ${msg}`)) {
    return mk('REDIS_UNAVAILABLE');
  }
  return mk('REDIS_COMMAND');
}
