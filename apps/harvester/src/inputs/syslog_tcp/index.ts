import { Lifecycle, type Source } from '@backlog/core-pipeline';
import { type Frame, SyslogFrameDecoder } from '@backlog/core-parse';
import type { FlagReason, HarvestEvent } from '../shared/event';
import { makeSyslogEvent, peerAddress, syslogEventLineOf } from '../shared/event';
import { tcpBufferedBytes } from '../shared/config';
import { InputCore, type InputContext, type InputFactory } from '../shared/input';
import { type CloseReason, type ConnectionHandler, TcpListener } from '../shared/tcp';
import { type SyslogTcpConfig, syslogTcpConfigSchema } from './config';

/** Events per sink write within one socket read. */
const EMIT_SLICE = 64;

/**
 * Syslog over TCP with RFC 6587 framing (octet counting §3.4.1 and non-transparent LF/NUL §3.4.2, decided
 * per frame by @backlog/core-parse's SyslogFrameDecoder). One decoder per connection, so its memory is
 * bounded by maxFrameBytes; when the sink asks to pause, every socket stops reading and TCP flow control
 * pushes back on the senders (rsyslog then queues on its side instead of us dropping).
 */
export class SyslogTcpInput implements Source {
  readonly type = 'syslog_tcp';
  readonly name: string;
  readonly core: InputCore;
  private readonly lc = new Lifecycle();
  readonly listener: TcpListener;

  constructor(
    private readonly cfg: SyslogTcpConfig,
    ctx: InputContext,
  ) {
    this.name = cfg.name ?? this.type;
    this.core = new InputCore(this.type, this.name, ctx);
    this.listener = new TcpListener({
      host: cfg.host,
      port: cfg.port,
      maxConnections: cfg.maxConnections,
      maxConnectionsPerAddress: cfg.maxConnectionsPerAddress,
      idleTimeoutMs: cfg.idleTimeoutMs,
      partialRecordTimeoutMs: cfg.partialRecordTimeoutMs,
      maxBufferedBytes: tcpBufferedBytes(cfg.maxBufferedBytes, cfg.maxFrameBytes),
      logger: this.core.logger,
      sink: ctx.sink,
      metrics: ctx.metrics,
      labels: { input: this.type, name: this.name },
      onConnection: (socket) => this.connection(peerAddress(socket.remoteAddress)),
    });
  }

  /** `peer`: the remote address, the namespace of event ids a record names itself (ADR 0015). */
  private connection(peer: string): ConnectionHandler {
    // Views, not copies: each frame is parsed before the next read is pushed (no allocation per frame).
    const decoder = new SyslogFrameDecoder({ mode: this.cfg.framing, maxFrameBytes: this.cfg.maxFrameBytes, views: true });
    const emit = (frames: Frame[], stopping: boolean): boolean => {
      if (frames.length === 0) return this.core.sink.writable;
      const receivedAt = new Date();
      let bytes = 0;
      for (let i = 0; i < frames.length; i++) {
        const f = frames[i]!;
        bytes += f.truncated ? (f.declaredLength ?? f.payload.length) : f.payload.length;
      }
      // Counted once per read, not per frame: a metric update costs more than parsing a short line's header.
      this.core.received(frames.length, bytes);
      // Handed to the sink in slices (ADR 0011): a 64 KiB read is ~300 events, and holding all of them
      // alive until the sink serializes them made every young-generation GC copy them. Every frame read is
      // written (nothing is dropped when the sink says pause mid-read); the answer is the last one.
      let ok = true;
      for (let from = 0; from < frames.length; from += EMIT_SLICE) {
        const to = Math.min(frames.length, from + EMIT_SLICE);
        const events: HarvestEvent[] = new Array(to - from);
        for (let i = from; i < to; i++) {
          events[i - from] = this.frame(frames[i]!, receivedAt, stopping, peer);
          frames[i] = undefined as unknown as Frame;
        }
        ok = this.core.emit(events);
      }
      return ok;
    };
    let completed = 0;
    return {
      data: (chunk: Buffer) => {
        const frames = decoder.push(chunk);
        completed += frames.length;
        return emit(frames, false);
      },
      // The peer closed (or a deadline passed, or we stop): what the decoder holds is the last frame,
      // flagged when it was cut.
      end: (reason: CloseReason) => void emit(decoder.end(), reason !== 'end'),
      get partial() {
        return decoder.partial;
      },
      get completed() {
        return completed;
      },
      get buffered() {
        return decoder.buffered;
      },
      stats: () => decoder.stats(),
    };
  }

  private frame(f: Frame, receivedAt: Date, stopping: boolean, peer: string): HarvestEvent {
    if (f.error === undefined && f.truncated !== true && !(stopping && f.framing === 'eof')) {
      // No transport flags: the fast path, without an options object per event (ADR 0012).
      const line = syslogEventLineOf(f.payload, this.cfg.format, receivedAt.getTime(), this.core.ctx.hostname, this.core.labelsJson, undefined, this.core.maxFutureSkewMs);
      if (line !== undefined) return line;
    }
    const flags: FlagReason[] = [];
    if (f.truncated) flags.push('truncated');
    if (f.error === 'FRAME_EOF' || (stopping && f.framing === 'eof')) flags.push('partial_frame');
    else if (f.error && f.error !== 'FRAME_TOO_LONG') flags.push('framing_error');
    const original = f.declaredLength ?? f.payload.length;
    return makeSyslogEvent(
      f.payload,
      {
        format: this.cfg.format,
        input: this.type,
        receivedAt,
        hostname: this.core.ctx.hostname,
        labels: this.core.labels,
        flags,
        originalBytes: f.truncated ? original : undefined,
        framingError: f.error?.toLowerCase(),
        source: this.core.source(peer),
        maxFutureSkewMs: this.core.maxFutureSkewMs,
      },
      this.core.labelsJson,
    );
  }

  start(): Promise<void> {
    return this.lc.start(async () => {
      await this.listener.start();
      this.core.logger.info('listening', this.address());
    });
  }

  stop(deadline: number): Promise<void> {
    return this.lc.stop(() => this.listener.stop(deadline));
  }

  address() {
    return this.listener.address();
  }
}

export const syslogTcpInput = {
  type: 'syslog_tcp',
  configSchema: syslogTcpConfigSchema,
  create: (config: SyslogTcpConfig, ctx: InputContext) => new SyslogTcpInput(config, ctx),
} satisfies InputFactory<typeof syslogTcpConfigSchema>;
