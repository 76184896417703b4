import { createReadStream } from 'node:fs';
import { type FileHandle, mkdtemp, open, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import type { ByteSpool, SpoolFactory } from '@backlog/core-codec';

/**
 * Scratch space of the archive read path (`SpoolFactory` of core-codec): bytes held in memory up to a
 * bound, spilled to a temp file (removed on dispose) above it.
 */

const MiB = 1024 * 1024;

class FileSpool implements ByteSpool {
  private bufs: Buffer[] = [];
  private held = 0;
  private file: FileHandle | undefined;
  private path: string | undefined;
  private dir: string | undefined;
  size = 0;

  constructor(
    private readonly limit: number,
    private readonly tmp: string,
  ) {}

  async write(b: Buffer): Promise<void> {
    this.size += b.length;
    if (!this.file && this.held + b.length <= this.limit) {
      this.bufs.push(b);
      this.held += b.length;
      return;
    }
    if (!this.file) {
      this.dir = await mkdtemp(join(this.tmp, 'backlog-part-'));
      this.path = join(this.dir, 'spool');
      this.file = await open(this.path, 'w');
      for (const c of this.bufs) await this.file.write(c);
      this.bufs = [];
      this.held = 0;
    }
    await this.file.write(b);
  }

  async seal(): Promise<void> {
    await this.file?.close();
  }

  chunks(): AsyncIterable<Buffer> {
    return this.path ? createReadStream(this.path, { highWaterMark: MiB }) : Readable.from(this.bufs);
  }

  inMemory(): Buffer | undefined {
    return this.path ? undefined : Buffer.concat(this.bufs, this.held);
  }

  async dispose(): Promise<void> {
    this.bufs = [];
    await this.file?.close().catch(() => undefined);
    if (this.dir) await rm(this.dir, { recursive: true, force: true });
  }
}

/** Spools in memory up to their bound, then in a temp file under `tmpDir` (default os.tmpdir()). */
export function tempSpools(tmpDir: string = tmpdir()): SpoolFactory {
  return (memoryBytes) => new FileSpool(memoryBytes, tmpDir);
}
