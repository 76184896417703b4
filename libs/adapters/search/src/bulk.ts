import { SearchError, isRetriableStatus } from './errors';
import type { BulkItemError, BulkItemResult, BulkOp, BulkOpType, BulkResult, Json, RawBulkOp } from './port';

const isRaw = (o: BulkOp): o is RawBulkOp => 'source' in o && typeof o.source === 'string';

/** The `_bulk` NDJSON lines for `ops` (action line, then source line except for delete); a raw op's source is parsed back (for inspection). */
export function bulkLines(ops: readonly BulkOp[]): Json[] {
  return bulkBody(ops)
    .split('\n')
    .filter((l) => l !== '')
    .map((l) => JSON.parse(l) as Json);
}

/**
 * The `_bulk` request body for `ops`: action line, then source line except for delete, each ending
 * in '\n'. A raw op's source is copied as it is (it must not hold a newline: SEARCH_BAD_REQUEST).
 */
export function bulkBody(ops: readonly BulkOp[]): string {
  let body = '';
  for (const o of ops) {
    body += o.id !== undefined ? JSON.stringify({ [o.op]: { _index: o.index, _id: o.id } }) : JSON.stringify({ [o.op]: { _index: o.index } });
    body += '\n';
    if (isRaw(o)) {
      if (o.source.includes('\n')) throw new SearchError('SEARCH_BAD_REQUEST', `bulk: the source of ${o.op} ${o.id ?? '(no id)'} holds a newline; a raw source must be one line of JSON`);
      body += o.source;
    } else if (o.op === 'index' || o.op === 'create') body += JSON.stringify(o.doc);
    else if (o.op === 'update') body += JSON.stringify(o.docAsUpsert ? { doc: o.doc, doc_as_upsert: true } : { doc: o.doc });
    else continue;
    body += '\n';
  }
  return body;
}

const OP_TYPES: ReadonlySet<string> = new Set(['index', 'create', 'update', 'delete']);

/**
 * Turns a `_bulk` response into one result per op, in request order. The engines answer items in
 * request order (documented for Elasticsearch's `_bulk` API); we still check the count and the
 * action of each item, because acknowledging the wrong document would lose data.
 */
export function parseBulkResponse(ops: readonly BulkOp[], body: Json): BulkResult {
  const items = body.items;
  if (!Array.isArray(items) || items.length !== ops.length) {
    throw new SearchError('SEARCH_RESPONSE_INVALID', `bulk: expected ${ops.length} items in the response, got ${Array.isArray(items) ? items.length : 'none'}`);
  }
  const out: BulkItemResult[] = [];
  let failed = 0;
  items.forEach((raw: unknown, i) => {
    const op = ops[i] as BulkOp;
    const entry = raw && typeof raw === 'object' ? Object.entries(raw as Json)[0] : undefined;
    if (!entry || !OP_TYPES.has(entry[0]) || entry[0] !== op.op || !entry[1] || typeof entry[1] !== 'object') {
      throw new SearchError('SEARCH_RESPONSE_INVALID', `bulk: item ${i} is not a '${op.op}' result`);
    }
    const r = entry[1] as {
      _index?: unknown;
      _id?: unknown;
      status?: unknown;
      result?: unknown;
      error?: unknown;
    };
    const status = typeof r.status === 'number' ? r.status : 0;
    const ok = status >= 200 && status < 300;
    const item: BulkItemResult = {
      op: entry[0] as BulkOpType,
      index: typeof r._index === 'string' ? r._index : op.index,
      id: typeof r._id === 'string' ? r._id : op.id,
      status,
      ok,
      retriable: !ok && isRetriableStatus(status),
    };
    if (typeof r.result === 'string') item.result = r.result;
    if (!ok) {
      failed++;
      item.error = itemError(r.error, status);
    }
    out.push(item);
  });
  return {
    tookMs: typeof body.took === 'number' ? body.took : 0,
    errors: failed > 0,
    items: out,
    succeeded: out.length - failed,
    failed,
  };
}

function itemError(raw: unknown, status: number): BulkItemError {
  if (raw && typeof raw === 'object') {
    const e = raw as { type?: unknown; reason?: unknown; caused_by?: { type?: unknown; reason?: unknown } };
    const err: BulkItemError = {
      type: typeof e.type === 'string' ? e.type : 'unknown',
      reason: typeof e.reason === 'string' ? e.reason : '',
    };
    if (e.caused_by && typeof e.caused_by === 'object') {
      err.causedBy = {
        type: typeof e.caused_by.type === 'string' ? e.caused_by.type : 'unknown',
        reason: typeof e.caused_by.reason === 'string' ? e.caused_by.reason : '',
      };
    }
    return err;
  }
  // A delete of a missing document is 404 without an `error` object (result: not_found).
  return { type: status === 404 ? 'not_found' : 'unknown', reason: typeof raw === 'string' ? raw : '' };
}

/**
 * A `create` that failed because a document with this `_id` is already there. With event ids as
 * `_id`, that is a redelivery of something already indexed: the caller may treat it as delivered.
 */
export function isAlreadyIndexed(item: BulkItemResult): boolean {
  return item.op === 'create' && item.status === 409;
}
