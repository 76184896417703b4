import { mkdir, open, readFile, rename, unlink } from 'node:fs/promises';
import { dirname } from 'node:path';

/**
 * A small JSON state file (file offsets, a journald cursor) written crash-safely: write a temp file,
 * fsync it, rename it over the old one, fsync the directory. rename(2) is atomic on POSIX file systems,
 * so a reader (or a restart after power loss) sees the old state or the new one, never half of each.
 */
export class StateFile<T> {
  private writing: Promise<void> = Promise.resolve();

  constructor(readonly path: string) {}

  /** The stored state, or undefined when there is none or it is unreadable (then we start fresh and say so). */
  async read(onCorrupt?: (err: unknown) => void): Promise<T | undefined> {
    let text: string;
    try {
      text = await readFile(this.path, 'utf8');
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
      onCorrupt?.(err);
      return undefined;
    }
    try {
      return JSON.parse(text) as T;
    } catch (err) {
      onCorrupt?.(err);
      return undefined;
    }
  }

  /** Writes serialized: concurrent calls queue up, the last one wins. */
  write(state: T): Promise<void> {
    const body = `${JSON.stringify(state)}\n`;
    this.writing = this.writing.catch(() => undefined).then(() => this.writeNow(body));
    return this.writing;
  }

  private async writeNow(body: string): Promise<void> {
    const dir = dirname(this.path);
    await mkdir(dir, { recursive: true });
    const tmp = `${this.path}.tmp-${process.pid}`;
    const fh = await open(tmp, 'w', 0o644);
    try {
      await fh.writeFile(body);
      await fh.sync();
    } finally {
      await fh.close();
    }
    try {
      await rename(tmp, this.path);
    } catch (err) {
      await unlink(tmp).catch(() => undefined);
      throw err;
    }
    // The rename itself is durable only once the directory entry is on disk.
    const d = await open(dir, 'r').catch(() => undefined);
    if (d)
      await d
        .sync()
        .catch(() => undefined)
        .finally(() => d.close());
  }
}
