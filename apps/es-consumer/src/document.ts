import { CodecError, decodeBatch, dlqIndexName, recentIndexName } from '@backlog/core-codec';
import { DEFAULT_MAX_FUTURE_SKEW_MS, type TimestampReplaced, checkRecordedTime, replaceTimestamp } from '@backlog/core-event';
import { moveToConflicts, type Json } from '@backlog/adapter-search';

/**
 * Turning one `h-<env>` record into search documents: events for `logs-<env>-recent-YYYY.MM.DD`
 * and dead-letter documents for `logs-<env>-dlq`. Pure (no I/O), so every rule here has a unit test.
 */

/** Why something went to the dead-letter index: the `reason` label of `es_consumer_dead_lettered_total`. */
export type DlqReason =
  | 'not_gzip' // record value is not gzip
  | 'corrupt' // gunzip failed (truncated, bad CRC)
  | 'too_large' // decompressed size above decode.maxDecompressedBytes (a gzip bomb), or a document the engine refuses for size
  | 'empty' // a record without a single line
  | 'unsupported_schema' // header schema/content-encoding we do not know
  | 'invalid_json' // a line that is not JSON
  | 'not_object' // a line that is JSON but not an object
  | 'mapping' // the mapping still refused the document after moving conflicting fields
  | 'rejected'; // any other non-retriable refusal of the engine (4xx)

export const DLQ_REASONS: readonly DlqReason[] = ['not_gzip', 'corrupt', 'too_large', 'empty', 'unsupported_schema', 'invalid_json', 'not_object', 'mapping', 'rejected'];

/** Where a document came from: enough to find the record again in Kafka or S3. */
export interface Origin {
  topic: string;
  partition: number;
  offset: string;
  /** 1-based NDJSON line, when the document is one line of the record. */
  line?: number;
  batchId?: string;
}

/** One document to write with `create` (so a redelivery is a 409, not a duplicate). */
export interface WriteItem {
  kind: 'event' | 'dlq';
  index: string;
  id: string;
  source: Json;
  origin: Origin;
  /** Conflict-handling rounds this document went through. */
  rounds: number;
  /** Approximate serialized size (for bulk sizing). */
  bytes: number;
  /** For a dead letter that replaces a refused document: the document whose record it settles. */
  settles?: WriteItem;
  /** The event's `@timestamp` was replaced, and why (ADR 0015; `es_consumer_timestamp_replaced_total`). */
  replaced?: TimestampReplaced;
}

export interface DocContext {
  env: string;
  maxDecompressedBytes: number;
  rawMaxBytes: number;
  /** An event more than this far after its record's time (or before 1970) is filed at `event.created` (ADR 0015). Default one day. */
  maxFutureSkewMs?: number;
  /** Now, epoch ms (tests pass a fixed clock). */
  now?: () => number;
}

/** ES and OpenSearch refuse `_id`s above 512 bytes. */
const MAX_ID_BYTES = 512;

/** The parts of a consumed record this module needs (the Kafka adapter's ConsumedRecord fits). */
export interface RecordLike {
  topic: string;
  partition: number;
  offset: string;
  value: Buffer | null;
  headers: Record<string, Buffer>;
  timestamp: number;
}

export interface DecodedRecord {
  items: WriteItem[];
  /** Events found (good lines), for the consumed counter. */
  events: number;
}

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v);

export function truncateUtf8(s: string, maxBytes: number): { text: string; truncated: boolean; bytes: number } {
  const bytes = Buffer.byteLength(s);
  if (bytes <= maxBytes) return { text: s, truncated: false, bytes };
  // Cut on a character boundary: decode the prefix and drop a partial trailing character.
  const text = Buffer.from(s)
    .subarray(0, maxBytes)
    .toString('utf8')
    .replace(/\uFFFD$/, '');
  return { text, truncated: true, bytes };
}

const CODEC_REASON: Record<string, DlqReason> = {
  BATCH_NOT_GZIP: 'not_gzip',
  BATCH_CORRUPT: 'corrupt',
  BATCH_TOO_LARGE: 'too_large',
  BATCH_EMPTY: 'empty',
  HEADER_INVALID: 'unsupported_schema',
};

/** Decodes one record. Never throws: whatever cannot become an event becomes a dead-letter document. */
export function decodeRecord(rec: RecordLike, ctx: DocContext): DecodedRecord {
  const origin: Origin = { topic: rec.topic, partition: rec.partition, offset: rec.offset };
  const batchId = rec.headers['batch-id']?.toString('utf8');
  if (batchId) origin.batchId = batchId;
  const value = rec.value ?? Buffer.alloc(0);
  const rawOf = () => `base64:${value.subarray(0, Math.floor((ctx.rawMaxBytes * 3) / 4)).toString('base64')}`;

  const schema = rec.headers.schema?.toString('utf8');
  const encoding = rec.headers['content-encoding']?.toString('utf8');
  if ((schema !== undefined && schema !== '1') || (encoding !== undefined && encoding !== 'gzip')) {
    return { events: 0, items: [deadLetter(ctx, origin, 'unsupported_schema', `schema=${schema ?? '-'} content-encoding=${encoding ?? '-'}`, rawOf(), value.length)] };
  }

  let decoded;
  try {
    decoded = decodeBatch<Json>(value, { maxDecompressedBytes: ctx.maxDecompressedBytes });
  } catch (err) {
    const code = err instanceof CodecError ? err.code : 'BATCH_CORRUPT';
    return { events: 0, items: [deadLetter(ctx, origin, CODEC_REASON[code] ?? 'corrupt', (err as Error).message, rawOf(), value.length)] };
  }
  if (decoded.events.length === 0 && decoded.bad.length === 0) {
    return { events: 0, items: [deadLetter(ctx, origin, 'empty', 'the batch holds no line', rawOf(), value.length)] };
  }

  const items: WriteItem[] = [];
  for (const b of decoded.bad) {
    const reason: DlqReason = b.reason === 'not a JSON object' ? 'not_object' : 'invalid_json';
    items.push(deadLetter(ctx, { ...origin, line: b.line }, reason, b.reason, b.raw, Buffer.byteLength(b.raw)));
  }
  // decodeBatch drops blank lines and gives events without their line numbers; number the events by
  // their order among the good lines instead (stable for the same record, which is all ids need).
  let n = 0;
  const lines = decoded.events.length + decoded.bad.length;
  const perLine = Math.ceil(decoded.rawBytes / Math.max(1, lines)) + 64;
  for (const it of items) it.bytes = it.bytes || perLine + 1024;
  for (const ev of decoded.events) {
    n++;
    const it = eventItem(ev, ctx.env, { ...origin, line: n }, rec.timestamp, ctx.maxFutureSkewMs);
    it.bytes = perLine;
    items.push(it);
  }
  return { events: decoded.events.length, items };
}

function addTag(doc: Json, tag: string): void {
  const tags = doc.tags;
  if (Array.isArray(tags)) {
    if (!tags.includes(tag)) tags.push(tag);
  } else if (typeof tags === 'string') doc.tags = tags === tag ? [tag] : [tags, tag];
  else if (tags === undefined) doc.tags = [tag];
  else {
    // A `tags` that is neither string nor array would conflict with the keyword mapping: move it.
    moveToConflicts(doc, 'tags', tags);
    doc.tags = [tag];
  }
}

/**
 * Event → document: `_id = event.id`, index by the UTC day of `@timestamp`. A time the harvester would not
 * have kept (more than `maxFutureSkewMs` after the record, or before 1970: an older harvester, a replay of
 * one) is replaced as ADR 0015 says, from the record alone, so a redelivery lands in the same index; the
 * compressor applies the same rule, so the recent document and the archived line agree.
 */
export function eventItem(ev: Json, env: string, origin: Origin, recordTimestamp: number, maxFutureSkewMs = DEFAULT_MAX_FUTURE_SKEW_MS): WriteItem {
  const doc = ev;
  // A source field named `backlog` is ours; an event that brings one would corrupt the bookkeeping.
  if (doc.backlog !== undefined && !isObject(doc.backlog)) {
    const v = doc.backlog;
    delete doc.backlog;
    moveToConflicts(doc, 'backlog', v);
  }

  let ms = typeof doc['@timestamp'] === 'string' || typeof doc['@timestamp'] === 'number' ? new Date(doc['@timestamp'] as string | number).getTime() : NaN;
  if (!Number.isFinite(ms)) {
    // The harvester always sets one; if it is missing or unparseable, keep the value and index the
    // event at the record's time rather than lose it.
    if (doc['@timestamp'] !== undefined) moveToConflicts(doc, '@timestamp', doc['@timestamp']);
    ms = recordTimestamp;
    doc['@timestamp'] = new Date(ms).toISOString();
    addTag(doc, 'timestamp_invalid');
  } else if (typeof doc['@timestamp'] !== 'string') {
    doc['@timestamp'] = new Date(ms).toISOString();
  }
  let replaced: TimestampReplaced | undefined;
  const verdict = checkRecordedTime(ms, isObject(doc.event) ? doc.event.created : undefined, recordTimestamp, maxFutureSkewMs);
  if (verdict) {
    replaceTimestamp(doc, verdict);
    ms = verdict.atMs;
    replaced = verdict.reason;
  }

  const event = isObject(doc.event) ? doc.event : undefined;
  let id = typeof event?.id === 'string' ? event.id : undefined;
  if (!id || Buffer.byteLength(id) > MAX_ID_BYTES) {
    // No usable id: derive one from where the event sits, so a redelivery still hits the same _id.
    // The batch id survives a resend from the harvester's spool; the offset does not.
    const where = origin.batchId ? `b-${origin.batchId}` : `k-${origin.topic}-${origin.partition}-${origin.offset}`;
    if (event?.id !== undefined) moveToConflicts(doc, 'event.id', event.id);
    id = `${where}-${origin.line ?? 0}`;
    if (event) event.id = id;
    else if (doc.event === undefined) doc.event = { id };
    else {
      moveToConflicts(doc, 'event', doc.event);
      doc.event = { id };
    }
    addTag(doc, 'id_derived');
  }
  const item: WriteItem = { kind: 'event', index: recentIndexName(env, ms), id, source: doc, origin, rounds: 0, bytes: 0 };
  if (replaced) item.replaced = replaced;
  return item;
}

/** A dead-letter document: fits the `logs-*` template (all strings in keyword/text fields), never conflicts. */
export function deadLetter(ctx: Pick<DocContext, 'env' | 'rawMaxBytes' | 'now'>, origin: Origin, reason: DlqReason, detail: string, raw: string, rawBytes: number, eventId?: string): WriteItem {
  const now = ctx.now?.() ?? Date.now();
  const cut = truncateUtf8(raw, ctx.rawMaxBytes);
  const where = `${origin.topic}-${origin.partition}-${origin.offset}${origin.line !== undefined ? `-l${origin.line}` : ''}`;
  const id = eventId ? `dlq-${eventId}` : `dlq-${where}`;
  const dlq: Json = { reason, detail: detail.slice(0, 4096), topic: origin.topic, partition: origin.partition, offset: origin.offset, raw_bytes: rawBytes, truncated: cut.truncated };
  if (origin.line !== undefined) dlq.line = origin.line;
  if (origin.batchId) dlq.batch_id = origin.batchId;
  const source: Json = {
    '@timestamp': new Date(now).toISOString(),
    message: `dead-lettered (${reason}): ${detail.slice(0, 512)}`,
    tags: ['dlq'],
    labels: { env: ctx.env, dlq_reason: reason },
    event: { kind: 'pipeline_error', original: cut.text, ...(eventId ? { id: eventId } : {}) },
    error: { type: reason, message: detail.slice(0, 4096) },
    backlog: { dlq },
  };
  return { kind: 'dlq', index: dlqIndexName(ctx.env), id: Buffer.byteLength(id) > MAX_ID_BYTES ? `dlq-${where}` : id, source, origin, rounds: 0, bytes: cut.text.length + 1024 };
}

/** A rejected event as a dead-letter document: the whole event as JSON in `event.original`. */
export function deadLetterEvent(ctx: Pick<DocContext, 'env' | 'rawMaxBytes' | 'now'>, item: WriteItem, reason: DlqReason, detail: string): WriteItem {
  const raw = JSON.stringify(item.source);
  return deadLetter(ctx, item.origin, reason, detail, raw, Buffer.byteLength(raw), item.id);
}
