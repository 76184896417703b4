/**
 * Coded errors of the search adapter. Callers branch on `code` (and `retriable`), never on the
 * message: the message text differs between Elasticsearch and OpenSearch and between versions.
 *
 * Only *transport* failures are thrown. A `_bulk` request whose items partly failed is a success
 * at this level: its per-item statuses are returned (see `BulkResult`), because retrying the whole
 * request would re-send the items that already succeeded.
 */
export type SearchErrorCode =
  /** Connection refused/reset, DNS failure, no living node. Retriable. */
  | 'SEARCH_UNAVAILABLE'
  /** The request did not finish within `requestTimeoutMs`. Retriable (writes are idempotent by `_id`). */
  | 'SEARCH_TIMEOUT'
  /** HTTP 429: the node's write/search queue is full. Retriable after a back-off. */
  | 'SEARCH_THROTTLED'
  /** HTTP 5xx (e.g. 503 no master / unavailable shards). Retriable. */
  | 'SEARCH_SERVER_ERROR'
  /** HTTP 400 that is not one of the more specific codes below (bad query, bad mapping…). */
  | 'SEARCH_BAD_REQUEST'
  /** HTTP 404 `index_not_found_exception`. */
  | 'SEARCH_INDEX_NOT_FOUND'
  /** Any other HTTP 404 (template, document…). */
  | 'SEARCH_NOT_FOUND'
  /** HTTP 400 `resource_already_exists_exception` (create of an index that exists). */
  | 'SEARCH_ALREADY_EXISTS'
  /** HTTP 409 on a whole request. */
  | 'SEARCH_CONFLICT'
  /** HTTP 401/403. */
  | 'SEARCH_AUTH'
  /** HTTP 413: split the request. */
  | 'SEARCH_REQUEST_TOO_LARGE'
  /** The server is not the engine the client was configured for, or its version is unsupported. */
  | 'SEARCH_PRODUCT_MISMATCH'
  /** The server answered something we could not parse or that lacks expected fields. */
  | 'SEARCH_RESPONSE_INVALID'
  /** The adapter's configuration is invalid. */
  | 'SEARCH_CONFIG_INVALID'
  /** The request was aborted by the caller. */
  | 'SEARCH_ABORTED'
  /** Used after `close()`. */
  | 'SEARCH_CLOSED';

const RETRIABLE: ReadonlySet<SearchErrorCode> = new Set<SearchErrorCode>(['SEARCH_UNAVAILABLE', 'SEARCH_TIMEOUT', 'SEARCH_THROTTLED', 'SEARCH_SERVER_ERROR']);

export interface SearchErrorDetails {
  /** HTTP status when the server answered. */
  status?: number;
  /** The server's `error.type` (e.g. `index_not_found_exception`) when it sent one. */
  type?: string;
  cause?: unknown;
}

export class SearchError extends Error {
  readonly retriable: boolean;
  readonly status: number | undefined;
  readonly type: string | undefined;
  constructor(
    readonly code: SearchErrorCode,
    message: string,
    details: SearchErrorDetails = {},
  ) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause });
    this.name = 'SearchError';
    this.retriable = RETRIABLE.has(code);
    this.status = details.status;
    this.type = details.type;
  }
}

export function isSearchError(e: unknown): e is SearchError {
  return e instanceof SearchError;
}

/** Whether an HTTP status (of a whole request or of one bulk item) is worth retrying. */
export function isRetriableStatus(status: number): boolean {
  return status === 429 || status >= 500;
}

/** Maps an HTTP error answer (status + the engine's JSON error body) to our code. */
export function errorFromResponse(status: number, body: unknown, what: string): SearchError {
  const { type, reason } = serverError(body);
  const code: SearchErrorCode =
    status === 429
      ? 'SEARCH_THROTTLED'
      : status >= 500
        ? 'SEARCH_SERVER_ERROR'
        : status === 401 || status === 403
          ? 'SEARCH_AUTH'
          : status === 413
            ? 'SEARCH_REQUEST_TOO_LARGE'
            : status === 409
              ? 'SEARCH_CONFLICT'
              : status === 404
                ? type === 'index_not_found_exception'
                  ? 'SEARCH_INDEX_NOT_FOUND'
                  : 'SEARCH_NOT_FOUND'
                : type === 'resource_already_exists_exception'
                  ? 'SEARCH_ALREADY_EXISTS'
                  : 'SEARCH_BAD_REQUEST';
  const detail = type ? `${type}: ${reason ?? ''}`.trim() : `HTTP ${status}`;
  return new SearchError(code, `${what} failed: ${detail}`, { status, ...(type ? { type } : {}) });
}

/** Extracts `{type, reason}` from an Elasticsearch/OpenSearch error body (`{error:{type,reason}}` or `{error:"…"}`). */
export function serverError(body: unknown): { type?: string; reason?: string } {
  if (!body || typeof body !== 'object') return typeof body === 'string' && body ? { reason: body } : {};
  const err = (body as { error?: unknown }).error;
  if (typeof err === 'string') return { reason: err };
  if (err && typeof err === 'object') {
    const e = err as { type?: unknown; reason?: unknown; root_cause?: Array<{ type?: unknown; reason?: unknown }> };
    const type = typeof e.type === 'string' ? e.type : undefined;
    let reason = typeof e.reason === 'string' ? e.reason : undefined;
    // A search that failed on every shard says only "all shards failed"; the first root cause says why.
    const root = Array.isArray(e.root_cause) ? e.root_cause[0] : undefined;
    if (root && typeof root.reason === 'string' && root.reason !== reason) reason = `${reason ?? ''}${reason ? ' — ' : ''}${typeof root.type === 'string' ? `${root.type}: ` : ''}${root.reason}`;
    return { ...(type ? { type } : {}), ...(reason ? { reason } : {}) };
  }
  return {};
}
