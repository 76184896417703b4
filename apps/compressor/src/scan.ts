import { isUtf8 } from 'node:buffer';
import { gunzipSync } from 'node:zlib';
import { CodecError, type PartLine, comparePartLines, facetsOf, partLineOf } from '@backlog/core-codec';
import type { LineIn } from './assembler';
/**
 * h-<env> batch → part lines, without building a JS object per event.
 *
 * A part holds each event as `JSON.stringify(JSON.parse(line))` (docs/specs/archive.md). Parsing and
 * re-serializing every event costs more CPU than the whole rest of the pipeline, and the harvester
 * already writes exactly that form. So each line is checked by a byte scanner that accepts only text
 * `JSON.stringify` would reproduce byte for byte, and reads the sort key and manifest facets on the
 * way; the line's bytes then go into the part as they are (a view into the gunzipped batch: no UTF-8
 * decode, no re-encode). Anything the scanner does not prove canonical — whitespace, `\/` or `\u0041`
 * escapes, duplicate keys, integer-like keys (V8 moves them first), non-canonical numbers, invalid
 * UTF-8, a missing or odd @timestamp — takes the exact old path (JSON.parse, JSON.stringify,
 * partLineOf), so the part bytes are the same either way; only the cost differs.
 */

export interface BatchLines {
  /** The lines the scanner proved canonical, as columns over the batch buffer: no object per line. */
  cols: ColumnRun | undefined;
  /** The lines that took the JSON.parse path (rare), as objects. */
  slowLines: LineIn[];
  /** Every archivable line, in batch order, as objects: made on first read (specs, rare paths). */
  readonly lines: LineIn[];
  /** Archivable lines: cols.n + slowLines.length. */
  readonly count: number;
  /** Lines that are not archivable events, with their 1-based line number and the reason. */
  bad: { line: number; reason: string; raw: string }[];
  rawBytes: number;
  /** Lines that needed the JSON.parse path (for the metric / benchmark). */
  slow: number;
  /** Lines proved canonical by a known layout rather than the full scan (for tests and the benchmark). */
  layout: number;
}

class ScannedBatch implements BatchLines {
  cols: ColumnRun | undefined = undefined;
  slowLines: LineIn[] = [];
  /** Line number of each slow line (batch order for `lines`). */
  slowNos: number[] = [];
  bad: { line: number; reason: string; raw: string }[] = [];
  slow = 0;
  layout = 0;
  private all: LineIn[] | undefined;
  constructor(readonly rawBytes: number) {}

  get count(): number {
    return (this.cols?.n ?? 0) + this.slowLines.length;
  }

  get lines(): LineIn[] {
    if (this.all) return this.all;
    const fast = this.cols ? this.cols.objects() : [];
    const out: LineIn[] = [];
    let i = 0;
    let k = 0;
    while (i < fast.length || k < this.slowLines.length) {
      if (k >= this.slowLines.length || (i < fast.length && (this.cols as ColumnRun).lineNo(i) < (this.slowNos[k] as number))) out.push(fast[i++] as LineIn);
      else out.push(this.slowLines[k++] as LineIn);
    }
    return (this.all = out);
  }
}

/** Gunzips one record value with a cap on the output (a gzip bomb is a `too_large` dead letter). */
export function gunzipBatch(value: Uint8Array, maxDecompressedBytes: number): Buffer {
  if (value.length < 2 || value[0] !== 0x1f || value[1] !== 0x8b) throw new CodecError('BATCH_NOT_GZIP', 'record value is not gzip (missing 1f 8b magic)');
  // Output in one piece when the gzip trailer's ISIZE is right (the usual case): no 16 KiB pieces
  // glued together by a copy. A wrong ISIZE only costs that copy; the cap still holds.
  const isize = value.length >= 18 ? Buffer.from(value.buffer, value.byteOffset, value.byteLength).readUInt32LE(value.length - 4) : 0;
  const chunkSize = Math.max(64, Math.min(isize + 1, maxDecompressedBytes + 1, value.length * 64 + 65_536));
  try {
    return gunzipSync(value, { maxOutputLength: maxDecompressedBytes, chunkSize });
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    if (e.code === 'ERR_BUFFER_TOO_LARGE' || e instanceof RangeError) throw new CodecError('BATCH_TOO_LARGE', `decompressed batch exceeds ${maxDecompressedBytes} bytes`);
    throw new CodecError('BATCH_CORRUPT', `gunzip failed: ${e.message}`);
  }
}

/**
 * A line the scanner proved canonical: the batch buffer and the line's byte range in it. No view
 * object is made per line (`line` makes one when asked: ties, spilling); the sealer copies the bytes
 * straight from the batch (`copyTo`). Its event.id is decoded only when asked for — the order needs
 * it on @timestamp ties only.
 */
export class ScannedLine implements LineIn {
  private idText: string | undefined = undefined;
  constructor(
    readonly ts: number,
    private readonly raw: Buffer,
    private readonly start: number,
    private readonly end: number,
    private readonly idStart: number,
    private readonly idEnd: number,
    readonly host: string | undefined,
    readonly service: string | undefined,
    readonly level: string | undefined,
  ) {}

  /** The line's bytes (a view into the batch, made on each call). */
  get line(): Buffer {
    return this.raw.subarray(this.start, this.end);
  }

  /** UTF-8 bytes of the line. */
  get size(): number {
    return this.end - this.start;
  }

  /** Copies the line's bytes to out[at…]; returns the position after them. */
  copyTo(out: Buffer, at: number): number {
    return at + this.raw.copy(out, at, this.start, this.end);
  }

  get id(): string {
    if (this.idText === undefined) this.idText = this.idStart < 0 ? '' : this.raw.toString('utf8', this.idStart, this.idEnd);
    return this.idText;
  }

  /** UTF-8 bytes of the id (memory accounting, without decoding it). */
  get idBytes(): number {
    return this.idStart < 0 ? 0 : this.idEnd - this.idStart;
  }
}

/** Int32 slots per line in ColumnRun.pos: line start, end, id start, id end, host, service, level, line number. */
const SLOTS = 8;

/**
 * The canonical lines of one batch as columns: @timestamp in a Float64Array; line range, event.id
 * range, facet numbers and line number in an Int32Array (SLOTS per line); the distinct facet strings
 * once per batch. A batch of 2,000 events is three allocations, not 2,000 objects that the young
 * generation copies and promotes while the window fills (docs/adr/0005, "Revision 4"). Objects are
 * made only for the rare paths: @timestamp ties, spilling, a batch across windows.
 */
export class ColumnRun implements Iterable<PartLine> {
  constructor(
    readonly raw: Buffer,
    readonly n: number,
    readonly ts: Float64Array,
    readonly pos: Int32Array,
    readonly hosts: readonly string[],
    readonly services: readonly string[],
    readonly levels: readonly string[],
    /** NDJSON bytes of the lines, each with its newline. */
    readonly rawBytes: number,
    readonly minTs: number,
    readonly maxTs: number,
  ) {}

  /** Bytes held in memory (for the assembler's cap): the batch buffer and the columns. */
  get memBytes(): number {
    return this.raw.length + this.n * (8 + 4 * SLOTS) + 256;
  }

  start(i: number): number {
    return this.pos[i * SLOTS] as number;
  }

  end(i: number): number {
    return this.pos[i * SLOTS + 1] as number;
  }

  lineNo(i: number): number {
    return this.pos[i * SLOTS + 7] as number;
  }

  /** Line i as an object, facets included. */
  line(i: number): ScannedLine {
    const p = this.pos;
    const o = i * SLOTS;
    const h = p[o + 4] as number;
    const sv = p[o + 5] as number;
    const lv = p[o + 6] as number;
    return new ScannedLine(
      this.ts[i] as number,
      this.raw,
      p[o] as number,
      p[o + 1] as number,
      p[o + 2] as number,
      p[o + 3] as number,
      h ? this.hosts[h - 1] : undefined,
      sv ? this.services[sv - 1] : undefined,
      lv ? this.levels[lv - 1] : undefined,
    );
  }

  /** Every line as an object, in batch order. */
  objects(): ScannedLine[] {
    const out = new Array<ScannedLine>(this.n);
    for (let i = 0; i < this.n; i++) out[i] = this.line(i);
    return out;
  }

  /** Every line as an object, in part order (comparePartLines). */
  sorted(): ScannedLine[] {
    return this.objects().sort(comparePartLines);
  }

  /** The lines in part order (a run for mergeRuns). */
  [Symbol.iterator](): Iterator<PartLine> {
    return this.sorted()[Symbol.iterator]();
  }
}

/** Distinct facet values of the batch being scanned, and the byte range that gave the previous line's. */
class FacetColumn {
  values: string[] = [];
  /** The first FEW values' bytes, compared before anything is hashed (a batch has a handful of values). */
  private bytes: Buffer[] = [];
  private index = new Map<string, number>();
  private lastS = -1;
  private lastE = -1;
  private lastNo = 0;
  constructor(private readonly interner: Interner) {}

  reset(): void {
    this.values = [];
    this.bytes = [];
    this.index = new Map();
    this.lastS = -1;
    this.lastE = -1;
    this.lastNo = 0;
  }

  /** The facet's number in `values` (+1; 0 when absent or ''): the previous line's, one of the batch's first few by bytes, or interned. */
  of(b: Buffer, s: number, e: number): number {
    if (s < 0 || e === s) return 0;
    const n = e - s;
    const ls = this.lastS;
    if (ls >= 0 && this.lastE - ls === n) {
      let i = 0;
      while (i < n && b[s + i] === b[ls + i]) i++;
      if (i === n) return this.lastNo;
    }
    let no = 0;
    const known = this.bytes;
    for (let k = 0; k < known.length; k++) {
      const c = known[k] as Buffer;
      if (c.length !== n) continue;
      let i = 0;
      while (i < n && c[i] === b[s + i]) i++;
      if (i === n) {
        no = k + 1;
        break;
      }
    }
    if (no === 0) {
      const v = this.interner.of(b, s, e) as string;
      no = this.index.get(v) ?? 0;
      if (no === 0) {
        no = this.values.push(v);
        this.index.set(v, no);
        if (known.length < FEW) known.push(Buffer.from(b.subarray(s, e)));
      }
    }
    this.lastS = s;
    this.lastE = e;
    this.lastNo = no;
    return no;
  }
}
const FEW = 32;

/**
 * True when b holds a byte below 0x20 other than a newline. Such a byte never occurs in
 * JSON.stringify output (it escapes them), so a batch without any lets a string's end be found by
 * searching for the next quote (see `string`). Four bytes at a time: a 32-bit word holds a byte
 * below 0x20 exactly when (x - 0x20202020) & ~x & 0x80808080 is non-zero; only the words that do
 * (those holding a newline) are looked at byte by byte.
 */
export function hasControl(b: Uint8Array): boolean {
  const n = b.length;
  let i = 0;
  const head = Math.min(n, (4 - (b.byteOffset & 3)) & 3);
  for (; i < head; i++) if ((b[i] as number) < 0x20 && b[i] !== 0x0a) return true;
  const words = (n - i) >> 2;
  if (words > 0) {
    const w = new Int32Array(b.buffer, b.byteOffset + i, words);
    for (let k = 0; k < words; k++) {
      const x = w[k] as number;
      if (((x - 0x20202020) & ~x & 0x80808080) !== 0) {
        const at = i + 4 * k;
        for (let j = at; j < at + 4; j++) if ((b[j] as number) < 0x20 && b[j] !== 0x0a) return true;
      }
    }
    i += 4 * words;
  }
  for (; i < n; i++) if ((b[i] as number) < 0x20 && b[i] !== 0x0a) return true;
  return false;
}

/** The old path, byte for byte: JSON.parse, JSON.stringify, partLineOf. */
function slowLine(text: string, lineNo: number, out: ScannedBatch): void {
  if (text.trim() === '') return;
  out.slow++;
  let v: unknown;
  try {
    v = JSON.parse(text);
  } catch (err) {
    out.bad.push({ line: lineNo, reason: `invalid JSON: ${(err as Error).message}`, raw: text });
    return;
  }
  if (v === null || typeof v !== 'object' || Array.isArray(v)) {
    out.bad.push({ line: lineNo, reason: 'not a JSON object', raw: text });
    return;
  }
  const ev = v as Record<string, unknown>;
  const canon = JSON.stringify(ev);
  const pl = partLineOf(ev, canon);
  if (!pl) {
    out.bad.push({ line: lineNo, reason: 'no parseable @timestamp', raw: canon });
    return;
  }
  const f = facetsOf(ev);
  out.slowLines.push({ ts: pl.ts, id: pl.id, line: Buffer.from(canon), host: f.host, service: f.service, level: f.level });
}

/**
 * Facet strings (host.name, service.name, log.level) decoded once per distinct byte sequence and then
 * shared: no string per line, and the same string object each time, so the manifest's Sets and the
 * assembler's "same as the previous line" check cost a pointer comparison. Bounded: it starts over
 * once it holds `max` values (a stream of distinct hosts costs a decode per line, as before).
 */
class Interner {
  private readonly map = new Map<number, { bytes: Buffer; value: string }[]>();
  private size = 0;
  constructor(private readonly max: number) {}

  of(b: Buffer, s: number, e: number): string | undefined {
    if (s < 0 || e === s) return undefined; // absent, or '' (facetsOf ignores empty strings)
    const n = e - s;
    let h = n;
    for (let i = s; i < e; i++) h = (Math.imul(h, 31) + (b[i] as number)) | 0;
    let list = this.map.get(h);
    if (list) {
      for (const c of list) {
        const cb = c.bytes;
        if (cb.length !== n) continue;
        let i = 0;
        while (i < n && cb[i] === b[s + i]) i++;
        if (i === n) return c.value;
      }
    } else {
      if (this.size >= this.max) {
        this.map.clear();
        this.size = 0;
      }
      this.map.set(h, (list = []));
    }
    const value = b.toString('utf8', s, e);
    list.push({ bytes: Buffer.from(b.subarray(s, e)), value });
    this.size++;
    return value;
  }
}

// What a value at depth 1 or 2 is captured as.
const CAP_NONE = 0;
const CAP_TS = 1;
const CAP_EVENT = 2;
const CAP_HOST = 3;
const CAP_SERVICE = 4;
const CAP_LOG = 5;
const CAP_ID = 6;
const CAP_NAME_HOST = 7;
const CAP_NAME_SERVICE = 8;
const CAP_LEVEL = 9;

const MAX_DEPTH = 64;
const MAX_KEYS = 1024;
/** `buf` as a DataView (literal runs are compared four bytes at a time). */
const NO_VIEW = new DataView(new ArrayBuffer(0));
const EMPTY = Buffer.alloc(0);
const NO_BS = 0x7fffffff;

const bytes = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));
const K_TIMESTAMP = bytes('@timestamp');
const K_EVENT = bytes('event');
const K_HOST = bytes('host');
const K_SERVICE = bytes('service');
const K_LOG = bytes('log');
const K_ID = bytes('id');
const K_NAME = bytes('name');
const K_LEVEL = bytes('level');

/** b[s, e) equals key (the caller checked the length). */
function is(b: Buffer, s: number, key: Uint8Array): boolean {
  for (let i = 0; i < key.length; i++) if (b[s + i] !== key[i]) return false;
  return true;
}

/**
 * Layouts: the shape of lines that passed the full scan — their structural bytes and keys as literal
 * runs, their values as holes. Lines of one source nearly always share a layout, so the next line is
 * checked against it: each literal run is compared byte for byte, and only the values are scanned.
 * A line that matches a layout has exactly the keys, in the same objects and order, of a line that
 * was proved canonical (no duplicate, integer-like or escaped keys), and its values pass the same
 * checks as in the full scan (string contents, numbers, nested arrays and objects), with the same
 * captures; so it is canonical too. A line that matches no layout takes the full scan.
 */
class Layout {
  /** Ops of three ints: [OP_LIT, start in `lit`, length] | [OP_VAL, depth of its object, capture]. */
  ops = new Int32Array(3 * 256);
  n = 0;
  lit = new Uint8Array(4096);
  /** `lit` read four bytes at a time. */
  litView = new DataView(this.lit.buffer);
  litLen = 0;
  valid = false;
}

const OP_LIT = 0;
const OP_VAL = 1;
/** Two ASCII digits at b[i], b[i+1] as a number; -1 when either is not a digit. */
function two(b: Buffer, i: number): number {
  const x = (b[i] as number) - 0x30;
  const y = (b[i + 1] as number) - 0x30;
  return x >= 0 && x <= 9 && y >= 0 && y <= 9 ? x * 10 + y : -1;
}

/**
 * The scanner of one compressor: its scratch columns, facet interners, learned layouts and the state of
 * the line being scanned live here, not in the module, so two scanners (two compressors in one process,
 * a test beside a benchmark) never share them. Not re-entrant: one batch at a time per instance.
 * Fields rather than locals keep the hot loop free of allocations.
 */
export class BatchScanner {
  /** Column scratch, grown as needed and copied out per batch. */
  private colTs = new Float64Array(4096);
  private colPos = new Int32Array(4096 * SLOTS);
  private readonly hosts = new Interner(4096);
  private readonly services = new Interner(4096);
  private readonly levels = new Interner(256);
  private readonly fh = new FacetColumn(this.hosts);
  private readonly fs = new FacetColumn(this.services);
  private readonly fl = new FacetColumn(this.levels);

  /** What scanLine found: byte ranges of the captured string values (inside the quotes), -1 when absent. */
  private readonly S = { tsStart: -1, tsEnd: -1, idStart: -1, idEnd: -1, hostStart: -1, hostEnd: -1, serviceStart: -1, serviceEnd: -1, levelStart: -1, levelEnd: -1 };

  /** Key ranges of the objects being scanned (duplicate-key check): start, end pairs. */
  private readonly keyStack = new Int32Array(2 * MAX_KEYS);
  private keyTop = 0;
  private depth = 0;
  private pos = 0;
  private end = 0;

  /** Whether the string scanned last held an escape sequence. */
  private escaped = false;
  private buf: Buffer = EMPTY;
  private view: DataView<ArrayBufferLike> = NO_VIEW;

  /** The batch being scanned as a latin1 string (text[i] is the byte buf[i]). */
  private text = '';

  /** The batch is valid UTF-8 and holds no control byte but newlines: a string ends at the next quote unless a backslash comes first. */
  private plain = false;

  /** The first backslash at or after bsFrom (NO_BS: none); recomputed when a string starts outside [bsFrom, bsNext]. */
  private bsFrom = 0;
  private bsNext = -1;
  private readonly layouts = [new Layout(), new Layout(), new Layout(), new Layout()];

  /** The layout that matched last (tried first), the slot the next learned layout goes to. */
  private lastLayout = 0;
  private nextSlot = 0;

  /** Lines in a row that matched no layout; after 16, layouts are not tried for the next 256 lines. */
  private missStreak = 0;
  private pause = 0;
  private readonly dayCache = new Map<number, number>();

  /** Gunzips and splits one h-<env> batch into part lines (see the file comment). Throws CodecError for the record as a whole. */
  batchLines(value: Uint8Array, maxDecompressedBytes: number): BatchLines {
    return this.rawBatchLines(gunzipBatch(value, maxDecompressedBytes));
  }

  /** The NDJSON of a batch (already gunzipped) as part lines. */
  rawBatchLines(raw: Buffer): BatchLines {
    const out = new ScannedBatch(raw.length);
    // Invalid UTF-8 is replaced by U+FFFD when decoded: such a batch is not byte-canonical; take the slow path.
    const fast = isUtf8(raw);
    // The batch as a latin1 string (one char per byte, a memcpy): String#indexOf finds quotes,
    // backslashes and newlines in native code instead of a JS loop over every byte.
    this.text = raw.toString('latin1');
    this.view = new DataView(raw.buffer, raw.byteOffset, raw.byteLength);
    this.plain = fast && !hasControl(raw);
    this.bsFrom = 0;
    this.bsNext = -1;
    try {
      return this.scanBatch(raw, out, fast);
    } finally {
      this.text = '';
      this.view = NO_VIEW;
      this.plain = false;
    }
  }

  private scanBatch(raw: Buffer, out: ScannedBatch, fast: boolean): BatchLines {
    let start = 0;
    let lineNo = 0;
    const t = this.text;
    let n = 0;
    let bytes = 0;
    let minTs = Infinity;
    let maxTs = -Infinity;
    this.fh.reset();
    this.fs.reset();
    this.fl.reset();
    while (start < raw.length) {
      let end = t.indexOf('\n', start);
      if (end === -1) end = raw.length;
      lineNo++;
      let ok = false;
      if (fast) {
        if (this.matchAny(raw, start, end)) {
          ok = true;
          out.layout++;
        } else if (this.scanLine(raw, start, end)) {
          ok = true;
          this.learn(raw, start, end);
        }
      }
      if (ok) {
        const ts = this.tsOf(raw, this.S.tsStart, this.S.tsEnd);
        if (ts !== undefined) {
          if (n === this.colTs.length) {
            const t2 = new Float64Array(n * 2);
            t2.set(this.colTs);
            this.colTs = t2;
            const p2 = new Int32Array(n * 2 * SLOTS);
            p2.set(this.colPos);
            this.colPos = p2;
          }
          const p = this.colPos;
          const o = n * SLOTS;
          this.colTs[n] = ts;
          p[o] = start;
          p[o + 1] = end;
          p[o + 2] = this.S.idStart;
          p[o + 3] = this.S.idEnd;
          p[o + 4] = this.fh.of(raw, this.S.hostStart, this.S.hostEnd);
          p[o + 5] = this.fs.of(raw, this.S.serviceStart, this.S.serviceEnd);
          p[o + 6] = this.fl.of(raw, this.S.levelStart, this.S.levelEnd);
          p[o + 7] = lineNo;
          n++;
          bytes += end - start + 1;
          if (ts < minTs) minTs = ts;
          if (ts > maxTs) maxTs = ts;
          start = end + 1;
          continue;
        }
      }
      const before = out.slowLines.length;
      slowLine(raw.toString('utf8', start, end), lineNo, out);
      if (out.slowLines.length > before) out.slowNos.push(lineNo);
      start = end + 1;
    }
    if (n > 0) out.cols = new ColumnRun(raw, n, this.colTs.slice(0, n), this.colPos.slice(0, n * SLOTS), this.fh.values, this.fs.values, this.fl.values, bytes, minTs, maxTs);
    return out;
  }

  /** What the value of key b[ks, ks + klen) is captured as, in an object at `depth` captured as `cap`. */
  private keyCap(b: Buffer, ks: number, klen: number, cap: number): number {
    if (this.depth === 1) {
      if (klen === 10 && is(b, ks, K_TIMESTAMP)) return CAP_TS;
      if (klen === 5 && is(b, ks, K_EVENT)) return CAP_EVENT;
      if (klen === 4 && is(b, ks, K_HOST)) return CAP_HOST;
      if (klen === 7 && is(b, ks, K_SERVICE)) return CAP_SERVICE;
      if (klen === 3 && is(b, ks, K_LOG)) return CAP_LOG;
    } else if (this.depth === 2 && cap !== CAP_NONE) {
      if (cap === CAP_EVENT && klen === 2 && is(b, ks, K_ID)) return CAP_ID;
      if ((cap === CAP_HOST || cap === CAP_SERVICE) && klen === 4 && is(b, ks, K_NAME)) return cap === CAP_HOST ? CAP_NAME_HOST : CAP_NAME_SERVICE;
      if (cap === CAP_LOG && klen === 5 && is(b, ks, K_LEVEL)) return CAP_LEVEL;
    }
    return CAP_NONE;
  }

  /** True when b[s, e) matches a known layout (and is therefore canonical); sets S. */
  private matchAny(b: Buffer, s: number, e: number): boolean {
    if (this.pause > 0) {
      this.pause--;
      return false;
    }
    for (let k = 0; k < this.layouts.length; k++) {
      const i = (this.lastLayout + k) % this.layouts.length;
      if ((this.layouts[i] as Layout).valid && this.matchLayout(this.layouts[i] as Layout, b, s, e)) {
        this.lastLayout = i;
        this.missStreak = 0;
        return true;
      }
    }
    if (++this.missStreak >= 16) {
      this.missStreak = 0;
      this.pause = 256;
    }
    return false;
  }

  private matchLayout(t: Layout, b: Buffer, s: number, e: number): boolean {
    this.S.tsStart = this.S.idStart = this.S.hostStart = this.S.serviceStart = this.S.levelStart = -1;
    this.S.tsEnd = this.S.idEnd = this.S.hostEnd = this.S.serviceEnd = this.S.levelEnd = -1;
    this.buf = b;
    this.pos = s;
    this.end = e;
    this.keyTop = 0;
    const ops = t.ops;
    const lit = t.lit;
    const lv = t.litView;
    const bv = this.view;
    for (let i = 0; i < t.n; i += 3) {
      const op = ops[i] as number;
      if (op === OP_LIT) {
        const ls = ops[i + 1] as number;
        const n = ops[i + 2] as number;
        if (this.pos + n > e) return false;
        // Four bytes at a time (a DataView read compiles to one unaligned load), then the tail.
        let k = 0;
        for (; k + 4 <= n; k += 4) if (bv.getInt32(this.pos + k) !== lv.getInt32(ls + k)) return false;
        for (; k < n; k++) if (b[this.pos + k] !== lit[ls + k]) return false;
        this.pos += n;
      } else {
        this.depth = ops[i + 1] as number;
        if (this.pos >= e || !this.value(ops[i + 2] as number)) return false;
      }
    }
    return this.pos === e;
  }

  /** Records the layout of b[s, e), a line the full scan just accepted (S is left as it is). */
  private learn(b: Buffer, s: number, e: number): void {
    const t = this.layouts[this.nextSlot] as Layout;
    this.nextSlot = (this.nextSlot + 1) % this.layouts.length;
    t.valid = false;
    t.n = 0;
    t.litLen = 0;
    this.buf = b;
    this.pos = s;
    this.end = e;
    this.depth = 0;
    this.keyTop = 0;
    const saved = { ...this.S };
    const ok = this.learnObject(t, CAP_NONE) && this.pos === e;
    Object.assign(this.S, saved);
    t.valid = ok;
    if (ok) this.lastLayout = (this.nextSlot + this.layouts.length - 1) % this.layouts.length;
  }

  private emitLit(t: Layout, from: number, to: number): boolean {
    const n = to - from;
    if (t.litLen + n > t.lit.length) return false;
    t.lit.set(this.buf.subarray(from, to), t.litLen);
    if (t.n >= 3 && t.ops[t.n - 3] === OP_LIT) t.ops[t.n - 1] = (t.ops[t.n - 1] as number) + n;
    else {
      if (t.n + 3 > t.ops.length) return false;
      t.ops[t.n] = OP_LIT;
      t.ops[t.n + 1] = t.litLen;
      t.ops[t.n + 2] = n;
      t.n += 3;
    }
    t.litLen += n;
    return true;
  }

  private emitHole(t: Layout, cap: number): boolean {
    if (t.n + 3 > t.ops.length) return false;
    t.ops[t.n] = OP_VAL;
    t.ops[t.n + 1] = this.depth;
    t.ops[t.n + 2] = cap;
    t.n += 3;
    return true;
  }

  /** Walks an object of an accepted line: `{`, keys, `:`, `,`, `}` become literals, values holes (objects are walked). */
  private learnObject(t: Layout, cap: number): boolean {
    this.depth++;
    const b = this.buf;
    if (!this.emitLit(t, this.pos, this.pos + 1)) return false;
    this.pos++;
    if (b[this.pos] === 0x7d) {
      this.pos++;
      this.depth--;
      return this.emitLit(t, this.pos - 1, this.pos);
    }
    for (;;) {
      // Keys of an accepted line hold no escapes: the key ends at the next quote.
      const ks = this.pos + 1;
      const ke = this.text.indexOf('"', ks);
      if (ke < 0 || ke >= this.end || b[ke + 1] !== 0x3a) return false;
      if (!this.emitLit(t, this.pos, ke + 2)) return false;
      const vcap = this.keyCap(b, ks, ke - ks, cap);
      this.pos = ke + 2;
      const c = b[this.pos];
      if (c === 0x7b) {
        if (!this.learnObject(t, vcap === CAP_EVENT || vcap === CAP_HOST || vcap === CAP_SERVICE || vcap === CAP_LOG ? vcap : CAP_NONE)) return false;
      } else {
        if (!this.emitHole(t, vcap)) return false;
        if (!this.value(CAP_NONE)) return false;
      }
      const d = b[this.pos];
      if (d === 0x2c || d === 0x7d) {
        if (!this.emitLit(t, this.pos, this.pos + 1)) return false;
        this.pos++;
        if (d === 0x7d) {
          this.depth--;
          return true;
        }
      } else return false;
    }
  }

  /**
   * True when b[s, e) is a JSON object exactly as JSON.stringify writes it; sets S.
   * The scanner's fields keep the hot loop free of allocations.
   */
  scanLine(b: Buffer, s: number, e: number): boolean {
    this.S.tsStart = this.S.idStart = this.S.hostStart = this.S.serviceStart = this.S.levelStart = -1;
    this.S.tsEnd = this.S.idEnd = this.S.hostEnd = this.S.serviceEnd = this.S.levelEnd = -1;
    if (e - s < 2 || b[s] !== 0x7b) return false;
    this.buf = b;
    this.pos = s;
    this.end = e;
    this.depth = 0;
    this.keyTop = 0;
    return this.object(CAP_NONE) && this.pos === e;
  }

  /** Scans a string starting at its opening quote; returns false if not canonical. Leaves pos after the closing quote. */
  private string(): boolean {
    const b = this.buf;
    let p = this.pos + 1;
    const e = this.end;
    this.escaped = false;
    if (this.plain) {
      // No control bytes in the batch: the bytes up to the next quote are the string's, unless a
      // backslash comes first (then the loop below checks the escapes from there on).
      const q = this.text.indexOf('"', p);
      if (q < 0 || q >= e) return false;
      if (p < this.bsFrom || p > this.bsNext) {
        const x = this.text.indexOf('\\', p);
        this.bsFrom = p;
        this.bsNext = x < 0 ? NO_BS : x;
      }
      if (this.bsNext > q) {
        this.pos = q + 1;
        return true;
      }
      p = this.bsNext;
    }
    while (p < e) {
      const c = b[p] as number;
      if (c === 0x22) {
        this.pos = p + 1;
        return true;
      }
      if (c < 0x20) return false;
      if (c === 0x5c) {
        this.escaped = true;
        const x = b[p + 1];
        // JSON.stringify writes these short escapes, and \u00xx only for the other control characters.
        if (x === 0x22 || x === 0x5c || x === 0x62 || x === 0x66 || x === 0x6e || x === 0x72 || x === 0x74) p += 2;
        else if (x === 0x75 && b[p + 2] === 0x30 && b[p + 3] === 0x30 && (b[p + 4] === 0x30 || b[p + 4] === 0x31)) {
          const h = b[p + 5] as number;
          const v = (b[p + 4] === 0x31 ? 16 : 0) + (h >= 0x30 && h <= 0x39 ? h - 0x30 : h >= 0x61 && h <= 0x66 ? h - 0x57 : -100);
          if (v < 0 || v === 8 || v === 9 || v === 10 || v === 12 || v === 13) return false;
          p += 6;
        } else return false;
      } else p++;
    }
    return false;
  }

  private object(cap: number): boolean {
    if (++this.depth > MAX_DEPTH) return false;
    const b = this.buf;
    const keyBase = this.keyTop;
    this.pos++; // '{'
    if (b[this.pos] === 0x7d) {
      this.pos++;
      this.depth--;
      return true;
    }
    for (;;) {
      if (b[this.pos] !== 0x22) return false;
      const ks = this.pos + 1;
      if (!this.string()) return false;
      const ke = this.pos - 1;
      const klen = ke - ks;
      // Integer-like keys are enumerated first by V8 (order changes); escaped keys: leave to the slow path.
      if (this.escaped || (klen > 0 && (b[ks] as number) >= 0x30 && (b[ks] as number) <= 0x39)) return false;
      // Duplicate keys collapse in JSON.parse.
      for (let k = keyBase; k < this.keyTop; k += 2) {
        const s2 = this.keyStack[k] as number;
        if ((this.keyStack[k + 1] as number) - s2 !== klen) continue;
        let i = 0;
        while (i < klen && b[s2 + i] === b[ks + i]) i++;
        if (i === klen) return false;
      }
      if (this.keyTop >= this.keyStack.length) return false;
      this.keyStack[this.keyTop++] = ks;
      this.keyStack[this.keyTop++] = ke;
      if (b[this.pos] !== 0x3a) return false;
      this.pos++;
      if (!this.value(this.keyCap(b, ks, klen, cap))) return false;
      const c = b[this.pos];
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x7d) {
        this.pos++;
        this.keyTop = keyBase;
        this.depth--;
        return true;
      }
      return false;
    }
  }

  private array(): boolean {
    if (++this.depth > MAX_DEPTH) return false;
    const b = this.buf;
    this.pos++; // '['
    if (b[this.pos] === 0x5d) {
      this.pos++;
      this.depth--;
      return true;
    }
    for (;;) {
      if (!this.value(CAP_NONE)) return false;
      const c = b[this.pos];
      if (c === 0x2c) {
        this.pos++;
        continue;
      }
      if (c === 0x5d) {
        this.pos++;
        this.depth--;
        return true;
      }
      return false;
    }
  }

  private value(cap: number): boolean {
    const b = this.buf;
    const c = b[this.pos] as number;
    if (c === 0x22) {
      const vs = this.pos + 1;
      if (!this.string()) return false;
      if (cap >= CAP_ID || cap === CAP_TS) {
        const ve = this.pos - 1;
        // A captured value with an escape needs decoding: leave it to the slow path (rare).
        if (this.escaped) return false;
        if (cap === CAP_TS) {
          this.S.tsStart = vs;
          this.S.tsEnd = ve;
        } else if (cap === CAP_ID) {
          this.S.idStart = vs;
          this.S.idEnd = ve;
        } else if (cap === CAP_NAME_HOST) {
          this.S.hostStart = vs;
          this.S.hostEnd = ve;
        } else if (cap === CAP_NAME_SERVICE) {
          this.S.serviceStart = vs;
          this.S.serviceEnd = ve;
        } else if (cap === CAP_LEVEL) {
          this.S.levelStart = vs;
          this.S.levelEnd = ve;
        }
      }
      return true;
    }
    if (c === 0x7b) return this.object(cap === CAP_EVENT || cap === CAP_HOST || cap === CAP_SERVICE || cap === CAP_LOG ? cap : CAP_NONE);
    if (c === 0x5b) return this.array();
    if (c === 0x74) return this.literal(0x74, 0x72, 0x75, 0x65, 4); // true
    if (c === 0x66) return b[this.pos + 4] === 0x65 && this.literal(0x66, 0x61, 0x6c, 0x73, 5); // false
    if (c === 0x6e) return this.literal(0x6e, 0x75, 0x6c, 0x6c, 4); // null
    if (c === 0x2d || (c >= 0x30 && c <= 0x39)) return this.number();
    return false;
  }

  private literal(c0: number, c1: number, c2: number, c3: number, n: number): boolean {
    const b = this.buf;
    if (b[this.pos] !== c0 || b[this.pos + 1] !== c1 || b[this.pos + 2] !== c2 || b[this.pos + 3] !== c3 || this.pos + n > this.end) return false;
    this.pos += n;
    return true;
  }

  /** A number is canonical when it is what Number → String gives back (no `1.0`, `1e5`, `-0`, overflow). */
  private number(): boolean {
    const b = this.buf;
    const s = this.pos;
    let p = this.pos;
    for (;;) {
      const c = b[p] as number;
      if ((c >= 0x30 && c <= 0x39) || c === 0x2d || c === 0x2b || c === 0x2e || c === 0x65 || c === 0x45) p++;
      else break;
      if (p >= this.end) break;
    }
    const tok = this.text.length ? this.text.slice(s, p) : b.toString('latin1', s, p);
    // Plain short integers (the common case) are canonical unless they have a leading zero or are -0.
    const n = Number(tok);
    if (!Number.isFinite(n) || String(n) !== tok) return false;
    this.pos = p;
    return true;
  }

  /** @timestamp → epoch ms exactly as Date.parse, fast for `YYYY-MM-DDTHH:MM:SS(.sss)Z`; undefined when unparseable. */
  private tsOf(b: Buffer, s: number, e: number): number | undefined {
    if (s < 0) return undefined;
    const n = e - s;
    if ((n === 24 || n === 20) && b[s + 4] === 0x2d && b[s + 7] === 0x2d && b[s + 10] === 0x54 && b[s + 13] === 0x3a && b[s + 16] === 0x3a && b[e - 1] === 0x5a) {
      const y1 = two(b, s);
      const y2 = two(b, s + 2);
      const mo = two(b, s + 5);
      const dd = two(b, s + 8);
      const hh = two(b, s + 11);
      const mi = two(b, s + 14);
      const ss = two(b, s + 17);
      let ms = 0;
      if (n === 24) {
        const a = two(b, s + 20);
        const c = (b[s + 22] as number) - 0x30;
        ms = b[s + 19] === 0x2e && a >= 0 && c >= 0 && c <= 9 ? a * 10 + c : -1;
      }
      if (y1 >= 0 && y2 >= 0 && mo >= 0 && dd >= 0 && hh >= 0 && hh < 24 && mi >= 0 && mi < 60 && ss >= 0 && ss < 60 && ms >= 0) {
        const dayKey = ((y1 * 100 + y2) * 100 + mo) * 100 + dd;
        let day = this.dayCache.get(dayKey);
        if (day === undefined) {
          // The date part by Date.parse itself, so its rules (range, rollover) are exactly the same.
          day = Date.parse(`${b.toString('latin1', s, s + 10)}T00:00:00.000Z`);
          if (this.dayCache.size > 10_000) this.dayCache.clear();
          this.dayCache.set(dayKey, day);
        }
        if (Number.isFinite(day)) return day + hh * 3_600_000 + mi * 60_000 + ss * 1000 + ms;
      }
    }
    const t = Date.parse(b.toString('utf8', s, e));
    return Number.isFinite(t) ? t : undefined;
  }
}
