import { describe, expect, it } from 'vitest';
import { createRedis, mapRedisError } from './index';

const named = (name: string, message: string) => Object.assign(new Error(message), { name });

describe('mapRedisError', () => {
  it.each([
    [named('ReplyError', 'WRONGTYPE Operation against a key holding the wrong kind of value'), false, 'REDIS_COMMAND', false],
    [named('ReplyError', 'LOADING Redis is loading the dataset in memory'), false, 'REDIS_BUSY', true],
    [named('ReplyError', "READONLY You can't write against a read only replica."), false, 'REDIS_BUSY', true],
    [new Error('Command timed out'), false, 'REDIS_TIMEOUT', true],
    [named('MaxRetriesPerRequestError', 'Reached the max retries per request limit (which is 3).'), false, 'REDIS_UNAVAILABLE', true],
    [new Error('Connection is closed.'), false, 'REDIS_UNAVAILABLE', true],
    [new Error('Connection is closed.'), true, 'REDIS_CLOSED', false],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), false, 'REDIS_UNAVAILABLE', true],
  ] as const)('%s (closed=%s) → %s', (err, closed, code, retriable) => {
    expect(mapRedisError(err, 'op', closed)).toMatchObject({ code, retriable });
  });
});

describe('createRedis', () => {
  it('requires a key prefix', () => {
    expect(() => createRedis({ url: 'redis://127.0.0.1:1', keyPrefix: '' })).toThrow(expect.objectContaining({ code: 'REDIS_CONFIG_INVALID' }));
  });
});
