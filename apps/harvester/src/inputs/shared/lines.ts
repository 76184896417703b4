/**
 * A byte-level, bounded newline splitter for line-oriented inputs (NDJSON over TCP, stdin, files).
 * It works on bytes, not strings, so that offsets are exact file positions and a multi-byte UTF-8
 * character split across reads is never mangled.
 *
 * Memory is bounded by `maxLineBytes`: a longer line keeps its first `maxLineBytes` bytes, the rest is
 * skipped up to the next LF, and the line is reported `truncated` with its real length (DESIGN.md:
 * "Oversized lines are truncated at a configured limit and flagged, never crash anything").
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
  private parts: Buffer[] = [];
  private partBytes = 0;
  /** Bytes of the current line seen so far, including skipped ones. */
  private lineBytes = 0;
  private offset: number;

  constructor(
    private readonly maxLineBytes: number,
    startOffset = 0,
  ) {
    this.offset = startOffset;
  }

  /** Bytes of the current unterminated line held in memory (≤ maxLineBytes). */
  get buffered(): number {
    return this.partBytes;
  }
  /** Stream offset of the first byte not yet returned as part of a complete line. */
  get committedOffset(): number {
    return this.offset;
  }
  /** Whether a partial line is pending. */
  get pending(): boolean {
    return this.lineBytes > 0;
  }

  push(chunk: Buffer, onLine: OnLine): void {
    let pos = 0;
    while (pos < chunk.length) {
      const nl = chunk.indexOf(10, pos);
      const end = nl === -1 ? chunk.length : nl;
      this.keep(chunk, pos, end);
      if (nl === -1) return;
      this.emit(onLine, 1);
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
    const room = this.maxLineBytes - this.partBytes;
    if (room > 0) {
      const take = Math.min(room, n);
      // Copy: a subarray would pin the whole (possibly 64 KiB) read buffer in memory.
      this.parts.push(Buffer.from(chunk.subarray(from, from + take)));
      this.partBytes += take;
    }
    this.lineBytes += n;
  }

  private emit(onLine: OnLine, terminator: number): void {
    let line = this.parts.length === 1 ? (this.parts[0] as Buffer) : Buffer.concat(this.parts, this.partBytes);
    const originalBytes = this.lineBytes;
    this.offset += this.lineBytes + terminator;
    this.parts = [];
    this.partBytes = 0;
    this.lineBytes = 0;
    const truncated = originalBytes > this.maxLineBytes;
    // CRLF senders: the CR belongs to the terminator, not the message.
    if (!truncated && line.length > 0 && line[line.length - 1] === 13) line = line.subarray(0, line.length - 1);
    onLine(line, { truncated, originalBytes, endOffset: this.offset });
  }
}

/** A line of only spaces, tabs and CRs: a keep-alive some shippers send, not a record. */
export function isBlank(line: Uint8Array): boolean {
  for (const b of line) if (b !== 32 && b !== 9 && b !== 13) return false;
  return true;
}
