import type { IndexTemplate, Json } from './port';

/**
 * The composable index template for `logs-*` (DESIGN.md "Elasticsearch indices"; rules in
 * docs/specs/recent-index.md). The same mapping serves recent, history and the dead-letter index, so
 * a saved search works on all of them and a dead-letter document never conflicts.
 */
export interface TemplateOptions {
  patterns: readonly string[];
  priority: number;
  shards: number;
  replicas: number;
  refreshInterval: string;
  /** `freeFormObjectMapping()` of the search adapter: `flattened` (Elasticsearch) or `flat_object` (OpenSearch). */
  freeForm: Json;
}

/** Bumped whenever the mapping changes; written to the template and to each index's `_meta`. 2: labels of ADR 0015. */
export const TEMPLATE_VERSION = 2;

/** Most keywords are short; a longer value stays in `_source` but is not indexed (no rejection). */
export const KEYWORD_IGNORE_ABOVE = 1024;

const keyword = (ignoreAbove = KEYWORD_IGNORE_ABOVE): Json => ({ type: 'keyword', ignore_above: ignoreAbove });
const long: Json = { type: 'long' };
const date: Json = { type: 'date' };
const obj = (properties: Json): Json => ({ properties });

/**
 * ECS field mappings (https://www.elastic.co/guide/en/ecs/current/ecs-field-reference.html) for the
 * fields the normalizer writes (DESIGN.md "The event"), plus backlog's own `backlog.*` bookkeeping.
 * `freeForm` goes to `fields` and to `log.syslog.structured_data` (ECS: flattened).
 */
export function logsProperties(freeForm: Json): Json {
  return {
    '@timestamp': date,
    message: { type: 'text' },
    tags: keyword(),
    labels: {
      type: 'object',
      dynamic: true,
      // The harvester's own labels of ADR 0015 (docs/specs/event.md), named so that the field catalogue knows
      // them before a first event brings them; like every label, keywords.
      properties: {
        // The event.id a source named itself; event.id is then that id namespaced by the source.
        source_event_id: keyword(),
        // The time an event claimed when it was filed at its receive time instead, and why (future, before_epoch).
        timestamp_original: keyword(),
        timestamp_replaced: keyword(),
      },
    },
    ecs: obj({ version: keyword() }),
    event: obj({
      id: keyword(),
      created: date,
      ingested: date,
      kind: keyword(),
      dataset: keyword(),
      // ECS: stored, not indexed (it can be anything and very long); shown in Discover from _source.
      original: { type: 'keyword', index: false, doc_values: false },
    }),
    host: obj({ name: keyword(), hostname: keyword(), ip: { type: 'ip' } }),
    service: obj({ name: keyword(), version: keyword() }),
    process: obj({ pid: long, name: keyword() }),
    log: obj({
      level: keyword(),
      logger: keyword(),
      file: obj({ path: keyword() }),
      syslog: obj({
        priority: long,
        // ECS types it as keyword (RFC 5424 VERSION is a number, RFC 3164 has none).
        version: keyword(),
        facility: obj({ code: long, name: keyword() }),
        severity: obj({ code: long, name: keyword() }),
        hostname: keyword(),
        appname: keyword(),
        procid: keyword(),
        msgid: keyword(),
        structured_data: freeForm,
      }),
    }),
    error: obj({ message: { type: 'text' }, type: keyword(), code: keyword() }),
    fields: freeForm,
    backlog: obj({
      // A value that the mapping refused, moved here by the es-consumer (docs/specs/recent-index.md).
      // Both are strings (the value as JSON), so this can never conflict in turn.
      conflicts: obj({ field: keyword(), value: keyword(8191) }),
      dlq: obj({
        reason: keyword(),
        detail: { type: 'text' },
        topic: keyword(),
        partition: long,
        offset: keyword(),
        line: long,
        batch_id: keyword(),
        raw_bytes: long,
        truncated: { type: 'boolean' },
      }),
    }),
  };
}

export function logsTemplate(o: TemplateOptions): IndexTemplate {
  return {
    indexPatterns: [...o.patterns],
    priority: o.priority,
    version: TEMPLATE_VERSION,
    meta: { managed_by: 'backlog', doc: 'docs/specs/recent-index.md' },
    template: {
      settings: {
        'index.number_of_shards': o.shards,
        'index.number_of_replicas': o.replicas,
        'index.refresh_interval': o.refreshInterval,
        // Room for the ECS fields plus unknown top-level keys; `fields.*` is one field whatever it holds.
        'index.mapping.total_fields.limit': 2000,
      },
      mappings: {
        _meta: { template: 'backlog-logs', version: TEMPLATE_VERSION },
        // Unknown top-level fields stay searchable; their conflicts are resolved by the consumer.
        dynamic: true,
        // A string that looks like a date or a number in the first document must not fix the type
        // for all later ones: it would reject every later document where it does not parse.
        date_detection: false,
        numeric_detection: false,
        dynamic_templates: [
          // ECS labels are keywords whatever their JSON type.
          { labels_as_keyword: { path_match: 'labels.*', mapping: keyword() } },
          { strings_as_keyword: { match_mapping_type: 'string', mapping: keyword() } },
        ],
        properties: logsProperties(o.freeForm),
      },
    },
  };
}

/**
 * Resolves a dotted field name against template properties: its mapping, or undefined. A name below
 * a free-form object (`fields.user.id`) resolves to that object's mapping.
 */
export function fieldMapping(properties: Json, field: string): Json | undefined {
  let props: Json | undefined = properties;
  const parts = field.split('.');
  for (let i = 0; i < parts.length; i++) {
    const m = props?.[parts[i] as string] as Json | undefined;
    if (!m) return undefined;
    if (i === parts.length - 1) return m;
    if (m.type === 'flattened' || m.type === 'flat_object') return m;
    props = m.properties as Json | undefined;
  }
  return undefined;
}
