import { Aggregator } from './aggregate';
import type { Command, FieldName, FilterNode, GroupBy, MetricCall, MetricFunction, Query, Span } from './ast';
import { resolveField, type FieldCatalogue } from './catalogue';
import { planQuery, type PlanOptions } from './check';
import { QueryError } from './errors';
import { compilePredicate } from './evaluate';
import { parseQuery } from './parse';
import type { QueryPlan } from './plan';
import type { Cell } from './result';
import { suggest } from './suggest';
import { parseDuration } from './time';

/**
 * Alert conditions in the same language (docs/adr/0016-query-language.md, "Conditions"):
 *   count(level:error) > 100
 *   count(level:error) / count() > 0.05
 *   avg(http.response_time) > 1000
 *   count(host.name:db-1) == 0 for 10m
 * An aggregation call is `count(<filter>)` — any filter of the query language, or none — or
 * `avg|min|max|sum|distinct|pNN(<field>)`; calls combine with + - * / and parentheses, and one
 * comparison with a number decides. `for <duration>` is how long it must hold (the alerter keeps that
 * state). A rule's `group_by` splits every call by the same fields: the condition holds per group.
 */

export type Comparison = '>' | '>=' | '<' | '<=' | '==' | '!=';

export type ConditionExpr =
  | { type: 'number'; value: number; span: Span }
  | { type: 'call'; fn: MetricFunction; field?: FieldName; percent?: number; filter?: FilterNode; text: string; span: Span }
  | { type: 'binary'; op: '+' | '-' | '*' | '/'; left: ConditionExpr; right: ConditionExpr; span: Span };

export interface Condition {
  text: string;
  left: ConditionExpr;
  op: Comparison;
  right: ConditionExpr;
  /** `for 10m`: how long the comparison must hold. */
  forMs?: number;
}

const CALLS: Readonly<Record<string, MetricFunction>> = { count: 'count', avg: 'avg', min: 'min', max: 'max', sum: 'sum', distinct: 'distinct' };
const PCT = /^p(\d{1,2}(?:\.\d{1,3})?|100)$/i;

/** Parses a condition; QueryError with the column on any problem (a filter inside count() too). */
export function parseCondition(text: string): Condition {
  if (typeof text !== 'string' || text.length > 4096) throw new QueryError('QUERY_TOO_LONG', 'a condition is a string of at most 4096 characters', { column: 0 });
  return new ConditionParser(text).condition();
}

class ConditionParser {
  private pos = 0;
  private depth = 0;
  constructor(private readonly s: string) {}

  condition(): Condition {
    const left = this.expr();
    this.ws();
    const at = this.pos;
    const op = (['>=', '<=', '==', '!=', '>', '<'] as const).find((o) => this.s.startsWith(o, this.pos));
    if (!op)
      throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', 'a condition compares with >, >=, <, <=, == or !=', at, { expected: 'a comparison, e.g. count() > 100' });
    this.pos += op.length;
    const right = this.expr();
    this.ws();
    const c: Condition = { text: this.s, left, op, right };
    if (/^for\b/i.test(this.s.slice(this.pos))) {
      this.pos += 3;
      this.ws();
      const dAt = this.pos;
      const m = /^\S+/.exec(this.s.slice(this.pos));
      const d = m ? parseDuration(m[0]) : undefined;
      if (d === undefined) throw this.err('DURATION_INVALID', `for ${m?.[0] ?? ''}: not a duration`, dAt, { expected: 'a whole number and a unit: s, m, h, d or w (e.g. 10m)' });
      c.forMs = d;
      this.pos += (m as RegExpExecArray)[0].length;
      this.ws();
    }
    if (this.pos < this.s.length)
      throw this.err('UNEXPECTED_TOKEN', `unexpected ${JSON.stringify(this.s.slice(this.pos, this.pos + 10))} after the condition`, this.pos, { expected: 'for <duration> or the end' });
    return c;
  }

  private expr(): ConditionExpr {
    let left = this.term();
    for (;;) {
      this.ws();
      const c = this.s[this.pos];
      if (c !== '+' && c !== '-') return left;
      this.pos++;
      const right = this.term();
      left = { type: 'binary', op: c, left, right, span: { start: left.span.start, end: right.span.end } };
    }
  }

  private term(): ConditionExpr {
    let left = this.factor();
    for (;;) {
      this.ws();
      const c = this.s[this.pos];
      if (c !== '*' && c !== '/') return left;
      this.pos++;
      const right = this.factor();
      left = { type: 'binary', op: c, left, right, span: { start: left.span.start, end: right.span.end } };
    }
  }

  private factor(): ConditionExpr {
    this.ws();
    const start = this.pos;
    if (this.s[this.pos] === '(') {
      if (++this.depth > 32) throw this.err('QUERY_TOO_DEEP', 'nested too deeply', start, {});
      this.pos++;
      const e = this.expr();
      this.ws();
      if (this.s[this.pos] !== ')') throw this.err('UNBALANCED_PARENS', `the ( at column ${start + 1} is never closed`, this.pos, { expected: ')' });
      this.pos++;
      this.depth--;
      return e;
    }
    const num = /^-?(?:\d+(?:\.\d*)?|\.\d+)(?:[eE][+-]?\d+)?/.exec(this.s.slice(this.pos));
    if (num) {
      this.pos += num[0].length;
      return { type: 'number', value: Number(num[0]), span: { start, end: this.pos } };
    }
    const name = /^[A-Za-z][A-Za-z0-9_.]*/.exec(this.s.slice(this.pos))?.[0];
    if (!name)
      throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', 'a number or an aggregation is missing here', start, { expected: 'count(filter), avg(field), …, or a number' });
    const lower = name.toLowerCase();
    const pct = PCT.exec(lower);
    const fn: MetricFunction | undefined = pct ? 'percentiles' : CALLS[lower];
    if (!fn) {
      const close = suggest(lower, [...Object.keys(CALLS), 'p95']);
      throw this.err('UNKNOWN_FUNCTION', `unknown aggregation "${name}"${close ? ` — did you mean "${close}"?` : ''}`, start, {
        expected: 'count, avg, min, max, sum, distinct or pNN',
        end: start + name.length,
      });
    }
    this.pos += name.length;
    this.ws();
    if (this.s[this.pos] !== '(') throw this.err('UNEXPECTED_TOKEN', `${lower} needs parentheses: ${lower}(…)`, this.pos, { expected: '(' });
    const open = this.pos;
    const close = this.matchingParen(open);
    const inner = this.s.slice(open + 1, close);
    this.pos = close + 1;
    const span = { start, end: this.pos };
    const text = this.s.slice(start, this.pos);
    if (fn === 'count') {
      // count(<filter>): the filter is the query language itself; its errors point into this text.
      let q: Query;
      try {
        q = parseQuery(inner);
      } catch (e) {
        throw shift(e, open + 1);
      }
      if (q.commands.length) throw this.err('COMMAND_CONFLICT', 'count() takes a filter, not | commands', open + 1 + (q.commands[0] as Command).span.start, { expected: 'a filter' });
      const filter = shiftNode(q.filter, open + 1);
      return { type: 'call', fn, ...(inner.trim() ? { filter } : {}), text, span };
    }
    const field = inner.trim();
    if (!/^[A-Za-z_@$][A-Za-z0-9_@$.\-/]*$/.test(field)) {
      throw this.err('ARGUMENT_INVALID', `${lower} needs one field`, open + 1, { expected: `${lower}(field)`, end: close });
    }
    const fAt = open + 1 + inner.indexOf(field);
    const call: ConditionExpr = { type: 'call', fn, field: { name: field, span: { start: fAt, end: fAt + field.length } }, text, span };
    if (pct) call.percent = Number(pct[1]);
    return call;
  }

  /** The `)` closing the `(` at `open`, skipping quoted strings and escapes (filters may hold both). */
  private matchingParen(open: number): number {
    let depth = 0;
    for (let i = open; i < this.s.length; i++) {
      const c = this.s[i];
      if (c === '\\') {
        i++;
        continue;
      }
      if (c === '"') {
        for (i++; i < this.s.length && this.s[i] !== '"'; i++) if (this.s[i] === '\\') i++;
        continue;
      }
      if (c === '(') depth++;
      else if (c === ')' && --depth === 0) return i;
    }
    throw this.err('UNBALANCED_PARENS', `the ( at column ${open + 1} is never closed`, this.s.length, { expected: ')' });
  }

  private ws(): void {
    while (this.pos < this.s.length && /\s/.test(this.s[this.pos] as string)) this.pos++;
  }

  private err(code: QueryError['code'], message: string, at: number, d: { expected?: string; hint?: string; end?: number }): QueryError {
    return new QueryError(code, message, { column: at + 1, endColumn: (d.end ?? at + 1) + 1, ...(d.expected ? { expected: d.expected } : {}), ...(d.hint ? { hint: d.hint } : {}) });
  }
}

function shift(e: unknown, offset: number): unknown {
  if (!(e instanceof QueryError) || e.column < 1) return e;
  return new QueryError(e.code, e.message, { column: e.column + offset, endColumn: e.endColumn + offset, ...(e.expected ? { expected: e.expected } : {}), ...(e.hint ? { hint: e.hint } : {}) });
}

function shiftSpan(s: Span, o: number): Span {
  return { start: s.start + o, end: s.end + o };
}

function shiftNode(n: FilterNode, o: number): FilterNode {
  switch (n.type) {
    case 'all':
      return { ...n, span: shiftSpan(n.span, o) };
    case 'and':
    case 'or':
      return { ...n, children: n.children.map((c) => shiftNode(c, o)), span: shiftSpan(n.span, o) };
    case 'not':
      return { ...n, child: shiftNode(n.child, o), span: shiftSpan(n.span, o) };
    case 'exists':
      return { ...n, field: { ...n.field, span: shiftSpan(n.field.span, o) }, span: shiftSpan(n.span, o) };
    case 'match':
      return { ...n, ...(n.field ? { field: { ...n.field, span: shiftSpan(n.field.span, o) } } : {}), value: { ...n.value, span: shiftSpan(n.value.span, o) }, span: shiftSpan(n.span, o) };
    case 'range': {
      const r: FilterNode = { ...n, field: { ...n.field, span: shiftSpan(n.field.span, o) }, span: shiftSpan(n.span, o) };
      if (n.lower) r.lower = { ...n.lower, value: { ...n.lower.value, span: shiftSpan(n.lower.value.span, o) } };
      if (n.upper) r.upper = { ...n.upper, value: { ...n.upper.value, span: shiftSpan(n.upper.value.span, o) } };
      return r;
    }
  }
}

/** A condition checked against a catalogue: one stats plan per aggregation call. */
export interface ConditionPlan {
  condition: Condition;
  /** Calls in the order they appear (left to right). */
  calls: Array<{ text: string; plan: QueryPlan }>;
  /** The rule's group_by columns (the calls' group columns, in order). */
  groupBy: string[];
}

export interface ConditionOptions extends PlanOptions {
  /** The rule's `group_by` fields. */
  groupBy?: string[];
}

/**
 * Checks a condition (every call's filter and field) against a catalogue. Runs over raw events by
 * default (`target: 'events'`): the alerter reads them from `h-<env>`, not from the engine.
 */
export function planCondition(input: Condition | string, cat: FieldCatalogue, o: ConditionOptions = {}): ConditionPlan {
  const condition = typeof input === 'string' ? parseCondition(input) : input;
  const groupBy = o.groupBy ?? [];
  for (const g of groupBy) {
    const r = resolveField(cat, g);
    if (!r.ok && r.suggestion)
      throw new QueryError('FIELD_UNKNOWN', `group_by: unknown field "${g}" — did you mean "${r.suggestion}"?`, { column: 0, path: 'group_by', hint: `write ${r.suggestion}` });
    if (!r.ok) throw new QueryError('FIELD_UNKNOWN', `group_by: unknown field "${g}"`, { column: 0, path: 'group_by' });
  }
  const by: GroupBy[] = groupBy.map((name) => ({ type: 'field', field: { name, span: { start: 0, end: 0 } }, span: { start: 0, end: 0 } }));
  const calls: ConditionPlan['calls'] = [];
  const errors: QueryError[] = [];
  const visit = (e: ConditionExpr) => {
    if (e.type === 'binary') {
      visit(e.left);
      visit(e.right);
      return;
    }
    if (e.type !== 'call') return;
    const metric: MetricCall = { fn: e.fn, span: e.span, ...(e.field ? { field: e.field } : {}), ...(e.percent !== undefined ? { percents: [e.percent] } : {}), alias: 'value' };
    const query: Query = { text: condition.text, filter: e.filter ?? { type: 'all', span: e.span }, commands: [{ type: 'stats', metrics: [metric], by, span: e.span }] };
    try {
      calls.push({ text: e.text, plan: planQuery(query, cat, { target: 'events', ...o, defaultBuckets: o.defaultBuckets ?? 10_000 }) });
    } catch (err) {
      if (err instanceof QueryError) errors.push(...err.errors);
      else throw err;
    }
  };
  visit(condition.left);
  visit(condition.right);
  if (errors.length) {
    const first = errors[0] as QueryError;
    first.errors = errors;
    throw first;
  }
  return { condition, calls, groupBy };
}

export interface ConditionResult {
  /** The group's values (empty without group_by). */
  group: Cell[];
  /** Each call's value, in plan order (count of nothing is 0; avg of nothing is null). */
  values: Array<number | null>;
  /** The left side; null when it cannot be computed (a null value, a division by zero). */
  value: number | null;
  /** The comparison holds (false when the value is null). */
  holds: boolean;
}

/** Computes a condition over events (one pass, all calls at once), per group. */
export function evaluateCondition(plan: ConditionPlan, events: Iterable<unknown>): ConditionResult[] {
  const runners = plan.calls.map((c) => ({ filter: compilePredicate(c.plan.filter), agg: new Aggregator(c.plan.stats as NonNullable<QueryPlan['stats']>, c.plan.range) }));
  for (const e of events) for (const r of runners) if (r.filter(e)) r.agg.add(e);
  const n = plan.groupBy.length;
  const byGroup = new Map<string, { group: Cell[]; values: Array<number | null> }>();
  runners.forEach((r, i) => {
    for (const row of r.agg.result().rows) {
      const group = row.slice(0, n);
      const key = JSON.stringify(group);
      let g = byGroup.get(key);
      if (!g) {
        g = { group, values: plan.calls.map((c) => (c.plan.stats?.metrics[0]?.fn === 'count' ? 0 : null)) };
        byGroup.set(key, g);
      }
      const v = row[n];
      g.values[i] = typeof v === 'number' ? v : null;
    }
  });
  if (n === 0 && byGroup.size === 0) byGroup.set('[]', { group: [], values: plan.calls.map((c) => (c.plan.stats?.metrics[0]?.fn === 'count' ? 0 : null)) });
  const out: ConditionResult[] = [];
  for (const g of byGroup.values()) {
    let i = 0;
    const calc = (e: ConditionExpr): number | null => {
      if (e.type === 'number') return e.value;
      if (e.type === 'call') return g.values[i++] ?? null;
      const a = calc(e.left);
      const b = calc(e.right);
      if (a === null || b === null) return null;
      const v = e.op === '+' ? a + b : e.op === '-' ? a - b : e.op === '*' ? a * b : b === 0 ? null : a / b;
      return v === null || Number.isFinite(v) ? v : null;
    };
    const value = calc(plan.condition.left);
    const right = calc(plan.condition.right);
    out.push({ group: g.group, values: g.values, value, holds: value !== null && right !== null && compare(value, plan.condition.op, right) });
  }
  return out;
}

function compare(a: number, op: Comparison, b: number): boolean {
  switch (op) {
    case '>':
      return a > b;
    case '>=':
      return a >= b;
    case '<':
      return a < b;
    case '<=':
      return a <= b;
    case '==':
      return a === b;
    case '!=':
      return a !== b;
  }
}
