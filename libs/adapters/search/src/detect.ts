import { authHeader, nodesOf, type SearchConfig } from './config';
import { SearchError } from './errors';
import type { SearchEngine } from './port';

export interface DetectedServer {
  engine: SearchEngine;
  version: string;
}

/**
 * Asks the server which engine it is with a plain `GET /`, not through a client: the
 * Elasticsearch 8 client throws ProductNotSupportedError on any answer from OpenSearch (it checks
 * the `X-Elastic-Product` header), so it cannot be used to find out. The first node that answers
 * decides. A node that says it is Elasticsearch but has no `GET /` is asked `GET /_nodes/_local`.
 */
export async function detectEngine(cfg: SearchConfig, fetchImpl: typeof fetch = fetch): Promise<DetectedServer> {
  let last: unknown;
  for (const node of nodesOf(cfg)) {
    let res: Response;
    try {
      const auth = authHeader(cfg);
      res = await fetchImpl(`${node}/`, {
        headers: { accept: 'application/json', ...(auth ? { authorization: auth } : {}) },
        signal: AbortSignal.timeout(cfg.requestTimeoutMs),
      });
    } catch (e) {
      last = e;
      continue;
    }
    if (res.status === 401 || res.status === 403) {
      throw new SearchError('SEARCH_AUTH', `engine detection: ${node}/ answered HTTP ${res.status}`, { status: res.status });
    }
    if (!res.ok && ROOTLESS.has(res.status) && res.headers.get('x-elastic-product') === 'Elasticsearch') {
      // An Elasticsearch node without the rest-root module (the one that serves `GET /`; the local
      // stack's node has none, ADR 0017) still names itself in the header of every answer: ask the
      // node for its version instead, through an API that is in the server itself.
      await res.arrayBuffer().catch(() => undefined);
      return nodeVersion(cfg, node, fetchImpl);
    }
    if (!res.ok) {
      last = new SearchError(res.status === 429 || res.status >= 500 ? 'SEARCH_SERVER_ERROR' : 'SEARCH_RESPONSE_INVALID', `engine detection: ${node}/ answered HTTP ${res.status}`, {
        status: res.status,
      });
      continue;
    }
    let body: unknown;
    try {
      body = await res.json();
    } catch (e) {
      throw new SearchError('SEARCH_RESPONSE_INVALID', `engine detection: ${node}/ did not answer JSON`, { cause: e });
    }
    return classify(body, node);
  }
  if (last instanceof SearchError) throw last;
  const timedOut = last instanceof Error && (last.name === 'TimeoutError' || last.name === 'AbortError');
  throw new SearchError(timedOut ? 'SEARCH_TIMEOUT' : 'SEARCH_UNAVAILABLE', `engine detection: no node answered GET / (${nodesOf(cfg).join(', ')})`, { cause: last });
}

/** What a node answers to `GET /` when no module serves it: 405 (only `DELETE /` is routed) or 400/404. */
const ROOTLESS = new Set([400, 404, 405]);

/** `GET /_nodes/_local/_none` (core API): the version of the node that answered, as `GET /` would say it. */
async function nodeVersion(cfg: SearchConfig, node: string, fetchImpl: typeof fetch): Promise<DetectedServer> {
  const auth = authHeader(cfg);
  let body: unknown;
  try {
    const res = await fetchImpl(`${node}/_nodes/_local/_none?filter_path=nodes.*.version`, {
      headers: { accept: 'application/json', ...(auth ? { authorization: auth } : {}) },
      signal: AbortSignal.timeout(cfg.requestTimeoutMs),
    });
    if (!res.ok) {
      throw new SearchError(
        res.status === 401 || res.status === 403 ? 'SEARCH_AUTH' : 'SEARCH_RESPONSE_INVALID',
        `engine detection: ${node} has no GET / and answered HTTP ${res.status} to GET /_nodes/_local`,
        { status: res.status },
      );
    }
    body = await res.json();
  } catch (e) {
    if (e instanceof SearchError) throw e;
    throw new SearchError('SEARCH_RESPONSE_INVALID', `engine detection: ${node} has no GET / and GET /_nodes/_local failed`, { cause: e });
  }
  const nodes = (body as { nodes?: Record<string, { version?: unknown }> } | null)?.nodes;
  const number = nodes ? Object.values(nodes)[0]?.version : undefined;
  return classify({ version: { number } }, node);
}

/** Decides the engine from a `GET /` body. Exported for unit tests. */
export function classify(body: unknown, node = 'server'): DetectedServer {
  const version = (body as { version?: { distribution?: unknown; number?: unknown } } | null)?.version;
  const number = typeof version?.number === 'string' ? version.number : undefined;
  if (!number) throw new SearchError('SEARCH_RESPONSE_INVALID', `engine detection: ${node}/ has no version.number`);
  if (version?.distribution === 'opensearch') {
    const major = Number(number.split('.')[0]);
    // With `compatibility.override_main_response_version` OpenSearch reports 7.10.2; the distribution still says opensearch.
    if (major < 2 && number !== '7.10.2') {
      throw new SearchError('SEARCH_PRODUCT_MISMATCH', `OpenSearch ${number} is not supported (need 2.x or later)`);
    }
    return { engine: 'opensearch', version: number };
  }
  const major = Number(number.split('.')[0]);
  if (!(major >= 8)) {
    throw new SearchError('SEARCH_PRODUCT_MISMATCH', `Elasticsearch ${number} is not supported (need 8.x)`);
  }
  return { engine: 'elasticsearch', version: number };
}
