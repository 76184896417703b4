/**
 * Helpers for the inputs' specs (imported only by *.spec.ts): a collecting sink, an input context, and
 * waiting. No mocks of our servers: the specs talk to the inputs over real sockets, files and processes.
 */
import { mkdtempSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { SourcePosition, SourceSink } from '@backlog/core-pipeline';
import { silentLogger } from '@backlog/core-pipeline';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { type LogEvent, eventObject } from '@backlog/core-event';
import type { HarvestEvent } from './event';
import type { InputContext, InputStats } from './input';

export class CollectingSink implements SourceSink<HarvestEvent> {
  /** What was written, as objects (an EventLine of the syslog fast path is parsed back). */
  events: LogEvent[] = [];
  positions: SourcePosition[] = [];
  writes = 0;
  /** Events kept at most (older ones are counted in `discarded`): hostile tests must not hold 10k events of megabytes. */
  constructor(private readonly keep = Number.POSITIVE_INFINITY) {}
  discarded = 0;
  private open = true;
  private readonly listeners = new Set<() => void>();
  retryAfterSeconds = 2;
  /** Called after each write, e.g. to commit positions at once. */
  onWrite?: (events: readonly HarvestEvent[], positions: readonly SourcePosition[]) => void;

  get writable(): boolean {
    return this.open;
  }
  get count(): number {
    return this.events.length + this.discarded;
  }
  write(events: readonly HarvestEvent[], positions?: readonly SourcePosition[]): boolean {
    this.writes++;
    for (const e of events) this.events.push(eventObject(e));
    if (this.events.length > this.keep) {
      const n = this.events.length - this.keep;
      this.events.splice(0, n);
      this.discarded += n;
    }
    if (positions) this.positions.push(...positions);
    this.onWrite?.(events, positions ?? []);
    return this.open;
  }
  onWritable(listener: () => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }
  /** Simulates a full downstream (the shipper's spool under `block`). */
  pause(): void {
    this.open = false;
  }
  resume(): void {
    this.open = true;
    for (const l of [...this.listeners]) l();
  }
}

export function testContext(sink: SourceSink<HarvestEvent>, stateDir = mkdtempSync(join(tmpdir(), 'harvester-state-'))): InputContext {
  return { sink, logger: silentLogger, metrics: new MetricsRegistry(), hostname: 'test-host', labels: { env: 'test' }, stateDir };
}

/** received = emitted + Σ dropped: nothing an input took in is unaccounted for. */
export function expectAccounted(stats: InputStats): { received: number; emitted: number; dropped: number } {
  const dropped = stats.droppedTotal;
  if (stats.received !== stats.emitted + dropped) throw new Error(`unaccounted: ${JSON.stringify(stats.toJSON())}`);
  return { received: stats.received, emitted: stats.emitted, dropped };
}

/** Deterministic pseudo-random bytes (xorshift), so a hostile-input failure can be replayed. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 0x100000000;
  };
}

export function randomBytes(rand: () => number, n: number): Buffer {
  const b = Buffer.allocUnsafe(n);
  for (let i = 0; i < n; i++) b[i] = Math.floor(rand() * 256);
  return b;
}

/** The kinds of malformed records the hostile tests cycle through. */
export function hostileRecord(rand: () => number, i: number): Buffer {
  switch (i % 10) {
    case 0:
      return randomBytes(rand, 1 + Math.floor(rand() * 300));
    case 1:
      return Buffer.from([0xc3, 0x28, 0xa0, 0xa1, 0xe2, 0x28, 0xa1, 0xf0, 0x28, 0x8c, 0xbc, 0x41]); // invalid UTF-8
    case 2:
      return Buffer.from(`${'['.repeat(5000)}${']'.repeat(5000)}`); // deep nesting
    case 3: {
      // Deep objects; the 3,000-deep ones are rarer because normalize() spends ~16 ms on each (reported).
      const depth = i % 100 === 3 ? 3000 : 60;
      return Buffer.from(`{"a":${'{"a":'.repeat(depth)}1${'}'.repeat(depth)}}`);
    }
    case 4:
      return Buffer.from('<13>1 2026-11-22T10:00:00Z h a p m [x@1 k="v\0"] nul\0byte');
    case 5:
      return Buffer.from('<999>not a pri');
    case 6:
      return Buffer.from('{"message": "cut json');
    case 7:
      return Buffer.from(`<34>Oct 11 22:14:15 ${'x'.repeat(Math.floor(rand() * 2000))}`);
    case 8:
      return Buffer.from('\u0000\u0001\u0002\u0003');
    default:
      return Buffer.from('<165>1 2003-10-11T22:14:15.003Z mymachine.example.com evntslog - ID47 [exampleSDID@32473 iut="3"] ok');
  }
}

export function rssMiB(): number {
  return process.memoryUsage().rss / 1024 / 1024;
}

/** A TCP client on loopback, connected. `localAddress` picks the source address (127.0.0.2 … for per-address caps). */
export function tcpConnect(port: number, localAddress?: string): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const s = connect({ port, host: '127.0.0.1', localAddress }, () => resolve(s));
    s.once('error', reject);
  });
}

/**
 * A slow-drip sender over a real socket: `data` one byte per write(), yielding to the event loop after
 * each so that each byte tends to arrive as a read of its own (the listener's read count says how many did).
 */
export async function drip(socket: Socket, data: Uint8Array): Promise<void> {
  socket.setNoDelay(true);
  for (let i = 0; i < data.length; i++) {
    socket.write(data.subarray(i, i + 1));
    await new Promise<void>((r) => setImmediate(r));
  }
}

/** Resolves when the peer closed the socket (or it errored). */
export function closed(socket: Socket): Promise<void> {
  return new Promise((resolve) => {
    if (socket.destroyed) return resolve();
    socket.once('close', () => resolve());
  });
}
