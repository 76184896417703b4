import { describe, expect, it } from 'vitest';
import { type HistoryIndex, historyUsable, parseHistoryName, parseRecentIndex, planCoverage, splitSpan, toWindows } from './coverage';

const H = 3_600_000;
const D = 24 * H;
const T0 = Date.UTC(2026, 10, 20); // 2026-11-20T00:00Z
const day = (n: number) => parseRecentIndex(`logs-dev-recent-2026.11.${20 + n}`, 'dev');
const hist = (fromMs: number, toMs: number, extra: Partial<HistoryIndex> = {}): HistoryIndex => ({
  index: `logs-dev-history-${(fromMs / 1000).toString(36)}-${(toMs / 1000).toString(36)}`,
  fromMs,
  toMs,
  filter: '',
  status: 'done',
  maxEvents: undefined,
  ...extra,
});

describe('index names', () => {
  it('reads a recent index as its UTC day, and refuses other envs and shapes', () => {
    expect(parseRecentIndex('logs-dev-recent-2026.11.20', 'dev')).toEqual({ index: 'logs-dev-recent-2026.11.20', fromMs: T0, toMs: T0 + D });
    expect(parseRecentIndex('logs-dev-recent-2026.11.20', 'prod')).toBeUndefined();
    expect(parseRecentIndex('logs-dev-recent-2026-11-20', 'dev')).toBeUndefined();
    // env names may contain dashes: logs-dev-x-recent-… is env dev-x, not dev.
    expect(parseRecentIndex('logs-dev-x-recent-2026.11.20', 'dev')).toBeUndefined();
  });
  it('reads a history index as [start, end) in seconds', () => {
    const h = hist(T0, T0 + H);
    expect(parseHistoryName(h.index, 'dev')).toEqual({ fromMs: T0, toMs: T0 + H });
    expect(parseHistoryName('logs-dev-history-zz-aa', 'dev')).toBeUndefined();
    expect(parseHistoryName('logs-dev-recent-2026.11.20', 'dev')).toBeUndefined();
  });
});

describe('planCoverage', () => {
  it('recent days answer first, then history, the rest is archive', () => {
    const from = T0 - 6 * H; // 2026-11-19T18:00
    const to = T0 + D + 5 * H; // 2026-11-21T05:00
    const h = hist(T0 - 10 * H, T0 + 2 * H);
    const c = planCoverage(from, to, [day(1) as never], [h]);
    expect(c.spans).toEqual([
      { fromMs: from, toMs: T0 + 2 * H, source: 'history', index: h.index },
      { fromMs: T0 + 2 * H, toMs: T0 + D, source: 'archive' },
      { fromMs: T0 + D, toMs: to, source: 'recent', index: 'logs-dev-recent-2026.11.21' },
    ]);
    expect([...c.assignments]).toEqual([[h.index, [{ fromMs: from, toMs: T0 + 2 * H }]]]);
    expect(c.archive).toEqual([{ fromMs: T0 + 2 * H, toMs: T0 + D }]);
    expect(c.recent).toBe(true);
  });

  it('a history index that overlaps a recent day answers only outside it (each event from one index)', () => {
    const h = hist(T0 - 2 * H, T0 + 3 * H);
    const c = planCoverage(T0 - 2 * H, T0 + 3 * H, [day(0) as never], [h]);
    expect(c.assignments.get(h.index)).toEqual([{ fromMs: T0 - 2 * H, toMs: T0 }]);
    expect(c.spans.map((s) => s.source)).toEqual(['history', 'recent']);
    expect(c.archive).toEqual([]);
  });

  it('two overlapping history indices: the earlier start answers the overlap, spans stay disjoint', () => {
    const a = hist(T0, T0 + 2 * H);
    const b = hist(T0 + H, T0 + 4 * H);
    const c = planCoverage(T0, T0 + 5 * H, [], [b, a]);
    expect(c.assignments.get(a.index)).toEqual([{ fromMs: T0, toMs: T0 + 2 * H }]);
    expect(c.assignments.get(b.index)).toEqual([{ fromMs: T0 + 2 * H, toMs: T0 + 4 * H }]);
    expect(c.archive).toEqual([{ fromMs: T0 + 4 * H, toMs: T0 + 5 * H }]);
    // Every instant of the range in exactly one span.
    let at = T0;
    for (const s of c.spans) {
      expect(s.fromMs).toBe(at);
      at = s.toMs;
    }
    expect(at).toBe(T0 + 5 * H);
  });

  it('an empty or reversed range has no spans', () => {
    expect(planCoverage(T0, T0, [], []).spans).toEqual([]);
    expect(planCoverage(T0 + 1, T0, [], []).spans).toEqual([]);
  });

  it('indices outside the range play no part', () => {
    const c = planCoverage(T0 + 2 * D, T0 + 2 * D + H, [day(0) as never], [hist(T0, T0 + H)]);
    expect(c.spans).toEqual([{ fromMs: T0 + 2 * D, toMs: T0 + 2 * D + H, source: 'archive' }]);
    expect(c.assignments.size).toBe(0);
  });
});

describe('historyUsable', () => {
  const same = (f: string) => f === 'log.level:error';
  it("only finished, uncut loads with no filter or the query's own", () => {
    expect(historyUsable(hist(0, H), same)).toBe(true);
    expect(historyUsable(hist(0, H, { filter: 'log.level:error' }), same)).toBe(true);
    expect(historyUsable(hist(0, H, { filter: 'log.level:warn' }), same)).toBe(false);
    expect(historyUsable(hist(0, H, { status: undefined }), same)).toBe(false);
    expect(historyUsable(hist(0, H, { status: 'partial' }), same)).toBe(false);
    expect(historyUsable(hist(0, H, { maxEvents: 10 }), same)).toBe(false);
  });
});

describe('spans for a load', () => {
  it('widen to whole 5-minute windows', () => {
    expect(toWindows({ fromMs: T0 + 61_000, toMs: T0 + 301_000 })).toEqual({ fromMs: T0, toMs: T0 + 600_000 });
    expect(toWindows({ fromMs: T0, toMs: T0 + 300_000 })).toEqual({ fromMs: T0, toMs: T0 + 300_000 });
  });
  it('split at the longest range of one load', () => {
    expect(splitSpan({ fromMs: 0, toMs: 5 * H }, 2 * H)).toEqual([
      { fromMs: 0, toMs: 2 * H },
      { fromMs: 2 * H, toMs: 4 * H },
      { fromMs: 4 * H, toMs: 5 * H },
    ]);
  });
});
