import { Socket } from 'node:net';
import type { LiveDatagram } from '@backlog/core-codec';

/**
 * Forwards events to a log.io server (https://github.com/NarrativeScience/log.io) through its TCP
 * input protocol: UTF-8 messages, each ended by a NUL byte,
 *   `+input|<stream>|<source>\0`   announce an input (stream = a log stream, source = a host)
 *   `+msg|<stream>|<source>|<text>\0`  one log line
 *   `-input|<stream>|<source>\0`   withdraw it
 * `|` separates the fields, so stream and source must not contain it; the text is the last field
 * and may (only NUL ends it). Lossy like the rest of the live path: a bounded queue while the server
 * is away or slow, newest dropped beyond it, reconnects with backoff.
 */
export interface LogIoOptions {
  host: string;
  port: number;
  /** Stream name; `{env}` becomes the event's `labels.env` (or `default`). */
  stream: string;
  queueMessages: number;
  onDropped?: (n: number) => void;
  onSent?: (n: number) => void;
}

const field = (s: string) => s.replace(/[|\0\r\n]/g, '_').slice(0, 200) || '_';

/** The `+msg` text for an event: `LEVEL service: message`, like a terminal tail. */
export function logIoText(d: LiveDatagram): string {
  const e = d.event;
  const level = typeof e.log?.level === 'string' ? e.log.level.toUpperCase() : 'INFO';
  const service = typeof e.service?.name === 'string' ? e.service.name : '-';
  const message = typeof e.message === 'string' ? e.message : JSON.stringify(e.message ?? '');
  return `${level} ${service}: ${message}`.replace(/\0/g, '');
}

export class LogIoForwarder {
  private socket: Socket | undefined;
  private connected = false;
  private queue: string[] = [];
  private announced = new Set<string>();
  private backoffMs = 500;
  private timer: NodeJS.Timeout | undefined;
  private stopped = false;

  constructor(private readonly o: LogIoOptions) {}

  start(): void {
    this.connect();
  }

  private connect(): void {
    if (this.stopped) return;
    const s = new Socket();
    this.socket = s;
    s.setNoDelay(true);
    s.on('connect', () => {
      this.connected = true;
      this.backoffMs = 500;
      // A new connection is a new session for the server: announce the inputs again.
      this.announced.clear();
      this.pump();
    });
    s.on('drain', () => this.pump());
    s.on('error', () => undefined); // 'close' follows; the reason does not change what we do
    s.on('close', () => {
      this.connected = false;
      this.socket = undefined;
      if (this.stopped) return;
      this.timer = setTimeout(() => this.connect(), this.backoffMs);
      this.timer.unref();
      this.backoffMs = Math.min(this.backoffMs * 2, 30_000);
    });
    s.connect(this.o.port, this.o.host);
  }

  forward(ds: readonly LiveDatagram[]): void {
    for (const d of ds) {
      if (this.queue.length >= this.o.queueMessages) {
        this.o.onDropped?.(1);
        continue;
      }
      const env = typeof d.event.labels?.env === 'string' ? d.event.labels.env : 'default';
      const stream = field(this.o.stream.replace('{env}', env));
      const source = field(typeof d.event.host?.name === 'string' ? d.event.host.name : d.host);
      const key = `${stream}|${source}`;
      if (!this.announced.has(key) && this.announced.size < 10_000) {
        this.announced.add(key);
        this.queue.push(`+input|${key}\0`);
      }
      this.queue.push(`+msg|${key}|${logIoText(d)}\0`);
    }
    this.pump();
  }

  private pump(): void {
    const s = this.socket;
    if (!s || !this.connected || !this.queue.length || s.writableNeedDrain) return;
    const chunk = this.queue.join('');
    const n = this.queue.filter((m) => m.startsWith('+msg|')).length;
    this.queue = [];
    // write() buffers in the socket when the kernel is full; we stop feeding it until 'drain'.
    s.write(chunk);
    this.o.onSent?.(n);
  }

  async stop(): Promise<void> {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
    const s = this.socket;
    if (!s) return;
    await new Promise<void>((r) => {
      s.end(() => r());
      setTimeout(r, 1000).unref();
    });
    s.destroy();
  }
}
