import { randomUUID } from 'node:crypto';
import { promisify } from 'node:util';
import { gzip, gzipSync } from 'node:zlib';
import { type BatchHeaders, type EncodedBatch, windowId, windowOf } from '@backlog/core-codec';

/** An event already serialized once (for the WAL), with its parsed @timestamp for sorting. */
export interface Line {
  ts: number;
  line: string;
}

/**
 * The h-<env> record of pre-serialized events: the same bytes and headers as core-codec's
 * encodeBatch() (encode.spec.ts checks that), without serializing every event a second time. The
 * harvester serializes each event once when it appends it to the WAL; re-serializing at flush cost
 * ~2 µs per event on the hot path. TODO(integrator): move this into core-codec as encodeBatchLines().
 */
export function encodeLines(lines: Line[], opts: { host: string; batchId?: string; level?: number }): EncodedBatch {
  const { raw, headers } = prepare(lines, opts);
  return { key: opts.host, value: gzipSync(raw, { level: opts.level ?? DEFAULT_LEVEL }), rawBytes: raw.length, headers };
}

const gzipAsync = promisify(gzip);
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
  const headers: BatchHeaders = {
    schema: '1',
    'content-encoding': 'gzip',
    count: String(sorted.length),
    'min-ts': String(min),
    'max-ts': String(max),
    window: windowId(windowOf(min)),
    host: opts.host,
    'batch-id': opts.batchId ?? randomUUID(),
  };
  return { raw, headers };
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
