import { createCatalogue, type FieldCatalogue, type FieldInfo } from '@backlog/core-query';
import { logsTemplate } from '../logs-template';
import { freeFormObjectMapping } from '../mapping';
import type { Json, SearchEngine, SearchPort } from '../port';

/**
 * The query field catalogue (libs/core/query) read from the engine's mappings: what each field is
 * (keyword vs text vs number vs date …), so that `message:timeout` is a match on analyzed words and
 * `host.name:web-1` an exact term. Engine differences end here: `flattened` (Elasticsearch 8) and
 * `flat_object` (OpenSearch 2) are both `flattened`, but only Elasticsearch's aggregates and sorts
 * on its keys (OpenSearch answers empty or wrong buckets — seen on 2.19.1), so `subfieldsAggregatable`
 * records which.
 */

const INTEGER = new Set(['long', 'integer', 'short', 'byte', 'unsigned_long']);
const DECIMAL = new Set(['double', 'float', 'half_float', 'scaled_float']);

function infoOf(m: Json): FieldInfo {
  // A mapping without `type` is an object (its `properties` are its fields).
  const type = typeof m.type === 'string' ? m.type : 'object';
  const searchable = m.index !== false;
  const docValues = m.doc_values !== false;
  const base = (t: FieldInfo['type'], extra: Partial<FieldInfo> = {}): FieldInfo => ({
    type: t,
    mappingType: type,
    ...(searchable ? {} : { searchable: false }),
    ...extra,
  });
  switch (type) {
    case 'keyword':
    case 'constant_keyword':
    case 'wildcard':
      return base('keyword', {
        ...(typeof m.ignore_above === 'number' ? { ignoreAbove: m.ignore_above } : {}),
        aggregatable: docValues,
      });
    case 'text':
    case 'match_only_text':
      return base('text', { aggregatable: false });
    case 'date':
    case 'date_nanos':
      return base('date', { aggregatable: docValues });
    case 'ip':
      return base('ip', { aggregatable: docValues });
    case 'boolean':
      return base('boolean', { aggregatable: docValues });
    case 'flattened':
    case 'flat_object':
      return base('flattened', { aggregatable: false, subfieldsAggregatable: type === 'flattened' });
    case 'object':
    case 'nested':
      return base('object', { aggregatable: false });
    default:
      if (INTEGER.has(type)) return base('number', { integer: true, aggregatable: docValues });
      if (DECIMAL.has(type)) return base('number', { aggregatable: docValues });
      return base('other', { aggregatable: false });
  }
}

/** Every field of a mapping's `properties` (objects too, and multi-fields such as `message.keyword`), by full path. */
export function fieldsOfProperties(properties: Json, prefix = '', out = new Map<string, FieldInfo>(), aliases: Array<[string, string]> = []): Map<string, FieldInfo> {
  for (const [name, raw] of Object.entries(properties)) {
    const m = raw as Json;
    if (!m || typeof m !== 'object') continue;
    const path = prefix ? `${prefix}.${name}` : name;
    if (m.type === 'alias' && typeof m.path === 'string') {
      aliases.push([path, m.path]);
      continue;
    }
    out.set(path, infoOf(m));
    if (m.properties && typeof m.properties === 'object') fieldsOfProperties(m.properties as Json, path, out, aliases);
    // Multi-fields: `message` text with `message.keyword`. (A property *named* `fields`, like backlog's
    // free-form object, sits in `properties` and is not confused with this.)
    if (typeof m.type === 'string' && m.fields && typeof m.fields === 'object') {
      for (const [sub, sm] of Object.entries(m.fields as Json)) out.set(`${path}.${sub}`, infoOf(sm as Json));
    }
  }
  if (!prefix) {
    for (const [path, target] of aliases) {
      const t = out.get(target);
      if (t) out.set(path, t);
    }
  }
  return out;
}

/** `path_match: 'labels.*'` dynamic templates → patterns (a field below `labels.` has the template's type). */
function patternsOf(dynamicTemplates: unknown): Array<{ prefix: string; info: FieldInfo }> {
  const out: Array<{ prefix: string; info: FieldInfo }> = [];
  if (!Array.isArray(dynamicTemplates)) return out;
  for (const entry of dynamicTemplates) {
    for (const t of Object.values(entry as Json)) {
      const tt = t as Json;
      const pm = tt.path_match;
      if (typeof pm === 'string' && /^[^*?]+\.\*$/.test(pm) && tt.mapping && typeof tt.mapping === 'object' && !tt.match_mapping_type) {
        out.push({ prefix: pm.slice(0, -1), info: infoOf(tt.mapping as Json) });
      }
    }
  }
  return out;
}

function sameType(a: FieldInfo, b: FieldInfo): boolean {
  return a.type === b.type && !!a.integer === !!b.integer;
}

/**
 * One catalogue for several indices (`_mapping` of `logs-dev-*`): the union of their fields. A name
 * with different types in different indices is marked `conflicting` (the checker refuses it with a hint);
 * the tighter `ignore_above` and any non-searchable or non-aggregatable flag win.
 */
export function catalogueFromMappings(mappings: Record<string, Json>): FieldCatalogue {
  const fields = new Map<string, FieldInfo>();
  const patterns: Array<{ prefix: string; info: FieldInfo }> = [];
  for (const m of Object.values(mappings)) {
    const own = fieldsOfProperties((m.properties ?? {}) as Json);
    for (const [path, info] of own) {
      const prev = fields.get(path);
      if (!prev) {
        fields.set(path, info);
        continue;
      }
      if (!sameType(prev, info)) {
        const types = new Set([...(prev.conflicting ?? [prev.mappingType ?? prev.type]), info.mappingType ?? info.type]);
        fields.set(path, { ...prev, conflicting: [...types] });
        continue;
      }
      const merged: FieldInfo = { ...prev };
      if (info.ignoreAbove !== undefined) merged.ignoreAbove = Math.min(prev.ignoreAbove ?? Number.POSITIVE_INFINITY, info.ignoreAbove);
      if (info.searchable === false) merged.searchable = false;
      if (info.aggregatable === false) merged.aggregatable = false;
      fields.set(path, merged);
    }
    for (const p of patternsOf(m.dynamic_templates)) if (!patterns.some((q) => q.prefix === p.prefix)) patterns.push(p);
  }
  return withDefaults(fields, patterns);
}

function withDefaults(fields: Map<string, FieldInfo>, patterns: Array<{ prefix: string; info: FieldInfo }>): FieldCatalogue {
  return createCatalogue(fields, {
    patterns,
    ...(fields.get('fields')?.type === 'flattened' ? { freeForm: 'fields' } : {}),
    ...(fields.get('event.id')?.type === 'keyword' ? { idField: 'event.id' } : {}),
  });
}

/**
 * The catalogue of backlog's own `logs-*` template (libs/adapters/search/src/logs-template.ts) for an
 * engine: what a query is checked against when no index exists yet, and what the harvester and the
 * alerter use for their in-process conditions.
 */
export function logsCatalogue(engine: SearchEngine): FieldCatalogue {
  const t = logsTemplate({ patterns: ['logs-*'], priority: 200, shards: 1, replicas: 0, refreshInterval: '1s', freeForm: freeFormObjectMapping(engine) });
  return catalogueFromMappings({ template: t.template.mappings as Json });
}

/**
 * Reads the mappings of `index` (a name, pattern or list) and builds their catalogue; with no index
 * matching, the `logs-*` template's catalogue (a query over an empty range is still checked).
 */
export async function fetchFieldCatalogue(search: SearchPort, index: string | string[]): Promise<FieldCatalogue> {
  const mappings = await search.getMappings(index);
  if (Object.keys(mappings).length === 0) return logsCatalogue(search.engine);
  return catalogueFromMappings(mappings);
}
