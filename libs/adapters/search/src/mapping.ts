import type { Json, SearchEngine } from './port';

/**
 * The mapping of an object whose keys and leaf types are not known in advance (`fields.*`), such
 * that two sources disagreeing on a type never get a document rejected: the whole object is
 * indexed as keywords.
 *
 * - Elasticsearch: `flattened` (in the server itself in 8.x; the local stack's node, which has no x-pack, takes it).
 *   https://www.elastic.co/guide/en/elasticsearch/reference/8.19/flattened.html
 * - OpenSearch 2.7+: `flat_object` (OpenSearch has no `flattened`).
 *   https://opensearch.org/docs/2.19/field-types/supported-field-types/flat-object/
 *
 * Both index leaves as keywords and support term/prefix/exists/match and two-sided string ranges on
 * `obj.path`; the rest differs (wildcard, one-sided ranges, terms aggregations: see the README and
 * capabilities.int.spec.ts). `flattened` also takes `ignore_above`/`depth_limit`, which `flat_object`
 * rejects, so we set none.
 */
export function freeFormObjectMapping(engine: SearchEngine): Json {
  return engine === 'elasticsearch' ? { type: 'flattened' } : { type: 'flat_object' };
}
