import type { SearchPort } from '@backlog/adapter-search';
import { recentIndexDay, recentIndexPattern } from '@backlog/core-codec';
import { DEFAULT_MAX_FUTURE_SKEW_MS } from '@backlog/core-event';
import type { Logger } from '@backlog/core-pipeline';

const DAY_MS = 86_400_000;

/** Why a recent index is pruned: its day is over for longer than `days` (`age`), or it lies beyond the skew (`future`). */
export type PruneReason = 'age' | 'future';

/**
 * Why `name` is to be deleted, or undefined to keep it:
 *  - `age`: its whole day ended more than `days` days ago. With days = 7 on 2026-11-22T10:00Z, 2026-11-14
 *    and older go (their day ended before 2026-11-15T10:00Z) and at least seven full days are always kept;
 *  - `future`: its day begins after now + `maxFutureSkewMs` (ADR 0015). No event the pipeline files today
 *    can be dated there (a later time is replaced at the harvester and the es-consumer), so such an index
 *    was made by an older version from a bogus time (`9999.12.31`) and the age rule would never reach it.
 *    The events stay in the archive. With the default day of skew, tomorrow's index is kept.
 */
export function pruneReason(env: string, name: string, days: number, now: number, maxFutureSkewMs = DEFAULT_MAX_FUTURE_SKEW_MS): PruneReason | undefined {
  const day = recentIndexDay(env, name);
  if (day === undefined) return undefined;
  if (day + DAY_MS <= now - days * DAY_MS) return 'age';
  if (day > now + maxFutureSkewMs) return 'future';
  return undefined;
}

/** The indices to delete (either reason of `pruneReason`), in the order given. */
export function indicesToPrune(env: string, names: readonly string[], days: number, now: number, maxFutureSkewMs = DEFAULT_MAX_FUTURE_SKEW_MS): string[] {
  return names.filter((n) => pruneReason(env, n, days, now, maxFutureSkewMs) !== undefined);
}

export interface PruneResult {
  deleted: string[];
  /** The deleted indices that were dated beyond the skew (also in `deleted`). */
  future: string[];
  kept: number;
}

/**
 * Deletes recent indices older than `days` days, and those dated after now + `maxFutureSkewMs`, one by
 * exact name, and logs each deletion (future-dated ones as a warning: something wrote bogus times).
 */
export async function pruneRecent(
  search: Pick<SearchPort, 'listIndices' | 'deleteIndices'>,
  env: string,
  days: number,
  logger: Logger,
  opts: { now?: number; dryRun?: boolean; maxFutureSkewMs?: number } = {},
): Promise<PruneResult> {
  const names = (await search.listIndices(recentIndexPattern(env))).map((i) => i.name);
  const now = opts.now ?? Date.now();
  const doomed = names.map((name) => ({ name, reason: pruneReason(env, name, days, now, opts.maxFutureSkewMs) })).filter((d): d is { name: string; reason: PruneReason } => d.reason !== undefined);
  const deleted: string[] = [];
  const future: string[] = [];
  for (const { name, reason } of doomed) {
    const fields = reason === 'age' ? { index: name, olderThanDays: days } : { index: name, datedAfter: new Date(now + (opts.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS)).toISOString() };
    if (opts.dryRun) {
      logger.info('would delete recent index (dry run)', { ...fields, reason });
    } else {
      // By exact name, one at a time: a pattern here could reach more than we listed.
      const gone = await search.deleteIndices(name);
      if (!gone.includes(name)) continue;
      if (reason === 'age') logger.info('deleted recent index', fields);
      else logger.warn('deleted a recent index dated in the future (its events stay in the archive)', fields);
    }
    deleted.push(name);
    if (reason === 'future') future.push(name);
  }
  return { deleted, future, kept: names.length - doomed.length };
}
