import { describe, expect, it } from 'vitest';
import { CursorError, MAX_CURSOR_LENGTH, decodeCursor, encodeCursor, fingerprint } from './cursor';

const fp = fingerprint(['dev', 'level:error', { from: '-1h' }, null]);
const cursor = { v: 1 as const, pit: 'cGl0LWlk', after: [1764000000000, '0193a1f2-aaaa'], now: 1764000000000, h: [['logs-dev-history-a-b', [[1, 2]]]] as [string, [number, number][]][], fp, n: 100 };

describe('cursor codec', () => {
  it('round-trips, and is URL-safe', () => {
    const text = encodeCursor(cursor);
    expect(text).toMatch(/^[A-Za-z0-9_-]+$/);
    expect(decodeCursor(text, fp)).toEqual(cursor);
  });

  it('binds to its query: another fingerprint is refused with a reason', () => {
    const text = encodeCursor(cursor);
    const other = fingerprint(['dev', 'level:warn', { from: '-1h' }, null]);
    expect(other).not.toBe(fp);
    expect(() => decodeCursor(text, other)).toThrow(/continues another query/);
  });

  it.each([
    ['empty', ''],
    ['not base64url', 'a+b/c='],
    ['not JSON', Buffer.from('nope').toString('base64url')],
    ['another shape', Buffer.from(JSON.stringify({ v: 2 })).toString('base64url')],
    ['an extra key', Buffer.from(JSON.stringify({ ...cursor, x: 1 })).toString('base64url')],
    ['a history index name that is not one', Buffer.from(JSON.stringify({ ...cursor, h: [['.kibana', []]] })).toString('base64url')],
    ['sort values that are objects', Buffer.from(JSON.stringify({ ...cursor, after: [{ a: 1 }] })).toString('base64url')],
    ['too long', 'a'.repeat(MAX_CURSOR_LENGTH + 1)],
  ])('refuses %s', (_, text) => {
    expect(() => decodeCursor(text, fp)).toThrow(CursorError);
  });

  it('the fingerprint depends on every part', () => {
    const base = ['dev', 'q', { from: '1h' }, 10];
    const seen = new Set([
      fingerprint(base),
      fingerprint(['prod', 'q', { from: '1h' }, 10]),
      fingerprint(['dev', 'q2', { from: '1h' }, 10]),
      fingerprint(['dev', 'q', { from: '2h' }, 10]),
      fingerprint(['dev', 'q', { from: '1h' }, 11]),
    ]);
    expect(seen.size).toBe(5);
  });
});
