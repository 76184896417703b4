import type { Logger } from '@backlog/core-pipeline';

export type LogLevel = 'debug' | 'info' | 'warn' | 'error';
const ORDER: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

export interface JsonLoggerOptions {
  /** Lowest level written. Default `info`. */
  level?: LogLevel;
  /** Where lines go. Default process.stderr (stdout may carry data, e.g. the harvester's NDJSON). */
  write?: (line: string) => void;
  /** Fields on every line, e.g. `{ app: 'harvester' }`. */
  base?: Record<string, unknown>;
  /** Clock, for tests. */
  now?: () => Date;
}

/**
 * One JSON object per line, pino-style keys (`time`, `level`, `msg`) so that the usual tools read it.
 * Synchronous and allocation-light; it is not for per-event logging (ARCHITECTURE.md habit 6).
 */
export function createJsonLogger(opts: JsonLoggerOptions = {}): Logger {
  const min = ORDER[opts.level ?? 'info'];
  const write = opts.write ?? ((line: string) => void process.stderr.write(line));
  const now = opts.now ?? (() => new Date());
  const make = (base: Record<string, unknown>): Logger => {
    const emit = (level: LogLevel) => (msg: string, fields?: Record<string, unknown>) => {
      if (ORDER[level] < min) return;
      write(`${safeStringify({ time: now().toISOString(), level, msg, ...base, ...fields })}\n`);
    };
    return {
      debug: emit('debug'),
      info: emit('info'),
      warn: emit('warn'),
      error: emit('error'),
      child: (fields) => make({ ...base, ...fields }),
    };
  };
  return make(opts.base ?? {});
}

/** JSON.stringify that never throws: errors become {name, message, code}, cycles and bigints are rendered. */
function safeStringify(value: unknown): string {
  const seen = new WeakSet<object>();
  try {
    return JSON.stringify(value, (_k, v: unknown) => {
      if (typeof v === 'bigint') return v.toString();
      if (v instanceof Error) return { name: v.name, message: v.message, ...('code' in v ? { code: (v as { code: unknown }).code } : {}) };
      if (typeof v === 'object' && v !== null) {
        if (seen.has(v)) return '[circular]';
        seen.add(v);
      }
      return v;
    });
  } catch {
    return JSON.stringify({ level: 'error', msg: 'unserializable log line' });
  }
}
