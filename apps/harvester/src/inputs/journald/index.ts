import type { LogEvent } from '@backlog/core-event';
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { Lifecycle, type Source, type SourcePosition, settleBy } from '@backlog/core-pipeline';
import { InputCore, type InputContext, type InputFactory } from '../shared/input';
import { LineSplitter } from '../shared/lines';
import { StateFile } from '../shared/state';
import { type JournaldConfig, journaldConfigSchema } from './config';
import { fieldText, journalEntryToEvent } from './map';

interface JournaldState {
  version: 1;
  /** The last journal cursor whose entry was acknowledged downstream. */
  cursor?: string;
  updatedAt?: string;
}

/**
 * Follows the systemd journal through `journalctl -o json --follow` (the stable, documented export
 * interface; no libsystemd binding needed). Restarts resume with `--after-cursor` from the last
 * *acknowledged* entry: each write carries `{ source: 'journald:<name>', cursor: __CURSOR }` and `commit()`
 * (after Kafka acked) moves the checkpoint. Backpressure: we stop reading journalctl's stdout, the pipe
 * fills and journalctl blocks — the journal itself is the buffer.
 */
export class JournaldInput implements Source {
  readonly type = 'journald';
  readonly name: string;
  readonly core: InputCore;
  private readonly lc = new Lifecycle();
  private readonly stateFile: StateFile<JournaldState>;
  private state: JournaldState = { version: 1 };
  /** The newest cursor read (not necessarily acknowledged): where a restart of journalctl continues. */
  private readCursor?: string;
  private child?: ChildProcess;
  private restartTimer?: ReturnType<typeof setTimeout>;
  private ckptTimer?: ReturnType<typeof setInterval>;
  private delay: number;
  private dirty = false;
  private unsubscribe?: () => void;
  /** journalctl runs started (for tests and /healthz). */
  runs = 0;

  constructor(
    private readonly cfg: JournaldConfig,
    ctx: InputContext,
  ) {
    this.name = cfg.name ?? this.type;
    this.core = new InputCore(this.type, this.name, ctx);
    this.stateFile = new StateFile(cfg.stateFile ?? join(ctx.stateDir, `journald-${this.name}.json`));
    this.delay = cfg.restartDelayMs;
  }

  private get source(): string {
    return `journald:${this.name}`;
  }

  start(): Promise<void> {
    return this.lc.start(async () => {
      const saved = await this.stateFile.read((err) => this.core.logger.warn('cursor checkpoint unreadable, starting fresh', { err }));
      // A cursor committed before start() (the previous run's spool draining) is newer than the checkpoint.
      if (saved?.version === 1 && !this.state.cursor) this.state = saved;
      else if (this.state.cursor) this.dirty = true;
      this.readCursor = this.state.cursor;
      this.unsubscribe = this.core.sink.onWritable(() => this.child?.stdout?.resume());
      this.spawn();
      this.ckptTimer = setInterval(() => void this.checkpoint(), this.cfg.checkpointIntervalMs);
      this.ckptTimer.unref();
    });
  }

  /** The arguments of one journalctl run. */
  args(): string[] {
    // --all: print fields of any size (otherwise journalctl prints null for values over 4096 bytes... and
    // for binary ones in some versions); -o json: one entry per line (systemd's journal JSON format).
    const a = ['-o', 'json', '--follow', '--all', '--no-pager'];
    if (this.readCursor) a.push(`--after-cursor=${this.readCursor}`);
    else if (this.cfg.startAt === 'end') a.push('--lines=0');
    else a.push('--no-tail');
    return [...a, ...this.cfg.args];
  }

  private spawn(): void {
    if (this.lc.stopping) return;
    const args = this.args();
    this.runs++;
    let child: ChildProcess;
    try {
      child = spawn(this.cfg.command, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    } catch (err) {
      this.core.logger.error('cannot start journalctl', { err, command: this.cfg.command });
      return this.scheduleRestart();
    }
    this.child = child;
    const splitter = new LineSplitter(this.cfg.maxLineBytes);
    let stderr = '';
    child.stderr?.on('data', (d: Buffer) => {
      if (stderr.length < 4096) stderr += d.toString('utf8');
    });
    child.stdout?.on('data', (chunk: Buffer) => {
      const events: LogEvent[] = [];
      let cursor: string | undefined;
      splitter.push(chunk, (line, info) => {
        const c = this.line(line, info.truncated, info.originalBytes, events);
        if (c) cursor = c;
      });
      if (cursor) this.readCursor = cursor;
      const positions: SourcePosition[] | undefined = cursor ? [{ source: this.source, cursor }] : undefined;
      if (!this.core.emit(events, positions)) child.stdout?.pause();
      if (events.length) this.delay = this.cfg.restartDelayMs;
    });
    child.once('error', (err) => {
      this.core.logger.error('journalctl failed', { err, command: this.cfg.command });
    });
    child.once('close', (code, signal) => {
      const events: LogEvent[] = [];
      splitter.flush((line, info) => void this.line(line, info.truncated, info.originalBytes, events));
      this.core.emit(events);
      if (this.child === child) this.child = undefined;
      if (this.lc.stopping) return;
      this.core.logger.warn('journalctl exited; restarting', { code, signal, stderr: stderr.trim().slice(0, 1000), delayMs: this.delay });
      this.scheduleRestart();
    });
  }

  private scheduleRestart(): void {
    if (this.lc.stopping) return;
    this.restartTimer = setTimeout(() => this.spawn(), this.delay);
    this.delay = Math.min(this.delay * 2, 30_000);
  }

  /** One output line → one event (a line that is not a journal JSON object is kept, flagged). Returns its cursor. */
  private line(line: Buffer, truncated: boolean, originalBytes: number, out: LogEvent[]): string | undefined {
    if (originalBytes === 0) return undefined;
    this.core.received(1, originalBytes);
    if (!truncated) {
      let entry: unknown;
      try {
        entry = JSON.parse(line.toString('utf8'));
      } catch {
        entry = undefined;
      }
      if (entry && typeof entry === 'object' && !Array.isArray(entry)) {
        const e = journalEntryToEvent(entry as Record<string, unknown>, {
          receivedAt: new Date(),
          hostname: this.core.ctx.hostname,
          input: this.type,
          labels: this.core.labels,
          maxFutureSkewMs: this.core.maxFutureSkewMs,
        });
        out.push(e);
        return fieldText((entry as Record<string, unknown>).__CURSOR)?.text;
      }
    }
    // Not a journal entry (or cut): still an event, with the reason.
    out.push(this.core.event(line, 'text', truncated ? ['truncated'] : [], originalBytes));
    const last = out[out.length - 1];
    if (last && !truncated) last.labels.parse_error = 'journald: not a JSON object';
    return undefined;
  }

  commit(positions: readonly SourcePosition[]): void {
    for (const p of positions) {
      if (p.source !== this.source || typeof p.cursor !== 'string') continue;
      this.state = { version: 1, cursor: p.cursor, updatedAt: new Date().toISOString() };
      this.dirty = true;
    }
    if (this.lc.stopping && this.dirty) void this.checkpoint();
  }

  async checkpoint(): Promise<void> {
    if (!this.dirty) return;
    this.dirty = false;
    try {
      await this.stateFile.write(this.state);
    } catch (err) {
      this.dirty = true;
      this.core.logger.error('cursor checkpoint write failed', { err });
    }
  }

  stop(deadline: number): Promise<void> {
    return this.lc.stop(async () => {
      if (this.restartTimer) clearTimeout(this.restartTimer);
      if (this.ckptTimer) clearInterval(this.ckptTimer);
      this.unsubscribe?.();
      const child = this.child;
      if (child && child.exitCode === null && child.signalCode === null) {
        const exited = new Promise<void>((r) => child.once('close', () => r()));
        child.kill('SIGTERM');
        if (!(await settleBy(exited, deadline))) child.kill('SIGKILL');
      }
      await settleBy(this.checkpoint(), deadline);
    });
  }
}

export const journaldInput = {
  type: 'journald',
  configSchema: journaldConfigSchema,
  create: (config: JournaldConfig, ctx: InputContext) => new JournaldInput(config, ctx),
} satisfies InputFactory<typeof journaldConfigSchema>;
