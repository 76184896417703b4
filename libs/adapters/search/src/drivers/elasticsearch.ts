import { Client, errors, type estypes } from '@elastic/elasticsearch';
import { nodesOf, type SearchConfig } from '../config';
import { SearchError, errorFromResponse } from '../errors';
import type { Json } from '../port';
import { CAT_INDICES_COLUMNS, type Driver } from './driver';

/**
 * Elasticsearch 8.x through `@elastic/elasticsearch` 8.x (the 9.x client refuses 8.x servers).
 * The 8.x client takes request bodies as top-level keys and returns the body directly.
 */
export class ElasticsearchDriver implements Driver {
  readonly engine = 'elasticsearch' as const;
  private readonly client: Client;

  constructor(cfg: SearchConfig) {
    this.client = new Client({
      node: nodesOf(cfg),
      requestTimeout: cfg.requestTimeoutMs,
      maxRetries: cfg.maxRetries,
      ...(cfg.auth ? { auth: cfg.auth } : {}),
      tls: { rejectUnauthorized: cfg.tlsRejectUnauthorized },
    });
  }

  bulk(body: string, refresh: boolean | 'wait_for' | undefined): Promise<Json> {
    // A string body is sent as it is (the transport serializes only objects and arrays).
    return this.call('bulk', () => this.client.bulk({ operations: body as unknown as estypes.BulkRequest['operations'], ...(refresh !== undefined ? { refresh } : {}) }));
  }

  async putIndexTemplate(name: string, body: Json): Promise<void> {
    await this.call(`put index template ${name}`, () => this.client.indices.putIndexTemplate({ name, ...body } as estypes.IndicesPutIndexTemplateRequest));
  }

  async deleteIndexTemplate(name: string): Promise<void> {
    await this.call(`delete index template ${name}`, () => this.client.indices.deleteIndexTemplate({ name }));
  }

  async createIndex(name: string, body: Json): Promise<void> {
    await this.call(`create index ${name}`, () => this.client.indices.create({ index: name, ...body } as estypes.IndicesCreateRequest));
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
    await this.call(`put mapping ${index}`, () => this.client.indices.putMapping({ index, ...body } as estypes.IndicesPutMappingRequest));
  }

  search(index: string[], body: Json): Promise<Json> {
    return this.call('search', () => this.client.search({ ...(index.length ? { index } : {}), ...body } as estypes.SearchRequest));
  }

  async openPit(index: string[], keepAlive: string): Promise<string> {
    const res = await this.call('open point in time', () => this.client.openPointInTime({ index, keep_alive: keepAlive }));
    return String(res.id ?? '');
  }

  async closePit(id: string): Promise<void> {
    await this.call('close point in time', () => this.client.closePointInTime({ id }, { ignore: [404] }));
  }

  count(index: string[], body: Json | undefined): Promise<Json> {
    return this.call('count', () => this.client.count({ index, ...(body ?? {}) } as estypes.CountRequest));
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

  private async call<T>(what: string, fn: () => Promise<T>): Promise<Json> {
    try {
      return (await fn()) as unknown as Json;
    } catch (e) {
      throw mapElasticsearchError(e, what);
    }
  }
}

export function mapElasticsearchError(e: unknown, what: string): SearchError {
  if (e instanceof SearchError) return e;
  if (e instanceof errors.ResponseError) return errorFromResponse(e.statusCode ?? 0, e.body, what);
  if (e instanceof errors.TimeoutError) return new SearchError('SEARCH_TIMEOUT', `${what} timed out`, { cause: e });
  if (e instanceof errors.ConnectionError || e instanceof errors.NoLivingConnectionsError) return new SearchError('SEARCH_UNAVAILABLE', `${what}: ${e.message}`, { cause: e });
  if (e instanceof errors.ProductNotSupportedError)
    // The 8.x client checks the X-Elastic-Product header on every 2xx answer; OpenSearch does not send it.
    return new SearchError('SEARCH_PRODUCT_MISMATCH', `${what}: the server is not Elasticsearch (use engine 'opensearch' or 'auto')`, {
      cause: e,
    });
  if (e instanceof errors.RequestAbortedError) return new SearchError('SEARCH_ABORTED', `${what} aborted`, { cause: e });
  if (e instanceof errors.DeserializationError) return new SearchError('SEARCH_RESPONSE_INVALID', `${what}: ${e.message}`, { cause: e });
  if (e instanceof errors.ConfigurationError) return new SearchError('SEARCH_CONFIG_INVALID', `${what}: ${e.message}`, { cause: e });
  return new SearchError('SEARCH_BAD_REQUEST', `${what}: ${e instanceof Error ? e.message : String(e)}`, { cause: e });
}
