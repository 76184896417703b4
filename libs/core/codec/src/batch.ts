import { randomUUID } from 'node:crypto';
import { gunzipSync, gzipSync } from 'node:zlib';
import { CodecError } from './errors';
import { windowId } from './names';
import { windowOf } from './window';

/** The least a batch needs to know about an event; the full shape is @backlog/core-event's LogEvent. */
export interface BatchEvent {
  '@timestamp': string;
  host?: { name?: string };
  [key: string]: unknown;
}

/** Record headers of topic h-<env> (DESIGN.md "Topic h-<env>"). All values are strings on the wire. */
export interface BatchHeaders {
  schema: '1';
  'content-encoding': 'gzip';
  count: string;
  'min-ts': string;
  'max-ts': string;
  window: string;
  host: string;
  'batch-id': string;
}

/**
 * The headers of one h-<env> record: the one place they are built (encodeBatch here, and the
 * harvester's encoders of pre-serialized lines). `minTs`/`maxTs` are epoch ms of the batch's first and
 * last event; the window is the first event's (the caller checks the batch does not straddle one).
 */
export function batchHeaders(b: { count: number; minTs: number; maxTs: number; host: string; batchId?: string }): BatchHeaders {
  return {
    schema: '1',
    'content-encoding': 'gzip',
    count: String(b.count),
    'min-ts': String(b.minTs),
    'max-ts': String(b.maxTs),
    window: windowId(windowOf(b.minTs)),
    host: b.host,
    'batch-id': b.batchId ?? randomUUID(),
  };
}

export interface EncodedBatch {
  key: string;
  value: Buffer;
  headers: BatchHeaders;
  rawBytes: number;
}

/**
 * gzip(NDJSON) of events that are sorted by @timestamp and lie in one 5-minute window.
 * The caller (the batcher) guarantees the window rule; we check it, because a straddling batch would
 * break the compressor's per-window assembly.
 */
export function encodeBatch(events: readonly BatchEvent[], opts: { host: string; batchId?: string; level?: number }): EncodedBatch {
  if (events.length === 0) throw new CodecError('BATCH_EMPTY', 'a batch holds at least one event');
  // A loop, not Math.min(...spread): batches can hold more events than the engine allows as arguments.
  let min = Infinity;
  let max = -Infinity;
  for (const e of events) {
    const t = Date.parse(e['@timestamp']);
    if (t < min) min = t;
    if (t > max) max = t;
    if (Number.isNaN(t)) min = NaN;
  }
  if (!Number.isFinite(min) || !Number.isFinite(max)) throw new CodecError('BATCH_CORRUPT', 'every event needs a parseable @timestamp');
  if (windowOf(min) !== windowOf(max)) throw new CodecError('BATCH_CORRUPT', `batch straddles windows ${windowId(windowOf(min))}..${windowId(windowOf(max))}`);
  const ndjson = events.map((e) => JSON.stringify(e)).join('\n') + '\n';
  const raw = Buffer.from(ndjson);
  return {
    key: opts.host,
    value: gzipSync(raw, { level: opts.level ?? 6 }),
    rawBytes: raw.length,
    headers: batchHeaders({ count: events.length, minTs: min, maxTs: max, host: opts.host, batchId: opts.batchId }),
  };
}

export interface DecodeLimits {
  /** Cap on the decompressed size; a gzip bomb fails with BATCH_TOO_LARGE instead of exhausting memory. Default 64 MiB. */
  maxDecompressedBytes?: number;
}

export interface DecodedBatch<E = BatchEvent> {
  events: E[];
  /** Lines that were not a JSON object, with their 1-based line number and the reason. */
  bad: { line: number; reason: string; raw: string }[];
  rawBytes: number;
}

/** Gunzips (bounded) and splits NDJSON. Bad lines are returned, never thrown: the caller dead-letters them. */
export function decodeBatch<E = BatchEvent>(value: Uint8Array, limits: DecodeLimits = {}): DecodedBatch<E> {
  const max = limits.maxDecompressedBytes ?? 64 * 1024 * 1024;
  if (value.length < 2 || value[0] !== 0x1f || value[1] !== 0x8b) throw new CodecError('BATCH_NOT_GZIP', 'record value is not gzip (missing 1f 8b magic)');
  let raw: Buffer;
  try {
    raw = gunzipSync(value, { maxOutputLength: max });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new CodecError('BATCH_TOO_LARGE', `decompressed batch exceeds ${max} bytes`);
    throw new CodecError('BATCH_CORRUPT', `gunzip failed: ${e.message}`);
  }
  const events: E[] = [];
  const bad: DecodedBatch['bad'] = [];
  const text = raw.toString('utf8');
  let start = 0;
  let line = 0;
  while (start < text.length) {
    let end = text.indexOf('\n', start);
    if (end === -1) end = text.length;
    line++;
    const chunk = text.slice(start, end);
    start = end + 1;
    if (chunk.trim() === '') continue;
    try {
      const v: unknown = JSON.parse(chunk);
      if (v === null || typeof v !== 'object' || Array.isArray(v)) bad.push({ line, reason: 'not a JSON object', raw: chunk });
      else events.push(v as E);
    } catch (err) {
      bad.push({ line, reason: `invalid JSON: ${(err as Error).message}`, raw: chunk });
    }
  }
  return { events, bad, rawBytes: raw.length };
}

/** Reads Kafka record headers (Buffer | string values) into strings. */
export function readHeaders(headers: Record<string, Buffer | string | (Buffer | string)[] | undefined> | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(headers ?? {})) {
    if (v === undefined) continue;
    const one = Array.isArray(v) ? v[v.length - 1] : v;
    if (one !== undefined) out[k] = one.toString();
  }
  return out;
}
