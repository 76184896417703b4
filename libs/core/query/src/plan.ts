import type { MetricFunction, Query } from './ast';
import type { ResolvedField } from './catalogue';
import type { TimeExpr } from './time';

/**
 * A checked query, ready to run: every name resolved, every value typed, every default applied. The
 * search adapter turns a plan into engine DSL (`translateQuery`); `compileFilter` and `evaluateQuery`
 * run the same plan over events in memory. Both read the same plan, so they cannot disagree about
 * what was asked — only about how it is answered, which the integration test compares.
 */

export type Scalar = string | number | boolean;

/** Range bounds; for `date` fields numbers in epoch ms. */
export interface RangeBounds {
  gt?: Scalar;
  gte?: Scalar;
  lt?: Scalar;
  lte?: Scalar;
}

export type Predicate =
  | { kind: 'all' }
  | { kind: 'none' }
  | { kind: 'and'; items: Predicate[] }
  | { kind: 'or'; items: Predicate[] }
  | { kind: 'not'; item: Predicate }
  /** Exact value: keyword/flattened string, number, boolean, ip (canonical text). */
  | { kind: 'term'; field: ResolvedField; value: Scalar }
  /** Any of the values (an OR of terms on one field, merged). */
  | { kind: 'terms'; field: ResolvedField; values: Scalar[] }
  /** Consecutive words of a `text` field (match_phrase); `tokens` as the standard analyzer makes them. */
  | { kind: 'phrase'; field: ResolvedField; text: string; tokens: string[] }
  /** Lucene wildcard syntax (`*`, `?`, `\` escapes); lower-cased already for `text` fields. */
  | { kind: 'wildcard'; field: ResolvedField; pattern: string }
  | { kind: 'prefix'; field: ResolvedField; prefix: string }
  /**
   * `relative` holds the bounds that were written relative to now (offsets in ms), so an evaluator that
   * lives long (an alert rule, a harvester processor) can move them with the clock.
   */
  | ({ kind: 'range'; field: ResolvedField; relative?: RangeBounds } & RangeBounds)
  | { kind: 'exists'; field: ResolvedField }
  /** An address in a CIDR block (`10.0.0.0/8`) of an `ip` field. */
  | { kind: 'cidr'; field: ResolvedField; cidr: string };

export interface MetricPlan {
  /** Column name in the answer: `count`, `avg(x)`, `p95(x)`, or the alias. */
  column: string;
  /** `count` without a field counts events; `count` with one counts events where it has a value. */
  fn: MetricFunction;
  field?: ResolvedField;
  /** For `percentiles`: one percentile per metric (percentiles(x, 50, 99) is two metrics). */
  percent?: number;
}

export type GroupPlan = { kind: 'terms'; column: string; field: ResolvedField } | { kind: 'histogram'; column: string; field: ResolvedField; intervalMs: number; interval: string };

export interface BucketOrder {
  /** `count` (events per bucket), `key` (the group value), or a metric's index in `metrics`. */
  by: 'count' | 'key' | number;
  desc: boolean;
}

export interface StatsPlan {
  metrics: MetricPlan[];
  /** Field groups, in the order written (one `terms`, several `multi_terms`). */
  terms: Array<Extract<GroupPlan, { kind: 'terms' }>>;
  histogram?: Extract<GroupPlan, { kind: 'histogram' }>;
  /** Order of the field groups' buckets (within each time bucket); ties go by key ascending. */
  order: BucketOrder;
  /** Time buckets newest first (`sort -@timestamp`). */
  histogramDesc: boolean;
  /** Buckets of the field groups kept (per time bucket). */
  limit: number;
}

export interface HitsPlan {
  sort: Array<{ field: ResolvedField; desc: boolean }>;
  limit: number;
  /** Only these fields of each event (`| fields a, b`); all when absent. */
  fields?: ResolvedField[];
}

export interface QueryWarning {
  code: 'FIELD_UNMAPPED' | 'NO_WORDS' | 'CASE_SENSITIVE';
  message: string;
  column: number;
}

export interface QueryPlan {
  query: Query;
  filter: Predicate;
  /** The time range given beside the query (resolved), also part of `filter`. */
  range?: { from: TimeExpr; to: TimeExpr; fromMs: number; toMs: number };
  /** Who runs it: the engine (its semantics are the reference) or the evaluator over raw events. */
  target: 'engine' | 'events';
  /** Events asked for (no aggregation). */
  hits?: HitsPlan;
  stats?: StatsPlan;
  warnings: QueryWarning[];
}
