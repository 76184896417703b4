import type { FieldType } from './catalogue';

/**
 * The answer to a query, the same shape whoever computed it: the search adapter reads the engine's
 * response into it (`readQueryResult`), `evaluateQuery` computes it over events in memory. The CLI's
 * `--table/--json/--ndjson` and the query API print it.
 */

export type Cell = string | number | boolean | null;

export interface Column {
  name: string;
  /** `time`: a histogram bucket start (epoch ms); `group`: a `by` field's value; `metric`: an aggregation. */
  role: 'time' | 'group' | 'metric';
  /** The value type: a group column has its field's type; metrics and times are numbers. */
  type: FieldType | 'number';
}

export interface StatsResult {
  kind: 'stats';
  /** Events that matched the filter (and range). */
  total: number;
  columns: Column[];
  /**
   * One row per bucket: with a histogram, time ascending (descending with `sort -@timestamp`), within
   * each time bucket the groups in the asked order. Without groups, one row.
   */
  rows: Cell[][];
}

export interface Hit {
  /** The event id (`_id` in the engine, `event.id` in the event). */
  id: string;
  source: Record<string, unknown>;
  /** The index it came from (engine answers only). */
  index?: string;
}

export interface HitsResult {
  kind: 'hits';
  /** Events that matched; `hits` holds the first `limit` of them in the asked order. */
  total: number;
  hits: Hit[];
}

export type QueryResult = StatsResult | HitsResult;
