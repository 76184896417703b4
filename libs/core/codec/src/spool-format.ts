import { crc32 } from 'node:zlib';

/**
 * On-disk format of the harvester's spool (docs: apps/harvester/SHIPPING.md). Pure: bytes in, values
 * out, so both the harvester and `backlog spool inspect` (which may not import an app) read it.
 *
 * Two kinds of file, both with CRC-32 (zlib's, ISO-HDLC polynomial) over their bytes:
 *
 *   <id>.wal  the batch being filled: a header, then one chunk per sink write, appended as events
 *             arrive, so a kill -9 loses nothing the harvester had read (the page cache survives the
 *             process). A torn tail (power loss) ends the valid prefix; it is not an error.
 *   <seq>.seg a closed batch: the exact Kafka record (key, headers, gzip value) plus the source
 *             positions it holds, written to tmp/, fsynced and renamed into place before it is sent.
 *
 * WAL header:  "BLWL" | u8 version | u32 metaLen | meta JSON | u32 crc(all before)
 * WAL chunk:   u32 payloadLen | u32 crc(payload) | payload
 * chunk payload: u32 positionsLen | positions JSON | NDJSON lines (one event per line)
 * segment:     "BLSG" | u8 version | u32 metaLen | meta JSON | u32 valueLen | value | u32 crc(all before)
 */
export const SPOOL_FORMAT_VERSION = 1;
const WAL_MAGIC = Buffer.from('BLWL');
const SEG_MAGIC = Buffer.from('BLSG');

/** A source position an input can commit once the batch holding it is acknowledged (file offset, journald cursor). */
export interface SpoolPosition {
  source: string;
  cursor: string | number;
}

export interface WalMeta {
  batchId: string;
  /** 5-minute window (DESIGN.md) every event of this batch falls in. */
  window: number;
  host: string;
  createdAtMs: number;
}

export interface SegmentMeta {
  batchId: string;
  key: string;
  headers: Record<string, string>;
  count: number;
  rawBytes: number;
  createdAtMs: number;
  positions: SpoolPosition[];
  /** Segments cut from one open batch (a record over the size cap is split) share a group. */
  group?: string;
}

export type SpoolFormatErrorCode = 'SPOOL_BAD_MAGIC' | 'SPOOL_BAD_VERSION' | 'SPOOL_TRUNCATED' | 'SPOOL_CHECKSUM' | 'SPOOL_BAD_META';

export class SpoolFormatError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: SpoolFormatErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SpoolFormatError';
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32BE(n >>> 0, 0);
  return b;
}

export function encodeWalHeader(meta: WalMeta): Buffer {
  const m = Buffer.from(JSON.stringify(meta));
  const head = Buffer.concat([WAL_MAGIC, Buffer.from([SPOOL_FORMAT_VERSION]), u32(m.length), m]);
  return Buffer.concat([head, u32(crc32(head))]);
}

export function encodeWalChunk(lines: string, positions: readonly SpoolPosition[]): Buffer {
  const p = Buffer.from(positions.length ? JSON.stringify(positions) : '');
  const l = Buffer.from(lines);
  const payload = Buffer.concat([u32(p.length), p, l]);
  return Buffer.concat([u32(payload.length), u32(crc32(payload)), payload]);
}

/** A reusable output buffer (grows as needed, never shrinks): for encodeWalChunkInto and read-backs. */
export class ByteScratch {
  buf: Buffer;
  constructor(initialBytes = 256 * 1024) {
    this.buf = Buffer.allocUnsafe(initialBytes);
  }
  /** The buffer, at least `bytes` long; when it grows, its first `keep` bytes are carried over (default none). */
  ensure(bytes: number, keep = 0): Buffer {
    if (this.buf.length < bytes) {
      const grown = Buffer.allocUnsafe(Math.max(bytes, this.buf.length * 2));
      if (keep > 0) this.buf.copy(grown, 0, 0, keep);
      this.buf = grown;
    }
    return this.buf;
  }
}

/**
 * encodeWalChunk(lines.join('\n') + '\n', positions), written into `scratch`: the same bytes without
 * allocating buffers per chunk (the harvester appends one chunk per input read). Returns a view of the scratch, valid until its next use.
 */
export function encodeWalChunkInto(scratch: ByteScratch, lines: readonly string[], positions: readonly SpoolPosition[], at = 0): Buffer {
  const pos = positions.length ? JSON.stringify(positions) : '';
  // One write of the joined lines: join copies each line (often a rope of concatenations) once, where a
  // write per line would first flatten each into a new string.
  const text = lines.length === 0 ? '' : lines.length === 1 ? lines[0]! : lines.join('\n');
  // Exact sizes, so a buffer sized for a batch is not outgrown by a worst-case estimate. What the scratch
  // holds before `at` is kept.
  // The exact byte count is only needed when the worst case (3 bytes per UTF-16 unit) might not fit.
  const worst = at + 13 + (pos.length + text.length) * 3;
  const buf = worst <= scratch.buf.length ? scratch.buf : scratch.ensure(at + 13 + Buffer.byteLength(pos) + Buffer.byteLength(text), at);
  let off = at + 12;
  const pLen = pos.length ? buf.write(pos, off) : 0;
  off += pLen;
  if (lines.length) {
    off += buf.write(text, off);
    buf[off++] = 10;
  }
  buf.writeUInt32BE(pLen, at + 8);
  buf.writeUInt32BE(off - at - 8, at);
  buf.writeUInt32BE(crc32(buf.subarray(at + 8, off)) >>> 0, at + 4);
  return buf.subarray(at, off);
}

/**
 * The lines of consecutive WAL chunks (`buf[from, to)`, as encodeWalChunk wrote them), moved together in
 * place at `from`: returns the view of the NDJSON. The chunks' structure is gone afterwards.
 */
export function compactWalChunks(buf: Buffer, from: number, to: number): Buffer {
  let off = from;
  let dst = from;
  while (off < to) {
    const len = buf.readUInt32BE(off);
    const pLen = buf.readUInt32BE(off + 8);
    // Lines only ever move towards the start (copyWithin is a memmove).
    if (len > 4 + pLen) {
      buf.copyWithin(dst, off + 12 + pLen, off + 8 + len);
      dst += len - 4 - pLen;
    }
    off += 8 + len;
  }
  return buf.subarray(from, dst);
}

export interface DecodedWal {
  meta: WalMeta;
  /** NDJSON text of every valid chunk, in append order. */
  lines: string[];
  positions: SpoolPosition[];
  /** Bytes of the valid prefix; anything after it is a torn or corrupt tail. */
  validBytes: number;
  tail: 'clean' | 'torn' | 'corrupt';
}

function readMeta<T>(buf: Buffer, magic: Buffer, what: string): { meta: T; end: number } {
  if (buf.length < 9) throw new SpoolFormatError('SPOOL_TRUNCATED', `${what} shorter than its header`);
  if (!buf.subarray(0, 4).equals(magic)) throw new SpoolFormatError('SPOOL_BAD_MAGIC', `${what} magic is not ${magic.toString()}`);
  if (buf[4] !== SPOOL_FORMAT_VERSION) throw new SpoolFormatError('SPOOL_BAD_VERSION', `${what} version ${buf[4]} is not ${SPOOL_FORMAT_VERSION}`);
  const len = buf.readUInt32BE(5);
  const end = 9 + len;
  if (end > buf.length) throw new SpoolFormatError('SPOOL_TRUNCATED', `${what} meta runs past the end`);
  try {
    return { meta: JSON.parse(buf.subarray(9, end).toString('utf8')) as T, end };
  } catch {
    throw new SpoolFormatError('SPOOL_BAD_META', `${what} meta is not JSON`);
  }
}

/** Reads a WAL file's valid prefix. Throws only when the header itself is unusable (then quarantine it). */
export function decodeWal(buf: Buffer): DecodedWal {
  const { meta, end } = readMeta<WalMeta>(buf, WAL_MAGIC, 'wal');
  if (end + 4 > buf.length) throw new SpoolFormatError('SPOOL_TRUNCATED', 'wal header checksum missing');
  if (buf.readUInt32BE(end) !== crc32(buf.subarray(0, end))) throw new SpoolFormatError('SPOOL_CHECKSUM', 'wal header checksum mismatch');
  if (typeof meta?.batchId !== 'string' || !Number.isInteger(meta.window)) throw new SpoolFormatError('SPOOL_BAD_META', 'wal meta lacks batchId/window');
  const lines: string[] = [];
  const positions: SpoolPosition[] = [];
  let off = end + 4;
  let tail: DecodedWal['tail'] = 'clean';
  while (off < buf.length) {
    if (off + 8 > buf.length) {
      tail = 'torn';
      break;
    }
    const len = buf.readUInt32BE(off);
    const crc = buf.readUInt32BE(off + 4);
    if (off + 8 + len > buf.length) {
      tail = 'torn';
      break;
    }
    const payload = buf.subarray(off + 8, off + 8 + len);
    if (crc32(payload) !== crc || len < 4) {
      tail = 'corrupt';
      break;
    }
    const pLen = payload.readUInt32BE(0);
    if (4 + pLen > payload.length) {
      tail = 'corrupt';
      break;
    }
    if (pLen > 0) {
      try {
        positions.push(...(JSON.parse(payload.subarray(4, 4 + pLen).toString('utf8')) as SpoolPosition[]));
      } catch {
        tail = 'corrupt';
        break;
      }
    }
    lines.push(payload.subarray(4 + pLen).toString('utf8'));
    off += 8 + len;
  }
  return { meta, lines, positions, validBytes: off, tail };
}

export function encodeSegment(meta: SegmentMeta, value: Uint8Array): Buffer {
  const m = Buffer.from(JSON.stringify(meta));
  const body = Buffer.concat([SEG_MAGIC, Buffer.from([SPOOL_FORMAT_VERSION]), u32(m.length), m, u32(value.length), value]);
  return Buffer.concat([body, u32(crc32(body))]);
}

export interface DecodedSegment {
  meta: SegmentMeta;
  value: Buffer;
}

/** Reads a closed segment; any damage (a bit flip, a cut) throws, and the caller quarantines the file. */
export function decodeSegment(buf: Buffer): DecodedSegment {
  const { meta, end } = readMeta<SegmentMeta>(buf, SEG_MAGIC, 'segment');
  if (end + 4 > buf.length) throw new SpoolFormatError('SPOOL_TRUNCATED', 'segment value length missing');
  const vLen = buf.readUInt32BE(end);
  const vEnd = end + 4 + vLen;
  if (vEnd + 4 !== buf.length) throw new SpoolFormatError('SPOOL_TRUNCATED', `segment is ${buf.length} bytes, its lengths say ${vEnd + 4}`);
  if (buf.readUInt32BE(vEnd) !== crc32(buf.subarray(0, vEnd))) throw new SpoolFormatError('SPOOL_CHECKSUM', 'segment checksum mismatch');
  if (typeof meta?.batchId !== 'string' || typeof meta.key !== 'string' || !meta.headers || !Number.isInteger(meta.count)) {
    throw new SpoolFormatError('SPOOL_BAD_META', 'segment meta lacks batchId/key/headers/count');
  }
  return { meta: { ...meta, positions: Array.isArray(meta.positions) ? meta.positions : [] }, value: buf.subarray(end + 4, vEnd) };
}

/**
 * Beside each file in the spool's quarantine/ lies `<file>.json`, a QuarantineNote saying why it is there:
 * `checksum` (damaged on disk), or the next hop's refusal (`record_too_large` for one event too large to
 * split, `auth`, `unknown_topic`, `invalid_record`). A refused segment is intact and can be sent again.
 */
export const QUARANTINE_NOTE_SUFFIX = '.json';

export interface QuarantineNote {
  /** Short, a metric label: `checksum`, `record_too_large`, `denied`, `unknown_topic`, `invalid_record`. */
  reason: string;
  /** The error that put it there. */
  error?: string;
  batchId?: string;
  count?: number;
  /** The file's name before it was moved, and when (ISO 8601). */
  file?: string;
  at?: string;
}

/** File names: segments sort by their zero-padded sequence, i.e. in the order they were closed. */
export const segmentFileName = (seq: number) => `${String(seq).padStart(16, '0')}.seg`;
export const walFileName = (batchId: string) => `${batchId}.wal`;
export function segmentSeqOf(name: string): number | undefined {
  const m = /^(\d{16})\.seg$/.exec(name);
  return m ? Number(m[1]) : undefined;
}
