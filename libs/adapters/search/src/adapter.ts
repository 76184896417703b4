import { bulkBody, parseBulkResponse } from './bulk';
import { searchConfigSchema, type SearchConfigInput } from './config';
import { detectEngine } from './detect';
import { chunkNames, type Driver } from './drivers/driver';
import { ElasticsearchDriver } from './drivers/elasticsearch';
import { OpenSearchDriver } from './drivers/opensearch';
import { SearchError } from './errors';
import { freeFormObjectMapping } from './mapping';
import type { BulkOp, BulkOptions, BulkResult, ClusterHealth, CreateIndexOptions, IndexInfo, IndexTemplate, Json, SearchEngine, SearchPort, SearchRequest, SearchResult } from './port';

/**
 * Builds the search port. With `engine: 'auto'` (the default) it asks the server once which engine
 * it is (so this can fail with SEARCH_UNAVAILABLE while the cluster is down: callers retry).
 */
export async function createSearch(input: SearchConfigInput): Promise<SearchPort> {
  const parsed = searchConfigSchema.safeParse(input);
  if (!parsed.success) {
    throw new SearchError('SEARCH_CONFIG_INVALID', `invalid search config: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  }
  const cfg = parsed.data;
  const engine: SearchEngine = cfg.engine === 'auto' ? (await detectEngine(cfg)).engine : cfg.engine;
  const driver: Driver = engine === 'opensearch' ? new OpenSearchDriver(cfg) : new ElasticsearchDriver(cfg);
  return new SearchAdapter(driver);
}

const asList = (index: string | string[]): string[] => (Array.isArray(index) ? index : [index]);
const num = (v: unknown): number | undefined => {
  const n = typeof v === 'number' ? v : typeof v === 'string' && v !== '' ? Number(v) : NaN;
  return Number.isFinite(n) ? n : undefined;
};

/** The engine-neutral half: request bodies and response normalization shared by both drivers. */
export class SearchAdapter implements SearchPort {
  private closed = false;

  constructor(private readonly driver: Driver) {}

  get engine(): SearchEngine {
    return this.driver.engine;
  }

  async bulk(ops: readonly BulkOp[], options: BulkOptions = {}): Promise<BulkResult> {
    this.open();
    if (ops.length === 0) return { tookMs: 0, errors: false, items: [], succeeded: 0, failed: 0 };
    const body = await this.driver.bulk(bulkBody(ops), options.refresh);
    return parseBulkResponse(ops, body);
  }

  async putIndexTemplate(name: string, t: IndexTemplate): Promise<void> {
    this.open();
    const body: Json = { index_patterns: t.indexPatterns, template: t.template };
    if (t.priority !== undefined) body.priority = t.priority;
    if (t.composedOf) body.composed_of = t.composedOf;
    if (t.version !== undefined) body.version = t.version;
    if (t.meta) body._meta = t.meta;
    await this.driver.putIndexTemplate(name, body);
  }

  async deleteIndexTemplate(name: string): Promise<boolean> {
    this.open();
    try {
      await this.driver.deleteIndexTemplate(name);
      return true;
    } catch (e) {
      if (e instanceof SearchError && e.status === 404) return false;
      throw e;
    }
  }

  async createIndex(name: string, options: CreateIndexOptions = {}): Promise<{ created: boolean }> {
    this.open();
    const body: Json = {};
    if (options.settings) body.settings = options.settings;
    if (options.mappings) body.mappings = options.mappings;
    if (options.aliases) body.aliases = options.aliases;
    try {
      await this.driver.createIndex(name, body);
      return { created: true };
    } catch (e) {
      // Two writers racing to create the same day's index is normal; the loser just uses it.
      if (e instanceof SearchError && e.code === 'SEARCH_ALREADY_EXISTS') return { created: false };
      throw e;
    }
  }

  async listIndices(pattern: string): Promise<IndexInfo[]> {
    this.open();
    let rows: Json[];
    try {
      rows = await this.driver.catIndices(pattern);
    } catch (e) {
      // A concrete name that does not exist is a 404; a pattern that matches nothing is `[]`.
      if (e instanceof SearchError && e.code === 'SEARCH_INDEX_NOT_FOUND') return [];
      throw e;
    }
    if (!Array.isArray(rows)) throw new SearchError('SEARCH_RESPONSE_INVALID', 'list indices: expected a JSON array');
    return rows
      .map((r): IndexInfo => {
        const health = r.health;
        return {
          name: String(r.index),
          health: health === 'green' || health === 'yellow' || health === 'red' ? health : undefined,
          status: typeof r.status === 'string' ? r.status : undefined,
          docsCount: num(r['docs.count']),
          storeBytes: num(r['store.size']),
          createdAt: num(r['creation.date']),
        };
      })
      .sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  }

  async deleteIndices(pattern: string): Promise<string[]> {
    this.open();
    // A pattern with no literal name part (`*`, `_all`, `*,-x`) would delete everything we can see.
    if (!pattern.split(',').some((p) => /[a-z0-9]/i.test(p.replace(/^_all$/, '')) && !p.startsWith('-'))) {
      throw new SearchError('SEARCH_BAD_REQUEST', `delete indices: refusing the catch-all pattern '${pattern}'`);
    }
    const names = (await this.listIndices(pattern)).map((i) => i.name);
    for (const group of chunkNames(names)) await this.driver.deleteIndices(group);
    return names;
  }

  async getIndexMeta(index: string): Promise<Json> {
    this.open();
    const body = await this.driver.getMapping(index);
    // The answer is keyed by the concrete index name (an alias resolves to its index).
    const entry = (body[index] ?? Object.values(body)[0]) as { mappings?: { _meta?: Json } } | undefined;
    if (!entry) throw new SearchError('SEARCH_RESPONSE_INVALID', `get mapping ${index}: empty answer`);
    return entry.mappings?._meta ?? {};
  }

  async getMappings(index: string | string[]): Promise<Record<string, Json>> {
    this.open();
    let body: Json;
    try {
      body = await this.driver.getMapping(asList(index).join(','));
    } catch (e) {
      // A concrete name that does not exist is a 404; a pattern that matches nothing is `{}`.
      if (e instanceof SearchError && e.code === 'SEARCH_INDEX_NOT_FOUND') return {};
      throw e;
    }
    const out: Record<string, Json> = {};
    for (const [name, entry] of Object.entries(body)) {
      const mappings = (entry as { mappings?: Json } | undefined)?.mappings;
      if (mappings && typeof mappings === 'object') out[name] = mappings;
    }
    return out;
  }

  async putIndexMeta(index: string, meta: Json): Promise<void> {
    this.open();
    await this.driver.putMapping(index, { _meta: meta });
  }

  async search<T = Json>(req: SearchRequest): Promise<SearchResult<T>> {
    this.open();
    const body: Json = { query: req.query ?? { match_all: {} } };
    if (req.size !== undefined) body.size = req.size;
    if (req.from !== undefined) body.from = req.from;
    if (req.sort) body.sort = req.sort;
    if (req.searchAfter) body.search_after = req.searchAfter;
    if (req.source !== undefined) body._source = req.source;
    if (req.trackTotalHits !== undefined) body.track_total_hits = req.trackTotalHits;
    if (req.aggs) body.aggs = req.aggs;
    if (req.runtimeMappings) body.runtime_mappings = req.runtimeMappings;
    if (req.pit) body.pit = { id: req.pit.id, keep_alive: req.pit.keepAlive };
    const res = await this.driver.search(req.pit ? [] : asList(req.index), body);
    const hits = res.hits as { total?: unknown; hits?: unknown } | undefined;
    if (!hits || !Array.isArray(hits.hits)) throw new SearchError('SEARCH_RESPONSE_INVALID', 'search: no hits in the answer');
    const total = hits.total as { value?: unknown; relation?: unknown } | number | undefined;
    const out: SearchResult<T> = {
      tookMs: typeof res.took === 'number' ? res.took : 0,
      total: typeof total === 'number' ? { value: total, relation: 'eq' } : { value: num(total?.value) ?? 0, relation: total?.relation === 'gte' ? 'gte' : 'eq' },
      hits: (hits.hits as Array<{ _index: string; _id: string; _score?: number | null; _source?: T; sort?: unknown[] }>).map((h) => ({
        index: h._index,
        id: h._id,
        score: h._score ?? null,
        source: h._source as T,
        ...(h.sort ? { sort: h.sort } : {}),
      })),
    };
    if (res.aggregations) out.aggregations = res.aggregations as Json;
    return out;
  }

  async openPointInTime(index: string | string[], keepAlive: string): Promise<string> {
    this.open();
    const id = await this.driver.openPit(asList(index), keepAlive);
    if (!id) throw new SearchError('SEARCH_RESPONSE_INVALID', 'open point in time: no id in the answer');
    return id;
  }

  async closePointInTime(id: string): Promise<void> {
    this.open();
    await this.driver.closePit(id);
  }

  async count(index: string | string[], query?: Json): Promise<number> {
    this.open();
    const res = await this.driver.count(asList(index), query ? { query } : undefined);
    const n = num(res.count);
    if (n === undefined) throw new SearchError('SEARCH_RESPONSE_INVALID', 'count: no count in the answer');
    return n;
  }

  async refresh(index: string | string[]): Promise<void> {
    this.open();
    await this.driver.refresh(asList(index));
  }

  async health(): Promise<ClusterHealth> {
    this.open();
    const h = await this.driver.clusterHealth();
    const status = h.status;
    if (status !== 'green' && status !== 'yellow' && status !== 'red') {
      throw new SearchError('SEARCH_RESPONSE_INVALID', `cluster health: unexpected status ${String(status)}`);
    }
    return {
      status,
      clusterName: String(h.cluster_name ?? ''),
      numberOfNodes: num(h.number_of_nodes) ?? 0,
      activeShards: num(h.active_shards) ?? 0,
      unassignedShards: num(h.unassigned_shards) ?? 0,
      timedOut: h.timed_out === true,
    };
  }

  freeFormObjectMapping(): Json {
    return freeFormObjectMapping(this.engine);
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.driver.close();
  }

  private open(): void {
    if (this.closed) throw new SearchError('SEARCH_CLOSED', 'the search adapter was closed');
  }
}
