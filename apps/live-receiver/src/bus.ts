import { Redis } from 'ioredis';

/**
 * What the receiver needs from Redis: claim ids once cluster-wide (SET NX with a TTL) and fan out
 * through pub/sub. A port, so the receiver's logic is tested against a real Redis here and can move
 * onto `@backlog/adapter-redis` once that adapter offers pipelined SET NX (see README "Scaling").
 */
export interface LiveBus {
  /** For each key, true when this call set it (first sighting cluster-wide), false when it existed. */
  claim(keys: readonly string[], ttlMs: number): Promise<boolean[]>;
  publish(channel: string, message: string): Promise<void>;
  /** Calls `onMessage` for every message on `channel` from now on. */
  subscribe(channel: string, onMessage: (message: string) => void): Promise<void>;
  /** Both connections are up. */
  ready(): boolean;
  close(): Promise<void>;
}

export class RedisLiveBus implements LiveBus {
  private readonly cmd: Redis;
  private readonly sub: Redis;

  constructor(url: string, onError: (err: Error) => void = () => undefined) {
    // No offline queue and one try per command: while Redis is away, claims fail at once and the
    // receiver counts the datagrams as dropped instead of piling them up in memory.
    const opts = { enableOfflineQueue: false, maxRetriesPerRequest: 1, lazyConnect: true, connectionName: 'backlog-live-receiver' } as const;
    this.cmd = new Redis(url, opts);
    // The subscriber keeps an offline queue so that its SUBSCRIBE is replayed after a reconnect.
    this.sub = new Redis(url, { lazyConnect: true, connectionName: 'backlog-live-receiver-sub' });
    this.cmd.on('error', onError);
    this.sub.on('error', onError);
  }

  async connect(): Promise<void> {
    await Promise.all([this.cmd.connect(), this.sub.connect()]);
  }

  async claim(keys: readonly string[], ttlMs: number): Promise<boolean[]> {
    if (keys.length === 0) return [];
    // One round trip for the whole batch: a pipeline of independent SET NX PX commands.
    const p = this.cmd.pipeline();
    for (const k of keys) p.set(k, '1', 'PX', ttlMs, 'NX');
    const res = await p.exec();
    if (!res) throw new Error('redis pipeline aborted');
    return res.map(([err, v]) => {
      if (err) throw err;
      return v === 'OK';
    });
  }

  async publish(channel: string, message: string): Promise<void> {
    await this.cmd.publish(channel, message);
  }

  async subscribe(channel: string, onMessage: (message: string) => void): Promise<void> {
    this.sub.on('message', (ch: string, msg: string) => {
      if (ch === channel) onMessage(msg);
    });
    await this.sub.subscribe(channel);
  }

  ready(): boolean {
    return this.cmd.status === 'ready' && this.sub.status === 'ready';
  }

  async close(): Promise<void> {
    await Promise.allSettled([this.cmd.quit(), this.sub.quit()]);
    this.cmd.disconnect();
    this.sub.disconnect();
  }
}
