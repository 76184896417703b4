import { type Socket, createSocket } from 'node:dgram';
import { isIPv6 } from 'node:net';
import { Lifecycle, type Source } from '@backlog/core-pipeline';
import type { InputContext, InputFactory } from '../shared/input';
import { InputCore } from '../shared/input';
import { peerAddress } from '../shared/event';
import { type SyslogUdpConfig, syslogUdpConfigSchema } from './config';

/**
 * Syslog over UDP (RFC 5426): one message per datagram, no framing, no acknowledgement.
 * UDP cannot push back: while the sink asks producers to pause, datagrams are dropped and counted
 * with reason `backpressure` (the sender never knows, which is why TCP inputs exist).
 */
export class SyslogUdpInput implements Source {
  readonly type = 'syslog_udp';
  readonly name: string;
  readonly core: InputCore;
  private socket?: Socket;
  private readonly lc = new Lifecycle();

  constructor(
    private readonly cfg: SyslogUdpConfig,
    ctx: InputContext,
  ) {
    this.name = cfg.name ?? this.type;
    this.core = new InputCore(this.type, this.name, ctx);
  }

  start(): Promise<void> {
    return this.lc.start(
      () =>
        new Promise<void>((resolve, reject) => {
          const socket = createSocket({ type: isIPv6(this.cfg.host) ? 'udp6' : 'udp4', recvBufferSize: this.cfg.receiveBufferBytes });
          this.socket = socket;
          socket.on('message', (msg, rinfo) => this.onDatagram(msg, rinfo.address));
          socket.once('error', reject);
          socket.bind(this.cfg.port, this.cfg.host, () => {
            socket.off('error', reject);
            // A runtime socket error (e.g. ICMP noise) must not crash the process: log it and go on.
            socket.on('error', (err) => this.core.logger.warn('udp socket error', { err }));
            this.core.logger.info('listening', this.address());
            resolve();
          });
        }),
    );
  }

  /** `from`: the sender's address, the namespace of event ids a message names itself (ADR 0015). */
  private onDatagram(msg: Buffer, from: string): void {
    const core = this.core;
    core.received(1, msg.length);
    if (this.lc.stopping) return core.dropped('shutdown');
    if (msg.length === 0) return core.dropped('empty');
    if (!core.sink.writable) return core.dropped('backpressure');
    // RFC 5426 §3.1: one datagram is one message; a trailing LF some senders add is not part of it.
    let end = msg.length;
    while (end > 0 && (msg[end - 1] === 10 || msg[end - 1] === 0)) end--;
    const truncated = end > this.cfg.maxMessageBytes;
    const body = msg.subarray(0, truncated ? this.cfg.maxMessageBytes : end);
    core.emit([core.syslogEvent(body, this.cfg.format, truncated ? ['truncated'] : undefined, end, peerAddress(from))]);
  }

  stop(_deadline: number): Promise<void> {
    return this.lc.stop(async () => {
      const s = this.socket;
      if (!s) return;
      await new Promise<void>((resolve) => {
        try {
          s.close(() => resolve());
        } catch {
          resolve();
        }
      });
    });
  }

  address(): { host: string; port: number } | undefined {
    try {
      const a = this.socket?.address();
      return a ? { host: a.address, port: a.port } : undefined;
    } catch {
      return undefined;
    }
  }
}

export const syslogUdpInput = {
  type: 'syslog_udp',
  configSchema: syslogUdpConfigSchema,
  create: (config: SyslogUdpConfig, ctx: InputContext) => new SyslogUdpInput(config, ctx),
} satisfies InputFactory<typeof syslogUdpConfigSchema>;
