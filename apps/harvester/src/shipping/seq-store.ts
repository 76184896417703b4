import { closeSync, existsSync, fsyncSync, openSync, readFileSync, renameSync, writeSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The per-sender sequence number of sealed frames, strictly increasing over the harvester's life,
 * restarts and kill -9 included (the gateway's replay window relies on it).
 *
 * Numbers are reserved in blocks: the file holds a ceiling written (fsync + rename) before any number
 * below it is used, so a crash skips at most one block and never reuses a number. The start value is
 * also at least the wall clock in µs, so even a lost spool directory does not reuse old numbers
 * (2^53 µs is year 2255).
 */
export class SeqStore {
  private next: number;
  private ceiling: number;
  private readonly file: string;

  constructor(
    dir: string,
    private readonly block = 10_000,
    now = Date.now(),
  ) {
    this.file = join(dir, 'sealed-seq');
    let stored = 0;
    if (existsSync(this.file)) {
      const n = Number(readFileSync(this.file, 'utf8').trim());
      if (Number.isSafeInteger(n) && n > 0) stored = n;
    }
    this.next = Math.max(stored, now * 1000);
    this.ceiling = this.next;
  }

  take(): number {
    if (this.next >= this.ceiling) this.reserve(this.next + this.block);
    return this.next++;
  }

  private reserve(ceiling: number): void {
    const tmp = `${this.file}.tmp`;
    const fd = openSync(tmp, 'w');
    try {
      writeSync(fd, `${ceiling}\n`);
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
    this.ceiling = ceiling;
  }
}
