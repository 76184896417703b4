import { planQuery, QueryError, type FieldCatalogue, type PlanOptions, type Predicate, type Query, type QueryPlan, type ResolvedField, type StatsPlan } from '@backlog/core-query';
import type { Json, SearchEngine, SearchRequest } from '../port';

/**
 * A query plan (libs/core/query) → the engine's query DSL. The same DSL runs on Elasticsearch 8 and
 * OpenSearch 2 except where noted (`engine`):
 *   keyword     term / terms / prefix / wildcard (case-sensitive, as the field is)
 *   text        match_phrase (a word is a one-word phrase), prefix / wildcard on one word
 *   number, ip  term / terms / range; a CIDR block is a term on an `ip` field
 *   date        range with `format: epoch_millis` (times are resolved by the plan, so the engine and
 *               the evaluator use the same instant for `now`)
 *   field:*     exists — except below an OpenSearch `flat_object`, where `exists` on a nested key
 *               answers nothing (seen on 2.19.1: `fields.a.b`), so a `*` wildcard asks the same
 *   aggregations terms (one field) / multi_terms (several) under an optional date_histogram
 *               (fixed_interval, min_doc_count 0, extended_bounds = the range); avg/min/max/sum,
 *               percentiles, cardinality; count(field) is a filter on exists
 *   free-form   keys of `fields.*` have doc values on Elasticsearch (`flattened`, keywords) but not on
 *               OpenSearch (`flat_object` answers empty or wrong buckets), and numbers there are
 *               strings on both: so grouping on OpenSearch, and numeric metrics on OpenSearch, read the
 *               key from `_source` with a Painless script that walks the path as the evaluator does
 *               (values.ts: nested objects, arrays, dotted keys). Elasticsearch is never sent a script
 *               (an install may lack lang-painless, as the local node does: ADR 0017): what `flattened`
 *               refuses on a key — `wildcard`, a range with one bound — and numeric metrics on a key use
 *               a runtime field of the same name without a script, which Elasticsearch reads from
 *               `_source` (nested objects, dotted keys, arrays; numeric strings parsed, others skipped).
 *   several     groups of several fields are `multi_terms` on OpenSearch; on Elasticsearch, where
 *   groups      `multi_terms` comes with x-pack (not in every install), a `composite` aggregation
 *               (server core) answers every combination and the reader orders and cuts them as the
 *               evaluator does.
 */

/** Fields read from `_source` at search time (Elasticsearch `runtime_mappings` without a script), by path. */
export type RuntimeFields = Map<string, 'keyword' | 'double'>;

/** A free-form key on Elasticsearch: `flattened` keeps it as a keyed keyword. */
const esKey = (f: ResolvedField, engine: SearchEngine) => engine === 'elasticsearch' && !!f.flattened && f.flattened.key !== '';

function readFromSource(runtime: RuntimeFields, f: ResolvedField, type: 'keyword' | 'double'): void {
  const had = runtime.get(f.path);
  if (had && had !== type) {
    // One name, one runtime type: a wildcard (text) and a numeric metric on the same key cannot share a request.
    throw new QueryError('FIELD_TYPE', `${f.path} cannot be both matched as text and aggregated as a number in one Elasticsearch query`, {
      column: 0,
      hint: 'split the query: filter in one, aggregate in another, or match the key exactly instead of with a wildcard',
    });
  }
  runtime.set(f.path, type);
}

/** Composite pages hold at most this many combinations: the engine's `search.max_buckets` less one. */
export const COMPOSITE_SIZE = 65_535;

export interface Translation {
  plan: QueryPlan;
  /** The search request without its index (`{...t.request, index}`). */
  request: Omit<SearchRequest, 'index'>;
}

/** Plans (when given text or an AST; throws QueryError) and translates. */
export function translateQuery(input: Query | string | QueryPlan, catalogue: FieldCatalogue, engine: SearchEngine, options: PlanOptions = {}): Translation {
  const plan = typeof input === 'object' && 'filter' in input && 'target' in input ? (input as QueryPlan) : planQuery(input as Query | string, catalogue, options);
  return { plan, request: translatePlan(plan, engine) };
}

/** The search request (without its index) for a plan. */
export function translatePlan(plan: QueryPlan, engine: SearchEngine): Omit<SearchRequest, 'index'> {
  const runtime: RuntimeFields = new Map();
  const query = predicateDsl(plan.filter, engine, runtime);
  const withRuntime = (r: Omit<SearchRequest, 'index'>): Omit<SearchRequest, 'index'> =>
    runtime.size ? { ...r, runtimeMappings: Object.fromEntries([...runtime].map(([path, type]) => [path, { type }])) } : r;
  if (plan.stats) {
    const aggs = statsAggs(plan.stats, plan, engine, runtime);
    return withRuntime({ query, size: 0, trackTotalHits: true, aggs });
  }
  const hits = plan.hits;
  if (!hits) return withRuntime({ query, size: 0, trackTotalHits: true });
  const req: Omit<SearchRequest, 'index'> = {
    query,
    size: hits.limit,
    trackTotalHits: true,
    sort: hits.sort.map((k) => ({ [k.field.path]: { order: k.desc ? 'desc' : 'asc', missing: '_last', ...unmappedType(k.field) } })),
  };
  if (hits.fields) req.source = { includes: hits.fields.map((f) => f.path) };
  return withRuntime(req);
}

/** Sorting several indices where one lacks the field must not fail the search. */
function unmappedType(f: ResolvedField): Json {
  if (f.flattened) return {};
  const t = f.info.mappingType;
  return t ? { unmapped_type: t } : {};
}

/**
 * The query clause of a predicate. `runtime` collects the fields the clause reads from `_source`
 * (Elasticsearch only): send them as the request's `runtimeMappings`, or the engine refuses the clause.
 */
export function predicateDsl(p: Predicate, engine: SearchEngine, runtime: RuntimeFields = new Map()): Json {
  switch (p.kind) {
    case 'all':
      return { match_all: {} };
    case 'none':
      return { match_none: {} };
    case 'and': {
      // Filter context: no scoring, cacheable. A negated item goes to must_not directly.
      const filter: Json[] = [];
      const mustNot: Json[] = [];
      for (const c of p.items) {
        if (c.kind === 'not') mustNot.push(predicateDsl(c.item, engine, runtime));
        else filter.push(predicateDsl(c, engine, runtime));
      }
      return { bool: { ...(filter.length ? { filter } : {}), ...(mustNot.length ? { must_not: mustNot } : {}) } };
    }
    case 'or':
      return { bool: { should: p.items.map((c) => predicateDsl(c, engine, runtime)), minimum_should_match: 1 } };
    case 'not':
      return { bool: { must_not: [predicateDsl(p.item, engine, runtime)] } };
    case 'term':
      return { term: { [p.field.path]: { value: p.value } } };
    case 'terms':
      return { terms: { [p.field.path]: p.values } };
    case 'phrase':
      return { match_phrase: { [p.field.path]: { query: p.text } } };
    case 'prefix':
      return { prefix: { [p.field.path]: { value: p.prefix } } };
    case 'wildcard':
      // `flattened` refuses wildcard queries on its keys ("not currently supported on keyed [flattened] fields").
      if (esKey(p.field, engine)) readFromSource(runtime, p.field, 'keyword');
      return { wildcard: { [p.field.path]: { value: p.pattern } } };
    case 'range': {
      const b: Json = {};
      for (const k of ['gt', 'gte', 'lt', 'lte'] as const) if (p[k] !== undefined) b[k] = p[k];
      // `flattened` takes a range on a key only with both bounds ("must include both an upper and a lower bound").
      if (esKey(p.field, engine) && ((b.gt === undefined && b.gte === undefined) || (b.lt === undefined && b.lte === undefined))) readFromSource(runtime, p.field, 'keyword');
      if (p.field.type === 'date') b.format = 'epoch_millis';
      return { range: { [p.field.path]: b } };
    }
    case 'exists':
      return existsDsl(p.field, engine);
    case 'cidr':
      return { term: { [p.field.path]: { value: p.cidr } } };
  }
}

function existsDsl(f: ResolvedField, engine: SearchEngine): Json {
  if (engine === 'opensearch' && f.flattened && f.flattened.key !== '') return { wildcard: { [f.path]: { value: '*' } } };
  return { exists: { field: f.path } };
}

/**
 * Painless over `_source`: the values at `params.path` (segments) as the evaluator reads them —
 * objects and arrays walked, a dotted key standing for the nested path, `null` skipped. KEYWORDS
 * answers each distinct scalar as text (a document counts once per value); NUMBERS answers every
 * number and numeric string as a double.
 */
const WALK = `
void walk(def v, List segs, int i, def out, boolean numeric) {
  if (v == null) return;
  if (v instanceof List) { for (def x : v) walk(x, segs, i, out, numeric); return; }
  if (i == segs.size()) {
    if (v instanceof Map) return;
    if (numeric) {
      if (v instanceof Number) { double d = ((Number) v).doubleValue(); if (!Double.isNaN(d) && !Double.isInfinite(d)) out.add(d); }
      else if (v instanceof String) { try { double d = Double.parseDouble(((String) v).trim()); if (!Double.isNaN(d) && !Double.isInfinite(d)) out.add(d); } catch (NumberFormatException e) {} }
    } else { out.add(String.valueOf(v)); }
    return;
  }
  if (!(v instanceof Map)) return;
  String key = '';
  for (int j = i; j < segs.size(); j++) {
    key = j == i ? segs.get(j) : key + '.' + segs.get(j);
    if (v.containsKey(key)) walk(v.get(key), segs, j + 1, out, numeric);
  }
}`;
const KEYWORDS_SCRIPT = `${WALK}
Set out = new HashSet(); walk(params._source, params.path, 0, out, false); return new ArrayList(out);`;
const NUMBERS_SCRIPT = `${WALK}
List out = new ArrayList(); walk(params._source, params.path, 0, out, true); return out;`;

/**
 * `{field}`; for a free-form key whose doc values are strings (numbers) or missing (OpenSearch groups):
 * on OpenSearch the script above, on Elasticsearch a runtime field read from `_source`.
 */
function valuesSource(f: ResolvedField, numeric: boolean, engine: SearchEngine, runtime: RuntimeFields): Json {
  if (f.flattened && f.flattened.key !== '' && (numeric || f.info.subfieldsAggregatable === false)) {
    if (engine === 'elasticsearch') {
      readFromSource(runtime, f, numeric ? 'double' : 'keyword');
      return { field: f.path };
    }
    return { script: { lang: 'painless', source: numeric ? NUMBERS_SCRIPT : KEYWORDS_SCRIPT, params: { path: f.path.split('.') } } };
  }
  return { field: f.path };
}

/** Names of the metric sub-aggregations: `m0`, `m1`, … in the plan's order. */
export const metricAggName = (i: number): string => `m${i}`;

function metricAggs(s: StatsPlan, engine: SearchEngine, runtime: RuntimeFields): Json {
  const out: Json = {};
  s.metrics.forEach((m, i) => {
    const name = metricAggName(i);
    const f = m.field;
    if (!f) return; // count(): the bucket's doc_count
    switch (m.fn) {
      case 'count':
        out[name] = { filter: existsDsl(f, engine) };
        break;
      case 'avg':
      case 'min':
      case 'max':
      case 'sum':
        out[name] = { [m.fn]: valuesSource(f, true, engine, runtime) };
        break;
      case 'distinct':
        out[name] = { cardinality: valuesSource(f, false, engine, runtime) };
        break;
      case 'percentiles':
        out[name] = { percentiles: { ...valuesSource(f, true, engine, runtime), percents: [m.percent] } };
        break;
    }
  });
  return out;
}

function orderOf(s: StatsPlan): Json[] {
  const dir = s.order.desc ? 'desc' : 'asc';
  const o = s.order;
  if (o.by === 'key') return [{ _key: dir }];
  if (o.by === 'count') return [{ _count: dir }, { _key: 'asc' }];
  // A filter sub-aggregation (count(field)) is a single-bucket aggregation: ordering by its name
  // orders by its document count.
  return [{ [metricAggName(o.by)]: dir }, { _key: 'asc' }];
}

/** The aggregation names `readQueryResult` walks: `groups` (terms/multi_terms), `time` (date_histogram). */
export const GROUPS_AGG = 'groups';
export const TIME_AGG = 'time';

/** Source names in a composite key: `t` (the time bucket) and `g0`, `g1`, … (the groups, in order). */
export const compositeSourceName = (i: number): string => `g${i}`;
export const COMPOSITE_TIME = 't';

function statsAggs(s: StatsPlan, plan: QueryPlan, engine: SearchEngine, runtime: RuntimeFields): Json {
  const metrics = metricAggs(s, engine, runtime);
  if (s.terms.length > 1 && engine === 'elasticsearch') {
    // Every combination (with its time bucket), ordered and cut by the reader. Composite takes no parent,
    // so the time bucket is its first source; empty time buckets have no rows either way.
    const sources: Json[] = [];
    if (s.histogram) sources.push({ [COMPOSITE_TIME]: { date_histogram: { field: s.histogram.field.path, fixed_interval: s.histogram.interval } } });
    s.terms.forEach((g, i) => sources.push({ [compositeSourceName(i)]: { terms: valuesSource(g.field, false, engine, runtime) } }));
    const composite = { composite: { size: COMPOSITE_SIZE, sources } };
    return { [GROUPS_AGG]: Object.keys(metrics).length ? { ...composite, aggs: metrics } : composite };
  }
  let inner: Json = metrics;
  if (s.terms.length) {
    const t =
      s.terms.length === 1
        ? { terms: { ...valuesSource((s.terms[0] as { field: ResolvedField }).field, false, engine, runtime), size: s.limit, order: orderOf(s) } }
        : { multi_terms: { terms: s.terms.map((g) => valuesSource(g.field, false, engine, runtime)), size: s.limit, order: orderOf(s) } };
    inner = { [GROUPS_AGG]: Object.keys(metrics).length ? { ...t, aggs: metrics } : t };
  }
  if (!s.histogram) return inner;
  const h = s.histogram;
  const dh: Json = { field: h.field.path, fixed_interval: h.interval, min_doc_count: 0, order: { _key: s.histogramDesc ? 'desc' : 'asc' } };
  // Every time bucket of the range is answered, empty ones too ("no errors in 10 minutes" is a row of 0).
  // The range is [from, to): its last instant is to - 1.
  if (plan.range) dh.extended_bounds = { min: plan.range.fromMs, max: plan.range.toMs - 1 };
  return { [TIME_AGG]: Object.keys(inner).length ? { date_histogram: dh, aggs: inner } : { date_histogram: dh } };
}
