import { describe, expect, it } from 'vitest';
import type { IndexInfo } from '@backlog/adapter-search';
import { silentLogger } from '@backlog/core-pipeline';
import { indicesToPrune, pruneReason, pruneRecent } from './prune';

const now = Date.UTC(2026, 10, 22, 10);

describe('pruning', () => {
  // Which names are recent indices at all: names.spec.ts in core-codec (recentIndexDay).
  it('keeps at least N whole days', () => {
    const names = ['logs-dev-recent-2026.11.13', 'logs-dev-recent-2026.11.14', 'logs-dev-recent-2026.11.15', 'logs-dev-recent-2026.11.22', 'logs-dev-history-1-2'];
    expect(indicesToPrune('dev', names, 7, now)).toEqual(['logs-dev-recent-2026.11.13', 'logs-dev-recent-2026.11.14']);
    expect(indicesToPrune('dev', names, 1, now)).toEqual(names.slice(0, 3));
  });

  it('deletes indices dated after now + the skew (ADR 0015): 9999.12.31 is never reached by age', () => {
    const names = ['logs-dev-recent-2026.11.22', 'logs-dev-recent-2026.11.23', 'logs-dev-recent-2026.11.24', 'logs-dev-recent-2027.01.01', 'logs-dev-recent-9999.12.31'];
    expect(indicesToPrune('dev', names, 7, now)).toEqual(['logs-dev-recent-2026.11.24', 'logs-dev-recent-2027.01.01', 'logs-dev-recent-9999.12.31']);
    expect(pruneReason('dev', 'logs-dev-recent-9999.12.31', 7, now)).toBe('future');
    expect(pruneReason('dev', 'logs-dev-recent-2026.11.01', 7, now)).toBe('age');
    expect(pruneReason('dev', 'logs-dev-recent-2026.11.23', 7, now)).toBeUndefined();
    // A larger skew keeps more; a skew of 0 keeps nothing that starts after now.
    expect(indicesToPrune('dev', names, 7, now, 3 * 86_400_000)).toEqual(['logs-dev-recent-2027.01.01', 'logs-dev-recent-9999.12.31']);
    expect(indicesToPrune('dev', names, 7, now, 0)).toEqual(names.slice(1));
  });

  it('reports future-dated deletions apart and warns once per index', async () => {
    const names = ['logs-dev-recent-2026.11.01', 'logs-dev-recent-2026.11.22', 'logs-dev-recent-9999.12.31'];
    const warned: unknown[] = [];
    const search = {
      listIndices: async () => names.map((name) => ({ name }) as IndexInfo),
      deleteIndices: async (p: string) => [p],
    };
    const res = await pruneRecent(search, 'dev', 7, { ...silentLogger, warn: (_m, f) => warned.push(f) }, { now });
    expect(res).toEqual({ deleted: ['logs-dev-recent-2026.11.01', 'logs-dev-recent-9999.12.31'], future: ['logs-dev-recent-9999.12.31'], kept: 1 });
    expect(warned).toEqual([{ index: 'logs-dev-recent-9999.12.31', datedAfter: '2026-11-23T10:00:00.000Z' }]);
  });

  it('deletes by exact name and reports what it deleted', async () => {
    const names = ['logs-dev-recent-2026.11.01', 'logs-dev-recent-2026.11.21'];
    const deleted: string[] = [];
    const logged: unknown[] = [];
    const search = {
      listIndices: async (p: string) => (p === 'logs-dev-recent-*' ? names.map((name) => ({ name }) as IndexInfo) : []),
      deleteIndices: async (p: string) => {
        deleted.push(p);
        return [p];
      },
    };
    const res = await pruneRecent(search, 'dev', 7, { ...silentLogger, info: (_m, f) => logged.push(f) }, { now });
    expect(res).toEqual({ deleted: ['logs-dev-recent-2026.11.01'], future: [], kept: 1 });
    expect(deleted).toEqual(['logs-dev-recent-2026.11.01']);
    expect(logged).toEqual([{ index: 'logs-dev-recent-2026.11.01', olderThanDays: 7 }]);
  });
});
