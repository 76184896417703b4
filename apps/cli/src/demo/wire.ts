import { createSocket, type Socket as UdpSocket } from 'node:dgram';
import { type Socket, connect } from 'node:net';
import { type DemoRecord, levelName } from './generator';

/**
 * How the demo's records travel to a harvester: the four ways DESIGN.md's harvester listens by default.
 *   syslog_udp  RFC 3164 (BSD) lines, one per datagram (RFC 5426); the header time is UTC wall-clock
 *               time, which is how the harvester reads zone-less RFC 3164 times (core-parse's default zone)
 *   syslog_tcp  RFC 5424 messages with octet-counting framing (RFC 6587 §3.4.1), UTC with milliseconds
 *   json_tcp    one JSON object per line (`time`, `level`, `msg`, `host`, `service`, fields)
 *   http        JSON arrays POSTed to /logs/batch (the harvester answers 202, or 503 + Retry-After when full)
 */
export const PROTOCOLS = ['syslog_udp', 'syslog_tcp', 'json_tcp', 'http'] as const;
export type Protocol = (typeof PROTOCOLS)[number];

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const two = (n: number) => String(n).padStart(2, '0');

/** `<PRI>Mmm dd hh:mm:ss host tag[pid]: msg` (RFC 3164 §4.1; day padded with a space; UTC, see above). */
export function formatRfc3164(r: DemoRecord): string {
  const d = r.at;
  const ts = `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${two(d.getUTCHours())}:${two(d.getUTCMinutes())}:${two(d.getUTCSeconds())}`;
  const tag = r.pid !== undefined ? `${r.app}[${r.pid}]` : r.app;
  return `<${r.facility * 8 + r.severity}>${ts} ${r.host} ${tag}: ${r.message}`;
}

/** SD-PARAM value escaping (RFC 5424 §6.3.3): `"`, `\` and `]`. */
const sdEscape = (v: string) => v.replace(/["\\\]]/g, (c) => `\\${c}`);

/**
 * `<PRI>1 TIMESTAMP HOST APP PROCID MSGID [meta sequenceId="n"][demo@32473 …] MSG` (RFC 5424 §6). `meta`
 * and its `sequenceId` are IANA-registered (§7.3.1); `demo@32473` uses the RFC's example enterprise number.
 */
export function formatRfc5424(r: DemoRecord, seq: number, run: string): string {
  const sd = `[meta sequenceId="${seq}"][demo@32473 run="${sdEscape(run)}" template="${sdEscape(r.template)}"]`;
  return `<${r.facility * 8 + r.severity}>1 ${r.at.toISOString()} ${r.host} ${r.app} ${r.pid ?? '-'} - ${sd} ${r.message}`;
}

/** RFC 6587 octet counting: `MSG-LEN SP SYSLOG-MSG`, the length in bytes. */
export function octetFrame(msg: string): string {
  return `${Buffer.byteLength(msg)} ${msg}`;
}

/** The object an application logger would write; `labels.demo` marks this run's events. */
export function jsonRecord(r: DemoRecord, run: string): Record<string, unknown> {
  return {
    time: r.at.toISOString(),
    level: levelName(r.severity),
    msg: r.message,
    host: r.host,
    service: r.app,
    ...(r.pid !== undefined ? { pid: r.pid } : {}),
    ...(r.fields ?? {}),
    labels: { demo: run },
  };
}

export interface Target {
  host: string;
  udpPort: number;
  tcpPort: number;
  jsonPort: number;
  httpPort: number;
}

export interface ProtocolStats {
  /** Records handed to the kernel (UDP, TCP) or answered 202 (HTTP). */
  sent: number;
  /** Records given up on (connection refused, HTTP errors after retries), by reason. */
  failed: Record<string, number>;
  /** HTTP requests answered 429/503 (then retried after Retry-After). */
  throttled: number;
}

const emptyStats = (): ProtocolStats => ({ sent: 0, failed: {}, throttled: 0 });
const fail = (s: ProtocolStats, reason: string, n: number) => (s.failed[reason] = (s.failed[reason] ?? 0) + n);

/** A TCP stream that (re)connects lazily; writes wait for 'drain' (the harvester's backpressure reaches us). */
class TcpLink {
  private sock?: Socket;
  private connecting?: Promise<Socket>;
  lastError?: string;
  constructor(
    private readonly host: string,
    private readonly port: number,
  ) {}

  private open(): Promise<Socket> {
    if (this.sock && !this.sock.destroyed) return Promise.resolve(this.sock);
    this.connecting ??= new Promise<Socket>((resolve, reject) => {
      const s = connect({ host: this.host, port: this.port });
      s.setNoDelay(true);
      s.once('connect', () => {
        s.off('error', reject);
        s.on('error', (e) => (this.lastError = e.message));
        this.sock = s;
        resolve(s);
      });
      s.once('error', reject);
    }).finally(() => (this.connecting = undefined));
    return this.connecting;
  }

  /** Writes `text`; resolves true once the kernel took it (or its buffer has room), false when the link failed. */
  async write(text: string): Promise<boolean> {
    let s: Socket;
    try {
      s = await this.open();
    } catch (err) {
      this.lastError = (err as Error).message;
      return false;
    }
    // The write callback runs once this chunk was handed to the kernel: a harvester that stops reading
    // (spool full) holds us here, which is the backpressure a real sender would feel.
    return new Promise<boolean>((resolve) => {
      let done = false;
      const finish = (v: boolean) => {
        if (done) return;
        done = true;
        s.off('close', onClose);
        resolve(v);
      };
      const onClose = () => finish(false);
      s.once('close', onClose);
      s.write(text, (err) => {
        if (err) this.lastError = err.message;
        finish(!err);
      });
    });
  }

  /** Half-closes after everything written was flushed; waits for the peer to close (bounded). */
  async close(timeoutMs = 5000): Promise<void> {
    const s = this.sock;
    if (!s || s.destroyed) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(() => {
        s.destroy();
        resolve();
      }, timeoutMs);
      s.once('close', () => {
        clearTimeout(t);
        resolve();
      });
      s.end();
      // The harvester keeps the connection open after our FIN; once our data left, that is enough.
      s.once('finish', () => setTimeout(() => s.destroy(), 50));
    });
  }
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** The four senders with their counts. `send` takes the records of one tick for one protocol. */
export class DemoWire {
  readonly stats: Record<Protocol, ProtocolStats> = { syslog_udp: emptyStats(), syslog_tcp: emptyStats(), json_tcp: emptyStats(), http: emptyStats() };
  private udp?: UdpSocket;
  private readonly syslogTcp: TcpLink;
  private readonly jsonTcp: TcpLink;
  private seq = 0;
  /** HTTP records waiting for the request in flight (bounded: beyond it they are counted as failed). */
  private httpQueue: Record<string, unknown>[] = [];
  private httpBusy?: Promise<void>;
  readonly maxHttpQueue = 50_000;
  readonly maxHttpBatch = 2_000;

  constructor(
    private readonly target: Target,
    private readonly run: string,
  ) {
    this.syslogTcp = new TcpLink(target.host, target.tcpPort);
    this.jsonTcp = new TcpLink(target.host, target.jsonPort);
  }

  errors(): Record<string, string | undefined> {
    return { syslog_tcp: this.syslogTcp.lastError, json_tcp: this.jsonTcp.lastError };
  }

  async send(proto: Protocol, records: DemoRecord[]): Promise<void> {
    if (records.length === 0) return;
    const st = this.stats[proto];
    switch (proto) {
      case 'syslog_udp': {
        const udp = (this.udp ??= createSocket(this.target.host.includes(':') ? 'udp6' : 'udp4'));
        await Promise.all(
          records.map(
            (r) =>
              new Promise<void>((resolve) => {
                udp.send(formatRfc3164(r), this.target.udpPort, this.target.host, (err) => {
                  if (err) fail(st, err.message, 1);
                  else st.sent++;
                  resolve();
                });
              }),
          ),
        );
        return;
      }
      case 'syslog_tcp': {
        const text = records.map((r) => octetFrame(formatRfc5424(r, ++this.seq, this.run))).join('');
        if (await this.syslogTcp.write(text)) st.sent += records.length;
        else fail(st, 'connection', records.length);
        return;
      }
      case 'json_tcp': {
        const text = `${records.map((r) => JSON.stringify(jsonRecord(r, this.run))).join('\n')}\n`;
        if (await this.jsonTcp.write(text)) st.sent += records.length;
        else fail(st, 'connection', records.length);
        return;
      }
      case 'http': {
        const room = this.maxHttpQueue - this.httpQueue.length;
        if (records.length > room) fail(st, 'queue_full', records.length - Math.max(room, 0));
        for (const r of records.slice(0, Math.max(room, 0))) this.httpQueue.push(jsonRecord(r, this.run));
        // One request at a time; records of later ticks wait in the queue and go in the next request.
        this.httpBusy ??= this.pumpHttp().finally(() => (this.httpBusy = undefined));
        return;
      }
    }
  }

  private async pumpHttp(): Promise<void> {
    const st = this.stats.http;
    const url = `http://${this.target.host.includes(':') ? `[${this.target.host}]` : this.target.host}:${this.target.httpPort}/logs/batch`;
    while (this.httpQueue.length) {
      const batch = this.httpQueue.splice(0, this.maxHttpBatch);
      let attempts = 0;
      for (;;) {
        attempts++;
        try {
          const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(batch), signal: AbortSignal.timeout(30_000) });
          await res.arrayBuffer();
          if (res.status === 202 || res.status === 200) {
            st.sent += batch.length;
            break;
          }
          if ((res.status === 429 || res.status === 503) && attempts < 20) {
            // The harvester is full: wait as told (RFC 9110 §10.2.3) and send the same batch again.
            st.throttled++;
            const after = Number(res.headers.get('retry-after'));
            await sleep(Math.min(Number.isFinite(after) && after > 0 ? after * 1000 : 1000, 10_000));
            continue;
          }
          fail(st, `http_${res.status}`, batch.length);
        } catch (err) {
          if (attempts < 3) {
            await sleep(250 * attempts);
            continue;
          }
          fail(st, (err as Error).cause instanceof Error ? ((err as Error).cause as Error).message : (err as Error).message, batch.length);
        }
        break;
      }
    }
  }

  /** Flushes HTTP, half-closes the TCP streams and closes the UDP socket. */
  async close(): Promise<void> {
    while (this.httpBusy) await this.httpBusy;
    await Promise.all([this.syslogTcp.close(), this.jsonTcp.close()]);
    await new Promise<void>((resolve) => (this.udp ? this.udp.close(() => resolve()) : resolve()));
  }
}
