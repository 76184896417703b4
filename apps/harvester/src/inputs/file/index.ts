import { createHash } from 'node:crypto';
import { type FSWatcher, type Stats, watch } from 'node:fs';
import { type FileHandle, open, readdir, stat } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';
import { idStreamTag, offsetEventId } from '@backlog/core-event';
import { Lifecycle, type Source, type SourcePosition, settleBy } from '@backlog/core-pipeline';
import type { FlagReason, HarvestEvent } from '../shared/event';
import { expandGlob, segmentRegExp } from '../shared/glob';
import { InputCore, type InputContext, type InputFactory } from '../shared/input';
import { LineSplitter } from '../shared/lines';
import { StateFile } from '../shared/state';
import { type FileConfig, fileConfigSchema } from './config';

/** Checkpoint file content. Offsets are *committed* ones: their lines were acknowledged downstream. */
export interface FileState {
  version: 1;
  files: Record<string, FileEntry>;
}

export interface FileEntry {
  path: string;
  offset: number;
  gen: number;
  updatedAt: string;
  /**
   * When this generation of the file was first tailed (epoch ms): the time part of its lines' ids, which
   * derive from (host, input, file identity, generation, idBase, line offset), so a line read again after a
   * crash carries the id it had (ADR 0008). Written to the checkpoint before the first line is read.
   */
  idBase?: number;
  /**
   * `<n>:<sha256 prefix>` of the file's first n (≤ 256) bytes: on restart, a file whose first bytes changed
   * was truncated and rewritten while we were down, so it is read from 0 as a new generation (its offsets,
   * and the ids made from them, no longer name the same lines).
   */
  head?: string;
}

/** One tailed file, identified by device + inode (a path changes on rotation, the inode does not). */
interface Tracked {
  key: string;
  path: string;
  fh: FileHandle;
  /** Next byte to read. */
  readOffset: number;
  /** Bumped when the file is truncated (copytruncate): older cursors no longer mean anything. */
  gen: number;
  /** Time part and stream tag of this generation's line ids (FileEntry.idBase). */
  idBase: number;
  idTag: number;
  /** Bytes the checkpointed `head` fingerprint covers (≤ HEAD_BYTES). */
  headLen: number;
  splitter: LineSplitter;
  /** The path no longer leads to this inode (renamed or deleted). */
  rotated: boolean;
  lastActivity: number;
}

const CHUNK = 64 * 1024;
const HEAD_BYTES = 256;

/**
 * Tails files matching globs, like `tail -F` with a memory of where it stopped:
 *
 * - **Rotation by rename** (logrotate's default `create`): the old inode is read to its end (writers may
 *   still append for a moment), then closed after `rotatedGraceMs` of silence; the new file at the path is
 *   read from its beginning.
 * - **copytruncate**: the file shrinks under us; we notice (size < offset), flag any cut partial line, and
 *   read again from 0 in a new generation. (Lines written between our last read and the truncation can only
 *   be in the copy: polling often keeps that window small; this is copytruncate's known race.)
 * - **Offsets are checkpointed only once acknowledged**: every write to the sink carries the position
 *   `{ source: 'file:<name>:<dev>:<ino>', cursor: '<gen>:<offset>' }` that its last line reached, and
 *   `commit()` (called by the shipper after Kafka acked) moves the checkpoint. A restart re-reads at most
 *   what was not acknowledged. Writes are atomic (temp + fsync + rename).
 */
export class FileInput implements Source {
  readonly type = 'file';
  readonly name: string;
  readonly core: InputCore;
  private readonly lc = new Lifecycle();
  private readonly tracked = new Map<string, Tracked>();
  private readonly stateFile: StateFile<FileState>;
  private state: FileState = { version: 1, files: {} };
  private readonly knownPaths = new Set<string>();
  private dirty = false;
  private lastScan = 0;
  private firstScan = true;
  private timer?: ReturnType<typeof setTimeout>;
  private ckptTimer?: ReturnType<typeof setInterval>;
  private ticking?: Promise<void>;
  private again = false;
  private blocked = false;
  private unsubscribe?: () => void;
  private readonly watchers = new Map<string, FSWatcher>();
  private readonly excludes: RegExp[];
  private lastIdBase = 0;

  constructor(
    private readonly cfg: FileConfig,
    ctx: InputContext,
  ) {
    this.name = cfg.name ?? this.type;
    this.core = new InputCore(this.type, this.name, ctx);
    this.stateFile = new StateFile(cfg.stateFile ?? join(ctx.stateDir, `file-${this.name}.json`));
    this.excludes = cfg.exclude.map(
      (p) =>
        new RegExp(
          `^${p
            .split('/')
            .map((s) => (s === '**' ? '.*' : segmentRegExp(s).source.slice(1, -1)))
            .join('/')}$`,
        ),
    );
  }

  private get sourcePrefix(): string {
    return `file:${this.name}:`;
  }

  start(): Promise<void> {
    return this.lc.start(async () => {
      const saved = await this.stateFile.read((err) => this.core.logger.warn('checkpoint unreadable, starting fresh', { err, path: this.stateFile.path }));
      if (saved?.version === 1 && saved.files) {
        if (Object.keys(this.state.files).length) this.dirty = true;
        this.state = mergeEarlyCommits(saved, this.state);
      }
      for (const e of Object.values(this.state.files)) this.knownPaths.add(e.path);
      this.unsubscribe = this.core.sink.onWritable(() => {
        if (this.blocked) {
          this.blocked = false;
          this.schedule(0);
        }
      });
      // Files we had not finished (e.g. rotated away while we were down) are resumed even if the glob no longer matches them.
      for (const [key, e] of Object.entries(this.state.files)) {
        const st = await stat(e.path).catch(() => undefined);
        if (st?.isFile() && keyOf(st) === key) await this.track(e.path, st);
      }
      await this.tick();
      this.ckptTimer = setInterval(() => void this.checkpoint(), this.cfg.checkpointIntervalMs);
      this.ckptTimer.unref();
    });
  }

  /** Positions whose lines were acknowledged downstream: move the checkpoint there. */
  commit(positions: readonly SourcePosition[]): void {
    for (const p of positions) {
      if (!p.source.startsWith(this.sourcePrefix) || typeof p.cursor !== 'string') continue;
      const key = p.source.slice(this.sourcePrefix.length);
      const [genS, offS] = p.cursor.split(':');
      const gen = Number(genS);
      const offset = Number(offS);
      const cur = this.state.files[key];
      // Acks of a generation before a truncation must not move the new generation's offset.
      if (cur && (gen < cur.gen || (gen === cur.gen && offset <= cur.offset))) continue;
      const t = this.tracked.get(key);
      const same = cur?.gen === gen ? cur : undefined;
      const idBase = same ? same.idBase : t?.gen === gen ? t.idBase : undefined;
      this.state.files[key] = {
        path: t?.path ?? cur?.path ?? '',
        offset,
        gen,
        updatedAt: new Date().toISOString(),
        ...(idBase !== undefined ? { idBase } : {}),
        ...(same?.head ? { head: same.head } : {}),
      };
      this.dirty = true;
    }
    if (this.lc.stopping && this.dirty) void this.checkpoint();
  }

  /** Writes the committed offsets if they changed. */
  async checkpoint(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.stateFile.write(this.state);
    } catch (err) {
      this.dirty = true;
      this.core.logger.error('checkpoint write failed', { err, path: this.stateFile.path });
    }
  }

  private schedule(ms: number): void {
    if (this.lc.stopping) return;
    if (this.ticking) {
      this.again = true;
      return;
    }
    if (this.timer) clearTimeout(this.timer);
    this.timer = setTimeout(() => void this.tick(), ms);
  }

  /** One pass: find files, read what is new, retire rotated files. Never two at once. */
  private tick(): Promise<void> {
    if (this.ticking) {
      this.again = true;
      return this.ticking;
    }
    this.ticking = (async () => {
      try {
        if (Date.now() - this.lastScan >= this.cfg.globIntervalMs || this.firstScan) await this.scan();
        let more = false;
        for (const t of [...this.tracked.values()]) {
          if (this.blocked || this.lc.stopping) break;
          more = (await this.read(t)) || more;
        }
        await this.retire();
        this.again ||= more;
      } catch (err) {
        this.core.logger.error('file poll failed', { err });
      } finally {
        this.ticking = undefined;
        const again = this.again;
        this.again = false;
        // The sink may have drained before we subscribed to its wake-up: do not sleep forever.
        if (this.blocked && this.core.sink.writable) this.blocked = false;
        if (!this.lc.stopping && !this.blocked) this.schedule(again ? 0 : this.cfg.pollIntervalMs);
      }
    })();
    return this.ticking;
  }

  private async scan(): Promise<void> {
    this.lastScan = Date.now();
    const seen = new Map<string, string>();
    for (const pattern of this.cfg.paths) {
      for (const path of await expandGlob(pattern)) {
        if (this.excludes.some((re) => re.test(path))) continue;
        const st = await stat(path).catch(() => undefined);
        if (!st?.isFile()) continue;
        const key = keyOf(st);
        seen.set(path, key);
        const t = this.tracked.get(key);
        if (t) {
          if (t.path !== path && !t.rotated) t.path = path;
          continue;
        }
        await this.track(path, st);
      }
    }
    // A tracked path that now leads elsewhere (or nowhere) was rotated or deleted.
    for (const t of this.tracked.values()) {
      if (t.rotated) continue;
      const now = seen.get(t.path) ?? (await stat(t.path).then(keyOf, () => undefined));
      if (now !== t.key) {
        t.rotated = true;
        t.lastActivity = Date.now();
        const moved = await findByInode(dirname(t.path), t.key);
        this.core.logger.info('file rotated', { path: t.path, movedTo: moved });
        if (moved) t.path = moved;
      }
    }
    this.firstScan = false;
  }

  private async track(path: string, seen: Stats): Promise<void> {
    if (this.tracked.has(keyOf(seen))) return;
    if (this.tracked.size >= this.cfg.maxOpenFiles) {
      this.core.logger.warn('maxOpenFiles reached, not tailing', { path, maxOpenFiles: this.cfg.maxOpenFiles });
      return;
    }
    let fh: FileHandle;
    let st: Stats;
    try {
      fh = await open(path, 'r');
    } catch (err) {
      this.core.logger.warn('cannot open file', { path, err });
      return;
    }
    try {
      // The identity is what we opened, not what stat() saw a moment earlier: the path may have been
      // rotated in between (stat → rename → open), and tailing one inode under another's key would read it twice.
      st = await fh.stat();
    } catch (err) {
      await fh.close().catch(() => undefined);
      this.core.logger.warn('cannot stat file', { path, err });
      return;
    }
    const key = keyOf(st);
    if (key !== keyOf(seen)) {
      // The file stat() saw was rotated away before we opened the path: find it under its new name and
      // tail it as a rotated file, so the lines it holds are not skipped.
      const moved = await findByInode(dirname(path), keyOf(seen));
      if (moved && !this.tracked.has(keyOf(seen))) {
        await this.track(moved, seen);
        const t = this.tracked.get(keyOf(seen));
        if (t) t.rotated = true;
      }
    }
    if (this.tracked.has(key)) {
      await fh.close().catch(() => undefined);
      return;
    }
    const saved = this.state.files[key];
    let offset: number;
    let gen = 0;
    let idBase: number | undefined;
    let head: string | undefined;
    if (saved && st.size >= saved.offset && (saved.head === undefined || (await headOf(fh, Number(saved.head.split(':')[0]), st.size)) === saved.head)) {
      offset = saved.offset;
      gen = saved.gen;
      idBase = saved.idBase;
      head = saved.head;
    } else {
      // A file that shrank while we were down is new content: a new generation, so neither late commits of
      // the old one nor its line ids apply to it.
      if (saved) gen = saved.gen + 1;
      offset = this.firstScan && this.cfg.startAt === 'end' && !this.knownPaths.has(path) && !saved ? st.size : 0;
    }
    // Record where we begin (so a restart before the first ack does not jump to the end of a file we had
    // started) and the id base of this generation, durably before any of its lines can be shipped.
    const headLen = Math.min(HEAD_BYTES, st.size);
    if (headLen > (head ? Number(head.split(':')[0]) : 0)) head = await headOf(fh, headLen, st.size);
    if (!saved || saved.offset !== offset || saved.gen !== gen || idBase === undefined || saved.head !== head) {
      idBase ??= this.newIdBase();
      this.state.files[key] = { path, offset, gen, updatedAt: new Date().toISOString(), idBase, ...(head ? { head } : {}) };
      this.dirty = true;
      await this.checkpoint();
    }
    this.knownPaths.add(path);
    this.tracked.set(key, {
      key,
      path,
      fh,
      readOffset: offset,
      gen,
      idBase,
      idTag: this.idTag(key, gen, idBase),
      headLen: head ? headLen : 0,
      splitter: new LineSplitter(this.cfg.maxLineBytes, offset),
      rotated: false,
      lastActivity: Date.now(),
    });
    this.watchDir(dirname(path));
    this.core.logger.info('tailing', { path, offset });
  }

  /** Reads new bytes of one file. Returns true when it stopped early (budget), i.e. there is more. */
  private async read(t: Tracked): Promise<boolean> {
    let size: number;
    try {
      size = (await t.fh.stat()).size;
    } catch {
      return false;
    }
    if (size < t.readOffset) await this.truncated(t);
    if (t.headLen < HEAD_BYTES && size > t.headLen) await this.updateHead(t, size);
    let budget = this.cfg.readBudgetBytes;
    const buf = Buffer.allocUnsafe(CHUNK);
    while (t.readOffset < size && budget > 0) {
      const { bytesRead } = await t.fh.read(buf, 0, Math.min(CHUNK, size - t.readOffset), t.readOffset);
      if (bytesRead === 0) break;
      t.readOffset += bytesRead;
      budget -= bytesRead;
      t.lastActivity = Date.now();
      const events: HarvestEvent[] = [];
      let end = -1;
      let lineStart = t.splitter.committedOffset;
      t.splitter.push(buf.subarray(0, bytesRead), (line, info) => {
        this.line(t, line, info.truncated ? ['truncated'] : [], info.originalBytes, lineStart, events);
        lineStart = end = info.endOffset;
      });
      const positions = end >= 0 ? [this.position(t, end)] : undefined;
      if (!this.core.emit(events, positions)) {
        this.blocked = true;
        return false;
      }
    }
    return t.readOffset < size;
  }

  private line(t: Tracked, line: Buffer, flags: FlagReason[], originalBytes: number, start: number, out: HarvestEvent[]): void {
    if (originalBytes === 0) return;
    this.core.received(1, originalBytes);
    // normalize() names the service after the file when the line names none (DESIGN.md "Missing fields are added").
    const e = this.core.event(line, this.cfg.format, flags, originalBytes, { file: t.path, eventId: offsetEventId(t.idBase, t.idTag, start) });
    // ECS `log.file.path`; LogEvent's `log` is strict, so it travels in `fields` under its ECS name.
    e.fields = { ...e.fields, 'log.file.path': t.path };
    out.push(e);
  }

  /** The file grew while its fingerprint covers fewer than HEAD_BYTES: fingerprint more of it. */
  private async updateHead(t: Tracked, size: number): Promise<void> {
    const len = Math.min(HEAD_BYTES, size);
    const head = await headOf(t.fh, len, size).catch(() => undefined);
    const entry = this.state.files[t.key];
    if (!head || !entry || entry.gen !== t.gen) return;
    t.headLen = len;
    entry.head = head;
    this.dirty = true;
  }

  /** A fresh id base: the clock, but never the same millisecond twice within this input. */
  private newIdBase(): number {
    this.lastIdBase = Math.max(Date.now(), this.lastIdBase + 1);
    return this.lastIdBase;
  }

  private idTag(key: string, gen: number, idBase: number): number {
    return idStreamTag(this.core.ctx.hostname, this.name, key, gen, idBase);
  }

  private position(t: Tracked, offset: number): SourcePosition {
    return { source: `${this.sourcePrefix}${t.key}`, cursor: `${t.gen}:${offset}` };
  }

  /** copytruncate: the file shrank. Keep a cut partial line (flagged), then start over in a new generation. */
  private async truncated(t: Tracked): Promise<void> {
    this.core.logger.info('file truncated', { path: t.path, offset: t.readOffset });
    const events: HarvestEvent[] = [];
    const start = t.splitter.committedOffset;
    t.splitter.flush((line, info) => this.line(t, line, ['partial_frame', ...(info.truncated ? (['truncated'] as const) : [])], info.originalBytes, start, events));
    this.core.emit(events);
    t.gen++;
    t.readOffset = 0;
    t.splitter = new LineSplitter(this.cfg.maxLineBytes, 0);
    t.idBase = this.newIdBase();
    t.idTag = this.idTag(t.key, t.gen, t.idBase);
    t.headLen = 0;
    // Nothing before the truncation can be re-read any more: the checkpoint moves to the new generation's
    // start, with the generation's id base, written before its first line is read.
    this.state.files[t.key] = { path: t.path, offset: 0, gen: t.gen, updatedAt: new Date().toISOString(), idBase: t.idBase };
    this.dirty = true;
    await this.checkpoint();
  }

  /** Closes rotated files that were read to the end and stayed idle for the grace period. */
  private async retire(): Promise<void> {
    const now = Date.now();
    for (const t of [...this.tracked.values()]) {
      if (!t.rotated || now - t.lastActivity < this.cfg.rotatedGraceMs) continue;
      const size = await t.fh.stat().then(
        (s) => s.size,
        () => t.readOffset,
      );
      if (size > t.readOffset) continue;
      // The writer is gone: an unterminated last line is as complete as it will ever be.
      const events: HarvestEvent[] = [];
      let end = -1;
      const start = t.splitter.committedOffset;
      t.splitter.flush((line, info) => {
        this.line(t, line, info.truncated ? ['truncated'] : [], info.originalBytes, start, events);
        end = info.endOffset;
      });
      this.core.emit(events, end >= 0 ? [this.position(t, end)] : undefined);
      await t.fh.close().catch(() => undefined);
      this.tracked.delete(t.key);
      this.core.logger.info('closed rotated file', { path: t.path, offset: t.readOffset });
    }
    // Forget checkpoints of files that are gone and no longer tailed, once their last line was committed.
    for (const [key, e] of Object.entries(this.state.files)) {
      if (this.tracked.has(key)) continue;
      const st = await stat(e.path).catch(() => undefined);
      if (!st || keyOf(st) !== key || st.size <= e.offset) {
        if (!st || keyOf(st) !== key) {
          delete this.state.files[key];
          this.dirty = true;
        }
      }
    }
  }

  private watchDir(dir: string): void {
    if (!this.cfg.watch || this.watchers.has(dir)) return;
    try {
      const w = watch(dir, { persistent: false }, () => this.schedule(10));
      w.on('error', () => {
        w.close();
        this.watchers.delete(dir);
      });
      this.watchers.set(dir, w);
    } catch {
      // inotify limits or an unsupported file system: polling alone still works.
    }
  }

  stop(deadline: number): Promise<void> {
    return this.lc.stop(async () => {
      if (this.timer) clearTimeout(this.timer);
      if (this.ckptTimer) clearInterval(this.ckptTimer);
      this.unsubscribe?.();
      for (const w of this.watchers.values()) w.close();
      this.watchers.clear();
      if (this.ticking) await settleBy(this.ticking, deadline);
      // Partial last lines are not flushed: their bytes are past the committed offset and are read again next time.
      for (const t of this.tracked.values()) await t.fh.close().catch(() => undefined);
      this.tracked.clear();
      this.dirty = true;
      await settleBy(this.checkpoint(), deadline);
    });
  }

  /** For tests and /healthz. */
  files(): { path: string; offset: number; rotated: boolean }[] {
    return [...this.tracked.values()].map((t) => ({ path: t.path, offset: t.readOffset, rotated: t.rotated }));
  }
}

/**
 * The checkpoint to resume from, given the one on disk and the commits that arrived before start() (the
 * previous run's spool draining): per file, the newer offset of the same generation. Those commits can only
 * be ahead of the checkpoint (they are acks the previous run did not live to write down).
 */
export function mergeEarlyCommits(saved: FileState, early: FileState): FileState {
  for (const [key, c] of Object.entries(early.files)) {
    const s = saved.files[key];
    if (s && c.gen === s.gen && c.offset > s.offset) saved.files[key] = { ...s, offset: c.offset, updatedAt: c.updatedAt };
  }
  return saved;
}

/** `<len>:<sha256 prefix>` of a file's first `len` bytes; undefined when the file is shorter. */
async function headOf(fh: FileHandle, len: number, size: number): Promise<string | undefined> {
  if (!(len > 0) || size < len) return undefined;
  const buf = Buffer.alloc(len);
  const { bytesRead } = await fh.read(buf, 0, len, 0);
  if (bytesRead < len) return undefined;
  return `${len}:${createHash('sha256').update(buf).digest('hex').slice(0, 16)}`;
}

function keyOf(st: Stats): string {
  return `${st.dev}:${st.ino}`;
}

async function findByInode(dir: string, key: string): Promise<string | undefined> {
  try {
    for (const name of await readdir(dir)) {
      const p = join(dir, name);
      const st = await stat(p).catch(() => undefined);
      if (st && keyOf(st) === key) return p;
    }
  } catch {
    // the directory is gone too
  }
  return undefined;
}

/** `/var/log/nginx/access.log.1` → `access`. */
export function serviceFromPath(path: string): string {
  const base = basename(path);
  return base.replace(/\.(log|txt|out|err)(\.\d+)?(\.gz)?$/i, '').replace(/\.\d+$/, '') || base;
}

export const fileInput = {
  type: 'file',
  configSchema: fileConfigSchema,
  create: (config: FileConfig, ctx: InputContext) => new FileInput(config, ctx),
} satisfies InputFactory<typeof fileConfigSchema>;
