import { type Cell, type Column, type GroupRow, orderGroups, QueryError, type QueryPlan, type QueryResult, type ResolvedField, type StatsPlan } from '@backlog/core-query';
import { SearchError } from '../errors';
import type { Json, SearchPort, SearchResult } from '../port';
import { COMPOSITE_SIZE, COMPOSITE_TIME, compositeSourceName, GROUPS_AGG, metricAggName, TIME_AGG, translatePlan } from './translate';

/**
 * The engine's answer to a translated plan → the engine-neutral `QueryResult` of libs/core/query (the
 * same shape `evaluateQuery` computes in memory), so the CLI, the API and the tests read one format.
 */
export function readQueryResult(plan: QueryPlan, res: SearchResult<Json>): QueryResult {
  if (!plan.stats) {
    return { kind: 'hits', total: res.total.value, hits: res.hits.map((h) => ({ id: h.id, source: (h.source ?? {}) as Record<string, unknown>, index: h.index })) };
  }
  const s = plan.stats;
  const columns: Column[] = [];
  if (s.histogram) columns.push({ name: s.histogram.column, role: 'time', type: 'date' });
  for (const t of s.terms) columns.push({ name: t.column, role: 'group', type: t.field.flattened ? 'keyword' : t.field.type });
  for (const m of s.metrics) columns.push({ name: m.column, role: 'metric', type: 'number' });
  const rows: Cell[][] = [];
  const aggs = res.aggregations ?? {};
  const composite = aggs[GROUPS_AGG] as Json | undefined;
  // Several groups on Elasticsearch come as a top-level composite (keys are objects; multi_terms keys are lists).
  const objectKey = (x: unknown) => {
    const k = (x as Json).key;
    return !!k && typeof k === 'object' && !Array.isArray(k);
  };
  if (s.terms.length > 1 && composite && Array.isArray(composite.buckets) && (composite.buckets as unknown[]).every(objectKey)) {
    return { kind: 'stats', total: res.total.value, columns, rows: compositeRows(s, composite) };
  }
  const fromBucket = (prefix: Cell[], b: Json, total: number) => {
    if (!s.terms.length) {
      rows.push([...prefix, ...metricCells(s, b, total)]);
      return;
    }
    for (const g of bucketsOf(b[GROUPS_AGG], GROUPS_AGG)) {
      const keys = s.terms.length === 1 ? [g.key] : (g.key as unknown[]);
      if (!Array.isArray(keys) || keys.length !== s.terms.length) throw new SearchError('SEARCH_RESPONSE_INVALID', 'query: a multi_terms bucket without one key per field');
      rows.push([...prefix, ...keys.map((k, i) => keyCell(k, (s.terms[i] as { field: ResolvedField }).field)), ...metricCells(s, g, num(g.doc_count))]);
    }
  };
  if (s.histogram) {
    for (const b of bucketsOf(aggs[TIME_AGG], TIME_AGG)) fromBucket([num(b.key)], b, num(b.doc_count));
  } else {
    fromBucket([], aggs, res.total.value);
  }
  return { kind: 'stats', total: res.total.value, columns, rows };
}

/**
 * A `composite` answer (Elasticsearch, groups of several fields): every (time bucket, combination) in
 * key order → per time bucket, the groups ordered and cut as the plan says (`orderGroups`), time
 * buckets in the plan's direction. Time buckets without events have no groups, hence no rows, as
 * with a date_histogram over multi_terms.
 */
function compositeRows(s: StatsPlan, agg: Json): Cell[][] {
  const buckets = bucketsOf(agg, GROUPS_AGG);
  if (buckets.length >= COMPOSITE_SIZE) {
    throw new QueryError('LIMIT_EXCEEDED', `more than ${COMPOSITE_SIZE.toLocaleString('en-US')} combinations of ${s.terms.map((t) => t.column).join(', ')}${s.histogram ? ' and time buckets' : ''}`, {
      column: 0,
      hint: 'group by fewer fields, use a longer interval, or narrow the filter or the range',
    });
  }
  const byTime = new Map<number | undefined, GroupRow[]>();
  for (const b of buckets) {
    const key = b.key as Record<string, unknown> | undefined;
    if (!key || typeof key !== 'object') throw new SearchError('SEARCH_RESPONSE_INVALID', 'query: a composite bucket without a key');
    const time = s.histogram ? num(key[COMPOSITE_TIME]) : undefined;
    const keys = s.terms.map((t, i) => keyCell(key[compositeSourceName(i)], t.field));
    const count = num(b.doc_count);
    let list = byTime.get(time);
    if (!list) byTime.set(time, (list = []));
    list.push({ keys, count, metrics: metricCells(s, b, count) });
  }
  const times = [...byTime.keys()].sort((a, b) => ((a ?? 0) - (b ?? 0)) * (s.histogramDesc ? -1 : 1));
  const rows: Cell[][] = [];
  for (const t of times) for (const g of orderGroups(s, byTime.get(t) as GroupRow[])) rows.push([...(t !== undefined ? [t] : []), ...g.keys, ...g.metrics]);
  return rows;
}

function bucketsOf(agg: unknown, name: string): Json[] {
  const b = (agg as { buckets?: unknown } | undefined)?.buckets;
  if (!Array.isArray(b)) throw new SearchError('SEARCH_RESPONSE_INVALID', `query: no buckets for the ${name} aggregation`);
  return b as Json[];
}

function num(v: unknown): number {
  if (typeof v !== 'number') throw new SearchError('SEARCH_RESPONSE_INVALID', `query: expected a number, got ${JSON.stringify(v)}`);
  return v;
}

/** A bucket key in the type the evaluator uses: booleans come back as 1/0 (key_as_string "true"). */
function keyCell(k: unknown, f: ResolvedField): Cell {
  if (!f.flattened && f.type === 'boolean') return k === true || k === 1 || k === 'true';
  if (typeof k === 'string' || typeof k === 'number' || typeof k === 'boolean') return k;
  return k === null || k === undefined ? null : String(k);
}

function metricCells(s: StatsPlan, b: Json, docCount: number): Cell[] {
  return s.metrics.map((m, i) => {
    if (m.fn === 'count' && !m.field) return docCount;
    const a = b[metricAggName(i)] as Json | undefined;
    if (!a) throw new SearchError('SEARCH_RESPONSE_INVALID', `query: no ${m.column} in the answer`);
    switch (m.fn) {
      case 'count':
        return num(a.doc_count);
      case 'percentiles': {
        const values = (a.values ?? {}) as Record<string, unknown>;
        const hit = Object.entries(values).find(([k]) => Number(k) === m.percent);
        const v = hit?.[1];
        return typeof v === 'number' && Number.isFinite(v) ? v : null;
      }
      case 'sum': {
        const v = a.value;
        return typeof v === 'number' ? v : 0;
      }
      default: {
        const v = a.value;
        return typeof v === 'number' && Number.isFinite(v) ? v : null;
      }
    }
  });
}

/** Translate, search and read in one call (throws QueryError before any request when the query is bad). */
export async function runQuery(search: SearchPort, index: string | string[], plan: QueryPlan): Promise<QueryResult> {
  const request = translatePlan(plan, search.engine);
  const res = await search.search<Json>({ ...request, index });
  return readQueryResult(plan, res);
}
