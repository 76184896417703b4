import type { LiveEvent } from '@backlog/core-codec';
import { compileClientFilter, type ClientFilter } from './filter';

const isEmptyFilter = (f: ClientFilter) => !f.env && !f.host && !f.service && !f.level && !f.text;

/** The few things the hub needs from a WebSocket (the `ws` package's WebSocket has them). */
export interface ClientSocket {
  readonly bufferedAmount: number;
  /** Sends one text message (a Buffer holds its UTF-8 bytes). */
  send(data: string | Buffer): void;
}

/**
 * One event from the cluster channel: its datagram bytes (validated JSON, passed through to the
 * browsers as they are) and, parsed on first need, the event its filters look at.
 */
export interface FanoutItem {
  raw: Buffer;
  /** undefined: not parsed yet; null: unparseable (never sent to a filtering client). */
  event?: LiveEvent | null;
}

function eventOf(item: FanoutItem): LiveEvent | null {
  if (item.event !== undefined) return item.event;
  try {
    const v = JSON.parse(item.raw.toString('utf8')) as { event?: unknown };
    item.event = typeof v.event === 'object' && v.event !== null ? (v.event as LiveEvent) : null;
  } catch {
    item.event = null;
  }
  return item.event;
}

/** How a client gets events: one JSON message (default), or the datagrams one per line. */
export type Framing = 'json' | 'lines';
const FRAMES: Record<Framing, { head: Buffer; sep: Buffer; tail: Buffer }> = {
  json: { head: Buffer.from('{"type":"events","events":['), sep: Buffer.from(','), tail: Buffer.from(']}') },
  // A datagram holds no raw newline (decodeDatagram turns JSON whitespace newlines into spaces), so a
  // page can split the message and parse only the events it draws.
  lines: { head: Buffer.from('{"type":"lines"}\n'), sep: Buffer.from('\n'), tail: Buffer.alloc(0) },
};

export interface HubOptions {
  /** Events queued per client before new ones are dropped (and counted into a marker). */
  queueEvents: number;
  /** Unsent bytes in a socket above which the hub stops writing to it. */
  highWaterBytes: number;
  /** Events per message at most. */
  maxBatch: number;
  /**
   * Least time between two sends to the clients, ms (default 0: every event-loop turn). The first
   * events after a quiet spell go out at once; under load, whatever arrives within the interval goes
   * out as one message per client instead of one per Redis batch, which is what a browser can take:
   * each message is a task on the page's only thread.
   */
  flushIntervalMs?: number;
  /** Called with the number of events dropped for a slow client (for the metric). */
  onDropped?: (n: number) => void;
}

/** A run of events a client lost, kept in its queue where the loss happened. */
interface DroppedMarker {
  dropped: number;
}

class Client {
  /** Raw datagrams (already JSON) and markers, in delivery order. */
  readonly queue: (Buffer | DroppedMarker)[] = [];
  events = 0;
  droppedTotal = 0;
  /**
   * Messages (events or dropped) the client may have unacknowledged; 0 = it does not acknowledge
   * (then only the socket's unsent bytes hold the receiver back). See `setWindow`.
   */
  window = 0;
  unacked = 0;
  framing: Framing = 'json';
  match: (e: LiveEvent) => boolean;
  /** No filter: events are passed through without being parsed. */
  matchAll: boolean;
  constructor(
    readonly socket: ClientSocket,
    public filter: ClientFilter,
  ) {
    this.match = compileClientFilter(filter);
    this.matchAll = isEmptyFilter(filter);
  }
}

/**
 * The receiver's browsers. Each has its own bounded queue; a client that reads slowly fills only
 * its own queue, after which its new events are dropped and replaced by one "N dropped" marker at
 * the place of the loss. Writing stops while a socket holds more than `highWaterBytes`, so a slow
 * client never makes the receiver buffer without bound, and never delays the others.
 */
export class ClientHub {
  private readonly clients = new Set<Client>();
  private flushScheduled = false;
  private flushTimer: NodeJS.Timeout | undefined;
  private lastFlush = -Infinity;
  private retryTimer: NodeJS.Timeout | undefined;

  constructor(private readonly opts: HubOptions) {}

  get size(): number {
    return this.clients.size;
  }

  add(socket: ClientSocket, filter: ClientFilter): Client {
    const c = new Client(socket, filter);
    this.clients.add(c);
    return c;
  }

  remove(c: Client): void {
    this.clients.delete(c);
  }

  setFilter(c: Client, filter: ClientFilter): void {
    c.filter = filter;
    c.match = compileClientFilter(filter);
    c.matchAll = isEmptyFilter(filter);
  }

  /**
   * The client acknowledges the messages it has taken in (`ack`) and may have at most `window`
   * unacknowledged. A browser's network stack reads a socket far ahead of its page (megabytes on
   * loopback), so unsent bytes alone never tell that a page fell behind: its events would wait in
   * buffers for seconds instead of being dropped with a marker. With a window, what a slow page
   * cannot take stays in its bounded queue here, and the overflow becomes "N dropped".
   */
  setWindow(c: Client, window: number): void {
    c.window = Math.max(0, Math.min(1024, Math.floor(window)));
    this.scheduleFlush();
  }

  setFraming(c: Client, framing: Framing): void {
    c.framing = framing;
  }

  ack(c: Client, n: number): void {
    if (!(n > 0)) return;
    c.unacked = Math.max(0, c.unacked - Math.floor(n));
    if (c.queue.length) this.scheduleFlush();
  }

  /** Offers events to every client whose filter matches; each is parsed at most once, and only if a filter needs it. */
  deliver(items: readonly FanoutItem[]): void {
    if (this.clients.size === 0) return;
    const cap = this.opts.queueEvents;
    for (const c of this.clients) {
      for (const item of items) {
        if (!c.matchAll) {
          const event = eventOf(item);
          if (!event || !c.match(event)) continue;
        }
        if (c.events < cap) {
          c.queue.push(item.raw);
          c.events++;
        } else {
          const last = c.queue[c.queue.length - 1];
          if (last !== undefined && !Buffer.isBuffer(last)) last.dropped++;
          else c.queue.push({ dropped: 1 });
          c.droppedTotal++;
          this.opts.onDropped?.(1);
        }
      }
    }
    this.scheduleFlush();
  }

  /** Sends to every client a small message outside the event stream (stats, hello). */
  broadcast(make: (c: Client) => string): void {
    for (const c of this.clients) if (c.socket.bufferedAmount < this.opts.highWaterBytes) c.socket.send(make(c));
  }

  private scheduleFlush(): void {
    if (this.flushScheduled) return;
    this.flushScheduled = true;
    const run = () => {
      this.flushScheduled = false;
      this.flushTimer = undefined;
      this.flush();
    };
    // Everything that arrived in this turn of the event loop (and, under load, within the flush
    // interval) goes out in one message; a quiet stream's first event is not held back.
    const wait = (this.opts.flushIntervalMs ?? 0) - (performance.now() - this.lastFlush);
    if (wait <= 0) setImmediate(run);
    else this.flushTimer = setTimeout(run, Math.ceil(wait));
  }

  /** Writes queued events to each client that has room; retries later for those that do not. */
  flush(): void {
    this.lastFlush = performance.now();
    let waiting = false;
    for (const c of this.clients) {
      while (c.queue.length) {
        // Window full: the client's next ack flushes again.
        if (c.window && c.unacked >= c.window) break;
        if (c.socket.bufferedAmount >= this.opts.highWaterBytes) {
          waiting = true;
          break;
        }
        this.sendSome(c);
      }
    }
    if (waiting && !this.retryTimer) {
      // ws has no per-message drain callback we can rely on; a short timer re-checks the sockets.
      this.retryTimer = setTimeout(() => {
        this.retryTimer = undefined;
        this.flush();
      }, 20);
    }
  }

  private sendSome(c: Client): void {
    c.unacked++;
    const head = c.queue[0];
    if (head !== undefined && !Buffer.isBuffer(head)) {
      c.queue.shift();
      c.socket.send(`{"type":"dropped","count":${head.dropped}}`);
      return;
    }
    // Take up to maxBatch events, stopping at the next marker so it keeps its place.
    let n = 0;
    while (n < c.queue.length && n < this.opts.maxBatch && Buffer.isBuffer(c.queue[n])) n++;
    const batch = c.queue.splice(0, n) as Buffer[];
    c.events -= n;
    // The message is assembled from the datagrams' bytes: no decode, no re-encode.
    const f = FRAMES[c.framing];
    const parts: Buffer[] = [f.head];
    for (let i = 0; i < batch.length; i++) {
      if (i) parts.push(f.sep);
      parts.push(batch[i] as Buffer);
    }
    parts.push(f.tail);
    c.socket.send(Buffer.concat(parts));
  }

  close(): void {
    if (this.retryTimer) clearTimeout(this.retryTimer);
    if (this.flushTimer) clearTimeout(this.flushTimer);
    this.retryTimer = undefined;
    this.flushTimer = undefined;
    this.clients.clear();
  }
}

export type { Client };
