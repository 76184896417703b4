import { randomBytes } from 'node:crypto';
import { createSocket, type Socket } from 'node:dgram';
import { hostname } from 'node:os';
import { isIP } from 'node:net';
import { z } from 'zod';
import { EventLine } from '@backlog/core-event';
import { DEFAULT_MAX_DATAGRAM_BYTES, encodeDatagram, encodeDatagramJson, type LiveEventLike } from '@backlog/core-codec';
import { MATCH_ALL, compileLiveFilter, liveFilterSchema } from './filter';

const target = z
  .string()
  .regex(
    /^(\[[0-9a-fA-F:.]+\]|[A-Za-z0-9](?:[A-Za-z0-9.-]{0,251}[A-Za-z0-9])?):\d{1,5}$/,
    'expected host:port, e.g. 127.0.0.1:5515, [::1]:5515 or live-receiver:5515 (a name is resolved once, when the socket connects at start)',
  );

/** The harvester's `live` config section. Spread it into the harvester's schema as `live: liveConfigSchema.prefault({})`. */
export const liveConfigSchema = z
  .object({
    /** Send live datagrams at all. Default false: a harvester sends nothing until it is given targets. */
    enabled: z.boolean().default(false),
    /**
     * Live-receivers (`ip:port` or `name:port`); every datagram goes to each of them. A name is resolved
     * once, when the target's socket connects at start (never per datagram): point it at a stable
     * address such as a Kubernetes Service. Default `['127.0.0.1:5515']`.
     */
    targets: z.array(target).min(1).default(['127.0.0.1:5515']),
    /** Which events get a live copy. Default: all. */
    filter: liveFilterSchema.prefault({}),
    /** Largest datagram, bytes. Default 1400 (no IP fragmentation on a 1,500 MTU path). */
    maxDatagramBytes: z.number().int().min(512).max(65_000).default(DEFAULT_MAX_DATAGRAM_BYTES),
    /**
     * Datagrams the kernel has not yet taken (per target) beyond which new ones are dropped rather
     * than queued in memory. Default 1024.
     */
    maxQueuedDatagrams: z.number().int().min(1).default(1024),
  })
  .strict();

export type LiveConfig = z.input<typeof liveConfigSchema>;

export interface LiveSenderStats {
  /** Events that passed the filter and were handed to the kernel, once per event (not per target). */
  sent: number;
  /** Events that passed the filter but were cut or stripped to fit a datagram. */
  truncated: number;
  /** Events not sent (or not to every target), by reason. */
  dropped: { oversize: number; backpressure: number; send_error: number; stopped: number };
  /** Events the filter did not select. */
  filtered: number;
}

export interface LiveSender {
  /** Offers one normalized event; returns at once (never waits, never retries). */
  send(event: LiveEventLike | EventLine): void;
  /** Closes the sockets; later `send` calls are counted as dropped (`stopped`). Safe to call twice. */
  stop(): Promise<void>;
  readonly stats: LiveSenderStats;
  /** This run's id, as carried by every datagram. */
  readonly run: string;
}

export interface LiveSenderOptions {
  /** The harvester host name in each datagram's header. Default `os.hostname()`. */
  host?: string;
  /** The harvester run id. Default: 12 random base64url characters (72 bits). */
  run?: string;
  /** Clock, for tests. */
  now?: () => number;
}

const NOOP: LiveSender = {
  send() {
    // live output disabled: nothing selected, nothing counted
  },
  async stop() {
    // no sockets were opened
  },
  stats: { sent: 0, truncated: 0, filtered: 0, dropped: { oversize: 0, backpressure: 0, send_error: 0, stopped: 0 } },
  run: '',
};

/**
 * Creates the harvester's live output. `send(event)` filters, encodes and hands a datagram to the
 * kernel for every target, synchronously and without waiting: the live path may lose events, but it
 * must never slow the durable path to Kafka (DESIGN.md "Live path").
 */
export function createLiveSender(config: LiveConfig = {}, opts: LiveSenderOptions = {}): LiveSender {
  const cfg = liveConfigSchema.parse(config);
  if (!cfg.enabled) return NOOP;
  const match = compileLiveFilter(cfg.filter);
  const host = opts.host ?? hostname();
  const run = opts.run ?? randomBytes(9).toString('base64url');
  const now = opts.now ?? Date.now;
  const stats: LiveSenderStats = { sent: 0, truncated: 0, filtered: 0, dropped: { oversize: 0, backpressure: 0, send_error: 0, stopped: 0 } };
  let seq = 0;
  let stopped = false;

  const onSent = (err: Error | null) => {
    if (err) stats.dropped.send_error++;
  };

  // One connected socket per target: a connected UDP socket skips the per-send address lookup and
  // lets the kernel report ICMP "port unreachable" to us instead of to nobody.
  const sockets: { socket: Socket; pending: Buffer[] | undefined }[] = cfg.targets.map((t) => {
    const m = /^\[?([^\]]+?)\]?:(\d+)$/.exec(t) as RegExpExecArray;
    const address = m[1] as string;
    const port = Number(m[2]);
    const socket = createSocket(isIP(address) === 6 ? 'udp6' : 'udp4');
    // Until the connect completes, Node refuses sends on the socket: keep those few datagrams (bounded).
    const entry: { socket: Socket; pending: Buffer[] | undefined } = { socket, pending: [] };
    // A send error (receiver down → ECONNREFUSED from an earlier datagram's ICMP) is counted, never thrown.
    socket.on('error', () => {
      stats.dropped.send_error++;
    });
    socket.connect(port, address, () => {
      const queued = entry.pending ?? [];
      entry.pending = undefined;
      for (const buf of queued) socket.send(buf, onSent);
    });
    socket.unref();
    return entry;
  });

  return {
    run,
    stats,
    send(event) {
      if (stopped) {
        stats.dropped.stopped++;
        return;
      }
      try {
        // An EventLine (the syslog fast path) is parsed only when a filter reads its fields or it must be cut.
        const line = event instanceof EventLine ? event : undefined;
        if (match !== MATCH_ALL && !match(line ? line.event : (event as LiveEventLike))) {
          stats.filtered++;
          return;
        }
        const header = { host, run, seq, sent: now() };
        const res = line ? encodeDatagramJson(line.json, () => line.event, header, cfg.maxDatagramBytes) : encodeDatagram(event as LiveEventLike, header, cfg.maxDatagramBytes);
        // The seq is spent even when the event is dropped here: receivers then count the gap, which is
        // what a gap means (an event the harvester selected that no browser will see).
        seq++;
        if (!res.ok) {
          stats.dropped.oversize++;
          return;
        }
        if (res.truncated) stats.truncated++;
        let handed = false;
        for (const s of sockets) {
          // Bounded: libuv queues sends the kernel did not take yet; beyond the cap we drop.
          const queued = s.pending ? s.pending.length : s.socket.getSendQueueCount();
          if (queued >= cfg.maxQueuedDatagrams) {
            stats.dropped.backpressure++;
            continue;
          }
          if (s.pending) s.pending.push(res.buf);
          else s.socket.send(res.buf, onSent);
          handed = true;
        }
        if (handed) stats.sent++;
      } catch {
        // An event shape we did not expect (e.g. a cyclic `fields`): count it, keep shipping.
        stats.dropped.send_error++;
      }
    },
    async stop() {
      if (stopped) return;
      stopped = true;
      await Promise.all(
        sockets.map(
          (s) =>
            new Promise<void>((r) => {
              try {
                s.socket.close(() => r());
              } catch {
                r();
              }
            }),
        ),
      );
    },
  };
}
