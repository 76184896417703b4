import type { Json, SearchEngine } from '../port';

/**
 * What each engine's client must do for the adapter. Every method speaks the shared REST shapes
 * (request and response bodies are the same JSON on both engines for everything we use); a driver
 * only hides how its client takes parameters (ES 8: top-level keys, body returned directly;
 * OpenSearch: `body`, `{body, statusCode}` returned) and maps its client's errors to `SearchError`.
 */
export interface Driver {
  readonly engine: SearchEngine;
  /** `body` is the NDJSON `_bulk` body (action, source, action, …, each line ending in '\n'), sent as it is. */
  bulk(body: string, refresh: boolean | 'wait_for' | undefined): Promise<Json>;
  putIndexTemplate(name: string, body: Json): Promise<void>;
  deleteIndexTemplate(name: string): Promise<void>;
  createIndex(name: string, body: Json): Promise<void>;
  deleteIndices(names: string[]): Promise<void>;
  /** `_cat/indices` rows as JSON; `[]` when the pattern matches nothing. */
  catIndices(pattern: string): Promise<Json[]>;
  getMapping(index: string): Promise<Json>;
  putMapping(index: string, body: Json): Promise<void>;
  /** `index` empty: no index in the path (a point-in-time search names its PIT in the body). */
  search(index: string[], body: Json): Promise<Json>;
  /** Returns the point in time's id. */
  openPit(index: string[], keepAlive: string): Promise<string>;
  closePit(id: string): Promise<void>;
  count(index: string[], body: Json | undefined): Promise<Json>;
  refresh(index: string[]): Promise<void>;
  clusterHealth(): Promise<Json>;
  close(): Promise<void>;
}

/**
 * Columns we read from `_cat/indices` (same names on both engines). Listing uses
 * `expand_wildcards=open,closed`: hidden and system indices (`.kibana`, `.ds-*`, `.opensearch-*`) never
 * match a pattern, so `deleteIndices('logs-*')` cannot reach them.
 */
export const CAT_INDICES_COLUMNS = ['index', 'health', 'status', 'docs.count', 'store.size', 'creation.date'];

/** Splits names into comma-joined groups that keep a DELETE URL well under the 4 KiB line limit. */
export function chunkNames(names: string[], maxChars = 3000): string[][] {
  const out: string[][] = [];
  let cur: string[] = [];
  let len = 0;
  for (const n of names) {
    if (cur.length && len + n.length + 1 > maxChars) {
      out.push(cur);
      cur = [];
      len = 0;
    }
    cur.push(n);
    len += n.length + 1;
  }
  if (cur.length) out.push(cur);
  return out;
}
