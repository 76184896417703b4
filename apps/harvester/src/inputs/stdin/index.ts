import type { Readable } from 'node:stream';
import { Lifecycle, type Source, settleBy } from '@backlog/core-pipeline';
import type { HarvestEvent } from '../shared/event';
import { InputCore, type InputContext, type InputFactory } from '../shared/input';
import { LineSplitter } from '../shared/lines';
import { type StdinConfig, stdinConfigSchema } from './config';

/**
 * Lines from standard input (`app | harvester`, or a container runtime's pipe). Backpressure is the
 * pipe's: we stop reading, the pipe fills (64 KiB on Linux) and the writer blocks.
 * `done` resolves at end of input, so main.ts can exit when stdin was the only input.
 */
export class StdinInput implements Source {
  readonly type = 'stdin';
  readonly name: string;
  readonly core: InputCore;
  private readonly lc = new Lifecycle();
  private readonly splitter: LineSplitter;
  private unsubscribe?: () => void;
  private resolveDone!: () => void;
  /** Resolves once the stream ended and every line was handed to the sink. */
  readonly done = new Promise<void>((r) => (this.resolveDone = r));

  constructor(
    private readonly cfg: StdinConfig,
    ctx: InputContext,
    private readonly stream: Readable = process.stdin,
  ) {
    this.name = cfg.name ?? this.type;
    this.core = new InputCore(this.type, this.name, ctx);
    this.splitter = new LineSplitter(cfg.maxLineBytes);
  }

  start(): Promise<void> {
    return this.lc.start(async () => {
      const s = this.stream;
      this.unsubscribe = this.core.sink.onWritable(() => {
        if (!this.lc.stopping) s.resume();
      });
      s.on('data', (chunk: Buffer | string) => {
        const events: HarvestEvent[] = [];
        this.splitter.push(typeof chunk === 'string' ? Buffer.from(chunk) : chunk, (line, info) => this.line(line, info, events));
        if (!this.core.emit(events)) s.pause();
      });
      s.once('end', () => this.finish());
      s.once('error', (err) => {
        this.core.logger.warn('stdin error', { err });
        this.finish();
      });
    });
  }

  private line(line: Buffer, info: { truncated: boolean; originalBytes: number }, out: HarvestEvent[]): void {
    if (info.originalBytes === 0) return;
    this.core.received(1, info.originalBytes);
    out.push(this.core.event(line, this.cfg.format, info.truncated ? ['truncated'] : undefined, info.originalBytes));
  }

  private finish(): void {
    const events: HarvestEvent[] = [];
    this.splitter.flush((line, info) => this.line(line, info, events));
    this.core.emit(events);
    this.unsubscribe?.();
    this.resolveDone();
  }

  stop(deadline: number): Promise<void> {
    return this.lc.stop(async () => {
      this.unsubscribe?.();
      this.stream.pause();
      // What we read up to now goes out; an unterminated last line is still a line (the writer may be gone).
      if (this.stream.readableEnded) await settleBy(this.done, deadline);
      else this.finish();
    });
  }
}

export const stdinInput = {
  type: 'stdin',
  configSchema: stdinConfigSchema,
  create: (config: StdinConfig, ctx: InputContext) => new StdinInput(config, ctx),
} satisfies InputFactory<typeof stdinConfigSchema>;
