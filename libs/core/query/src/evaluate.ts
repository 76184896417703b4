import { forEachToken, lowerCase, tokenEquals } from './analyze';
import type { Query } from './ast';
import type { FieldCatalogue, ResolvedField } from './catalogue';
import { planQuery, type PlanOptions } from './check';
import { compareIp, parseCidr, parseIp } from './ip';
import type { Predicate, QueryPlan, RangeBounds, Scalar } from './plan';
import { anyLeaf, anyValue, booleanOf, compareCodePoints, dateOf, fieldPath, ipOf, keywordOf, numberOf } from './values';

/**
 * The filter evaluator: a plan's filter compiled into one predicate over a decoded event, with the
 * engine's semantics (the engine is the reference; libs/adapters/search/src/query/query.int.spec.ts
 * compares the two on the same events):
 *   keyword   exact and case-sensitive; numbers and booleans match as their text; values longer than
 *             `ignore_above` are not indexed, so nothing matches them (not even field:*);
 *   text      the standard analyzer's words (analyze.ts): `message:timeout` matches "Upstream TIMEOUT!",
 *             a phrase matches consecutive words within one value of an array;
 *   number    numeric, numeric strings coerced, integer types truncate; date in epoch ms; ip by address;
 *   arrays    any element; `null` and `[]` are no value; NOT matches events without the field.
 * Compiling does the work once (paths split, values converted, patterns made); the returned function
 * allocates nothing per event (text words are compared in place; a quick case-insensitive search
 * skips values that cannot hold the words).
 */
export type EventFilter = (event: unknown) => boolean;

export interface CompileOptions {
  /**
   * A clock for relative times (`@timestamp>=now-15m`, a range `from: -15m`): when given, those bounds
   * move with it; otherwise they stay where the plan resolved them.
   */
  clock?: () => number;
}

/**
 * `compileFilter(plan)`, or `compileFilter(text | ast, catalogue, options)` which plans first (throws
 * QueryError). Commands (`| stats …`) are ignored here: only the filter (and the plan's range) apply.
 */
export function compileFilter(input: QueryPlan | Query | string, catalogue?: FieldCatalogue, options: PlanOptions & CompileOptions = {}): EventFilter {
  const plan = isPlan(input) ? input : planQuery(input, need(catalogue), options);
  return compilePredicate(plan.filter, options);
}

function isPlan(x: unknown): x is QueryPlan {
  return typeof x === 'object' && x !== null && 'filter' in x && 'target' in x && 'warnings' in x;
}

function need(c: FieldCatalogue | undefined): FieldCatalogue {
  if (!c) throw new TypeError('compileFilter: a field catalogue is needed to plan a query');
  return c;
}

export function compilePredicate(p: Predicate, o: CompileOptions = {}): EventFilter {
  return compile(p, o);
}

function compile(p: Predicate, o: CompileOptions): EventFilter {
  switch (p.kind) {
    case 'all':
      return () => true;
    case 'none':
      return () => false;
    case 'and': {
      const fs = p.items.map((c) => compile(c, o));
      if (fs.length === 2) {
        const [a, b] = fs as [EventFilter, EventFilter];
        return (e) => a(e) && b(e);
      }
      return (e) => {
        for (let i = 0; i < fs.length; i++) if (!(fs[i] as EventFilter)(e)) return false;
        return true;
      };
    }
    case 'or': {
      const fs = p.items.map((c) => compile(c, o));
      return (e) => {
        for (let i = 0; i < fs.length; i++) if ((fs[i] as EventFilter)(e)) return true;
        return false;
      };
    }
    case 'not': {
      const f = compile(p.item, o);
      return (e) => !f(e);
    }
    case 'exists':
      return existsFilter(p.field);
    case 'term':
      return onValues(p.field, valueTest(p.field, [p.value]));
    case 'terms':
      return onValues(p.field, valueTest(p.field, p.values));
    case 'phrase':
      return onValues(p.field, phraseTest(p.tokens));
    case 'prefix': {
      const f = p.field;
      if (f.type === 'text')
        return onValues(
          f,
          tokenTest((t) => t.startsWith(p.prefix), p.prefix),
        );
      const max = ignoreAbove(f);
      return onValues(f, (v) => {
        const s = keywordOf(v);
        return s !== undefined && s.length <= max && s.startsWith(p.prefix);
      });
    }
    case 'wildcard': {
      const match = wildcardMatcher(p.pattern);
      const f = p.field;
      if (f.type === 'text') return onValues(f, tokenTest(match, longestLiteral(p.pattern)));
      const max = ignoreAbove(f);
      return onValues(f, (v) => {
        const s = keywordOf(v);
        return s !== undefined && s.length <= max && match(s);
      });
    }
    case 'range':
      return rangeFilter(p, o);
    case 'cidr': {
      const block = parseCidr(p.cidr) as { lo: Uint8Array; hi: Uint8Array };
      return onValues(p.field, (v) => {
        const ip = ipOf(v);
        return ip !== undefined && compareIp(ip, block.lo) >= 0 && compareIp(ip, block.hi) <= 0;
      });
    }
  }
}

function ignoreAbove(f: ResolvedField): number {
  return f.flattened ? Number.POSITIVE_INFINITY : (f.info.ignoreAbove ?? Number.POSITIVE_INFINITY);
}

/** Runs `test` on the field's values: for a flattened object's own name, on every leaf below it. */
function onValues(f: ResolvedField, test: (v: unknown) => boolean): EventFilter {
  const path = fieldPath(f.path);
  if (f.flattened && f.flattened.key === '') return (e) => anyValue(e, path, (obj) => anyLeaf(obj, test));
  return (e) => anyValue(e, path, test);
}

function existsFilter(f: ResolvedField): EventFilter {
  if (f.type === 'object' || (f.flattened && f.flattened.key === '')) {
    const path = fieldPath(f.path);
    return (e) => anyValue(e, path, (obj) => anyLeaf(obj, isScalar));
  }
  return onValues(f, presentTest(f));
}

function isScalar(v: unknown): boolean {
  return typeof v === 'string' || typeof v === 'number' || typeof v === 'boolean';
}

/** Whether a value is indexed at all for the field's type (what `exists` sees). */
function presentTest(f: ResolvedField): (v: unknown) => boolean {
  if (f.flattened) return isScalar;
  switch (f.type) {
    case 'keyword': {
      const max = ignoreAbove(f);
      return (v) => {
        const s = keywordOf(v);
        return s !== undefined && s.length <= max;
      };
    }
    case 'text':
      return (v) => keywordOf(v) !== undefined;
    case 'number':
      return (v) => numberOf(v, f.info.integer) !== undefined;
    case 'date':
      return (v) => dateOf(v) !== undefined;
    case 'ip':
      return (v) => ipOf(v) !== undefined;
    case 'boolean':
      return (v) => booleanOf(v) !== undefined;
    default:
      return isScalar;
  }
}

/** Equality with any of `values` (already typed by the planner). */
function valueTest(f: ResolvedField, values: Scalar[]): (v: unknown) => boolean {
  if (f.flattened || f.type === 'keyword') {
    const max = ignoreAbove(f);
    const set = new Set(values.map(String));
    if (set.size === 1) {
      const only = [...set][0] as string;
      return (v) => {
        const s = keywordOf(v);
        return s === only && s.length <= max;
      };
    }
    return (v) => {
      const s = keywordOf(v);
      return s !== undefined && s.length <= max && set.has(s);
    };
  }
  switch (f.type) {
    case 'number': {
      const set = new Set(values as number[]);
      return (v) => {
        const n = numberOf(v, f.info.integer);
        return n !== undefined && set.has(n);
      };
    }
    case 'boolean': {
      const set = new Set(values as boolean[]);
      return (v) => {
        const b = booleanOf(v);
        return b !== undefined && set.has(b);
      };
    }
    case 'ip': {
      const wanted = values.map((x) => parseIp(String(x))).filter((x): x is Uint8Array => !!x);
      return (v) => {
        const ip = ipOf(v);
        return ip !== undefined && wanted.some((w) => compareIp(ip, w) === 0);
      };
    }
    case 'date': {
      const set = new Set(values as number[]);
      return (v) => {
        const d = dateOf(v);
        return d !== undefined && set.has(d);
      };
    }
    default:
      return () => false;
  }
}

/**
 * A cheap test that no word of `s` can be `word`: the text must hold the word somewhere, whatever its
 * case. `iu` folding is a superset of the analyzer's lower-casing, except İ (U+0130), which Java
 * lower-cases to i — so every i also accepts İ. A match only means "tokenize and look".
 */
function mayContain(word: string): RegExp {
  let re = '';
  for (const ch of word) re += ch === 'i' ? '(?:i|\u0130)' : ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
  return new RegExp(re, 'iu');
}

/** Consecutive words of a text value (match_phrase); one state byte per query word, reused per event. */
function phraseTest(q: readonly string[]): (v: unknown) => boolean {
  const n = q.length;
  const state = new Uint8Array(n);
  const longest = q.reduce((a, b) => (b.length > a.length ? b : a), '');
  const pre = mayContain(longest);
  let str = '';
  let found = false;
  const onToken = (a: number, b: number): boolean => {
    for (let k = n - 1; k > 0; k--) state[k] = state[k - 1] && tokenEquals(str, a, b, q[k] as string) ? 1 : 0;
    state[0] = tokenEquals(str, a, b, q[0] as string) ? 1 : 0;
    if (state[n - 1]) found = true;
    return found;
  };
  return (v) => {
    const s = keywordOf(v);
    if (s === undefined || !pre.test(s)) return false;
    str = s;
    found = false;
    state.fill(0);
    forEachToken(s, onToken);
    return found;
  };
}

/** Any word of a text value passes `test` (given the lower-cased word). */
function tokenTest(test: (token: string) => boolean, literal: string): (v: unknown) => boolean {
  const pre = literal ? mayContain(literal) : undefined;
  let str = '';
  let found = false;
  const onToken = (a: number, b: number): boolean => {
    if (test(lowerCase(str.slice(a, b)))) found = true;
    return found;
  };
  return (v) => {
    const s = keywordOf(v);
    if (s === undefined || (pre && !pre.test(s))) return false;
    str = s;
    found = false;
    forEachToken(s, onToken);
    return found;
  };
}

const LITERAL = 0;
const ONE = 1;
const ANY = 2;

/**
 * Lucene WildcardQuery syntax (`*` any run, `?` one code point, `\x` the literal x) → a matcher. The
 * classic two-pointer match with a return point at the last `*`: O(value × pattern) at worst, never the
 * exponential backtracking a RegExp of many `*` can hit on a long value (a query must not be able to
 * stall a harvester).
 */
export function wildcardMatcher(pattern: string): (s: string) => boolean {
  const kinds: number[] = [];
  const cps: number[] = [];
  for (let i = 0; i < pattern.length;) {
    const c = pattern.codePointAt(i) as number;
    if (c === 92 && i + 1 < pattern.length) {
      const n = pattern.codePointAt(i + 1) as number;
      kinds.push(LITERAL);
      cps.push(n);
      i += 1 + (n > 0xffff ? 2 : 1);
    } else if (c === 42) {
      if (kinds[kinds.length - 1] !== ANY) {
        kinds.push(ANY);
        cps.push(0);
      }
      i++;
    } else {
      kinds.push(c === 63 ? ONE : LITERAL);
      cps.push(c);
      i += c > 0xffff ? 2 : 1;
    }
  }
  const m = kinds.length;
  return (s) => {
    let si = 0;
    let pi = 0;
    let starPi = -1;
    let starSi = 0;
    while (si < s.length) {
      const c = s.codePointAt(si) as number;
      const w = c > 0xffff ? 2 : 1;
      if (pi < m && (kinds[pi] === ONE || (kinds[pi] === LITERAL && cps[pi] === c))) {
        si += w;
        pi++;
      } else if (pi < m && kinds[pi] === ANY) {
        starPi = pi++;
        starSi = si;
      } else if (starPi >= 0) {
        // Let the last `*` take one more code point and retry from there.
        pi = starPi + 1;
        starSi += (s.codePointAt(starSi) as number) > 0xffff ? 2 : 1;
        si = starSi;
      } else return false;
    }
    while (pi < m && kinds[pi] === ANY) pi++;
    return pi === m;
  };
}

/** The longest run of literal characters of a wildcard pattern (what any match must contain). */
function longestLiteral(pattern: string): string {
  let best = '';
  let cur = '';
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i] as string;
    if (c === '*' || c === '?') {
      if (cur.length > best.length) best = cur;
      cur = '';
    } else if (c === '\\' && i + 1 < pattern.length) {
      cur += pattern[++i];
    } else cur += c;
  }
  return cur.length > best.length ? cur : best;
}

function rangeFilter(p: Predicate & { kind: 'range' }, o: CompileOptions): EventFilter {
  const f = p.field;
  const rel = p.relative;
  const clock = o.clock;
  if (f.type === 'date') {
    const fixed = { gt: p.gt as number | undefined, gte: p.gte as number | undefined, lt: p.lt as number | undefined, lte: p.lte as number | undefined };
    if (rel && clock) {
      // Bounds written relative to now move with the clock; the others stay. One bounds object is
      // updated per call, so nothing is allocated per event.
      const live: NumBounds = { ...fixed };
      const test = onValues(f, numericRange(live, dateOf));
      return (e) => {
        const now = clock();
        if (rel.gt !== undefined) live.gt = now + (rel.gt as number);
        if (rel.gte !== undefined) live.gte = now + (rel.gte as number);
        if (rel.lt !== undefined) live.lt = now + (rel.lt as number);
        if (rel.lte !== undefined) live.lte = now + (rel.lte as number);
        return test(e);
      };
    }
    return onValues(f, numericRange(fixed, dateOf));
  }
  if (f.type === 'number')
    return onValues(
      f,
      numericRange(p as RangeBounds as NumBounds, (v) => numberOf(v, f.info.integer)),
    );
  if (f.type === 'ip') {
    const b = {
      gt: p.gt !== undefined ? parseIp(String(p.gt)) : undefined,
      gte: p.gte !== undefined ? parseIp(String(p.gte)) : undefined,
      lt: p.lt !== undefined ? parseIp(String(p.lt)) : undefined,
      lte: p.lte !== undefined ? parseIp(String(p.lte)) : undefined,
    };
    return onValues(f, (v) => {
      const ip = ipOf(v);
      if (!ip) return false;
      if (b.gt && compareIp(ip, b.gt) <= 0) return false;
      if (b.gte && compareIp(ip, b.gte) < 0) return false;
      if (b.lt && compareIp(ip, b.lt) >= 0) return false;
      if (b.lte && compareIp(ip, b.lte) > 0) return false;
      return true;
    });
  }
  // keyword or a flattened key: strings in code point order; a numeric bound (target `events`) compares numbers.
  if ([p.gt, p.gte, p.lt, p.lte].some((x) => typeof x === 'number'))
    return onValues(
      f,
      numericRange(p as RangeBounds as NumBounds, (v) => numberOf(v, false)),
    );
  const max = ignoreAbove(f);
  const b = p as { gt?: string; gte?: string; lt?: string; lte?: string };
  return onValues(f, (v) => {
    const s = keywordOf(v);
    if (s === undefined || s.length > max) return false;
    if (b.gt !== undefined && compareCodePoints(s, b.gt) <= 0) return false;
    if (b.gte !== undefined && compareCodePoints(s, b.gte) < 0) return false;
    if (b.lt !== undefined && compareCodePoints(s, b.lt) >= 0) return false;
    if (b.lte !== undefined && compareCodePoints(s, b.lte) > 0) return false;
    return true;
  });
}

interface NumBounds {
  gt?: number;
  gte?: number;
  lt?: number;
  lte?: number;
}

/** `b` is read at each call (the clocked date range updates it in place). */
function numericRange(b: NumBounds, read: (v: unknown) => number | undefined): (v: unknown) => boolean {
  return (v) => {
    const n = read(v);
    if (n === undefined) return false;
    const { gt, gte, lt, lte } = b;
    if (gt !== undefined && !(n > gt)) return false;
    if (gte !== undefined && !(n >= gte)) return false;
    if (lt !== undefined && !(n < lt)) return false;
    if (lte !== undefined && !(n <= lte)) return false;
    return true;
  };
}
