/**
 * Which source answers each part of a query's range `[fromMs, toMs)` (issue 19 §3, ADR 0022). Pure.
 *
 *   recent   a `logs-<env>-recent-YYYY.MM.DD` index exists for the UTC day: that day is read there;
 *   history  else a finished `logs-<env>-history-<from36>-<to36>` whose filter is empty or the query's
 *            own covers it (its `_meta.history`: status `done`, no `maxEvents` cut);
 *   archive  else only S3 holds it (or nothing does): the answer leaves it out and says so, with an
 *            estimate, and `rehydrate=auto` asks the indexer to load it.
 *
 * Every event is read from exactly one index: recent days are disjoint by construction, and each
 * history index is given only the spans assigned to it (`assignments`), which the search restricts it
 * to. So counts and aggregations never see an event twice where recent and history overlap.
 */

export type Source = 'recent' | 'history' | 'archive';

export interface Span {
  fromMs: number;
  toMs: number;
}

export interface CoveredSpan extends Span {
  source: Source;
  /** The index that answers it (recent: the day's index; history: the history index). */
  index?: string;
}

/** A recent index: its UTC day. */
export interface RecentIndex extends Span {
  index: string;
}

/** A history index as its name and `_meta.history` describe it. */
export interface HistoryIndex extends Span {
  index: string;
  /** The canonical filter it was loaded with ('' = every event). */
  filter: string;
  /** `done`, `partial`, `failed`; undefined while it loads. */
  status: string | undefined;
  /** Set when the load was cut at a number of events: then it may hold less than its range. */
  maxEvents: number | undefined;
}

export interface Coverage {
  spans: CoveredSpan[];
  /** History indices that answer part of the range, with the spans they answer for (disjoint, ordered). */
  assignments: Map<string, Span[]>;
  /** Whether any recent index answers part of the range. */
  recent: boolean;
  /** Spans that only the archive may hold. */
  archive: Span[];
}

const DAY = 86_400_000;

/** `logs-<env>-recent-YYYY.MM.DD` → its UTC day, or undefined. */
export function parseRecentIndex(name: string, env: string): RecentIndex | undefined {
  const prefix = `logs-${env}-recent-`;
  if (!name.startsWith(prefix)) return undefined;
  const m = /^(\d{4})\.(\d{2})\.(\d{2})$/.exec(name.slice(prefix.length));
  if (!m) return undefined;
  const fromMs = Date.UTC(Number(m[1]), Number(m[2]) - 1, Number(m[3]));
  if (!Number.isFinite(fromMs)) return undefined;
  return { index: name, fromMs, toMs: fromMs + DAY };
}

/** `logs-<env>-history-<start36>-<end36>` → its range, or undefined (the indexer's names, whole seconds). */
export function parseHistoryName(name: string, env: string): Span | undefined {
  const prefix = `logs-${env}-history-`;
  if (!name.startsWith(prefix)) return undefined;
  const m = /^([0-9a-z]{1,10})-([0-9a-z]{1,10})$/.exec(name.slice(prefix.length));
  if (!m) return undefined;
  const fromMs = parseInt(m[1] as string, 36) * 1000;
  const toMs = parseInt(m[2] as string, 36) * 1000;
  return toMs > fromMs ? { fromMs, toMs } : undefined;
}

/**
 * Whether a history index answers a query: finished whole (`done`, not cut by `maxEvents`), and
 * loaded with no filter or with one the query's filter equals (`sameFilter`, by their canonical keys).
 */
export function historyUsable(h: HistoryIndex, sameFilter: (stored: string) => boolean): boolean {
  return h.status === 'done' && h.maxEvents === undefined && (h.filter === '' || sameFilter(h.filter));
}

/**
 * The coverage of `[fromMs, toMs)`. `history` holds only usable indices (see `historyUsable`); when
 * several cover the same instant, the one with the earliest start (then the name) answers, so the
 * choice is stable from one request to the next.
 */
export function planCoverage(fromMs: number, toMs: number, recent: readonly RecentIndex[], history: readonly HistoryIndex[]): Coverage {
  const out: Coverage = { spans: [], assignments: new Map(), recent: false, archive: [] };
  if (!(toMs > fromMs)) return out;
  const clip = <T extends Span>(s: T) => s.toMs > fromMs && s.fromMs < toMs;
  const rs = recent.filter(clip);
  const hs = history
    .filter(clip)
    .slice()
    .sort((a, b) => a.fromMs - b.fromMs || (a.index < b.index ? -1 : a.index > b.index ? 1 : 0));
  const cuts = new Set<number>([fromMs, toMs]);
  for (const s of [...rs, ...hs]) {
    if (s.fromMs > fromMs && s.fromMs < toMs) cuts.add(s.fromMs);
    if (s.toMs > fromMs && s.toMs < toMs) cuts.add(s.toMs);
  }
  const points = [...cuts].sort((a, b) => a - b);
  for (let i = 0; i + 1 < points.length; i++) {
    const a = points[i] as number;
    const b = points[i + 1] as number;
    const r = rs.find((x) => x.fromMs <= a && x.toMs >= b);
    const h = r ? undefined : hs.find((x) => x.fromMs <= a && x.toMs >= b);
    const piece: CoveredSpan = r ? { fromMs: a, toMs: b, source: 'recent', index: r.index } : h ? { fromMs: a, toMs: b, source: 'history', index: h.index } : { fromMs: a, toMs: b, source: 'archive' };
    const last = out.spans[out.spans.length - 1];
    if (last && last.source === piece.source && last.index === piece.index && last.toMs === a) last.toMs = b;
    else out.spans.push(piece);
  }
  for (const s of out.spans) {
    if (s.source === 'recent') out.recent = true;
    else if (s.source === 'history') {
      const list = out.assignments.get(s.index as string) ?? [];
      list.push({ fromMs: s.fromMs, toMs: s.toMs });
      out.assignments.set(s.index as string, list);
    } else {
      // Neighbouring archive pieces (split only by an unused cut) are one span.
      const last = out.archive[out.archive.length - 1];
      if (last && last.toMs === s.fromMs) last.toMs = s.toMs;
      else out.archive.push({ fromMs: s.fromMs, toMs: s.toMs });
    }
  }
  return out;
}

const WINDOW_MS = 300_000;

/**
 * An archive span widened to whole 5-minute windows (the archive's unit, DESIGN.md "Windows"): a load
 * reads whole parts anyway, and the same span asked a few seconds later (a relative range) names the
 * same history index instead of a new sliver.
 */
export function toWindows(s: Span): Span {
  return { fromMs: Math.floor(s.fromMs / WINDOW_MS) * WINDOW_MS, toMs: Math.ceil(s.toMs / WINDOW_MS) * WINDOW_MS };
}

/** Splits a span into pieces of at most `maxMs` (an indexer load has a longest range). */
export function splitSpan(s: Span, maxMs: number): Span[] {
  const out: Span[] = [];
  for (let a = s.fromMs; a < s.toMs; a += maxMs) out.push({ fromMs: a, toMs: Math.min(s.toMs, a + maxMs) });
  return out;
}
