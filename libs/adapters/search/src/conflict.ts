import type { BulkItemResult, Json } from './port';

/**
 * Mapping conflicts: a document refused (HTTP 400 on its bulk item) because one of its values does
 * not fit the index's mapping — a number where a keyword object was mapped, an object where a long
 * was, a string that is not a date. Instead of losing the document we move the refused value to
 * `backlog.conflicts` (keyword strings, which cannot conflict), tag it `mapping_conflict`, and send it
 * again. docs/specs/recent-index.md lists the rules. Shared by every writer of `logs-*`
 * (es-consumer, indexer).
 */

/** Error types of a refused value on Elasticsearch 8 (`document_parsing_exception`) and OpenSearch 2 (`mapper_parsing_exception`). */
const MAPPING_TYPES = new Set([
  'mapper_parsing_exception',
  'document_parsing_exception',
  'illegal_argument_exception', // "mapper [x] cannot be changed from type [long] to [text]" (two dynamic mappings racing)
  'strict_dynamic_mapping_exception',
]);

export function isMappingError(item: BulkItemResult): boolean {
  return item.status === 400 && item.error !== undefined && MAPPING_TYPES.has(item.error.type);
}

/**
 * The field a mapping error names. Both engines put field names in square brackets; Elasticsearch 8
 * prefixes the reason with the parser position (`[1:25] failed to parse field [x] …`), which we skip.
 * Examples (see conflict.spec.ts):
 *   failed to parse field [log.syslog.priority] of type [long] in document with id '…'
 *   object mapping for [host] tried to parse field [host] as object, but found a concrete value
 *   mapper [custom.v] cannot be changed from type [long] to [text]
 *   Can't merge a non object mapping [a.b] with an object mapping
 */
export function conflictField(item: BulkItemResult): string | undefined {
  const texts = [item.error?.reason, item.error?.causedBy?.reason].filter((t): t is string => !!t);
  for (const text of texts) {
    for (const m of text.matchAll(/\[([^\]]+)\]/g)) {
      const name = m[1] as string;
      if (/^\d+:\d+$/.test(name)) continue; // parser position
      // Type names in brackets ("of type [long]") come after the field name; the first plausible one wins.
      return name;
    }
  }
  return undefined;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Records a refused value under `backlog.conflicts` (keyword strings: it cannot conflict again). */
export function moveToConflicts(doc: Json, field: string, value: unknown): void {
  const backlog = isObject(doc.backlog) ? doc.backlog : (doc.backlog = {});
  if (backlog.conflicts !== undefined && !Array.isArray(backlog.conflicts)) {
    // The source brought its own `backlog.conflicts`: keep it, as a conflict of its own.
    backlog.conflicts = [{ field: 'backlog.conflicts', value: JSON.stringify(backlog.conflicts) }];
  }
  const list = (backlog.conflicts ??= []) as Json[];
  list.push({ field, value: JSON.stringify(value) ?? 'undefined' });
}

/**
 * Removes `field` from `doc` and returns `{value}`, or undefined when it is not there. Field names are
 * dotted paths; a source may spell a path as nested objects (`{a:{b:1}}`) or with dotted keys
 * (`{"a.b":1}`), so both are tried at every level.
 */
export function takeField(doc: Json, field: string): { value: unknown } | undefined {
  const parts = field.split('.');
  const walk = (node: Json, i: number): { value: unknown } | undefined => {
    for (let j = parts.length; j > i; j--) {
      const key = parts.slice(i, j).join('.');
      if (!(key in node)) continue;
      if (j === parts.length) {
        const value = node[key];
        delete node[key];
        return { value };
      }
      const child = node[key];
      if (isObject(child)) {
        const hit = walk(child, j);
        if (hit) return hit;
      } else if (Array.isArray(child)) {
        // An array of objects: the refused leaf may be in any element; move the whole array.
        if (child.some((c) => isObject(c))) {
          delete node[key];
          return { value: child };
        }
      }
    }
    return undefined;
  };
  return walk(doc, 0);
}

/** Fields that must stay in place: moving them would make the document unfindable or unroutable. */
const PINNED = new Set(['event.id']);

/**
 * Applies one round of conflict handling to a refused document, in place. Returns the moved field,
 * or undefined when nothing could be moved (the caller dead-letters the document).
 */
export function resolveConflict(doc: Json, item: BulkItemResult): string | undefined {
  let field = conflictField(item);
  if (!field || PINNED.has(field)) return undefined;
  let taken = takeField(doc, field);
  // "object mapping for [a.b] tried to parse field [c] …": a short name relative to a parent.
  while (!taken && field.includes('.')) {
    field = field.slice(0, field.lastIndexOf('.'));
    if (PINNED.has(field) || field === 'event') return undefined;
    taken = takeField(doc, field);
  }
  if (!taken) return undefined;
  moveToConflicts(doc, field, taken.value);
  if (field === '@timestamp') doc['@timestamp'] = new Date().toISOString();
  const tags = doc.tags;
  if (Array.isArray(tags)) {
    if (!tags.includes('mapping_conflict')) tags.push('mapping_conflict');
  } else if (typeof tags === 'string') doc.tags = [tags, 'mapping_conflict'];
  else doc.tags = ['mapping_conflict'];
  return field;
}
