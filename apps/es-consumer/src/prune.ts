import type { SearchPort } from '@backlog/adapter-search';
import type { Logger } from '@backlog/core-pipeline';

const DAY_MS = 86_400_000;
const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The UTC day (epoch ms of its midnight) a recent index holds, or undefined when `name` is not exactly
 * `logs-<env>-recent-YYYY.MM.DD`. Anything else — history indices, the DLQ, another env whose name
 * starts like ours (`prod` vs `prod-recent`), a hand-made index — is never a candidate.
 */
export function recentIndexDay(env: string, name: string): number | undefined {
  const m = new RegExp(`^logs-${escape(env)}-recent-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`).exec(name);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Reject impossible dates (2026.02.31) rather than letting Date roll them over.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms;
}

/**
 * The indices to delete: those whose whole day ended more than `days` days ago. With days = 7 on
 * 2026-11-22T10:00Z, 2026-11-14 and older go (their day ended before 2026-11-15T10:00Z) and at least
 * seven full days are always kept.
 */
export function indicesToPrune(env: string, names: readonly string[], days: number, now: number): string[] {
  const cutoff = now - days * DAY_MS;
  return names.filter((n) => {
    const day = recentIndexDay(env, n);
    return day !== undefined && day + DAY_MS <= cutoff;
  });
}

export interface PruneResult {
  deleted: string[];
  kept: number;
}

/** Deletes recent indices older than `days` days, one by exact name, and logs each deletion. */
export async function pruneRecent(search: Pick<SearchPort, 'listIndices' | 'deleteIndices'>, env: string, days: number, logger: Logger, opts: { now?: number; dryRun?: boolean } = {}): Promise<PruneResult> {
  const names = (await search.listIndices(`logs-${env}-recent-*`)).map((i) => i.name);
  const doomed = indicesToPrune(env, names, days, opts.now ?? Date.now());
  const deleted: string[] = [];
  for (const name of doomed) {
    if (opts.dryRun) {
      logger.info('would delete recent index (dry run)', { index: name, days });
      deleted.push(name);
      continue;
    }
    // By exact name, one at a time: a pattern here could reach more than we listed.
    const gone = await search.deleteIndices(name);
    if (gone.includes(name)) {
      deleted.push(name);
      logger.info('deleted recent index', { index: name, olderThanDays: days });
    }
  }
  return { deleted, kept: names.length - doomed.length };
}
