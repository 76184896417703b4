import { type RedisPort, isRedisAdapterError } from '@backlog/adapter-redis';
import type { ReplayStore } from '@backlog/core-sealed';

/**
 * The replay record every gateway replica shares: one Redis key per accepted (env, sender, seq),
 * written with SET NX and a TTL of the frame's remaining freshness (core-sealed replayClaimTtlMs). The
 * first replica to claim a frame wins; any other replica, or this one after a restart, finds the key
 * and refuses the frame as a replay. When Redis does not answer, `claim` rejects and the gateway
 * refuses the frame (fail closed).
 */
export class RedisReplayStore implements ReplayStore {
  /** False after a Redis failure, until a command succeeds again (for /healthz and the up gauge). */
  available = true;

  constructor(
    private readonly redis: RedisPort,
    private readonly onChange?: (available: boolean) => void,
  ) {}

  async claim(entry: { env: string; sender: string; seq: number }, ttlMs: number): Promise<boolean> {
    try {
      const won = await this.redis.setNx(`replay:${entry.env}:${entry.sender}:${entry.seq}`, '1', { ttlMs });
      this.mark(true);
      return won;
    } catch (err) {
      if (isRedisAdapterError(err)) this.mark(false);
      throw err;
    }
  }

  /** One PING; keeps `available` current while no frames arrive (a replica out of its load balancer gets none). */
  async probe(): Promise<boolean> {
    try {
      await this.redis.ping();
      this.mark(true);
    } catch {
      this.mark(false);
    }
    return this.available;
  }

  private mark(up: boolean): void {
    if (up === this.available) return;
    this.available = up;
    this.onChange?.(up);
  }
}
