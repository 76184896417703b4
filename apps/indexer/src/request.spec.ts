import { describe, expect, it } from 'vitest';
import { RequestError, indexOf, parseHistoryIndex, validateLoad } from './request';

const limits = { envs: ['dev', 'prod'], maxRangeHours: 24, maxTtlHours: 72 };
const now = Date.parse('2026-11-22T12:00:00Z');
const reasons = (body: unknown): string[] => {
  try {
    validateLoad(body, limits, now);
  } catch (e) {
    if (e instanceof RequestError) return e.reasons;
    throw e;
  }
  return [];
};

describe('load request validation', () => {
  it('accepts RFC 3339, epoch seconds and relative times; whole seconds; the index name from them', () => {
    const r = validateLoad({ env: 'dev', start: '2026-11-22T10:00:00.750Z', end: 1795348800, filter: { host: 'web-1', level: ['ERROR'] }, maxEvents: 10 }, limits, now);
    expect(r).toEqual({ env: 'dev', fromMs: Date.parse('2026-11-22T10:00:00Z'), toMs: 1795348800_000, filter: { host: ['web-1'], level: ['error'] }, maxEvents: 10 });
    expect(indexOf(r)).toBe(`logs-dev-history-${(1795341600).toString(36)}-${(1795348800).toString(36)}`);
    expect(parseHistoryIndex(indexOf(r))).toEqual({ env: 'dev', fromMs: r.fromMs, toMs: r.toMs });
    expect(validateLoad({ env: 'prod', start: '-2h', end: 'now' }, limits, now)).toMatchObject({ fromMs: now - 7_200_000, toMs: now });
  });
  it('400 reasons: end ≤ start, range over the maximum, unknown env, ttl over the maximum — all at once', () => {
    expect(reasons({ env: 'dev', start: '2026-11-22T10:00:00Z', end: '2026-11-22T10:00:00Z' })).toEqual([expect.stringMatching(/end .* must be after start/)]);
    expect(reasons({ env: 'dev', start: '-3d', end: 'now' })).toEqual([expect.stringMatching(/over the maximum of 24 h/)]);
    const all = reasons({ env: 'qa', start: 'yesterday', end: 'now', ttlHours: 100 });
    expect(all).toHaveLength(3);
    expect(all.join('\n')).toMatch(/unknown env "qa" \(known: dev, prod\)/);
    expect(all.join('\n')).toMatch(/start: not a time/);
    expect(all.join('\n')).toMatch(/ttlHours 100 is over the maximum of 72/);
  });
  it('400 on a malformed body: missing fields, unknown keys, wrong types', () => {
    expect(reasons({ env: 'dev' }).join('\n')).toMatch(/start/);
    expect(reasons({ env: 'dev', start: '-1h', end: 'now', colour: 'red' }).join('\n')).toMatch(/colour/);
    expect(reasons({ env: 'dev', start: '-1h', end: 'now', maxEvents: -1 }).join('\n')).toMatch(/maxEvents/);
    expect(reasons({ env: 'dev', start: '-1h', end: 'now', filter: { region: 'eu' } }).join('\n')).toMatch(/region/);
    expect(reasons(null).length).toBeGreaterThan(0);
  });
  it('reads only history index names', () => {
    expect(parseHistoryIndex('logs-dev-recent-2026.11.22')).toBeUndefined();
    expect(parseHistoryIndex('logs-dev-history-b-a')).toBeUndefined();
    expect(parseHistoryIndex('logs-my-env-history-1-2')).toEqual({ env: 'my-env', fromMs: 1000, toMs: 2000 });
  });
});
