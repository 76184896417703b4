import type { ResolvedField } from './catalogue';
import { compilePredicate, type CompileOptions, type EventFilter } from './evaluate';
import { compareIp, formatIp, parseIp } from './ip';
import type { HitsPlan, MetricPlan, QueryPlan, StatsPlan } from './plan';
import type { Cell, Column, Hit, HitsResult, QueryResult, StatsResult } from './result';
import { anyValue, booleanOf, compareCodePoints, dateOf, fieldPath, ipOf, keywordOf, MAX_VALUE_DEPTH, numberOf } from './values';

/**
 * In-process answers with the engine's semantics: the aggregations the alerter computes over its
 * windows and the archive export over parts, and the reference the integration test holds the engine to.
 *   terms       a document counts once per distinct value (arrays), documents without the field are
 *               in no bucket; several fields group by every combination (multi_terms);
 *   histogram   fixed buckets from epoch 0 (`floor(t / interval) * interval`), empty buckets included
 *               from the range's start to its end (extended_bounds, min_doc_count 0);
 *   order       count descending unless sorted, ties by key ascending; `limit` buckets per time bucket;
 *   metrics     over every numeric value (arrays add each); avg/min/max of nothing is null, sum 0;
 *               distinct is exact (the engine's HyperLogLog++ is exact below 3,000 values);
 *               percentiles interpolate between ranks (the engine's t-digest is approximate).
 */

interface MetricState {
  n: number;
  sum: number;
  min: number;
  max: number;
  set: Set<string> | undefined;
  values: number[] | undefined;
}

interface Bucket {
  keys: Cell[];
  count: number;
  metrics: MetricState[];
}

/** Reads a group value of an event as the engine keys its bucket. */
type GroupReader = (e: unknown, out: Cell[]) => void;

function groupReader(f: ResolvedField): GroupReader {
  const path = fieldPath(f.path);
  let conv: (v: unknown) => Cell | undefined;
  if (f.flattened) conv = keywordOf;
  else {
    switch (f.type) {
      case 'number':
        conv = (v) => numberOf(v, f.info.integer);
        break;
      case 'date':
        conv = dateOf;
        break;
      case 'boolean':
        conv = booleanOf;
        break;
      case 'ip':
        conv = (v) => {
          const b = ipOf(v);
          return b ? formatIp(b) : undefined;
        };
        break;
      default: {
        const max = f.info.ignoreAbove ?? Number.POSITIVE_INFINITY;
        conv = (v) => {
          const s = keywordOf(v);
          return s !== undefined && s.length <= max ? s : undefined;
        };
      }
    }
  }
  return (e, out) => {
    out.length = 0;
    anyValue(e, path, (v) => {
      const c = conv(v);
      if (c !== undefined && !out.includes(c)) out.push(c);
      return false;
    });
  };
}

/** Numeric values of a metric's field (dates as epoch ms). */
function numericReader(f: ResolvedField): (e: unknown, out: number[]) => void {
  const path = fieldPath(f.path);
  const conv: (v: unknown) => number | undefined = f.type === 'date' ? dateOf : (v) => numberOf(v, f.flattened ? false : f.info.integer);
  return (e, out) => {
    out.length = 0;
    anyValue(e, path, (v) => {
      const n = conv(v);
      if (n !== undefined) out.push(n);
      return false;
    });
  };
}

function cellKey(c: Cell): string {
  return typeof c === 'string' ? `s${c}` : typeof c === 'number' ? `n${c}` : typeof c === 'boolean' ? `b${c}` : 'z';
}

function compareCells(a: Cell, b: Cell, ipType: boolean): number {
  if (a === b) return 0;
  if (a === null) return 1;
  if (b === null) return -1;
  if (typeof a === 'number' && typeof b === 'number') return a - b;
  if (typeof a === 'boolean' && typeof b === 'boolean') return a ? 1 : -1;
  if (ipType) return compareIp(parseIp(String(a)) as Uint8Array, parseIp(String(b)) as Uint8Array);
  return compareCodePoints(String(a), String(b));
}

/** Rank interpolation (the engine's t-digest gives the same for small sets: centroids sit at rank + 0.5). */
export function percentile(sorted: readonly number[], p: number): number | null {
  const n = sorted.length;
  if (n === 0) return null;
  const h = (p / 100) * n - 0.5;
  if (h <= 0) return sorted[0] as number;
  if (h >= n - 1) return sorted[n - 1] as number;
  const lo = Math.floor(h);
  const frac = h - lo;
  return (sorted[lo] as number) + frac * ((sorted[lo + 1] as number) - (sorted[lo] as number));
}

/** Streams events (already filtered) into buckets; `result()` may be called at any time. */
export class Aggregator {
  private readonly buckets = new Map<string, Map<string, Bucket>>();
  private readonly groupReaders: GroupReader[];
  private readonly timeReader: GroupReader | undefined;
  private readonly metricReaders: Array<((e: unknown, out: number[]) => void) | undefined>;
  private readonly presence: Array<EventFilter | undefined>;
  private readonly distinctReaders: Array<GroupReader | undefined>;
  private readonly scratchGroups: Cell[][];
  private readonly scratchTime: Cell[] = [];
  private readonly scratchNumbers: number[] = [];
  private readonly scratchDistinct: Cell[] = [];
  private total = 0;

  constructor(
    private readonly plan: StatsPlan,
    private readonly range?: { fromMs: number; toMs: number },
  ) {
    this.groupReaders = plan.terms.map((t) => groupReader(t.field));
    this.scratchGroups = plan.terms.map(() => []);
    this.timeReader = plan.histogram ? groupReader(plan.histogram.field) : undefined;
    this.metricReaders = plan.metrics.map((m) => (m.field && m.fn !== 'count' && m.fn !== 'distinct' ? numericReader(m.field) : undefined));
    this.presence = plan.metrics.map((m) => (m.fn === 'count' && m.field ? compilePredicate({ kind: 'exists', field: m.field }) : undefined));
    this.distinctReaders = plan.metrics.map((m) => (m.fn === 'distinct' && m.field ? groupReader(m.field) : undefined));
  }

  add(e: unknown): void {
    this.total++;
    const p = this.plan;
    let times: Cell[] = [null];
    if (this.timeReader && p.histogram) {
      this.timeReader(e, this.scratchTime);
      if (this.scratchTime.length === 0) return;
      const i = p.histogram.intervalMs;
      const keys: Cell[] = [];
      for (const t of this.scratchTime) {
        const k = Math.floor((t as number) / i) * i;
        if (!keys.includes(k)) keys.push(k);
      }
      times = keys;
    }
    let tuples: Cell[][] = [[]];
    for (let g = 0; g < this.groupReaders.length; g++) {
      const vals = this.scratchGroups[g] as Cell[];
      (this.groupReaders[g] as GroupReader)(e, vals);
      if (vals.length === 0) return;
      const next: Cell[][] = [];
      for (const t of tuples) for (const v of vals) next.push([...t, v]);
      tuples = next;
    }
    for (const time of times) {
      const tk = time === null ? '' : String(time);
      let inner = this.buckets.get(tk);
      if (!inner) {
        inner = new Map();
        this.buckets.set(tk, inner);
      }
      for (const keys of tuples) {
        const k = keys.map(cellKey).join('\u0000');
        let b = inner.get(k);
        if (!b) {
          b = { keys, count: 0, metrics: p.metrics.map(emptyState) };
          inner.set(k, b);
        }
        this.addTo(b, e);
      }
    }
  }

  private addTo(b: Bucket, e: unknown): void {
    b.count++;
    const ms = this.plan.metrics;
    for (let i = 0; i < ms.length; i++) {
      const m = ms[i] as MetricPlan;
      const s = b.metrics[i] as MetricState;
      const present = this.presence[i];
      if (present) {
        if (present(e)) s.n++;
        continue;
      }
      const distinct = this.distinctReaders[i];
      if (distinct) {
        distinct(e, this.scratchDistinct);
        for (const v of this.scratchDistinct) (s.set as Set<string>).add(cellKey(v));
        continue;
      }
      const read = this.metricReaders[i];
      if (!read) continue;
      read(e, this.scratchNumbers);
      for (const v of this.scratchNumbers) {
        s.n++;
        s.sum += v;
        if (v < s.min) s.min = v;
        if (v > s.max) s.max = v;
        if (m.fn === 'percentiles') (s.values as number[]).push(v);
      }
    }
  }

  result(): StatsResult {
    const p = this.plan;
    const columns: Column[] = [];
    if (p.histogram) columns.push({ name: p.histogram.column, role: 'time', type: 'date' });
    for (const t of p.terms) columns.push({ name: t.column, role: 'group', type: t.field.flattened ? 'keyword' : t.field.type });
    for (const m of p.metrics) columns.push({ name: m.column, role: 'metric', type: 'number' });
    const rows: Cell[][] = [];
    const emit = (time: Cell | undefined, inner: Map<string, Bucket> | undefined) => {
      if (p.terms.length === 0) {
        const b = inner?.values().next().value ?? { keys: [], count: 0, metrics: p.metrics.map(emptyState) };
        rows.push([...(time !== undefined ? [time] : []), ...this.metricCells(b)]);
        return;
      }
      if (!inner) return;
      const groups = [...inner.values()].map((b) => ({ keys: b.keys, count: b.count, metrics: this.metricCells(b) }));
      for (const g of orderGroups(p, groups)) rows.push([...(time !== undefined ? [time] : []), ...g.keys, ...g.metrics]);
    };
    if (p.histogram) {
      const i = p.histogram.intervalMs;
      const seen = [...this.buckets.keys()].map(Number);
      let lo = this.range ? Math.floor(this.range.fromMs / i) * i : Math.min(...seen);
      // The range is [from, to): its last instant is to - 1.
      let hi = this.range ? Math.floor((this.range.toMs - 1) / i) * i : Math.max(...seen);
      if (seen.length) {
        lo = Math.min(lo, ...seen);
        hi = Math.max(hi, ...seen);
      }
      if (Number.isFinite(lo) && Number.isFinite(hi)) {
        const times: number[] = [];
        for (let t = lo; t <= hi; t += i) times.push(t);
        if (p.histogramDesc) times.reverse();
        for (const t of times) emit(t, this.buckets.get(String(t)));
      }
    } else {
      emit(undefined, this.buckets.get(''));
    }
    return { kind: 'stats', total: this.total, columns, rows };
  }

  private metricCells(b: Bucket): Cell[] {
    return this.plan.metrics.map((m, i) => {
      const s = b.metrics[i] as MetricState;
      switch (m.fn) {
        case 'count':
          return m.field ? s.n : b.count;
        case 'sum':
          return s.sum;
        case 'avg':
          return s.n ? s.sum / s.n : null;
        case 'min':
          return s.n ? s.min : null;
        case 'max':
          return s.n ? s.max : null;
        case 'distinct':
          return (s.set as Set<string>).size;
        case 'percentiles':
          return percentile(
            [...(s.values as number[])].sort((x, y) => x - y),
            m.percent as number,
          );
      }
    });
  }
}

/** One group of a stats answer (within one time bucket), as `orderGroups` sees it. */
export interface GroupRow {
  keys: Cell[];
  count: number;
  /** The metric cells, in the plan's order. */
  metrics: Cell[];
}

/**
 * The groups of one time bucket ordered as the engine's terms aggregations order them (the plan's
 * order; ties by key ascending, keys compared field by field in their type's order) and cut to the
 * plan's limit. The evaluator and the reader of answers the engine leaves unordered (a `composite`
 * aggregation) both use it.
 */
export function orderGroups<T extends GroupRow>(p: StatsPlan, groups: T[]): T[] {
  const ipCols = p.terms.map((t) => t.field.type === 'ip' && !t.field.flattened);
  const keyCmp = (a: T, b: T) => {
    for (let i = 0; i < a.keys.length; i++) {
      const c = compareCells(a.keys[i] as Cell, b.keys[i] as Cell, ipCols[i] as boolean);
      if (c) return c;
    }
    return 0;
  };
  const o = p.order;
  const metricOf = (g: T): number => {
    const v = g.metrics[o.by as number];
    return typeof v === 'number' ? v : Number.NaN;
  };
  const cmp = (a: T, b: T): number => {
    let c = 0;
    if (o.by === 'count') c = a.count - b.count;
    else if (o.by === 'key') c = keyCmp(a, b);
    else {
      const x = metricOf(a);
      const y = metricOf(b);
      c = x === y || (Number.isNaN(x) && Number.isNaN(y)) ? 0 : Number.isNaN(x) ? 1 : Number.isNaN(y) ? -1 : x - y;
    }
    if (o.desc) c = -c;
    return c || keyCmp(a, b);
  };
  return groups.sort(cmp).slice(0, p.limit);
}

function emptyState(m: MetricPlan): MetricState {
  return {
    n: 0,
    sum: 0,
    min: Number.POSITIVE_INFINITY,
    max: Number.NEGATIVE_INFINITY,
    set: m.fn === 'distinct' ? new Set() : undefined,
    values: m.fn === 'percentiles' ? [] : undefined,
  };
}

// ---------------------------------------------------------------------------------------------------
// Events

type SortValue = number | string | Uint8Array | boolean | undefined;

function sortReader(f: ResolvedField, desc: boolean): (e: unknown) => SortValue {
  const path = fieldPath(f.path);
  let conv: (v: unknown) => SortValue;
  let less: (a: SortValue, b: SortValue) => boolean;
  if (f.type === 'ip' && !f.flattened) {
    conv = ipOf;
    less = (a, b) => compareIp(a as Uint8Array, b as Uint8Array) < 0;
  } else if (f.type === 'number' || f.type === 'date' || f.type === 'boolean') {
    conv =
      f.type === 'number'
        ? (v) => numberOf(v, f.info.integer)
        : f.type === 'date'
          ? dateOf
          : (v) => {
              const b = booleanOf(v);
              return b === undefined ? undefined : b ? 1 : 0;
            };
    less = (a, b) => (a as number) < (b as number);
  } else {
    const max = f.flattened ? Number.POSITIVE_INFINITY : (f.info.ignoreAbove ?? Number.POSITIVE_INFINITY);
    conv = (v) => {
      const s = keywordOf(v);
      return s !== undefined && s.length <= max ? s : undefined;
    };
    less = (a, b) => compareCodePoints(a as string, b as string) < 0;
  }
  // A field with several values sorts by its smallest ascending, its largest descending (the engine's default mode).
  return (e) => {
    let best: SortValue;
    anyValue(e, path, (v) => {
      const c = conv(v);
      if (c !== undefined && (best === undefined || (desc ? less(best, c) : less(c, best)))) best = c;
      return false;
    });
    return best;
  };
}

function compareSort(a: SortValue, b: SortValue): number {
  if (a instanceof Uint8Array && b instanceof Uint8Array) return compareIp(a, b);
  if (typeof a === 'string' && typeof b === 'string') return compareCodePoints(a, b);
  return (a as number) < (b as number) ? -1 : (a as number) > (b as number) ? 1 : 0;
}

/** The first `limit` matching events in the plan's order, and how many matched. */
export function collectHits(plan: HitsPlan, events: Iterable<unknown>, filter: EventFilter, idField?: string): HitsResult {
  const readers = plan.sort.map((k) => sortReader(k.field, k.desc));
  const idPath = fieldPath(idField ?? 'event.id');
  const rows: Array<{ e: unknown; keys: SortValue[] }> = [];
  for (const e of events) if (filter(e)) rows.push({ e, keys: readers.map((r) => r(e)) });
  rows.sort((x, y) => {
    for (let i = 0; i < readers.length; i++) {
      const a = x.keys[i];
      const b = y.keys[i];
      // Missing values sort last in both directions (`missing: _last`).
      if (a === undefined || b === undefined) {
        if (a === b) continue;
        return a === undefined ? 1 : -1;
      }
      const c = compareSort(a, b);
      if (c) return (plan.sort[i] as { desc: boolean }).desc ? -c : c;
    }
    return 0;
  });
  const includes = plan.fields?.map((f) => f.path);
  const hits: Hit[] = rows.slice(0, plan.limit).map(({ e }) => {
    let id = '';
    anyValue(e, idPath, (v) => {
      id = keywordOf(v) ?? '';
      return true;
    });
    const source = (includes ? filterSource(e, includes) : e) as Record<string, unknown>;
    return { id, source };
  });
  return { kind: 'hits', total: rows.length, hits };
}

/** `_source` filtering by full paths: keeps what lies at or below each path, and the objects leading to it. */
export function filterSource(obj: unknown, includes: readonly string[], prefix = '', depth = 0): unknown {
  if (depth > MAX_VALUE_DEPTH) return undefined;
  if (Array.isArray(obj)) {
    return obj
      .map((x) => (x !== null && typeof x === 'object' ? filterSource(x, includes, prefix, depth + 1) : x))
      .filter((x) => x !== undefined && !(x !== null && typeof x === 'object' && !Array.isArray(x) && Object.keys(x).length === 0));
  }
  if (obj === null || typeof obj !== 'object') return obj;
  const out: Record<string, unknown> = {};
  for (const [k, v] of Object.entries(obj as Record<string, unknown>)) {
    const path = prefix ? `${prefix}.${k}` : k;
    if (includes.some((p) => p === path || path.startsWith(`${p}.`))) out[k] = v;
    else if (includes.some((p) => p.startsWith(`${path}.`)) && v !== null && typeof v === 'object') {
      const sub = filterSource(v, includes, path, depth + 1);
      if (sub !== null && typeof sub === 'object' && (Array.isArray(sub) ? sub.length > 0 : Object.keys(sub).length > 0)) out[k] = sub;
    }
  }
  return out;
}

/** Runs a whole plan over events in memory: the filter, then the aggregation or the event list. */
export function evaluateQuery(plan: QueryPlan, events: Iterable<unknown>, o: CompileOptions & { idField?: string } = {}): QueryResult {
  const filter = compilePredicate(plan.filter, o);
  if (plan.stats) {
    const agg = new Aggregator(plan.stats, plan.range);
    for (const e of events) if (filter(e)) agg.add(e);
    return agg.result();
  }
  return collectHits(plan.hits as HitsPlan, events, filter, o.idField);
}
