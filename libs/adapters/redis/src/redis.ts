import { Redis } from 'ioredis';
import { RedisAdapterError, mapRedisError } from './errors';

export interface RedisConfig {
  /** `redis://[user:pass@]host:port[/db]`. */
  url: string;
  /**
   * Prepended to every key *and* every pub/sub channel, e.g. `backlog:dev:`. Applied by this adapter,
   * not by ioredis' `keyPrefix`, because ioredis does not prefix pub/sub channels: one rule for both.
   */
  keyPrefix: string;
  /** TCP connect timeout, ms. Default 5,000. */
  connectTimeoutMs?: number;
  /** A command without a reply after this long fails with REDIS_TIMEOUT, ms. Default 5,000. */
  commandTimeoutMs?: number;
  /** Reconnect attempts a command waits for before failing with REDIS_UNAVAILABLE. Default 3. */
  maxRetriesPerRequest?: number;
  /** Connection-level errors (ioredis reconnects by itself); default: dropped. */
  onConnectionError?: (error: RedisAdapterError) => void;
}

export interface SetOptions {
  /** Expire after this many milliseconds (PX). Default: no expiry. */
  ttlMs?: number;
}

export interface Subscription {
  unsubscribe(): Promise<void>;
}

export type MessageHandler = (message: string, channel: string) => void;

export interface RedisPort {
  readonly keyPrefix: string;
  get(key: string): Promise<string | null>;
  getBuffer(key: string): Promise<Buffer | null>;
  set(key: string, value: string | Buffer, options?: SetOptions): Promise<void>;
  /**
   * SET NX: writes only when the key does not exist; true when this call wrote it. The building block
   * of locks (with a TTL so a crashed holder cannot block forever) and of dedupe (`(host, run, seq)`).
   */
  setNx(key: string, value: string | Buffer, options?: SetOptions): Promise<boolean>;
  /** Deletes keys; returns how many existed. */
  del(...keys: string[]): Promise<number>;
  /** Deletes the key only if it still holds `value` (atomic, Lua): releasing a lock we own, not a successor's. */
  delIfEquals(key: string, value: string): Promise<boolean>;
  /** Sets a new TTL on an existing key; false when the key does not exist. */
  expire(key: string, ttlMs: number): Promise<boolean>;
  /** Sets a new TTL only if the key still holds `value` (atomic, Lua): renewing a lease we own, not a successor's. */
  expireIfEquals(key: string, value: string, ttlMs: number): Promise<boolean>;
  /** HSET of one field. */
  hSet(key: string, field: string, value: string): Promise<void>;
  /** HGET of one field; null when the key or field does not exist. */
  hGet(key: string, field: string): Promise<string | null>;
  /** Every field of a hash (`{}` when the key does not exist). */
  hGetAll(key: string): Promise<Record<string, string>>;
  /** Deletes fields of a hash; returns how many existed. */
  hDel(key: string, ...fields: string[]): Promise<number>;
  /** Adds members to a set; returns how many were new. */
  sAdd(key: string, ...members: string[]): Promise<number>;
  /** Removes members from a set; returns how many were there. */
  sRem(key: string, ...members: string[]): Promise<number>;
  /** Every member of a set (`[]` when the key does not exist), in no particular order. */
  sMembers(key: string): Promise<string[]>;
  /** Remaining TTL in ms; `null` when the key does not exist, `Infinity` when it has no expiry. */
  ttlMs(key: string): Promise<number | null>;
  /** Publishes to the (prefixed) channel; returns the number of subscribers that received it. */
  publish(channel: string, message: string | Buffer): Promise<number>;
  /**
   * Subscribes a handler to a (prefixed) channel, on a dedicated connection (a subscribed Redis
   * connection cannot run other commands). Resolves once the server confirmed the subscription.
   */
  subscribe(channel: string, handler: MessageHandler): Promise<Subscription>;
  ping(): Promise<void>;
  /** Closes both connections after pending replies; safe to call twice. */
  quit(): Promise<void>;
}

const DEL_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) else return 0 end`;
const EXPIRE_IF_EQUALS = `if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) else return 0 end`;

export function createRedis(config: RedisConfig): RedisPort {
  return new RedisAdapter(config);
}

class RedisAdapter implements RedisPort {
  readonly keyPrefix: string;
  private readonly cmd: Redis;
  private sub: Redis | undefined;
  private readonly handlers = new Map<string, Set<MessageHandler>>();
  private closed = false;

  constructor(private readonly cfg: RedisConfig) {
    if (!cfg.keyPrefix) throw new RedisAdapterError('REDIS_CONFIG_INVALID', 'redis: keyPrefix is required (keys of different envs must not collide)');
    this.keyPrefix = cfg.keyPrefix;
    this.cmd = this.connection();
  }

  get(key: string): Promise<string | null> {
    return this.run(`GET ${key}`, () => this.cmd.get(this.k(key)));
  }

  getBuffer(key: string): Promise<Buffer | null> {
    return this.run(`GET ${key}`, () => this.cmd.getBuffer(this.k(key)));
  }

  async set(key: string, value: string | Buffer, options: SetOptions = {}): Promise<void> {
    const ttl = ttlOf(options);
    await this.run(`SET ${key}`, () => (ttl ? this.cmd.set(this.k(key), value, 'PX', ttl) : this.cmd.set(this.k(key), value)));
  }

  async setNx(key: string, value: string | Buffer, options: SetOptions = {}): Promise<boolean> {
    const ttl = ttlOf(options);
    const res = await this.run(`SET NX ${key}`, () => (ttl ? this.cmd.set(this.k(key), value, 'PX', ttl, 'NX') : this.cmd.set(this.k(key), value, 'NX')));
    return res === 'OK';
  }

  del(...keys: string[]): Promise<number> {
    if (keys.length === 0) return Promise.resolve(0);
    return this.run('DEL', () => this.cmd.del(...keys.map((k) => this.k(k))));
  }

  async delIfEquals(key: string, value: string): Promise<boolean> {
    const n = await this.run(`DEL-IF-EQUALS ${key}`, () => this.cmd.eval(DEL_IF_EQUALS, 1, this.k(key), value));
    return n === 1;
  }

  async expire(key: string, ttlMs: number): Promise<boolean> {
    const ttl = ttlOf({ ttlMs });
    return (await this.run(`PEXPIRE ${key}`, () => this.cmd.pexpire(this.k(key), ttl ?? 0))) === 1;
  }

  async expireIfEquals(key: string, value: string, ttlMs: number): Promise<boolean> {
    const ttl = ttlOf({ ttlMs }) as number;
    const n = await this.run(`PEXPIRE-IF-EQUALS ${key}`, () => this.cmd.eval(EXPIRE_IF_EQUALS, 1, this.k(key), value, String(ttl)));
    return n === 1;
  }

  async hSet(key: string, field: string, value: string): Promise<void> {
    await this.run(`HSET ${key}`, () => this.cmd.hset(this.k(key), field, value));
  }

  hGet(key: string, field: string): Promise<string | null> {
    return this.run(`HGET ${key}`, () => this.cmd.hget(this.k(key), field));
  }

  hGetAll(key: string): Promise<Record<string, string>> {
    return this.run(`HGETALL ${key}`, () => this.cmd.hgetall(this.k(key)));
  }

  hDel(key: string, ...fields: string[]): Promise<number> {
    if (fields.length === 0) return Promise.resolve(0);
    return this.run(`HDEL ${key}`, () => this.cmd.hdel(this.k(key), ...fields));
  }

  sAdd(key: string, ...members: string[]): Promise<number> {
    if (members.length === 0) return Promise.resolve(0);
    return this.run(`SADD ${key}`, () => this.cmd.sadd(this.k(key), ...members));
  }

  sRem(key: string, ...members: string[]): Promise<number> {
    if (members.length === 0) return Promise.resolve(0);
    return this.run(`SREM ${key}`, () => this.cmd.srem(this.k(key), ...members));
  }

  sMembers(key: string): Promise<string[]> {
    return this.run(`SMEMBERS ${key}`, () => this.cmd.smembers(this.k(key)));
  }

  async ttlMs(key: string): Promise<number | null> {
    const n = await this.run(`PTTL ${key}`, () => this.cmd.pttl(this.k(key)));
    return n === -2 ? null : n === -1 ? Infinity : n;
  }

  publish(channel: string, message: string | Buffer): Promise<number> {
    return this.run(`PUBLISH ${channel}`, () => this.cmd.publish(this.k(channel), message));
  }

  async subscribe(channel: string, handler: MessageHandler): Promise<Subscription> {
    this.open();
    const full = this.k(channel);
    const sub = this.subscriber();
    let set = this.handlers.get(full);
    if (!set) {
      set = new Set();
      this.handlers.set(full, set);
      try {
        await sub.subscribe(full);
      } catch (e) {
        this.handlers.delete(full);
        throw mapRedisError(e, `SUBSCRIBE ${channel}`, this.closed);
      }
    }
    set.add(handler);
    let active = true;
    return {
      unsubscribe: async () => {
        if (!active) return;
        active = false;
        const s = this.handlers.get(full);
        s?.delete(handler);
        if (s && s.size === 0) {
          this.handlers.delete(full);
          if (this.closed) return;
          try {
            await sub.unsubscribe(full);
          } catch (e) {
            throw mapRedisError(e, `UNSUBSCRIBE ${channel}`, this.closed);
          }
        }
      },
    };
  }

  async ping(): Promise<void> {
    await this.run('PING', () => this.cmd.ping());
  }

  async quit(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    this.handlers.clear();
    // QUIT waits for pending replies; disconnect() is the fallback when the server is gone.
    await Promise.all([this.cmd, this.sub].filter((c): c is Redis => c !== undefined).map((c) => c.quit().catch(() => c.disconnect())));
  }

  // ---- internals ----

  private k(key: string): string {
    return this.keyPrefix + key;
  }

  private open(): void {
    if (this.closed) throw new RedisAdapterError('REDIS_CLOSED', 'redis: the adapter was quit');
  }

  private async run<T>(what: string, fn: () => Promise<T>): Promise<T> {
    this.open();
    try {
      return await fn();
    } catch (e) {
      throw mapRedisError(e, what, this.closed);
    }
  }

  private connection(): Redis {
    const c = new Redis(this.cfg.url, {
      connectTimeout: this.cfg.connectTimeoutMs ?? 5_000,
      commandTimeout: this.cfg.commandTimeoutMs ?? 5_000,
      maxRetriesPerRequest: this.cfg.maxRetriesPerRequest ?? 3,
      // Resubscribe after a reconnect (ioredis default), so a blip does not silently end the fan-out.
      autoResubscribe: true,
    });
    // Without a listener ioredis prints "Unhandled error event" for every failed reconnect.
    c.on('error', (e: unknown) => this.cfg.onConnectionError?.(mapRedisError(e, 'redis connection', this.closed)));
    return c;
  }

  private subscriber(): Redis {
    if (!this.sub) {
      const sub = this.connection();
      sub.on('message', (channel: string, message: string) => {
        const set = this.handlers.get(channel);
        if (!set) return;
        const short = channel.slice(this.keyPrefix.length);
        for (const h of set) {
          // A throwing handler must not break delivery to the others.
          try {
            h(message, short);
          } catch {
            /* the handler's own failure; it should catch and count it */
          }
        }
      });
      this.sub = sub;
    }
    return this.sub;
  }
}

function ttlOf(o: SetOptions): number | undefined {
  if (o.ttlMs === undefined) return undefined;
  if (!Number.isInteger(o.ttlMs) || o.ttlMs <= 0) throw new RedisAdapterError('REDIS_CONFIG_INVALID', `redis: ttlMs must be a positive integer, got ${o.ttlMs}`);
  return o.ttlMs;
}
