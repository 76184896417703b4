import { analyze } from './analyze';
import type { FilterNode, Query } from './ast';
import { resolveField, type FieldCatalogue } from './catalogue';
import { planQuery } from './check';
import { QueryError } from './errors';
import { compilePredicate, type EventFilter } from './evaluate';
import { parseFilter } from './parse';
import type { Predicate, QueryPlan, QueryWarning } from './plan';
import { printFilter } from './print';
import { parseTimeExpr } from './time';

/**
 * The filter of a history load and of an archive export or replay (`--filter`, the indexer API's
 * `filter`): a filter of the query language (no `| commands`), evaluated in process over archived lines
 * by `compileFilter` with the engine's semantics, against the `logs-*` template's catalogue. Decisions:
 * docs/adr/0009 (addendum) and 0016.
 *
 * The older `key=value` forms are read once, at the edge, and turned into the language
 * (`legacyFilterText`): `--filter host=a,b` is `host.name:(a OR b)`. Nothing else evaluates them.
 */

/** The older filter (ADR 0009 decision 4), as the API's object and the CLI's `key=value` arguments gave it. */
export interface LegacyFilter {
  host?: readonly string[];
  service?: readonly string[];
  level?: readonly string[];
  message?: readonly string[];
}

/** Characters a legacy value may hold unquoted; anything else is written as a quoted (exact) value. */
const BARE = /^[A-Za-z0-9_][A-Za-z0-9_./@-]*$/;
const WORDS = new Set(['and', 'or', 'not', 'to']);

function exactValue(v: string): string {
  return BARE.test(v) && !WORDS.has(v.toLowerCase()) ? v : `"${v.replace(/["\\]/g, (c) => `\\${c}`)}"`;
}

const sortedUnique = (xs: readonly string[]) => [...new Set(xs)].sort();

/**
 * The older filter in the query language, with the meaning the old evaluator gave it:
 *   host, service  `host.name` / `service.name` is one of the values (exact: quoted values take no wildcard);
 *   level          `log.level` is one of the values, lower-cased — normalize() lower-cases every level
 *                  (libs/core/event), so this keeps "level ignores case" exactly for archived events;
 *   message        each term is a phrase of `message` (words, any case). The old evaluator looked for
 *                  a case-insensitive substring: `message~time` matched "timeout"; now it matches the
 *                  word "time" only (write `message:time*` for a prefix). A term without a word
 *                  (`message~!!`) is refused rather than matching nothing.
 * Values are sorted and de-duplicated, so the same filter always gives the same text. `keepWordless`:
 * for a filter stored before that refusal, write such a term as the phrase it is (it matches nothing).
 */
export function legacyFilterText(f: LegacyFilter, o: { keepWordless?: boolean } = {}): string {
  const parts: string[] = [];
  const oneOf = (field: string, values: readonly string[]) => {
    const vs = sortedUnique(values).map(exactValue);
    if (vs.length) parts.push(vs.length === 1 ? `${field}:${vs[0]}` : `${field}:(${vs.join(' OR ')})`);
  };
  oneOf('host.name', f.host ?? []);
  oneOf('service.name', f.service ?? []);
  oneOf(
    'log.level',
    (f.level ?? []).map((l) => l.toLowerCase()),
  );
  for (const t of sortedUnique((f.message ?? []).map((m) => m.toLowerCase()))) {
    if (!o.keepWordless && analyze(t).length === 0) {
      throw new QueryError('VALUE_EXPECTED', `message~${t}: no word to search for`, {
        column: 0,
        expected: 'a word or a phrase',
        hint: 'the message filter matches words of the message (any case), not punctuation; see docs/adr/0009 (addendum)',
      });
    }
    parts.push(`message:"${t.replace(/["\\]/g, (c) => `\\${c}`)}"`);
  }
  return parts.join(' AND ');
}

/** `host=…`, `service=…`, `level=…`, `message~…`: the older CLI forms (anything else is the query language). */
const LEGACY_ARG = /^(host|service|level)=(.*)$|^message~(.*)$/s;

/**
 * `--filter` arguments → one filter text. An argument in an older form (`host=a,b`, `service=x`,
 * `level=error,warn`, `message~text`) is read as before (a comma is "or", a repeated key adds values,
 * repeated `message~` terms are all required) and translated by `legacyFilterText`; any other argument
 * is the query language. Several arguments must all match (AND). Throws QueryError for an older form
 * that cannot be read (an empty value), naming the argument; the query language's own errors come from
 * `archiveFilter`, with columns in the returned text (the argument itself when there is one).
 */
export function filterArgsText(args: readonly string[]): string {
  const legacy: { host: string[]; service: string[]; level: string[]; message: string[] } = { host: [], service: [], level: [], message: [] };
  const texts: string[] = [];
  let anyLegacy = false;
  for (const arg of args) {
    const m = LEGACY_ARG.exec(arg);
    if (!m) {
      if (arg.trim()) texts.push(arg);
      continue;
    }
    anyLegacy = true;
    if (m[3] !== undefined) {
      if (!m[3])
        throw new QueryError('VALUE_EXPECTED', `--filter ${JSON.stringify(arg)}: no text after message~`, {
          column: 0,
          expected: 'message~text',
          hint: 'message~timeout, or the query language: message:timeout',
        });
      legacy.message.push(m[3]);
      continue;
    }
    const key = m[1] as 'host' | 'service' | 'level';
    const values = (m[2] as string).split(',').map((v) => v.trim());
    if (values.some((v) => !v)) {
      throw new QueryError('VALUE_EXPECTED', `--filter ${JSON.stringify(arg)}: an empty value`, { column: 0, expected: `${key}=a[,b…]`, hint: `values are separated by single commas: ${key}=a,b` });
    }
    legacy[key].push(...values);
  }
  if (anyLegacy) {
    try {
      texts.unshift(legacyFilterText(legacy));
    } catch (e) {
      if (e instanceof QueryError) throw new QueryError(e.code, `--filter ${e.message}`, { column: 0, ...(e.expected ? { expected: e.expected } : {}), ...(e.hint ? { hint: e.hint } : {}) });
      throw e;
    }
  }
  return texts.length === 1 ? (texts[0] as string) : texts.map((t) => `(${t})`).join(' AND ');
}

/** A checked filter, ready to run over archived events. */
export interface ArchiveFilter {
  /**
   * The canonical text (`printQuery` of the parsed filter; '' when it matches every event): what job
   * state, the index `_meta`, checkpoints and `history list` keep and show. Parsing it again gives the
   * same text.
   */
  readonly text: string;
  /**
   * The canonical text with every field name resolved (`host` → `host.name`) and the terms of each AND
   * and OR in a fixed order: equal for two filters that ask the same in other words.
   */
  readonly key: string;
  readonly plan: QueryPlan;
  readonly matchesAll: boolean;
  /** Engine semantics over a decoded event (`compileFilter`). */
  readonly test: EventFilter;
  /**
   * False when a part's manifest facets (its distinct `host.name`, `service.name`, `log.level`) prove
   * that none of its events can match: the part is then skipped without being read.
   */
  mayMatchPart(facets: PartFacets): boolean;
  readonly warnings: readonly QueryWarning[];
}

/** The facets a part manifest lists (docs/specs/archive.md): sorted distinct string values. */
export interface PartFacets {
  hosts: readonly string[];
  services: readonly string[];
  levels: readonly string[];
}

/**
 * Parses, checks (against `catalogue`, for the engine: the history index is searched by it) and
 * compiles a filter. Throws QueryError with the column: a `|` command (`COMMAND_CONFLICT`), any syntax
 * or field error, and a relative time (`@timestamp>=now-15m`), which would mean something else each
 * time a resumed load or export read it (`TIME_INVALID`; the range is given beside the filter).
 */
export function archiveFilter(text: string, catalogue: FieldCatalogue): ArchiveFilter {
  const query = parseFilter(text);
  refuseRelativeTimes(query, catalogue);
  const plan = planQuery(query, catalogue, { target: 'engine' });
  const matchesAll = plan.filter.kind === 'all';
  const test = compilePredicate(plan.filter);
  const facetPaths: Array<[string, keyof PartFacets]> = [
    ['host.name', 'hosts'],
    ['service.name', 'services'],
    ['log.level', 'levels'],
  ];
  return {
    text: matchesAll ? '' : printFilter(query.filter),
    key: matchesAll ? '' : printFilter(keyForm(query.filter, catalogue)),
    plan,
    matchesAll,
    test,
    mayMatchPart: (facets) => mayMatchValues(plan.filter, new Map(facetPaths.map(([path, k]) => [path, facets[k]]))),
    warnings: plan.warnings,
  };
}

function refuseRelativeTimes(q: Query, cat: FieldCatalogue): void {
  const visit = (n: FilterNode): void => {
    switch (n.type) {
      case 'and':
      case 'or':
        n.children.forEach(visit);
        return;
      case 'not':
        visit(n.child);
        return;
      case 'match':
      case 'range': {
        if (!n.field) return;
        const r = resolveField(cat, n.field.name);
        if (!r.ok || r.field.type !== 'date') return;
        const values = n.type === 'match' ? [n.value] : [n.lower?.value, n.upper?.value];
        for (const v of values) {
          if (v && !v.wildcard && parseTimeExpr(v.text)?.kind === 'relative') {
            throw new QueryError('TIME_INVALID', `${JSON.stringify(v.text)} is relative to now: an archive filter must mean the same each time it is read`, {
              column: v.span.start + 1,
              endColumn: v.span.end + 1,
              expected: 'an absolute time (RFC 3339 or epoch seconds)',
              hint: 'give the range beside the filter (--from/--to, start/end), or write the time out (2026-11-22T10:00:00Z)',
            });
          }
        }
        return;
      }
      default:
        return;
    }
  };
  visit(q.filter);
}

/**
 * The filter with every field name written as the path it resolves to (names the catalogue cannot
 * resolve stay) and the terms of AND and OR sorted by their text: `host:(b OR a)` → `host.name:a OR host.name:b`.
 */
function keyForm(n: FilterNode, cat: FieldCatalogue): FilterNode {
  switch (n.type) {
    case 'and':
    case 'or': {
      const children = n.children.map((c) => keyForm(c, cat)).map((c) => ({ c, t: printFilter(c) }));
      children.sort((a, b) => (a.t < b.t ? -1 : a.t > b.t ? 1 : 0));
      return { ...n, children: children.map((x) => x.c) };
    }
    case 'not':
      return { ...n, child: keyForm(n.child, cat) };
    case 'match':
    case 'range':
    case 'exists': {
      if (!n.field) return n;
      const r = resolveField(cat, n.field.name);
      return r.ok ? { ...n, field: { ...n.field, name: r.field.path } } : n;
    }
    default:
      return n;
  }
}

/** `{host: {name: v}}` for `host.name`. */
function eventWith(path: string, value: string): Record<string, unknown> {
  const segs = path.split('.');
  let v: unknown = value;
  for (let i = segs.length - 1; i >= 0; i--) v = { [segs[i] as string]: v };
  return v as Record<string, unknown>;
}

/**
 * Can any event match `p`, knowing every value a few fields take (and nothing else)? Conservative:
 * true unless an AND holds a condition on a known field that none of its values meets. A NOT is
 * always "maybe" (events without the field match it). The empty string is added to the known values
 * because manifests leave it out. Manifest facets are the string values of `host.name`,
 * `service.name` and `log.level` (the event schema's types); an event that broke the schema with a
 * number or an array there is not in them.
 */
export function mayMatchValues(p: Predicate, known: ReadonlyMap<string, readonly string[]>): boolean {
  switch (p.kind) {
    case 'all':
      return true;
    case 'none':
      return false;
    case 'and':
      return p.items.every((c) => mayMatchValues(c, known));
    case 'or':
      return p.items.some((c) => mayMatchValues(c, known));
    case 'not':
      return true;
    default: {
      if (p.field.flattened) return true;
      const values = known.get(p.field.path);
      if (!values) return true;
      const test = compilePredicate(p);
      return test(eventWith(p.field.path, '')) || values.some((v) => test(eventWith(p.field.path, v)));
    }
  }
}
