/**
 * Log levels for the live filter, ordered by syslog severity (RFC 5424 §6.2.1, most severe = 0).
 * Events carry whatever `log.level` their source used (`warn`, `WARNING`, `err`, `fatal`, …), so a
 * filter compares ranks, not strings. Unknown levels rank as `info` so that a filter never hides an
 * event only because its source spells levels oddly.
 */
const RANK: Record<string, number> = {
  emerg: 0,
  emergency: 0,
  panic: 0,
  alert: 1,
  crit: 2,
  critical: 2,
  fatal: 2,
  err: 3,
  error: 3,
  warn: 4,
  warning: 4,
  notice: 5,
  info: 6,
  informational: 6,
  information: 6,
  debug: 7,
  trace: 7,
  verbose: 7,
};

export const LEVEL_NAMES = Object.keys(RANK);

/** Severity rank, 0 (emergency) … 7 (debug); `info` (6) for absent or unknown levels. */
export function levelRank(level: string | undefined | null): number {
  if (!level) return 6;
  return RANK[level.toLowerCase()] ?? 6;
}

export const isKnownLevel = (level: string): boolean => RANK[level.toLowerCase()] !== undefined;
