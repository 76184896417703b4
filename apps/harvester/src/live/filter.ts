import { z } from 'zod';
import type { LiveEventLike } from '@backlog/core-codec';
import { isKnownLevel, levelRank } from './levels';

/**
 * The harvester's live filter: which events get a live copy. Every list is "any of"; an empty or
 * absent list matches everything. All given conditions must hold.
 */
export const liveFilterSchema = z
  .object({
    /** `labels.env` values to send. Default: all. */
    env: z.array(z.string().min(1)).default([]),
    /** `host.name` values to send. Default: all. */
    host: z.array(z.string().min(1)).default([]),
    /** `service.name` values to send. Default: all. */
    service: z.array(z.string().min(1)).default([]),
    /** Least severe `log.level` to send (`debug` < `info` < `notice` < `warning` < `error` < …). Default: all. */
    minLevel: z.string().refine(isKnownLevel, 'unknown level (use debug, info, notice, warning, error, critical, alert, emergency)').optional(),
    /** JavaScript regular expression the `message` must match (searched, not anchored). Default: all. */
    message: z
      .string()
      .refine((s) => {
        try {
          new RegExp(s);
          return true;
        } catch {
          return false;
        }
      }, 'not a valid regular expression')
      .optional(),
  })
  .strict();

export type LiveFilterConfig = z.input<typeof liveFilterSchema>;

/** The predicate of an empty filter: a sender seeing it needs no event fields to decide. */
export const MATCH_ALL = (_e: LiveEventLike): boolean => true;

/** Compiles a filter once into a predicate (the hot path runs the predicate, never re-parses). */
export function compileLiveFilter(config: LiveFilterConfig = {}): (e: LiveEventLike) => boolean {
  const f = liveFilterSchema.parse(config);
  const env = f.env.length ? new Set(f.env) : undefined;
  const host = f.host.length ? new Set(f.host) : undefined;
  const service = f.service.length ? new Set(f.service) : undefined;
  const maxRank = f.minLevel !== undefined ? levelRank(f.minLevel) : undefined;
  const re = f.message !== undefined ? new RegExp(f.message) : undefined;
  if (!env && !host && !service && maxRank === undefined && !re) return MATCH_ALL;
  return (e) => {
    if (env && !env.has(e.labels?.env ?? '')) return false;
    if (host && !host.has(e.host?.name ?? '')) return false;
    if (service && !service.has(e.service?.name ?? '')) return false;
    if (maxRank !== undefined && levelRank(e.log?.level) > maxRank) return false;
    if (re && !re.test(typeof e.message === 'string' ? e.message : '')) return false;
    return true;
  };
}
