import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gunzipSync, gzip, gzipSync } from 'node:zlib';
import { type BatchHeaders, type ByteScratch, type EncodedBatch, batchHeaders, windowId, windowOf } from '@backlog/core-codec';

/** An event already serialized once (for the WAL), with its parsed @timestamp for sorting. */
export interface Line {
  ts: number;
  line: string;
}

/**
 * The h-<env> record of pre-serialized events: the same bytes as core-codec's encodeBatch() and the
 * headers of its batchHeaders() (encode.spec.ts checks that), without serializing every event a second
 * time. The harvester serializes each event once when it appends it to the WAL; re-serializing at flush
 * cost ~2 µs per event on the hot path.
 */
export function encodeLines(lines: Line[], opts: { host: string; batchId?: string; level?: number }): EncodedBatch {
  const { raw, headers } = prepare(lines, opts);
  return { key: opts.host, value: gzipSync(raw, { level: opts.level ?? DEFAULT_LEVEL }), rawBytes: raw.length, headers };
}

const gzipAsync = promisify(gzip);
const GZIP_CHUNK = 256 * 1024;
/** gzip level when none is given: core-codec encodeBatch()'s (the shipper passes its configured level). */
export const DEFAULT_LEVEL = 6;

/** encodeLines with the gzip on libuv's thread pool: the event loop keeps reading inputs meanwhile. */
export async function encodeLinesAsync(lines: Line[], opts: { host: string; batchId?: string; level?: number }): Promise<EncodedBatch> {
  const { raw, headers } = prepare(lines, opts);
  return { key: opts.host, value: await gzipAsync(raw, { level: opts.level ?? DEFAULT_LEVEL }), rawBytes: raw.length, headers };
}

function prepare(lines: Line[], opts: { host: string; batchId?: string }): { raw: Buffer; headers: BatchHeaders } {
  if (lines.length === 0) throw new RangeError('a batch holds at least one event');
  // Stable sort (TimSort): events of one source are nearly ordered already, so this is close to O(n).
  const sorted = isSorted(lines) ? lines : [...lines].sort((a, b) => a.ts - b.ts);
  const min = sorted[0]!.ts;
  const max = sorted[sorted.length - 1]!.ts;
  if (windowOf(min) !== windowOf(max)) throw new RangeError(`batch straddles windows ${windowId(windowOf(min))}..${windowId(windowOf(max))}`);
  const parts: string[] = new Array(sorted.length);
  for (let i = 0; i < sorted.length; i++) parts[i] = sorted[i]!.line;
  const raw = Buffer.from(parts.join('\n') + '\n');
  return { raw, headers: batchHeaders({ count: sorted.length, minTs: min, maxTs: max, host: opts.host, batchId: opts.batchId }) };
}

function isSorted(lines: Line[]): boolean {
  for (let i = 1; i < lines.length; i++) if (lines[i]!.ts < lines[i - 1]!.ts) return false;
  return true;
}

/**
 * Encodes, and splits in halves while the gzip value exceeds `maxRecordBytes` (the broker's
 * max.message.bytes minus headroom). Each piece is still sorted and inside the one window.
 */
export function encodeWithinCap(lines: Line[], opts: { host: string; level?: number; maxRecordBytes: number }, batchId: () => string): EncodedBatch[] {
  const enc = encodeLines(lines, { host: opts.host, batchId: batchId(), level: opts.level });
  if (enc.value.length <= opts.maxRecordBytes || lines.length === 1) return [enc];
  const sorted = [...lines].sort((a, b) => a.ts - b.ts);
  const mid = sorted.length >> 1;
  return [...encodeWithinCap(sorted.slice(0, mid), opts, batchId), ...encodeWithinCap(sorted.slice(mid), opts, batchId)];
}

/** encodeWithinCap with the gzip off the event loop (encodeLinesAsync). */
export async function encodeWithinCapAsync(lines: Line[], opts: { host: string; level?: number; maxRecordBytes: number }, batchId: () => string): Promise<EncodedBatch[]> {
  const enc = await encodeLinesAsync(lines, { host: opts.host, batchId: batchId(), level: opts.level });
  if (enc.value.length <= opts.maxRecordBytes || lines.length === 1) return [enc];
  const sorted = [...lines].sort((a, b) => a.ts - b.ts);
  const mid = sorted.length >> 1;
  return [...(await encodeWithinCapAsync(sorted.slice(0, mid), opts, batchId)), ...(await encodeWithinCapAsync(sorted.slice(mid), opts, batchId))];
}

/**
 * Splits a record the broker refused as too large (its `max.message.bytes` is below our cap) into two
 * records of half its events each: same key, window and host; `count`, `min-ts`, `max-ts` of each half;
 * batch ids derived from the parent's (`<id>.s0`, `<id>.s1`), so a resend of the same spool splits the
 * same way. The events keep their bytes and order. A record of one event cannot be split (RangeError).
 */
export function splitRecord(value: Buffer, headers: { readonly 'batch-id'?: string; readonly 'min-ts'?: string }, opts: { host: string; level?: number }): [EncodedBatch, EncodedBatch] {
  const text = gunzipSync(value).toString('utf8');
  const fallback = Number(headers['min-ts']);
  const lines: Line[] = [];
  for (const line of text.split('\n')) {
    if (!line) continue;
    let ts = NaN;
    try {
      ts = Date.parse((JSON.parse(line) as { '@timestamp'?: string })['@timestamp'] ?? '');
    } catch {
      // The harvester wrote every line; one it cannot read back keeps the batch's first timestamp.
    }
    lines.push({ ts: Number.isNaN(ts) ? fallback : ts, line });
  }
  if (lines.length < 2) throw new RangeError('a record of one event cannot be split');
  const parent = headers['batch-id'] ?? randomUUID();
  const mid = lines.length >> 1;
  return [
    encodeLines(lines.slice(0, mid), { host: opts.host, batchId: `${parent}.s0`, level: opts.level }),
    encodeLines(lines.slice(mid), { host: opts.host, batchId: `${parent}.s1`, level: opts.level }),
  ];
}

/**
 * Offsets of the `n` lines of NDJSON `raw` (each ends with '\n'): starts[i]..starts[i+1]. Throws when
 * `raw` does not hold exactly `n` lines, so a batch's `count` header can never disagree with its value.
 */
export function lineStarts(raw: Buffer, n: number): Uint32Array {
  const starts = new Uint32Array(n + 1);
  let off = 0;
  for (let i = 0; i < n; i++) {
    starts[i] = off;
    const nl = raw.indexOf(10, off);
    if (nl < 0) throw new RangeError(`expected ${n} lines, found ${i}`);
    off = nl + 1;
  }
  if (off !== raw.length) throw new RangeError(`expected ${n} lines, found more bytes after them`);
  starts[n] = off;
  return starts;
}

/**
 * A batch as its WAL holds it: NDJSON in append order and each line's @timestamp (ms) in the same order.
 * Returns the same, sorted by timestamp (stable), copying only when the lines were out of order.
 */
export function sortRaw(raw: Buffer, ts: Float64Array, into?: ByteScratch): { raw: Buffer; ts: Float64Array; starts: Uint32Array } {
  const n = ts.length;
  const starts = lineStarts(raw, n);
  let sorted = true;
  for (let i = 1; i < n; i++) {
    if (ts[i]! < ts[i - 1]!) {
      sorted = false;
      break;
    }
  }
  if (sorted) return { raw, ts, starts };
  const order = Array.from({ length: n }, (_, i) => i).sort((a, b) => ts[a]! - ts[b]! || a - b);
  const out = into ? into.ensure(raw.length).subarray(0, raw.length) : Buffer.allocUnsafe(raw.length);
  const ots = new Float64Array(n);
  const ostarts = new Uint32Array(n + 1);
  let off = 0;
  for (let k = 0; k < n; k++) {
    const i = order[k]!;
    ostarts[k] = off;
    off += raw.copy(out, off, starts[i]!, starts[i + 1]!);
    ots[k] = ts[i]!;
  }
  ostarts[n] = off;
  return { raw: out, ts: ots, starts: ostarts };
}

/**
 * encodeWithinCapAsync for a batch already sorted as NDJSON bytes (sortRaw): no string per event is
 * held or joined. Same record bytes and headers as encodeLines() of the same lines.
 */
export async function encodeRawWithinCapAsync(
  sorted: { raw: Buffer; ts: Float64Array; starts: Uint32Array },
  opts: { host: string; level?: number; maxRecordBytes: number },
  batchId: () => string,
  from = 0,
  to = sorted.ts.length,
): Promise<EncodedBatch[]> {
  if (to <= from) throw new RangeError('a batch holds at least one event');
  const min = sorted.ts[from]!;
  const max = sorted.ts[to - 1]!;
  if (windowOf(min) !== windowOf(max)) throw new RangeError(`batch straddles windows ${windowId(windowOf(min))}..${windowId(windowOf(max))}`);
  const raw = sorted.raw.subarray(sorted.starts[from]!, sorted.starts[to]!);
  const headers = batchHeaders({ count: to - from, minTs: min, maxTs: max, host: opts.host, batchId: batchId() });
  // Large output chunks: fewer round trips to the event loop per batch; the bytes do not depend on it.
  const value = await gzipAsync(raw, { level: opts.level ?? DEFAULT_LEVEL, chunkSize: GZIP_CHUNK });
  if (value.length <= opts.maxRecordBytes || to - from === 1) return [{ key: opts.host, value, rawBytes: raw.length, headers }];
  const mid = from + ((to - from) >> 1);
  return [...(await encodeRawWithinCapAsync(sorted, opts, batchId, from, mid)), ...(await encodeRawWithinCapAsync(sorted, opts, batchId, mid, to))];
}
