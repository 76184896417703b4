import { Lifecycle, type Source } from '@backlog/core-pipeline';
import { type HarvestEvent, peerAddress } from '../shared/event';
import { tcpBufferedBytes } from '../shared/config';
import { InputCore, type InputContext, type InputFactory } from '../shared/input';
import { LineSplitter, isBlank } from '../shared/lines';
import { type CloseReason, type ConnectionHandler, TcpListener } from '../shared/tcp';
import { type JsonTcpConfig, jsonTcpConfigSchema } from './config';

/**
 * Newline-delimited JSON over TCP (one JSON object per LF-terminated line, as Logstash's `json_lines`
 * codec and Fluent Bit's `tcp` output send). A line that is not JSON still becomes an event, flagged.
 */
export class JsonTcpInput implements Source {
  readonly type = 'json_tcp';
  readonly name: string;
  readonly core: InputCore;
  private readonly lc = new Lifecycle();
  readonly listener: TcpListener;

  constructor(
    private readonly cfg: JsonTcpConfig,
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
      maxBufferedBytes: tcpBufferedBytes(cfg.maxBufferedBytes, cfg.maxLineBytes),
      logger: this.core.logger,
      sink: ctx.sink,
      metrics: ctx.metrics,
      labels: { input: this.type, name: this.name },
      onConnection: (socket) => this.connection(peerAddress(socket.remoteAddress)),
    });
  }

  /** `peer`: the remote address, the namespace of event ids a line names itself (ADR 0015). */
  private connection(peer: string): ConnectionHandler {
    const core = this.core;
    const splitter = new LineSplitter(this.cfg.maxLineBytes);
    const format = this.cfg.format;
    let batch: HarvestEvent[] = [];
    let completed = 0;
    const onLine = (line: Buffer, info: { truncated: boolean; originalBytes: number }, partial = false) => {
      completed++;
      // Blank lines are keep-alives for some shippers, not records.
      if (info.originalBytes === 0 || (!info.truncated && isBlank(line))) return;
      core.received(1, info.originalBytes);
      const flags = [...(info.truncated ? (['truncated'] as const) : []), ...(partial ? (['partial_frame'] as const) : [])];
      batch.push(core.event(line, format, flags, info.originalBytes, { peer }));
    };
    const flush = () => {
      const out = batch;
      batch = [];
      return out.length ? core.emit(out) : core.sink.writable;
    };
    return {
      data: (chunk: Buffer) => {
        splitter.push(chunk, onLine);
        return flush();
      },
      end: (reason: CloseReason) => {
        // A last line without LF is complete when the peer closed cleanly; when the connection broke, hit a
        // deadline or we are stopping it may be cut: keep it, flagged.
        splitter.flush((line, info) => onLine(line, info, reason !== 'end'));
        flush();
      },
      get partial() {
        return splitter.pending;
      },
      get completed() {
        return completed;
      },
      get buffered() {
        return splitter.buffered;
      },
      stats: () => splitter.stats(),
    };
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

export const jsonTcpInput = {
  type: 'json_tcp',
  configSchema: jsonTcpConfigSchema,
  create: (config: JsonTcpConfig, ctx: InputContext) => new JsonTcpInput(config, ctx),
} satisfies InputFactory<typeof jsonTcpConfigSchema>;
