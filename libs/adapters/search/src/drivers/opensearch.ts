import { Client, errors } from '@opensearch-project/opensearch';
import { nodesOf, type SearchConfig } from '../config';
import { SearchError, errorFromResponse } from '../errors';
import type { Json } from '../port';
import { CAT_INDICES_COLUMNS, type Driver } from './driver';

/**
 * OpenSearch 2.x through `@opensearch-project/opensearch` (3.x client, which supports 2.x and 3.x
 * servers). This client takes request bodies as `body` and resolves with `{ body, statusCode }`.
 * Its generated request types are narrower than the JSON we pass through, hence the casts to `never`
 * at the call sites: the adapter builds the bodies, the server validates them.
 */
export class OpenSearchDriver implements Driver {
  readonly engine = 'opensearch' as const;
  private readonly client: Client;

  constructor(cfg: SearchConfig) {
    if (cfg.auth && 'apiKey' in cfg.auth) {
      // OpenSearch has no Elasticsearch-style API keys.
      throw new SearchError('SEARCH_CONFIG_INVALID', 'auth.apiKey is an Elasticsearch feature; use username/password with OpenSearch');
    }
    this.client = new Client({
      node: nodesOf(cfg),
      requestTimeout: cfg.requestTimeoutMs,
      maxRetries: cfg.maxRetries,
      ...(cfg.auth ? { auth: cfg.auth } : {}),
      ssl: { rejectUnauthorized: cfg.tlsRejectUnauthorized },
    });
  }

  bulk(body: string, refresh: boolean | 'wait_for' | undefined): Promise<Json> {
    // A string body is sent as it is (the client serializes only objects and arrays).
    return this.call('bulk', () => this.client.bulk({ body: body as never, ...(refresh !== undefined ? { refresh } : {}) }));
  }

  async putIndexTemplate(name: string, body: Json): Promise<void> {
    await this.call(`put index template ${name}`, () => this.client.indices.putIndexTemplate({ name, body: body as never }));
  }

  async deleteIndexTemplate(name: string): Promise<void> {
    await this.call(`delete index template ${name}`, () => this.client.indices.deleteIndexTemplate({ name }));
  }

  async createIndex(name: string, body: Json): Promise<void> {
    await this.call(`create index ${name}`, () => this.client.indices.create({ index: name, body: body as never }));
  }

  async deleteIndices(names: string[]): Promise<void> {
    await this.call('delete indices', () => this.client.indices.delete({ index: names, ignore_unavailable: true }));
  }

  catIndices(pattern: string): Promise<Json[]> {
    return this.call(`list indices ${pattern}`, () =>
      this.client.cat.indices({ index: pattern, format: 'json', h: CAT_INDICES_COLUMNS, bytes: 'b', expand_wildcards: ['open', 'closed'] }),
    ) as Promise<unknown> as Promise<Json[]>;
  }

  getMapping(index: string): Promise<Json> {
    return this.call(`get mapping ${index}`, () => this.client.indices.getMapping({ index }));
  }

  async putMapping(index: string, body: Json): Promise<void> {
    await this.call(`put mapping ${index}`, () => this.client.indices.putMapping({ index, body: body as never }));
  }

  search(index: string[], body: Json): Promise<Json> {
    return this.call('search', () => this.client.search({ ...(index.length ? { index } : {}), body: body as never }));
  }

  async openPit(index: string[], keepAlive: string): Promise<string> {
    const res = await this.call('open point in time', () => this.client.createPit({ index, keep_alive: keepAlive, allow_partial_pit_creation: false }));
    return String(res.pit_id ?? '');
  }

  async closePit(id: string): Promise<void> {
    await this.call('close point in time', () => this.client.deletePit({ body: { pit_id: [id] } }, { ignore: [404] }));
  }

  count(index: string[], body: Json | undefined): Promise<Json> {
    return this.call('count', () => this.client.count({ index, ...(body ? { body: body as never } : {}) }));
  }

  async refresh(index: string[]): Promise<void> {
    await this.call('refresh', () => this.client.indices.refresh({ index }));
  }

  clusterHealth(): Promise<Json> {
    return this.call('cluster health', () => this.client.cluster.health());
  }

  async close(): Promise<void> {
    await this.client.close();
  }

  private async call(what: string, fn: () => Promise<{ body: unknown }>): Promise<Json> {
    try {
      return (await fn()).body as Json;
    } catch (e) {
      throw mapOpenSearchError(e, what);
    }
  }
}

export function mapOpenSearchError(e: unknown, what: string): SearchError {
  if (e instanceof SearchError) return e;
  if (e instanceof errors.ResponseError) return errorFromResponse(e.statusCode ?? 0, e.body, what);
  if (e instanceof errors.TimeoutError) return new SearchError('SEARCH_TIMEOUT', `${what} timed out`, { cause: e });
  if (e instanceof errors.ConnectionError || e instanceof errors.NoLivingConnectionsError) return new SearchError('SEARCH_UNAVAILABLE', `${what}: ${e.message}`, { cause: e });
  if (e instanceof errors.RequestAbortedError) return new SearchError('SEARCH_ABORTED', `${what} aborted`, { cause: e });
  if (e instanceof errors.DeserializationError) return new SearchError('SEARCH_RESPONSE_INVALID', `${what}: ${e.message}`, { cause: e });
  if (e instanceof errors.ConfigurationError) return new SearchError('SEARCH_CONFIG_INVALID', `${what}: ${e.message}`, { cause: e });
  return new SearchError('SEARCH_BAD_REQUEST', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
