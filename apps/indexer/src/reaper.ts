import type { SearchPort } from '@backlog/adapter-search';
import { historyIndexPattern, parseHistoryIndex } from '@backlog/core-codec';
import type { Logger } from '@backlog/core-pipeline';
import type { JobDoc, JobStore } from './jobs';
import type { IndexerMetrics } from './metrics';
import { storedFilterText } from './request';

/**
 * Expiry (docs/specs/indexer.md, "Expiry"): deletes history indices whose `expiresAt` passed. The
 * expiry lives in Redis (the job) and in the index `_meta`; when Redis lost a job, the job is
 * rebuilt from `_meta` (so `list` shows the index again and the expiry still holds). An index with
 * neither is given `ttlHours` from its creation time.
 */
export async function reapOnce(
  deps: { search: SearchPort; store: JobStore; metrics: IndexerMetrics; logger: Logger },
  envs: readonly string[],
  ttlHours: number,
  nowMs = Date.now(),
): Promise<{ deleted: string[]; restored: string[] }> {
  const { search, store, metrics, logger } = deps;
  const deleted: string[] = [];
  const restored: string[] = [];
  for (const env of envs) {
    const existing = (await search.listIndices(historyIndexPattern(env))).filter((i) => parseHistoryIndex(i.name)?.env === env);
    const names = new Set(existing.map((i) => i.name));
    for (const info of existing) {
      let job = await store.getJob(info.name);
      if (!job) {
        let meta: Record<string, unknown>;
        try {
          meta = await search.getIndexMeta(info.name);
        } catch {
          continue; // deleted since the listing (a drop): nothing to rebuild
        }
        const h = (meta.history ?? {}) as Record<string, unknown>;
        const range = parseHistoryIndex(info.name) as { env: string; fromMs: number; toMs: number };
        const created = typeof h.createdAt === 'number' ? h.createdAt : (info.createdAt ?? nowMs);
        job = {
          v: 1,
          index: info.name,
          env,
          fromMs: range.fromMs,
          toMs: range.toMs,
          filter: storedFilterText(h.filter),
          ...(typeof h.maxEvents === 'number' ? { maxEvents: h.maxEvents } : {}),
          createdAt: created,
          requestedAt: typeof h.requestedAt === 'number' ? h.requestedAt : created,
          expiresAt: typeof h.expiresAt === 'number' ? h.expiresAt : created + ttlHours * 3_600_000,
          restored: true,
        } satisfies JobDoc;
        if (job.expiresAt > nowMs) {
          await store.putJob(job);
          restored.push(info.name);
          metrics.restored.inc();
          logger.info('history job rebuilt from the index _meta (Redis had lost it)', { index: info.name, expiresAt: new Date(job.expiresAt).toISOString() });
        }
      }
      if (job.expiresAt <= nowMs) {
        await search.deleteIndices(info.name);
        await store.remove(env, info.name);
        deleted.push(info.name);
        metrics.expired.inc();
        logger.info('history index expired and deleted', { index: info.name, expiresAt: new Date(job.expiresAt).toISOString() });
      }
    }
    // Jobs whose index is gone (dropped by hand) or never made it: forget them once expired.
    for (const index of await store.indices(env)) {
      if (names.has(index)) continue;
      const job = await store.getJob(index);
      if (!job || job.expiresAt <= nowMs) await store.remove(env, index);
    }
  }
  return { deleted, restored };
}
