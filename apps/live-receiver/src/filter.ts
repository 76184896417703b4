import type { LiveEvent } from '@backlog/core-codec';

/**
 * A browser's filter. env/host/service: exact, comma-separated alternatives; level: the least
 * severe level shown; text: case-insensitive substring of the message. Empty = any.
 */
export interface ClientFilter {
  env?: string;
  host?: string;
  service?: string;
  level?: string;
  text?: string;
}

// Ranks as in the harvester's live filter (apps/harvester/src/live/levels.ts; an app may not import
// another app, and this table is too small to be a library of its own yet).
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
export const levelRank = (level: unknown): number => (typeof level === 'string' ? (RANK[level.toLowerCase()] ?? 6) : 6);

const MAX_FIELD = 256;
const list = (s: string | undefined): Set<string> | undefined => {
  const items = (s ?? '')
    .split(',')
    .map((x) => x.trim())
    .filter(Boolean);
  return items.length ? new Set(items) : undefined;
};
const str = (v: unknown): string | undefined => (typeof v === 'string' && v.length <= MAX_FIELD ? v : undefined);

/** Reads a filter from untrusted input (query string or a client message), ignoring what is not a filter. */
export function parseClientFilter(input: Record<string, unknown>): ClientFilter {
  const f: ClientFilter = {};
  for (const k of ['env', 'host', 'service', 'level', 'text'] as const) {
    const v = str(input[k]);
    if (v) f[k] = v;
  }
  return f;
}

export function compileClientFilter(f: ClientFilter): (e: LiveEvent) => boolean {
  const env = list(f.env);
  const host = list(f.host);
  const service = list(f.service);
  const maxRank = f.level ? levelRank(f.level) : undefined;
  const text = f.text ? f.text.toLowerCase() : undefined;
  if (!env && !host && !service && maxRank === undefined && !text) return () => true;
  return (e) => {
    if (env && !env.has(String(e.labels?.env ?? ''))) return false;
    if (host && !host.has(String(e.host?.name ?? ''))) return false;
    if (service && !service.has(String(e.service?.name ?? ''))) return false;
    if (maxRank !== undefined && levelRank(e.log?.level) > maxRank) return false;
    if (text && !(typeof e.message === 'string' && e.message.toLowerCase().includes(text))) return false;
    return true;
  };
}
