import { analyze, lowerCase } from './analyze';
import type { Bound, Command, FieldName, FilterNode, MetricCall, Query, Span, Value } from './ast';
import { isAggregatable, resolveField, type FieldCatalogue, type ResolvedField } from './catalogue';
import { QueryError, type QueryErrorCode } from './errors';
import { parseCidr, parseIp } from './ip';
import { canonicalMetricName, parseQuery } from './parse';
import type { BucketOrder, GroupPlan, HitsPlan, MetricPlan, Predicate, QueryPlan, QueryWarning, RangeBounds, Scalar, StatsPlan } from './plan';
import { suggest } from './suggest';
import { fixedInterval, parseTimeExpr, parseTimeRange, resolveTime, TIME_FORMS, type TimeExpr, type TimeRange, type TimeRangeInput } from './time';

export interface PlanOptions {
  /** Epoch ms that relative times count from. Default Date.now(). */
  now?: number;
  /** The range beside the query (`--from/--to`, DATA-001 `time_range`). */
  range?: TimeRange | TimeRangeInput;
  /**
   * Who runs the plan. `engine` (default) refuses what the engine cannot answer or answers
   * surprisingly (numeric comparisons and metrics on free-form `fields.*`, which the engine indexes as
   * strings). `events` — the alerter and harvester processors over raw events — allows them: values
   * there still have their JSON types.
   */
  target?: 'engine' | 'events';
  /** Events returned when no `limit` is given. Default 100. */
  defaultHits?: number;
  /** Largest `limit` for events. Default 10,000 (the engine's `index.max_result_window`). */
  maxHits?: number;
  /** Buckets per field group when no `limit` is given. Default 100. */
  defaultBuckets?: number;
  /** Largest `limit` for buckets. Default 10,000. */
  maxBuckets?: number;
  /** Most buckets in one answer (time buckets × field buckets). Default 65,535 (the engine's `search.max_buckets`). */
  maxTotalBuckets?: number;
}

export const PLAN_DEFAULTS = { defaultHits: 100, maxHits: 10_000, defaultBuckets: 100, maxBuckets: 10_000, maxTotalBuckets: 65_535 } as const;

/**
 * Checks a query against a field catalogue and plans it. Throws QueryError (the first problem, with
 * every problem in `.errors`); nothing that passes can make the engine answer 400.
 */
export function planQuery(input: Query | string, cat: FieldCatalogue, o: PlanOptions = {}): QueryPlan {
  const r = checkQuery(input, cat, o);
  if (!r.ok) throw r.error;
  return r.plan;
}

export type CheckResult = { ok: true; plan: QueryPlan; warnings: QueryWarning[] } | { ok: false; error: QueryError; errors: QueryError[] };

/** planQuery without throwing: every problem found, for editors and the console. */
export function checkQuery(input: Query | string, cat: FieldCatalogue, o: PlanOptions = {}): CheckResult {
  let query: Query;
  try {
    query = typeof input === 'string' ? parseQuery(input) : input;
  } catch (e) {
    if (e instanceof QueryError) return { ok: false, error: e, errors: [e] };
    throw e;
  }
  const p = new Planner(query, cat, o);
  let plan: QueryPlan | undefined;
  try {
    plan = p.plan();
  } catch (e) {
    if (!(e instanceof QueryError)) throw e;
    p.errors.push(e);
  }
  if (p.errors.length || !plan) {
    const first = p.errors[0] as QueryError;
    first.errors = p.errors;
    return { ok: false, error: first, errors: p.errors };
  }
  return { ok: true, plan, warnings: plan.warnings };
}

const NUMBER = /^[+-]?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?$/;
const BOOLEAN: Readonly<Record<string, boolean>> = { true: true, false: false };

/** Names the time column answers to in `sort`. */
const TIME_COLUMN_NAMES = new Set(['@timestamp', 'timestamp', 'time', 'ts', 'interval']);

class Planner {
  readonly errors: QueryError[] = [];
  private readonly warnings: QueryWarning[] = [];
  private readonly target: 'engine' | 'events';
  private readonly now: number;

  constructor(
    private readonly q: Query,
    private readonly cat: FieldCatalogue,
    private readonly o: PlanOptions,
  ) {
    this.target = o.target ?? 'engine';
    this.now = o.now ?? Date.now();
  }

  plan(): QueryPlan {
    let filter = simplify(this.predicate(this.q.filter));
    let range: QueryPlan['range'];
    if (this.o.range) {
      const r = 'from' in this.o.range && typeof this.o.range.from === 'object' ? (this.o.range as TimeRange) : parseTimeRange(this.o.range as TimeRangeInput);
      if (r) {
        const fromMs = resolveTime(r.from, this.now);
        const toMs = resolveTime(r.to, this.now);
        if (fromMs > toMs) this.fail('TIME_INVALID', `from (${r.from.text}) is after to (${r.to.text})`, undefined, { hint: 'swap them' });
        range = { from: r.from, to: r.to, fromMs, toMs };
        const tf = this.timeField(undefined);
        if (tf) {
          // [from, to), as the indexer's ranges: consecutive ranges never count an event twice.
          const rp: Predicate = { kind: 'range', field: tf, gte: fromMs, lt: toMs };
          const rel: RangeBounds = {};
          if (r.from.kind === 'relative') rel.gte = r.from.ms;
          if (r.to.kind === 'relative') rel.lt = r.to.ms;
          if (rel.gte !== undefined || rel.lt !== undefined) rp.relative = rel;
          filter = simplify({ kind: 'and', items: [rp, filter] });
        }
      }
    }
    const plan: QueryPlan = { query: this.q, filter, target: this.target, warnings: this.warnings };
    if (range) plan.range = range;
    this.commands(plan);
    return plan;
  }

  // ------------------------------------------------------------------------------------------------
  // Fields

  private field(n: FieldName): ResolvedField | undefined {
    const r = resolveField(this.cat, n.name);
    if (r.ok) {
      const f = r.field;
      if (f.info.conflicting && !f.flattened) {
        this.fail('FIELD_TYPE_CONFLICT', `${f.path} is ${f.info.conflicting.join(' in some indices and ')} in others`, n.span, {
          hint: 'query fewer indices (a shorter time range), or reindex with one mapping',
        });
        return undefined;
      }
      if (f.via === 'free-form') {
        this.warnings.push({
          code: 'FIELD_UNMAPPED',
          message: `"${n.name}" is not a mapped field; searching ${f.path} (the free-form fields of an event)`,
          column: n.span.start + 1,
        });
      }
      return f;
    }
    if (r.suggestion) {
      const target = this.cat.aliases[r.suggestion];
      this.fail('FIELD_UNKNOWN', `unknown field "${n.name}" — did you mean "${r.suggestion}"?`, n.span, {
        expected: 'a field of the catalogue',
        hint: target ? `${r.suggestion} is short for ${target}` : `write ${r.suggestion}`,
      });
    } else if (r.underObject) {
      const kids = [...this.cat.fields.keys()].filter((k) => k.startsWith(`${r.underObject}.`)).slice(0, 6);
      this.fail('FIELD_UNKNOWN', `unknown field "${n.name}": ${r.underObject} has no such field`, n.span, {
        expected: 'a field of the catalogue',
        ...(kids.length ? { hint: `${r.underObject} has ${kids.join(', ')}${kids.length === 6 ? ', …' : ''}` } : {}),
      });
    } else {
      this.fail('FIELD_UNKNOWN', `unknown field "${n.name}"`, n.span, { expected: 'a field of the catalogue', hint: 'GET /v1/fields lists the fields' });
    }
    return undefined;
  }

  /** Free text searches `message` (KQL searches every field; logs have one text worth searching). */
  private messageField(span: Span): ResolvedField | undefined {
    const info = this.cat.fields.get('message');
    if (!info) {
      this.fail('FIELD_UNKNOWN', 'free text searches the message field, which these indices do not have', span, { hint: 'name a field: field:value' });
      return undefined;
    }
    return { name: 'message', path: 'message', type: info.type, info, via: 'exact' };
  }

  private timeField(span: Span | undefined): ResolvedField | undefined {
    const r = resolveField(this.cat, this.cat.timeField);
    if (!r.ok || r.field.type !== 'date') {
      this.fail('FIELD_UNKNOWN', `the time field ${this.cat.timeField} is not a date in these indices`, span, { hint: 'time ranges and intervals need it' });
      return undefined;
    }
    return r.field;
  }

  private searchable(f: ResolvedField, span: Span): boolean {
    if (f.info.searchable === false) {
      this.fail('FIELD_NOT_SEARCHABLE', `${f.path} is stored but not indexed: it cannot be searched`, span, { hint: 'it is shown with each event; search message instead' });
      return false;
    }
    if (f.type === 'other') {
      this.fail('FIELD_TYPE', `${f.path} is a ${f.info.mappingType ?? 'field'} field, which queries here cannot use`, span, { hint: 'choose a keyword, text, number, date, ip or boolean field' });
      return false;
    }
    return true;
  }

  // ------------------------------------------------------------------------------------------------
  // Filters

  private predicate(n: FilterNode): Predicate {
    switch (n.type) {
      case 'all':
        return { kind: 'all' };
      case 'and':
      case 'or':
        return { kind: n.type, items: n.children.map((c) => this.predicate(c)) };
      case 'not':
        return { kind: 'not', item: this.predicate(n.child) };
      case 'exists': {
        const f = this.field(n.field);
        if (!f || !this.searchable(f, n.field.span)) return { kind: 'none' };
        if (f.type === 'object') {
          // `log.syslog:*` is "any field below it has a value": asked leaf by leaf, because OpenSearch 2.19
          // fails `exists` on an object that holds a flat_object ("String index out of range").
          const leaves = [...this.cat.fields.entries()].filter(([k, info]) => k.startsWith(`${f.path}.`) && info.type !== 'object' && info.searchable !== false);
          if (leaves.length) {
            return { kind: 'or', items: leaves.map(([k]) => ({ kind: 'exists', field: (resolveField(this.cat, k) as { field: ResolvedField }).field }) as Predicate) };
          }
        }
        return { kind: 'exists', field: f };
      }
      case 'match': {
        const f = n.field ? this.field(n.field) : this.messageField(n.span);
        if (!f || !this.searchable(f, n.field?.span ?? n.span)) return { kind: 'none' };
        return this.match(f, n.value, n.field);
      }
      case 'range': {
        const f = this.field(n.field);
        if (!f || !this.searchable(f, n.field.span)) return { kind: 'none' };
        return this.range(f, n.field, n.lower, n.upper);
      }
    }
  }

  private match(f: ResolvedField, v: Value, fname: FieldName | undefined): Predicate {
    const where = fname?.name ?? 'free text';
    switch (f.type) {
      case 'keyword':
        if (v.wildcard) return wildcardPredicate(f, v.pattern);
        if (f.path === 'log.level' && v.text !== v.text.toLowerCase()) {
          this.warnings.push({ code: 'CASE_SENSITIVE', message: `log.level values are lower case; "${v.text}" matches only that exact spelling`, column: v.span.start + 1 });
        }
        return { kind: 'term', field: f, value: v.text };
      case 'flattened':
        // The object itself: a leaf anywhere below it holds the value.
        if (v.wildcard) {
          this.fail('FIELD_TYPE', `${f.path} is a free-form object: a wildcard needs one of its keys`, v.span, { hint: `e.g. ${f.path}.user:${v.text}` });
          return { kind: 'none' };
        }
        return { kind: 'term', field: f, value: v.text };
      case 'text': {
        if (v.wildcard) {
          const pattern = lowerCase(v.pattern);
          // A wildcard matches one word of the analyzed text; a pattern that spans a separator matches nothing.
          const words = analyze(pattern.replace(/\\(.)/g, '$1').replace(/[*?]/g, 'a'));
          if (words.length !== 1) {
            this.fail('FIELD_TYPE', `a wildcard on ${f.path} matches single words, and "${v.text}" is ${words.length ? 'several words' : 'no word'}`, v.span, {
              hint: `quote a phrase ("${v.text.replace(/[*?]/g, '')}") or use a wildcard inside one word`,
            });
            return { kind: 'none' };
          }
          return wildcardPredicate(f, pattern);
        }
        const tokens = analyze(v.text);
        if (tokens.length === 0) {
          this.warnings.push({ code: 'NO_WORDS', message: `"${v.text}" has no words for ${f.path} to match (punctuation is not indexed), so it matches nothing`, column: v.span.start + 1 });
          return { kind: 'none' };
        }
        return { kind: 'phrase', field: f, text: v.text, tokens };
      }
      case 'number': {
        if (v.wildcard) return this.typeFail(f, v, 'a number', 'wildcards apply to keyword and text fields');
        const n = this.number(f, v, where);
        if (n === undefined) return { kind: 'none' };
        if (f.info.integer && !Number.isInteger(n)) {
          this.fail('FIELD_TYPE', `${f.path} holds whole numbers; ${v.text} can never match`, v.span, { expected: 'a whole number', hint: `use a range, e.g. ${where}>=${Math.floor(n)}` });
          return { kind: 'none' };
        }
        return { kind: 'term', field: f, value: n };
      }
      case 'date': {
        if (v.wildcard) return this.typeFail(f, v, 'a time', 'use a range: @timestamp>=now-15m');
        const t = this.time(v);
        if (!t) return { kind: 'none' };
        const ms = resolveTime(t, this.now);
        const p: Predicate = { kind: 'range', field: f, gte: ms, lte: ms };
        if (t.kind === 'relative') p.relative = { gte: t.ms, lte: t.ms };
        return p;
      }
      case 'ip': {
        if (v.wildcard) return this.typeFail(f, v, 'an IP address or CIDR block', `e.g. ${where}:10.0.0.0/8`);
        if (v.text.includes('/')) {
          if (!parseCidr(v.text)) return this.typeFail(f, v, 'a CIDR block like 10.0.0.0/8', undefined);
          return { kind: 'cidr', field: f, cidr: v.text };
        }
        if (!parseIp(v.text)) return this.typeFail(f, v, 'an IP address or CIDR block', `e.g. ${where}:10.0.0.0/8`);
        return { kind: 'term', field: f, value: v.text };
      }
      case 'boolean': {
        const b = BOOLEAN[v.text];
        if (b === undefined || v.wildcard) return this.typeFail(f, v, 'true or false', undefined);
        return { kind: 'term', field: f, value: b };
      }
      case 'object': {
        this.fail('FIELD_TYPE', `${f.path} is an object, not a value`, fname?.span ?? v.span, {
          expected: 'one of its fields',
          hint: `name a field below it (${
            [...this.cat.fields.keys()]
              .filter((k) => k.startsWith(`${f.path}.`))
              .slice(0, 3)
              .join(', ') || `${f.path}.…`
          }), or ${where}:* for events that have it`,
        });
        return { kind: 'none' };
      }
      default:
        return { kind: 'none' };
    }
  }

  private range(f: ResolvedField, fname: FieldName, lower?: Bound, upper?: Bound): Predicate {
    if (f.type === 'text' || f.type === 'boolean' || f.type === 'object' || (f.type === 'flattened' && !!f.flattened && f.flattened.key === '')) {
      this.fail('FIELD_TYPE', `${f.path} is ${f.type === 'flattened' ? 'a free-form object' : f.type === 'object' ? 'an object' : f.type}: it has no order to compare with`, fname.span, {
        hint: f.type === 'text' ? `search words instead: ${fname.name}:word` : f.type === 'boolean' ? `${fname.name}:true or ${fname.name}:false` : `name one of its fields`,
      });
      return { kind: 'none' };
    }
    const p: Predicate & { kind: 'range' } = { kind: 'range', field: f };
    const rel: RangeBounds = {};
    const side = (b: Bound | undefined, incl: 'gte' | 'lte', excl: 'gt' | 'lt') => {
      if (!b) return true;
      const key = b.inclusive ? incl : excl;
      const v = b.value;
      if (v.wildcard) {
        this.typeFail(f, v, 'one value', 'a range bound takes no wildcard');
        return false;
      }
      switch (f.type) {
        case 'number': {
          const n = this.number(f, v, fname.name);
          if (n === undefined) return false;
          p[key] = n;
          return true;
        }
        case 'date': {
          const t = this.time(v);
          if (!t) return false;
          p[key] = resolveTime(t, this.now);
          if (t.kind === 'relative') rel[key] = t.ms;
          return true;
        }
        case 'ip':
          if (!parseIp(v.text)) {
            this.typeFail(f, v, 'an IP address', undefined);
            return false;
          }
          p[key] = v.text;
          return true;
        default: {
          // keyword, or a key of a free-form object: compared as strings, letter by letter.
          if (f.flattened && NUMBER.test(v.text)) {
            if (this.target === 'engine') {
              this.fail('FIELD_TYPE', `${f.path} is a free-form field, stored as text: ${fname.name}>${v.text} would compare letters, not numbers ("60" > "500")`, v.span, {
                expected: 'a mapped numeric field',
                hint: 'map the field as a number in the index template, or compare text: quote the value',
              });
              return false;
            }
            // Raw events keep JSON numbers: compare numerically (the evaluator skips non-numbers).
            p[key] = Number(v.text);
            return true;
          }
          p[key] = v.text;
          return true;
        }
      }
    };
    if (!side(lower, 'gte', 'gt') || !side(upper, 'lte', 'lt')) return { kind: 'none' };
    if (rel.gt !== undefined || rel.gte !== undefined || rel.lt !== undefined || rel.lte !== undefined) p.relative = rel;
    return p;
  }

  private number(f: ResolvedField, v: Value, where: string): number | undefined {
    const n = NUMBER.test(v.text) ? Number(v.text) : Number.NaN;
    if (!Number.isFinite(n)) {
      this.fail('FIELD_TYPE', `${f.path} is a number field; "${v.text}" is not a number`, v.span, { expected: 'a number', hint: `e.g. ${where}>=500` });
      return undefined;
    }
    return n;
  }

  private time(v: Value): TimeExpr | undefined {
    const t = parseTimeExpr(v.text);
    if (!t) this.fail('TIME_INVALID', `"${v.text}" is not a time`, v.span, { expected: TIME_FORMS, hint: 'e.g. @timestamp>=now-15m' });
    return t;
  }

  private typeFail(f: ResolvedField, v: Value, expected: string, hint: string | undefined): Predicate {
    this.fail('FIELD_TYPE', `${f.path} is ${article(f.type)} field; "${v.text}" is not ${expected}`, v.span, { expected, ...(hint ? { hint } : {}) });
    return { kind: 'none' };
  }

  // ------------------------------------------------------------------------------------------------
  // Commands

  private commands(plan: QueryPlan): void {
    const seen = new Map<string, Command>();
    let stats: Extract<Command, { type: 'stats' | 'top' }> | undefined;
    for (const c of this.q.commands) {
      const kind = c.type === 'top' ? 'stats' : c.type;
      const before = seen.get(kind);
      if (before) {
        this.fail('COMMAND_CONFLICT', `${c.type} is given twice`, c.span, { hint: kind === 'stats' ? 'put every aggregation in one stats: stats count(), avg(x) by y' : `keep one ${c.type}` });
        continue;
      }
      if (kind === 'stats' && seen.size) {
        this.fail('COMMAND_CONFLICT', `${c.type} must come first after the filter`, c.span, { hint: `move | ${[...seen.keys()].join(' | ')} after it` });
      }
      if (c.type === 'fields' && stats) {
        this.fail('COMMAND_CONFLICT', 'fields chooses the fields of events; an aggregation answers with its own columns', c.span, { hint: 'drop | fields, or drop the aggregation' });
      }
      seen.set(kind, c);
      if (c.type === 'stats' || c.type === 'top') stats = c;
    }
    const sort = seen.get('sort') as Extract<Command, { type: 'sort' }> | undefined;
    const limit = seen.get('limit') as Extract<Command, { type: 'limit' }> | undefined;
    if (stats) {
      const s = this.stats(stats, sort, limit, plan);
      if (s) plan.stats = s;
    } else {
      plan.hits = this.hits(sort, limit, seen.get('fields') as Extract<Command, { type: 'fields' }> | undefined);
    }
  }

  private hits(sort: Extract<Command, { type: 'sort' }> | undefined, limit: Extract<Command, { type: 'limit' }> | undefined, fields: Extract<Command, { type: 'fields' }> | undefined): HitsPlan {
    const maxHits = this.o.maxHits ?? PLAN_DEFAULTS.maxHits;
    const n = limit?.n ?? this.o.defaultHits ?? PLAN_DEFAULTS.defaultHits;
    if (n > maxHits) this.fail('LIMIT_EXCEEDED', `limit ${n} is above the maximum of ${maxHits} events`, limit?.span, { hint: 'aggregate instead (| stats count() by …), or export the range' });
    const keys: HitsPlan['sort'] = [];
    if (sort) {
      for (const k of sort.keys) {
        const f = this.field({ name: k.name, span: k.span });
        if (!f) continue;
        if (!isAggregatable(f) && !(this.target === 'events' && f.flattened && f.flattened.key !== '')) {
          this.fail('FIELD_TYPE', `cannot sort by ${f.path}: ${sortability(f)}`, k.span, { hint: 'sort by a keyword, number or date field' });
          continue;
        }
        keys.push({ field: f, desc: k.desc });
      }
    } else {
      const tf = this.timeField(undefined);
      if (tf) keys.push({ field: tf, desc: true });
    }
    // A unique last key makes the order total, so two runs (or the engine and the evaluator) agree.
    if (this.cat.idField && !keys.some((k) => k.field.path === this.cat.idField)) {
      const r = resolveField(this.cat, this.cat.idField);
      if (r.ok && isAggregatable(r.field)) keys.push({ field: r.field, desc: false });
    }
    const out: HitsPlan = { sort: keys, limit: Math.min(n, maxHits) };
    if (fields) {
      const fs = fields.fields.map((f) => this.field(f)).filter((f): f is ResolvedField => !!f);
      out.fields = fs;
    }
    return out;
  }

  private stats(
    c: Extract<Command, { type: 'stats' | 'top' }>,
    sort: Extract<Command, { type: 'sort' }> | undefined,
    limitCmd: Extract<Command, { type: 'limit' }> | undefined,
    plan: QueryPlan,
  ): StatsPlan | undefined {
    const metrics: MetricPlan[] = [];
    const terms: StatsPlan['terms'] = [];
    let histogram: StatsPlan['histogram'];
    const calls: MetricCall[] = c.type === 'stats' ? c.metrics : [{ fn: 'count', span: c.span }];
    for (const m of calls) this.metric(m, metrics);
    const groups = c.type === 'stats' ? c.by : c.fields.map((field) => ({ type: 'field' as const, field, span: field.span }));
    for (const g of groups) {
      if (g.type === 'interval') {
        if (histogram) {
          this.fail('COMMAND_CONFLICT', 'one interval per aggregation', g.span, { hint: 'keep one interval(…)' });
          continue;
        }
        const tf = this.timeField(g.span);
        if (tf) histogram = { kind: 'histogram', column: this.cat.timeField, field: tf, intervalMs: g.interval.ms, interval: fixedInterval(g.interval.ms) };
        continue;
      }
      const f = this.field(g.field);
      if (!f) continue;
      if (!this.groupable(f, g.field.span, 'group by')) continue;
      if (terms.some((t) => t.field.path === f.path)) {
        this.fail('COMMAND_CONFLICT', `${g.field.name} is grouped by twice`, g.span, { hint: 'remove one' });
        continue;
      }
      terms.push({ kind: 'terms', column: g.field.name, field: f });
    }
    const columns = [...terms.map((t) => t.column), ...(histogram ? [histogram.column] : []), ...metrics.map((m) => m.column)];
    const dup = columns.find((x, i) => columns.indexOf(x) !== i);
    if (dup) this.fail('ARGUMENT_INVALID', `two columns are named ${dup}`, c.span, { hint: 'name one with as: avg(x) as name' });

    const maxBuckets = this.o.maxBuckets ?? PLAN_DEFAULTS.maxBuckets;
    let limit = c.type === 'top' ? c.n : (limitCmd?.n ?? this.o.defaultBuckets ?? PLAN_DEFAULTS.defaultBuckets);
    if (c.type === 'top' && limitCmd) limit = Math.min(limit, limitCmd.n);
    if (limit > maxBuckets) {
      this.fail('LIMIT_EXCEEDED', `limit ${limit} is above the maximum of ${maxBuckets} groups`, (c.type === 'top' ? c.span : limitCmd?.span) ?? c.span, {
        hint: 'narrow the query or group by fewer values',
      });
      limit = maxBuckets;
    }

    let order: BucketOrder = { by: 'count', desc: true };
    let histogramDesc = false;
    const orderKeys = sort?.keys ?? [];
    let fieldKeySeen = false;
    for (const k of orderKeys) {
      if (histogram && (TIME_COLUMN_NAMES.has(k.name) || k.name === histogram.column)) {
        histogramDesc = k.desc;
        continue;
      }
      if (fieldKeySeen) {
        this.fail('COMMAND_CONFLICT', 'groups are sorted by one column (ties go by the group value)', k.span, { hint: 'keep one sort column besides the time' });
        continue;
      }
      fieldKeySeen = true;
      const mi = metrics.findIndex((m) => m.column === k.name);
      if (mi >= 0) {
        const m = metrics[mi] as MetricPlan;
        if (m.fn === 'percentiles') {
          this.fail('ARGUMENT_INVALID', `sorting by a percentile (${m.column}) is not supported`, k.span, { hint: 'sort by count, avg, min, max, sum or distinct' });
          continue;
        }
        order = { by: m.fn === 'count' && !m.field ? 'count' : mi, desc: k.desc };
        continue;
      }
      if (k.name === 'count') {
        order = { by: 'count', desc: k.desc };
        continue;
      }
      if (terms.some((t) => t.column === k.name || t.field.path === k.name)) {
        order = { by: 'key', desc: k.desc };
        continue;
      }
      const close = suggest(k.name, columns.concat('count'));
      this.fail('SORT_KEY_UNKNOWN', `no column "${k.name}" to sort by${close ? ` — did you mean "${close}"?` : ''}`, k.span, {
        expected: `one of: ${[...new Set(columns.concat('count'))].join(', ')}`,
      });
    }
    if (histogram && plan.range) {
      const i = histogram.intervalMs;
      const timeBuckets = Math.floor((plan.range.toMs - 1) / i) - Math.floor(plan.range.fromMs / i) + 1;
      const total = timeBuckets * (terms.length ? limit : 1);
      const max = this.o.maxTotalBuckets ?? PLAN_DEFAULTS.maxTotalBuckets;
      if (total > max) {
        const span = (c.type === 'stats' ? c.by.find((g) => g.type === 'interval')?.span : undefined) ?? c.span;
        const needMs = Math.ceil(((plan.range.toMs - plan.range.fromMs) * (terms.length ? limit : 1)) / max);
        this.fail('LIMIT_EXCEEDED', `interval(${fixedInterval(i)}) over this range makes ${timeBuckets} time buckets${terms.length ? ` × ${limit} groups` : ''}, above the maximum of ${max}`, span, {
          hint: `use an interval of at least ${humanDuration(needMs)}${terms.length ? ', or a smaller limit' : ''}`,
        });
      }
    }
    if (metrics.length === 0) return undefined;
    const out: StatsPlan = { metrics, terms, order, histogramDesc, limit };
    if (histogram) out.histogram = histogram;
    return out;
  }

  private metric(m: MetricCall, out: MetricPlan[]): void {
    if (m.fn === 'count' && !m.field) {
      out.push({ column: m.alias ?? 'count', fn: 'count' });
      return;
    }
    const f = this.field(m.field as FieldName);
    if (!f) return;
    const span = (m.field as FieldName).span;
    const name = (m.field as FieldName).name;
    if (!this.searchable(f, span)) return;
    // A key of a free-form object: its numbers (and numeric strings) are aggregated from the event
    // source (the engine runs a script over _source; the evaluator reads the event).
    const flatKey = !!f.flattened && f.flattened.key !== '';
    switch (m.fn) {
      case 'count':
        out.push({ column: m.alias ?? canonicalMetricName('count', name), fn: 'count', field: f });
        return;
      case 'distinct':
        if (!this.groupable(f, span, 'distinct')) return;
        out.push({ column: m.alias ?? canonicalMetricName('distinct', name), fn: 'distinct', field: f });
        return;
      case 'min':
      case 'max':
      case 'avg':
      case 'sum':
      case 'percentiles': {
        const dateOk = (m.fn === 'min' || m.fn === 'max') && f.type === 'date';
        if (!(f.type === 'number' && f.info.aggregatable !== false) && !dateOk && !flatKey) {
          this.fail('FIELD_TYPE', `${m.fn === 'percentiles' ? 'percentiles need' : `${m.fn} needs`} a numeric field; ${f.path} is ${describe(f)}`, span, {
            expected: 'a number field',
            hint: f.flattened
              ? 'name one of its keys, e.g. fields.duration_ms'
              : f.type === 'keyword' || f.type === 'text'
                ? `count its values instead: stats count() by ${name}`
                : 'choose a number field',
          });
          return;
        }
        if (m.fn === 'percentiles') {
          for (const p of m.percents ?? []) out.push({ column: m.alias ?? canonicalMetricName('percentiles', name, p), fn: 'percentiles', field: f, percent: p });
          return;
        }
        out.push({ column: m.alias ?? canonicalMetricName(m.fn, name), fn: m.fn, field: f });
        return;
      }
    }
  }

  /** Terms aggregations (and distinct) need doc values. */
  private groupable(f: ResolvedField, span: Span, what: string): boolean {
    if (isAggregatable(f)) return true;
    // Keys of a free-form object group everywhere: by doc values on Elasticsearch (flattened), by a
    // script over _source on OpenSearch (flat_object has none), by reading the event in memory.
    if (f.flattened && f.flattened.key !== '') return true;
    this.fail('FIELD_TYPE', `cannot ${what} ${f.path}: ${sortability(f)}`, span, {
      hint:
        f.type === 'text'
          ? 'text is split into words; group by a keyword field (service, host, level)'
          : f.flattened
            ? 'name one of its keys, e.g. fields.user'
            : 'choose a keyword, number, date, ip or boolean field',
    });
    return false;
  }

  private fail(code: QueryErrorCode, message: string, span: Span | undefined, extra: { expected?: string; hint?: string } = {}): void {
    this.errors.push(new QueryError(code, message, { column: span ? span.start + 1 : 0, endColumn: span ? Math.max(span.end, span.start + 1) + 1 : 0, ...extra }));
  }
}

function wildcardPredicate(f: ResolvedField, pattern: string): Predicate {
  // `abc*` is a prefix query: cheaper for the engine, same answer.
  if (/^[^*?\\]*\*$/.test(pattern) && pattern.length > 1) return { kind: 'prefix', field: f, prefix: pattern.slice(0, -1) };
  if (/^\*+$/.test(pattern)) return { kind: 'exists', field: f };
  return { kind: 'wildcard', field: f, pattern };
}

function article(t: string): string {
  return /^[aeio]/.test(t) ? `an ${t}` : `a ${t}`;
}

function describe(f: ResolvedField): string {
  if (f.flattened) return f.flattened.key ? 'a free-form field (text)' : 'a free-form object';
  return `${article(f.type)} field${f.info.mappingType && f.info.mappingType !== f.type ? ` (${f.info.mappingType})` : ''}`;
}

function sortability(f: ResolvedField): string {
  if (f.type === 'text') return `it is analyzed text`;
  if (f.flattened) return f.flattened.key ? 'free-form fields have no doc values on this engine' : 'it is a free-form object';
  if (f.type === 'object') return 'it is an object';
  return `it has no doc values (${f.info.mappingType ?? f.type})`;
}

function humanDuration(ms: number): string {
  for (const [u, size] of [
    ['d', 86_400_000],
    ['h', 3_600_000],
    ['m', 60_000],
    ['s', 1000],
  ] as const) {
    if (ms >= size) return `${Math.ceil(ms / size)}${u}`;
  }
  return '1s';
}

/** Flattens nested and/or, folds `all`/`none`, merges an OR of exact values on one field into `terms`. */
export function simplify(p: Predicate): Predicate {
  switch (p.kind) {
    case 'and': {
      const items: Predicate[] = [];
      for (const c of p.items.map(simplify)) {
        if (c.kind === 'none') return c;
        if (c.kind === 'all') continue;
        if (c.kind === 'and') items.push(...c.items);
        else items.push(c);
      }
      return items.length === 0 ? { kind: 'all' } : items.length === 1 ? (items[0] as Predicate) : { kind: 'and', items };
    }
    case 'or': {
      const items: Predicate[] = [];
      for (const c of p.items.map(simplify)) {
        if (c.kind === 'all') return c;
        if (c.kind === 'none') continue;
        if (c.kind === 'or') items.push(...c.items);
        else items.push(c);
      }
      const merged = mergeTerms(items);
      return merged.length === 0 ? { kind: 'none' } : merged.length === 1 ? (merged[0] as Predicate) : { kind: 'or', items: merged };
    }
    case 'not': {
      const c = simplify(p.item);
      if (c.kind === 'all') return { kind: 'none' };
      if (c.kind === 'none') return { kind: 'all' };
      if (c.kind === 'not') return c.item;
      return { kind: 'not', item: c };
    }
    default:
      return p;
  }
}

function mergeTerms(items: Predicate[]): Predicate[] {
  const byField = new Map<string, Predicate & { kind: 'terms' }>();
  const out: Predicate[] = [];
  for (const c of items) {
    if (c.kind !== 'term' && c.kind !== 'terms') {
      out.push(c);
      continue;
    }
    const values: Scalar[] = c.kind === 'term' ? [c.value] : c.values;
    const key = c.field.path;
    const prev = byField.get(key);
    if (prev) {
      for (const v of values) if (!prev.values.includes(v)) prev.values.push(v);
      continue;
    }
    const t: Predicate & { kind: 'terms' } = { kind: 'terms', field: c.field, values: [...values] };
    byField.set(key, t);
    out.push(t);
  }
  return out.map((c) => (c.kind === 'terms' && c.values.length === 1 ? { kind: 'term', field: c.field, value: c.values[0] as Scalar } : c));
}

export type { GroupPlan };
