import type { PartManifest } from './part';

/**
 * Which events to keep, shared by `backlog history load` (docs/specs/indexer.md, "Filters") and
 * `backlog archive export|replay` (docs/specs/archive.md, "Readers"). Every given field must match:
 *   host, service, level — the event's `host.name` / `service.name` / `log.level` is one of the values
 *                          (level compared case-insensitively);
 *   message              — every term is a case-insensitive substring of `message`.
 * The CLI spells it `--filter host=web-1,web-2 --filter level=error --filter message~timeout`
 * (repeating a key adds values, or terms for `message`); the indexer's API takes the object below.
 */
export interface EventFilter {
  host?: string[];
  service?: string[];
  level?: string[];
  message?: string[];
}

export class FilterError extends Error {
  readonly code = 'FILTER_INVALID';
  readonly retriable = false;
}

const KEYS = ['host', 'service', 'level', 'message'] as const;

/** Parses the CLI's `--filter` arguments into a normalized filter. Throws FilterError naming the bad argument. */
export function parseFilterArgs(args: readonly string[]): EventFilter {
  const out: EventFilter = {};
  for (const arg of args) {
    const m = /^([a-z]+)(=|~)(.*)$/s.exec(arg);
    if (!m) throw new FilterError(`--filter ${JSON.stringify(arg)}: expected key=value[,value…] (host, service, level) or message~text`);
    const [, key, op, value] = m as unknown as [string, string, string, string];
    if (!(KEYS as readonly string[]).includes(key)) throw new FilterError(`--filter ${JSON.stringify(arg)}: unknown key ${key} (host, service, level, message)`);
    if (key === 'message') {
      if (op !== '~') throw new FilterError(`--filter ${JSON.stringify(arg)}: message takes ~ (substring), e.g. message~timeout`);
      if (!value) throw new FilterError(`--filter ${JSON.stringify(arg)}: empty text`);
      (out.message ??= []).push(value);
      continue;
    }
    if (op !== '=') throw new FilterError(`--filter ${JSON.stringify(arg)}: ${key} takes = (exact values), e.g. ${key}=a,b`);
    const values = value.split(',').map((v) => v.trim());
    if (values.some((v) => !v)) throw new FilterError(`--filter ${JSON.stringify(arg)}: empty value`);
    const k = key as 'host' | 'service' | 'level';
    out[k] = [...new Set([...(out[k] ?? []), ...values])];
  }
  return normalizeFilter(out);
}

/** Sorted, de-duplicated, lower-cased where matching ignores case; empty lists dropped. Stable for comparing two requests. */
export function normalizeFilter(f: EventFilter | undefined): EventFilter {
  const out: EventFilter = {};
  if (!f) return out;
  const norm = (v: string[] | undefined, lower: boolean) => (v && v.length ? [...new Set(v.map((x) => (lower ? x.toLowerCase() : x)))].sort() : undefined);
  const host = norm(f.host, false);
  const service = norm(f.service, false);
  const level = norm(f.level, true);
  const message = norm(f.message, true);
  if (host) out.host = host;
  if (service) out.service = service;
  if (level) out.level = level;
  if (message) out.message = message;
  return out;
}

export function isEmptyFilter(f: EventFilter): boolean {
  return !f.host && !f.service && !f.level && !f.message;
}

/**
 * Text form, for logs, the CLI and archive checkpoints (`host=a,b level=error message~x`): stable for a
 * normalized filter, so a rerun can tell whether it asks for the same thing.
 */
export function filterText(f: EventFilter): string {
  const parts: string[] = [];
  for (const k of ['host', 'service', 'level'] as const) if (f[k]) parts.push(`${k}=${(f[k] as string[]).join(',')}`);
  for (const t of f.message ?? []) parts.push(`message~${t}`);
  return parts.join(' ');
}

const str = (o: unknown, k: string): string | undefined => {
  const v = o && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
  return typeof v === 'string' ? v : undefined;
};

/** A predicate over a decoded event, for a normalized filter (levels and message terms lower-cased). */
export function eventMatcher(f: EventFilter): (ev: Record<string, unknown>) => boolean {
  if (isEmptyFilter(f)) return () => true;
  const hosts = f.host ? new Set(f.host) : undefined;
  const services = f.service ? new Set(f.service) : undefined;
  const levels = f.level ? new Set(f.level) : undefined;
  const terms = f.message;
  return (ev) => {
    if (hosts) {
      const h = str(ev.host, 'name');
      if (h === undefined || !hosts.has(h)) return false;
    }
    if (services) {
      const s = str(ev.service, 'name');
      if (s === undefined || !services.has(s)) return false;
    }
    if (levels) {
      const l = str(ev.log, 'level');
      if (l === undefined || !levels.has(l.toLowerCase())) return false;
    }
    if (terms) {
      const m = typeof ev.message === 'string' ? ev.message.toLowerCase() : undefined;
      if (m === undefined) return false;
      for (const t of terms) if (!m.includes(t)) return false;
    }
    return true;
  };
}

/**
 * False when the manifest proves that no event of the part can match (its distinct hosts, services
 * and levels are listed): a reader then skips the part without fetching it.
 */
export function partMayMatch(f: EventFilter, m: Pick<PartManifest, 'hosts' | 'services' | 'levels'>): boolean {
  if (f.host && !m.hosts.some((h) => (f.host as string[]).includes(h))) return false;
  if (f.service && !m.services.some((s) => (f.service as string[]).includes(s))) return false;
  if (f.level && !m.levels.some((l) => (f.level as string[]).includes(l.toLowerCase()))) return false;
  return true;
}

/** The same filter (normalized) → the same key. */
export function sameFilter(a: EventFilter, b: EventFilter): boolean {
  return JSON.stringify(normalizeFilter(a)) === JSON.stringify(normalizeFilter(b));
}
