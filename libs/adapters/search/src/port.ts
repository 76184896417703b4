/**
 * The search port: the only way backlog talks to Elasticsearch 8.x or OpenSearch 2.x.
 * Everything here is engine-neutral; engine differences live in `drivers/` and `mapping.ts`.
 */
export type SearchEngine = 'elasticsearch' | 'opensearch';

/** A JSON object as sent to / received from the engine. */
export type Json = Record<string, unknown>;

export type BulkOpType = 'index' | 'create' | 'update' | 'delete';

/**
 * One `_bulk` operation. backlog writes with `create` and the event id as `_id`, so that a replay
 * yields 409 (already there) instead of a duplicate; `index` overwrites, `update` merges.
 */
export type BulkOp =
  | { op: 'index'; index: string; id?: string; doc: Json }
  | { op: 'create'; index: string; id?: string; doc: Json }
  | RawBulkOp
  | { op: 'update'; index: string; id: string; doc: Json; docAsUpsert?: boolean }
  | { op: 'delete'; index: string; id: string };

/**
 * An `index`/`create` whose document is already one line of JSON (an archive line as stored): it
 * goes into the `_bulk` body as it is, without a parse and a re-serialization. It must be one JSON
 * object on one line — a source holding a newline is refused before sending (SEARCH_BAD_REQUEST), so it
 * can never be read as an action line. Item results are checked exactly like those of `doc` ops.
 */
export interface RawBulkOp {
  op: 'index' | 'create';
  index: string;
  id?: string;
  /** The document's JSON text, without the trailing newline. */
  source: string;
}

export interface BulkItemError {
  /** The engine's error type, e.g. `document_parsing_exception`, `version_conflict_engine_exception`. */
  type: string;
  reason: string;
  /** The nested cause when the engine gave one (often the useful part of a mapping error). */
  causedBy?: { type: string; reason: string };
}

/** The outcome of one bulk operation, in the same position as the operation in the request. */
export interface BulkItemResult {
  op: BulkOpType;
  /** The concrete index the engine wrote to (an alias or a template-created name resolves here). */
  index: string;
  /** `_id` (the engine's generated id for an `index` without id). */
  id: string | undefined;
  /** HTTP status of this item: 200/201 ok, 400 mapping error, 404 not found, 409 conflict, 429/5xx retry. */
  status: number;
  /** 2xx. */
  ok: boolean;
  /** `created`, `updated`, `deleted`, `noop`, `not_found` when the engine gave one. */
  result?: string;
  error?: BulkItemError;
  /** 429 or 5xx: re-sending this one item later may succeed. 400/409 will fail the same way again. */
  retriable: boolean;
}

export interface BulkResult {
  /** Server-side time in milliseconds. */
  tookMs: number;
  /** At least one item failed. */
  errors: boolean;
  items: BulkItemResult[];
  succeeded: number;
  failed: number;
}

export interface BulkOptions {
  /** `true` makes the writes visible before returning (tests); `wait_for` waits for the next refresh. Default false. */
  refresh?: boolean | 'wait_for';
}

/** A composable index template (`PUT _index_template/<name>`). */
export interface IndexTemplate {
  indexPatterns: string[];
  /** Higher wins when several templates match one index. */
  priority?: number;
  composedOf?: string[];
  template: { settings?: Json; mappings?: Json; aliases?: Json };
  version?: number;
  /** The template's own `_meta` (not copied to indices; put `_meta` inside `template.mappings` for that). */
  meta?: Json;
}

export interface CreateIndexOptions {
  settings?: Json;
  mappings?: Json;
  aliases?: Json;
}

export interface IndexInfo {
  name: string;
  health: 'green' | 'yellow' | 'red' | undefined;
  /** `open` or `close`. */
  status: string | undefined;
  docsCount: number | undefined;
  storeBytes: number | undefined;
  /** Creation time, epoch ms. */
  createdAt: number | undefined;
}

export interface SearchRequest {
  /** An index, a pattern (`logs-dev-*`) or several. */
  index: string | string[];
  /** A query DSL clause; default `match_all`. */
  query?: Json;
  /** Default 10 (the engine's default). */
  size?: number;
  from?: number;
  sort?: Array<Json | string>;
  /** `search_after` values from the last hit's `sort`, for deep pagination. */
  searchAfter?: unknown[];
  /** `_source` filtering: false, a list of fields, or includes/excludes. */
  source?: boolean | string[] | { includes?: string[]; excludes?: string[] };
  /** `true` counts exactly; a number caps the count (the engine's default is 10,000). */
  trackTotalHits?: boolean | number;
  aggs?: Json;
  /**
   * Elasticsearch `runtime_mappings` (fields computed at search time; without a script, read from
   * `_source`). OpenSearch 2 has no such request section: the query translation never sends it there.
   */
  runtimeMappings?: Json;
  /**
   * Search a point in time (`openPointInTime`) instead of `index`: the same documents page after page.
   * `keepAlive` (`2m`) extends its life from this request on. `index` is then ignored.
   */
  pit?: { id: string; keepAlive: string };
}

export interface SearchHit<T> {
  index: string;
  id: string;
  score: number | null;
  source: T;
  sort?: unknown[];
}

export interface SearchResult<T> {
  tookMs: number;
  total: { value: number; relation: 'eq' | 'gte' };
  hits: SearchHit<T>[];
  aggregations?: Json;
}

export interface ClusterHealth {
  status: 'green' | 'yellow' | 'red';
  clusterName: string;
  numberOfNodes: number;
  activeShards: number;
  unassignedShards: number;
  timedOut: boolean;
}

export interface SearchPort {
  /** Which engine this adapter talks to (resolved from config or detected). */
  readonly engine: SearchEngine;
  /**
   * Sends one `_bulk` request. Resolves with one result per op (same order) whatever the items'
   * statuses; rejects only with a `SearchError` when the request as a whole failed.
   */
  bulk(ops: readonly BulkOp[], options?: BulkOptions): Promise<BulkResult>;
  /** Creates or replaces a composable index template. */
  putIndexTemplate(name: string, template: IndexTemplate): Promise<void>;
  /** Deletes a composable template; false when it did not exist. */
  deleteIndexTemplate(name: string): Promise<boolean>;
  /** Creates an index; `{created:false}` when it already existed (idempotent). */
  createIndex(name: string, options?: CreateIndexOptions): Promise<{ created: boolean }>;
  /** Indices matching a name, pattern or comma list; `[]` when none match. Sorted by name. */
  listIndices(pattern: string): Promise<IndexInfo[]>;
  /**
   * Deletes the indices matching a name or pattern and returns their names. Names are resolved
   * first and deleted explicitly, because Elasticsearch 8 refuses wildcard deletes by default
   * (`action.destructive_requires_name`).
   */
  deleteIndices(pattern: string): Promise<string[]>;
  /** The index's mapping `_meta` (`{}` when none). Throws SEARCH_INDEX_NOT_FOUND. */
  getIndexMeta(index: string): Promise<Json>;
  /** Replaces the index's mapping `_meta` as a whole (the engines do not merge `_meta`). */
  putIndexMeta(index: string, meta: Json): Promise<void>;
  /**
   * The mappings of the indices matching a name, pattern or list: concrete index name → its `mappings`
   * (`properties`, `dynamic_templates`, `_meta`). `{}` when nothing matches. Feeds the query field catalogue.
   */
  getMappings(index: string | string[]): Promise<Record<string, Json>>;
  search<T = Json>(request: SearchRequest): Promise<SearchResult<T>>;
  /**
   * Opens a point in time over the indices matching `index` (names or patterns; none matching is
   * allowed) for `search({pit})` with `searchAfter`. Elasticsearch `_pit`, OpenSearch `_search/point_in_time`.
   * Returns its id (the answers carry the same id on both engines, so the first one is kept).
   */
  openPointInTime(index: string | string[], keepAlive: string): Promise<string>;
  /** Frees a point in time early; an unknown or expired id is no error. */
  closePointInTime(id: string): Promise<void>;
  count(index: string | string[], query?: Json): Promise<number>;
  refresh(index: string | string[]): Promise<void>;
  health(): Promise<ClusterHealth>;
  /** The mapping for a free-form object whose leaves may disagree on type (`fields.*`). */
  freeFormObjectMapping(): Json;
  close(): Promise<void>;
}
