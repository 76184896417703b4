// Smoke tests of the Redis adapter against the local Redis (shared with other test files: every key and
// channel here lives under this file's namespace).
// Tests (not sources) of an adapter use the test stack; the tag rules have no spec exception yet.
import { sleep, stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { Redis } from 'ioredis';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createRedis, type RedisAdapterError, type RedisPort } from './index';

async function rejection(p: Promise<unknown>): Promise<RedisAdapterError> {
  try {
    await p;
  } catch (e) {
    return e as RedisAdapterError;
  }
  throw new Error('expected a rejection');
}

describe('redis adapter', () => {
  const ns = testNamespace('redis');
  let a: RedisPort;
  let b: RedisPort;
  let raw: Redis;

  beforeAll(() => {
    const url = stackInfo().redis.url;
    a = createRedis({ url, keyPrefix: `${ns}:a:` });
    b = createRedis({ url, keyPrefix: `${ns}:b:` });
    raw = new Redis(url);
  });

  afterAll(async () => {
    const keys = await raw.keys(`${ns}:*`);
    if (keys.length) await raw.del(...keys);
    await raw.quit();
    await a?.quit();
    await b?.quit();
  });

  it('set/get, with and without TTL', async () => {
    await a.set('k', 'v1');
    expect(await a.get('k')).toBe('v1');
    expect(await a.ttlMs('k')).toBe(Infinity);
    await a.set('bin', Buffer.from([0, 1, 255]));
    expect(await a.getBuffer('bin')).toEqual(Buffer.from([0, 1, 255]));
    await a.set('short', 'x', { ttlMs: 150 });
    const ttl = await a.ttlMs('short');
    expect(ttl).toBeGreaterThan(0);
    expect(ttl).toBeLessThanOrEqual(150);
    await sleep(300);
    expect(await a.get('short')).toBeNull();
    expect(await a.ttlMs('short')).toBeNull();
    expect(await a.get('never-set')).toBeNull();
    expect(await a.expire('k', 60_000)).toBe(true);
    expect(await a.expire('never-set', 60_000)).toBe(false);
    expect(await a.del('k', 'never-set')).toBe(1);
  });

  it('SET NX: only the first writer wins, until the key is gone', async () => {
    expect(await a.setNx('lock', 'owner-1', { ttlMs: 200 })).toBe(true);
    expect(await a.setNx('lock', 'owner-2', { ttlMs: 200 })).toBe(false);
    expect(await a.get('lock')).toBe('owner-1');
    // Only the holder can release it.
    expect(await a.delIfEquals('lock', 'owner-2')).toBe(false);
    expect(await a.delIfEquals('lock', 'owner-1')).toBe(true);
    expect(await a.setNx('lock', 'owner-2', { ttlMs: 150 })).toBe(true);
    // A crashed holder's lock expires.
    await sleep(300);
    expect(await a.setNx('lock', 'owner-3')).toBe(true);
    expect(await a.ttlMs('lock')).toBe(Infinity);
    // Dedupe: concurrent claims of one (host, run, seq): exactly one wins.
    const claims = await Promise.all(Array.from({ length: 10 }, () => a.setNx('seen:web-01:run1:42', '1', { ttlMs: 10_000 })));
    expect(claims.filter(Boolean)).toHaveLength(1);
  });

  it('lease renewal only by the holder; hashes and sets', async () => {
    expect(await a.setNx('lease', 'me', { ttlMs: 1_000 })).toBe(true);
    expect(await a.expireIfEquals('lease', 'other', 60_000)).toBe(false);
    expect(await a.ttlMs('lease')).toBeLessThanOrEqual(1_000);
    expect(await a.expireIfEquals('lease', 'me', 60_000)).toBe(true);
    expect(await a.ttlMs('lease')).toBeGreaterThan(1_000);
    expect(await a.expireIfEquals('gone', 'me', 60_000)).toBe(false);

    expect(await a.hGetAll('h')).toEqual({});
    await a.hSet('h', 'p0', '{"state":"done"}');
    await a.hSet('h', 'p1', 'x');
    expect(await a.hGet('h', 'p0')).toBe('{"state":"done"}');
    expect(await a.hGet('h', 'nope')).toBeNull();
    expect(await a.hGetAll('h')).toEqual({ p0: '{"state":"done"}', p1: 'x' });
    expect(await a.hDel('h', 'p1', 'nope')).toBe(1);
    expect(await b.hGetAll('h')).toEqual({});

    expect(await a.sAdd('s', 'x', 'y', 'x')).toBe(2);
    expect(await a.sAdd('s', 'y')).toBe(0);
    expect((await a.sMembers('s')).sort()).toEqual(['x', 'y']);
    expect(await a.sRem('s', 'x', 'z')).toBe(1);
    expect(await a.sMembers('s')).toEqual(['y']);
    expect(await a.sMembers('never')).toEqual([]);
    await a.del('h', 's', 'lease');
  });

  it('pub/sub round trip', async () => {
    const got: Array<[string, string]> = [];
    const sub = await a.subscribe('live', (m, ch) => got.push([ch, m]));
    const got2: string[] = [];
    const sub2 = await a.subscribe('live', (m) => got2.push(m));
    // One Redis subscription per channel, whatever the number of local handlers.
    expect(await a.publish('live', '{"message":"hello"}')).toBe(1);
    await waitFor('message', () => got.length === 1 && got2.length === 1, 5_000, 10);
    expect(got).toEqual([['live', '{"message":"hello"}']]);
    await sub.unsubscribe();
    expect(await a.publish('live', 'two')).toBe(1);
    await waitFor('second message', () => got2.length === 2, 5_000, 10);
    expect(got).toHaveLength(1);
    await sub2.unsubscribe();
    expect(await a.publish('live', 'three')).toBe(0);
  });

  it('prefixes isolate keys and channels', async () => {
    await a.set('same', 'from-a');
    await b.set('same', 'from-b');
    expect(await a.get('same')).toBe('from-a');
    expect(await b.get('same')).toBe('from-b');
    expect(await raw.get(`${ns}:a:same`)).toBe('from-a');
    expect(await b.setNx('only-in-a', 'x')).toBe(true);
    expect(await a.get('only-in-a')).toBeNull();
    const inA: string[] = [];
    const inB: string[] = [];
    const sa = await a.subscribe('ch', (m) => inA.push(m));
    const sb = await b.subscribe('ch', (m) => inB.push(m));
    expect(await b.publish('ch', 'for-b')).toBe(1);
    await waitFor('b message', () => inB.length === 1, 5_000, 10);
    await sleep(50);
    expect(inA).toEqual([]);
    await sa.unsubscribe();
    await sb.unsubscribe();
  });

  it('maps failures to coded errors', async () => {
    const down = createRedis({ url: 'redis://127.0.0.1:1', keyPrefix: `${ns}:d:`, maxRetriesPerRequest: 1, connectTimeoutMs: 500 });
    expect(await rejection(down.get('x'))).toMatchObject({ code: 'REDIS_UNAVAILABLE', retriable: true });
    await down.quit();
    await a.set('str', 'x');
    await raw.lpush(`${ns}:a:list`, 'x');
    expect(await rejection(a.get('list'))).toMatchObject({ code: 'REDIS_COMMAND', retriable: false });
    const c = createRedis({ url: stackInfo().redis.url, keyPrefix: `${ns}:c:` });
    await c.ping();
    await c.quit();
    await c.quit();
    expect(await rejection(c.get('x'))).toMatchObject({ code: 'REDIS_CLOSED', retriable: false });
  });
});
