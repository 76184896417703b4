/**
 * The syntax tree of one query, exactly as written (names as typed, values as text). Meaning — which
 * field a name is, what type a value must have — is added by `planQuery` against a field catalogue.
 * Grammar: docs/adr/0016-query-language.md.
 */

/** Where a node sits in the query text: 0-based UTF-16 offsets, `end` exclusive. Column = start + 1. */
export interface Span {
  start: number;
  end: number;
}

/** A field name as typed (`level`, `http.response.status_code`). */
export interface FieldName {
  name: string;
  span: Span;
}

/** A value as typed, escapes resolved. */
export interface Value {
  /** The value with escapes and quotes removed: what an exact match compares with. */
  text: string;
  /** Written in double quotes: a phrase or an exact value, never a wildcard. */
  quoted: boolean;
  /** Holds an unescaped `*` or `?`. */
  wildcard: boolean;
  /**
   * The value in the engine's wildcard syntax (Lucene WildcardQuery): unescaped `*` and `?` are
   * wildcards, a literal `*`, `?` or `\` is backslash-escaped. Equal to `text` when `wildcard` is false
   * and nothing needed escaping.
   */
  pattern: string;
  span: Span;
}

export interface Bound {
  value: Value;
  inclusive: boolean;
}

export type FilterNode =
  /** Matches every event: an empty filter, or `*`. */
  | { type: 'all'; span: Span }
  | { type: 'and'; children: FilterNode[]; span: Span }
  | { type: 'or'; children: FilterNode[]; span: Span }
  | { type: 'not'; child: FilterNode; span: Span }
  /** `field:value`, `field="x"`, or free text (no field: matched against `message`). */
  | { type: 'match'; field?: FieldName; value: Value; span: Span }
  /** `field>=v`, `field:<v`, `field:[a TO b]`. A missing side is open. */
  | { type: 'range'; field: FieldName; lower?: Bound; upper?: Bound; span: Span }
  /** `field:*`. */
  | { type: 'exists'; field: FieldName; span: Span };

/** Aggregation functions of `stats`, by canonical name. */
export type MetricFunction = 'count' | 'avg' | 'min' | 'max' | 'sum' | 'distinct' | 'percentiles';

export interface MetricCall {
  fn: MetricFunction;
  /** `count()` has none; `count(field)` counts events where the field has a value. */
  field?: FieldName;
  /** Percentiles asked for (`percentiles(f, 50, 99)`, `p95(f)`), each in [0, 100]. */
  percents?: number[];
  /** `as name`. */
  alias?: string;
  span: Span;
}

export interface Duration {
  text: string;
  ms: number;
  span: Span;
}

export type GroupBy = { type: 'field'; field: FieldName; span: Span } | { type: 'interval'; interval: Duration; span: Span };

export interface SortKey {
  /** A column name (`count`, `avg(x)`, an alias, a `by` field) or, for events, a field name. */
  name: string;
  desc: boolean;
  span: Span;
}

export type Command =
  | { type: 'stats'; metrics: MetricCall[]; by: GroupBy[]; span: Span }
  /** `top N field[, field]`: `stats count() by field… | sort -count | limit N`. */
  | { type: 'top'; n: number; fields: FieldName[]; span: Span }
  | { type: 'sort'; keys: SortKey[]; span: Span }
  | { type: 'limit'; n: number; span: Span }
  | { type: 'fields'; fields: FieldName[]; span: Span };

export interface Query {
  /** The text this was parsed from. */
  text: string;
  filter: FilterNode;
  commands: Command[];
}
