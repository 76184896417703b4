import { ByteQueue, type ByteQueueStats } from '@backlog/core-parse';

/**
 * A byte-level, bounded newline splitter for line-oriented inputs (NDJSON over TCP, stdin, files).
 * It works on bytes, not strings, so that offsets are exact file positions and a multi-byte UTF-8
 * character split across reads is never mangled.
 *
 * Memory is bounded by `maxLineBytes`: a longer line keeps its first `maxLineBytes` bytes, the rest is
 * skipped up to the next LF, and the line is reported `truncated` with its real length (DESIGN.md:
 * "Oversized lines are truncated at a configured limit and flagged, never crash anything").
 *
 * The start of an unterminated line waits in one growable buffer (ByteQueue), so a line that arrives one
 * byte per read costs linear copying and a handful of allocations, not one Buffer per read (issue 17 §6).
 * Each line handed to `onLine` is its own copy: the caller may keep it.
 */
export interface LineInfo {
  /** The line exceeded maxLineBytes; `line` holds its first maxLineBytes bytes. */
  truncated: boolean;
  /** Length of the whole line in bytes, without its terminator. */
  originalBytes: number;
  /** Stream offset just after this line's LF (or its end, on flush): where reading resumes after a restart. */
  endOffset: number;
}

export type OnLine = (line: Buffer, info: LineInfo) => void;

export class LineSplitter {
  /** The kept bytes of the current unterminated line (≤ maxLineBytes). */
  private readonly held: ByteQueue;
  /** Bytes of the current line seen so far, including skipped ones. */
  private lineBytes = 0;
  private offset: number;

  constructor(
    private readonly maxLineBytes: number,
    startOffset = 0,
  ) {
    this.offset = startOffset;
    this.held = new ByteQueue(maxLineBytes);
  }

  /** Bytes of the current unterminated line held in memory (≤ maxLineBytes). */
  get buffered(): number {
    return this.held.length;
  }
  /** Stream offset of the first byte not yet returned as part of a complete line. */
  get committedOffset(): number {
    return this.offset;
  }
  /** Whether a partial line is pending. */
  get pending(): boolean {
    return this.lineBytes > 0;
  }
  /** The buffer of the unterminated line: size, capacity, bytes copied and allocations so far. */
  stats(): ByteQueueStats {
    return this.held.stats();
  }

  push(chunk: Buffer, onLine: OnLine): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      if (nl === -1) return this.keep(chunk, pos, chunk.length);
      if (this.lineBytes === 0) this.emitWhole(chunk, pos, nl, onLine);
      else {
        this.keep(chunk, pos, nl);
        this.emit(onLine, 1);
      }
      pos = nl + 1;
    }
  }

  /** Emits a pending unterminated line (end of stream). */
  flush(onLine: OnLine): void {
    if (this.lineBytes > 0) this.emit(onLine, 0);
  }

  private keep(chunk: Buffer, from: number, to: number): void {
    const n = to - from;
    if (n <= 0) return;
    const room = this.maxLineBytes - this.held.length;
    if (room > 0) this.held.append(chunk, from, from + Math.min(room, n));
    this.lineBytes += n;
  }

  /** A line that lies whole in one read (the common case): copied out once, the buffer untouched. */
  private emitWhole(chunk: Buffer, from: number, nl: number, onLine: OnLine): void {
    const originalBytes = nl - from;
    this.offset += originalBytes + 1;
    const truncated = originalBytes > this.maxLineBytes;
    let end = truncated ? from + this.maxLineBytes : nl;
    // CRLF senders: the CR belongs to the terminator, not the message.
    if (!truncated && end > from && chunk[end - 1] === 13) end--;
    // Copy: a subarray would pin the whole (possibly 64 KiB) read buffer for as long as the caller keeps the line.
    onLine(Buffer.from(chunk.subarray(from, end)), { truncated, originalBytes, endOffset: this.offset });
  }

  private emit(onLine: OnLine, terminator: number): void {
    const held = this.held.view();
    const originalBytes = this.lineBytes;
    const truncated = originalBytes > this.maxLineBytes;
    // CRLF senders: the CR belongs to the terminator, not the message.
    const end = !truncated && held.length > 0 && held[held.length - 1] === 13 ? held.length - 1 : held.length;
    const line = Buffer.from(held.subarray(0, end));
    this.offset += this.lineBytes + terminator;
    this.held.clear();
    this.lineBytes = 0;
    onLine(line, { truncated, originalBytes, endOffset: this.offset });
  }
}

/** A line of only spaces, tabs and CRs: a keep-alive some shippers send, not a record. */
export function isBlank(line: Uint8Array): boolean {
  for (const b of line) if (b !== 32 && b !== 9 && b !== 13) return false;
  return true;
}
