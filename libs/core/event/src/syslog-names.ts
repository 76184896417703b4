/**
 * Names for syslog PRI parts. RFC 5424 section 6.2.1 (table 1 and 2) defines the numeric codes; the
 * keywords are the ones syslog(3) / rsyslog / go-syslog use, which is what operators type in filters.
 * Facilities 13-15 have no agreed keyword (RFC 5424 calls them "log audit", "log alert", "clock daemon");
 * we follow the common Linux naming: security, console, solaris-cron.
 */
export const FACILITY_NAMES: readonly string[] = [
  'kern',
  'user',
  'mail',
  'daemon',
  'auth',
  'syslog',
  'lpr',
  'news',
  'uucp',
  'cron',
  'authpriv',
  'ftp',
  'ntp',
  'security',
  'console',
  'solaris-cron',
  'local0',
  'local1',
  'local2',
  'local3',
  'local4',
  'local5',
  'local6',
  'local7',
];

/** RFC 5424 table 2 keywords, as they land in `log.syslog.severity.name`. */
export const SEVERITY_NAMES: readonly string[] = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'];

/**
 * `log.level` vocabulary for syslog severities. It differs from the severity keywords on purpose for
 * err/warning: application loggers (pino, log4j, Go's slog, Python logging) say "error"/"warn", and one
 * filter `log.level:error` should find both kinds of source (DESIGN.md's example event shows exactly
 * this: severity.name "err", log.level "error").
 */
export const SEVERITY_LEVELS: readonly string[] = ['emerg', 'alert', 'crit', 'error', 'warn', 'notice', 'info', 'debug'];

/** The highest valid PRI value (facility 23, severity 7), RFC 5424 section 6.2.1. */
export const MAX_PRI = 191;

const LEVEL_ALIASES: Record<string, string> = {
  emerg: 'emerg',
  emergency: 'emerg',
  panic: 'emerg',
  alert: 'alert',
  crit: 'crit',
  critical: 'crit',
  fatal: 'fatal',
  err: 'error',
  error: 'error',
  eror: 'error',
  warn: 'warn',
  warning: 'warn',
  notice: 'notice',
  info: 'info',
  information: 'info',
  informational: 'info',
  inf: 'info',
  debug: 'debug',
  dbg: 'debug',
  trace: 'trace',
  trc: 'trace',
  verbose: 'trace',
};

/**
 * Canonical `log.level` for a level value written by an application. Strings are lower-cased and common
 * aliases folded (WARNING → warn, ERR → error). Numbers 0-7 are syslog severities; 10-60 are the pino /
 * bunyan levels (10 trace … 60 fatal). Anything else is kept lower-cased (bounded to 32 chars) so nothing
 * is invented; `undefined` when the value is not a level at all.
 */
export function canonicalLevel(v: unknown): string | undefined {
  if (typeof v === 'string') {
    if (v.length === 0) return undefined;
    const lower = v.length <= 32 ? v.toLowerCase() : v.slice(0, 32).toLowerCase();
    return LEVEL_ALIASES[lower] ?? lower;
  }
  if (typeof v === 'number' && Number.isInteger(v)) {
    if (v >= 0 && v <= 7) return SEVERITY_LEVELS[v];
    switch (v) {
      case 10:
        return 'trace';
      case 20:
        return 'debug';
      case 30:
        return 'info';
      case 40:
        return 'warn';
      case 50:
        return 'error';
      case 60:
        return 'fatal';
    }
  }
  return undefined;
}
