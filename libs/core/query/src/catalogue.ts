import { suggest } from './suggest';

/**
 * The field catalogue: field name → what the engine does with it. The search adapter builds it from
 * the indices' `_mapping` (or from the `logs-*` template when no engine is at hand); the checker uses
 * it to resolve names (aliases, did-you-mean), to type values, and to pick the engine query and the
 * in-process semantics (`keyword` exact, `text` analyzed, …).
 */
export type FieldType =
  /** Exact, case-sensitive strings (`keyword`, `constant_keyword`, `wildcard`). */
  | 'keyword'
  /** Analyzed text (`text`, `match_only_text`): words, lower-cased. */
  | 'text'
  /** Any numeric mapping (long, integer, double, float, scaled_float, …). */
  | 'number'
  /** `date`, `date_nanos` (compared in epoch ms). */
  | 'date'
  | 'ip'
  | 'boolean'
  /** A free-form object indexed as keywords (`flattened` on Elasticsearch, `flat_object` on OpenSearch). */
  | 'flattened'
  /** An object with mapped subfields (only `field:*` applies to it). */
  | 'object'
  /** Mapped as something a query cannot use here (geo_point, binary, …). */
  | 'other';

export interface FieldInfo {
  type: FieldType;
  /** The engine's own name for the mapping type (`long`, `flat_object`, …), for messages. */
  mappingType?: string;
  /** Integral numbers (long, integer, short, byte, unsigned_long): the engine drops a fraction when indexing (coerce). */
  integer?: boolean;
  /** keyword `ignore_above`: longer values are kept in `_source` but not indexed, so nothing matches them. */
  ignoreAbove?: number;
  /** false for `index: false` (stored, not searchable: `event.original`). Default true. */
  searchable?: boolean;
  /** Doc values: terms/metrics aggregations and sorting. Default: true for keyword, number, date, ip, boolean. */
  aggregatable?: boolean;
  /**
   * For `flattened`: whether keyed subfields (`fields.user`) aggregate and sort. Elasticsearch's
   * `flattened` does; OpenSearch 2's `flat_object` answers empty or wrong buckets, so the adapter sets false.
   */
  subfieldsAggregatable?: boolean;
  /** The types this name has in different indices, when they disagree. */
  conflicting?: string[];
}

export interface FieldCatalogue {
  readonly fields: ReadonlyMap<string, FieldInfo>;
  /** Names mapped by a dynamic template (`labels.*` → keyword): a name below `prefix` has `info`. */
  readonly patterns: readonly { prefix: string; info: FieldInfo }[];
  /** Short names (`level` → `log.level`). Resolved before the catalogue's own names. */
  readonly aliases: Readonly<Record<string, string>>;
  /**
   * The free-form object where every other key of an event lives (`fields`, DESIGN.md "The event"):
   * a name the catalogue does not know and that is not a typo of a known one resolves below it
   * (`endpoint` → `fields.endpoint`), with a warning.
   */
  readonly freeForm?: string;
  /** The event time (range filters, histograms, default sort). */
  readonly timeField: string;
  /** A unique keyword used as the last sort key so that hit order is total (`event.id`). */
  readonly idField?: string;
}

/**
 * Short names, matching the keys normalize() folds into ECS fields (docs/specs/event.md, rule 1), so
 * what a source wrote (`level`, `msg`, `hostname`) finds what it became. DATA-001's examples rely on
 * `level`, `service`, `host`.
 */
export const DEFAULT_ALIASES: Readonly<Record<string, string>> = {
  level: 'log.level',
  lvl: 'log.level',
  severity: 'log.level',
  service: 'service.name',
  host: 'host.name',
  hostname: 'host.name',
  pid: 'process.pid',
  msg: 'message',
  timestamp: '@timestamp',
  time: '@timestamp',
  ts: '@timestamp',
  id: 'event.id',
  env: 'labels.env',
  input: 'labels.input',
  logger: 'log.logger',
};

export interface CatalogueOptions {
  patterns?: readonly { prefix: string; info: FieldInfo }[];
  /** Replaces DEFAULT_ALIASES. */
  aliases?: Readonly<Record<string, string>>;
  freeForm?: string;
  timeField?: string;
  idField?: string;
}

export function createCatalogue(entries: Iterable<readonly [string, FieldInfo]> | Readonly<Record<string, FieldInfo>>, o: CatalogueOptions = {}): FieldCatalogue {
  const list = Symbol.iterator in Object(entries) ? [...(entries as Iterable<readonly [string, FieldInfo]>)] : Object.entries(entries as Record<string, FieldInfo>);
  const fields = new Map<string, FieldInfo>();
  for (const [k, v] of list) fields.set(k, Object.freeze({ ...v }));
  return Object.freeze({
    fields,
    patterns: Object.freeze([...(o.patterns ?? [])]),
    aliases: Object.freeze({ ...(o.aliases ?? DEFAULT_ALIASES) }),
    ...(o.freeForm !== undefined ? { freeForm: o.freeForm } : {}),
    timeField: o.timeField ?? '@timestamp',
    ...(o.idField !== undefined ? { idField: o.idField } : {}),
  });
}

/** A name resolved against the catalogue. */
export interface ResolvedField {
  /** As written. */
  name: string;
  /** The full path the engine knows (`log.level`, `fields.endpoint`). */
  path: string;
  /** What queries on it do: a subfield of a flattened object behaves as `keyword`. */
  type: FieldType;
  info: FieldInfo;
  /** Inside a flattened object: its path and the key below it (`''` for the object itself). */
  flattened?: { root: string; key: string };
  via: 'exact' | 'alias' | 'pattern' | 'flattened' | 'free-form';
}

export type Resolution = { ok: true; field: ResolvedField } | { ok: false; suggestion?: string; underObject?: string };

export function isAggregatable(f: ResolvedField): boolean {
  if (f.flattened) return f.flattened.key !== '' && f.info.subfieldsAggregatable !== false;
  if (f.info.aggregatable !== undefined) return f.info.aggregatable;
  return f.type === 'keyword' || f.type === 'number' || f.type === 'date' || f.type === 'ip' || f.type === 'boolean';
}

export function resolveField(cat: FieldCatalogue, name: string): Resolution {
  const alias = cat.aliases[name];
  if (alias !== undefined) {
    const r = resolvePath(cat, alias, name);
    if (r) return { ok: true, field: { ...r, via: r.via === 'exact' ? 'alias' : r.via } };
  }
  const r = resolvePath(cat, name, name);
  if (r) return { ok: true, field: r };
  const suggestion = suggest(name, candidates(cat));
  if (suggestion) return { ok: false, suggestion };
  // A name below a mapped object (`log.foo`) is a field the mapping does not have: it matches nothing.
  const dot = name.indexOf('.');
  const head = dot > 0 ? name.slice(0, dot) : name;
  const headInfo = cat.fields.get(head) ?? (cat.aliases[head] !== undefined ? cat.fields.get(cat.aliases[head] as string) : undefined);
  if (headInfo && headInfo.type !== 'flattened') return { ok: false, underObject: head };
  if (cat.freeForm !== undefined) {
    const root = cat.fields.get(cat.freeForm);
    if (root?.type === 'flattened') {
      return { ok: true, field: { name, path: `${cat.freeForm}.${name}`, type: 'keyword', info: root, flattened: { root: cat.freeForm, key: name }, via: 'free-form' } };
    }
  }
  return { ok: false };
}

function resolvePath(cat: FieldCatalogue, path: string, name: string): ResolvedField | undefined {
  const exact = cat.fields.get(path);
  if (exact) {
    if (exact.type === 'flattened') return { name, path, type: 'flattened', info: exact, flattened: { root: path, key: '' }, via: 'exact' };
    return { name, path, type: exact.type, info: exact, via: 'exact' };
  }
  // Below a flattened object: `fields.user.id` is key `user.id` of `fields`.
  for (let i = path.lastIndexOf('.'); i > 0; i = path.lastIndexOf('.', i - 1)) {
    const root = cat.fields.get(path.slice(0, i));
    if (root?.type === 'flattened') return { name, path, type: 'keyword', info: root, flattened: { root: path.slice(0, i), key: path.slice(i + 1) }, via: 'flattened' };
    if (root) break;
  }
  for (const p of cat.patterns) {
    if (path.startsWith(p.prefix) && path.length > p.prefix.length) return { name, path, type: p.info.type, info: p.info, via: 'pattern' };
  }
  return undefined;
}

function* candidates(cat: FieldCatalogue): Iterable<string> {
  yield* Object.keys(cat.aliases);
  yield* cat.fields.keys();
}
