import { logsCatalogue } from '@backlog/adapter-search';
import { parseHistoryIndex } from '@backlog/core-codec';
import { describe, expect, it } from 'vitest';
import { RequestError, indexOf, storedFilterText, validateLoad } from './request';

const limits = { envs: ['dev', 'prod'], maxRangeHours: 24, maxTtlHours: 72, catalogue: logsCatalogue('opensearch') };
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
    expect(r).toEqual({ env: 'dev', fromMs: Date.parse('2026-11-22T10:00:00Z'), toMs: 1795348800_000, filter: 'host.name:web-1 AND log.level:error', maxEvents: 10 });
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
  it('filter: the query language, stored as its canonical text; the older object translated into it', () => {
    const body = { env: 'dev', start: '-1h', end: 'now' };
    expect(validateLoad({ ...body, filter: 'level:error  service:api' }, limits, now).filter).toBe('level:error AND service:api');
    expect(validateLoad({ ...body, filter: '-level:debug AND host:(web-1 OR web-2)' }, limits, now).filter).toBe('NOT level:debug AND (host:web-1 OR host:web-2)');
    // What another service sends (printQuery of its filter) comes back unchanged.
    expect(validateLoad({ ...body, filter: 'NOT level:debug AND (host:web-1 OR host:web-2)' }, limits, now).filter).toBe('NOT level:debug AND (host:web-1 OR host:web-2)');
    expect(validateLoad({ ...body, filter: { host: ['web-2', 'web-1'], message: 'Timed Out' } }, limits, now).filter).toBe('(host.name:web-1 OR host.name:web-2) AND message:"timed out"');
    expect(validateLoad({ ...body, filter: '' }, limits, now).filter).toBe('');
    expect(validateLoad({ ...body, filter: '*' }, limits, now).filter).toBe('');
    expect(validateLoad(body, limits, now).filter).toBe('');
  });
  it('400 on a filter that does not parse or check: the reason with its column and hint, and the error itself', () => {
    const body = { env: 'dev', start: '-1h', end: 'now' };
    const err = (filter: unknown) => {
      try {
        validateLoad({ ...body, filter }, limits, now);
      } catch (e) {
        if (e instanceof RequestError) return e;
        throw e;
      }
      throw new Error('accepted');
    };
    const pipe = err('level:error | stats count() by service');
    expect(pipe.reasons).toEqual([expect.stringMatching(/^filter: a filter takes no \| stats command here \(column 15\) — hint: /)]);
    expect(pipe.filter?.error.toJSON()).toMatchObject({ code: 'COMMAND_CONFLICT', column: 15 });
    expect(pipe.filter?.text).toBe('level:error | stats count() by service');
    expect(err('level:error AND sevice:api').reasons[0]).toMatch(/unknown field "sevice" — did you mean "service"\? \(column 17\)/);
    expect(err('host:(a OR b').filter?.error.code).toBe('UNBALANCED_PARENS');
    expect(err('process.pid:abc').filter?.error.toJSON()).toMatchObject({ code: 'FIELD_TYPE', column: 13 });
    expect(err('@timestamp>=now-1h').filter?.error.code).toBe('TIME_INVALID');
    expect(err({ message: '!!!' }).reasons[0]).toMatch(/^filter: message~!!!: no word/);
    expect(err('x'.repeat(20_000)).filter?.error.code).toBe('QUERY_TOO_LONG');
    // Every reason at once: the filter's with the others.
    const all = reasons({ env: 'qa', start: '-1h', end: 'now', filter: 'level:' });
    expect(all).toHaveLength(2);
    expect(all.join('\n')).toMatch(/unknown env "qa"[\s\S]*filter: /);
    // Wrong types stay schema errors.
    expect(reasons({ ...body, filter: 42 }).join('\n')).toMatch(/filter/);
    expect(reasons({ ...body, filter: ['level:error'] }).join('\n')).toMatch(/filter/);
  });
  it('reads filters stored by any version: text as is, the older object translated', () => {
    expect(storedFilterText('level:error')).toBe('level:error');
    expect(storedFilterText({ host: ['web-1'], level: ['error'] })).toBe('host.name:web-1 AND log.level:error');
    expect(storedFilterText({})).toBe('');
    expect(storedFilterText(undefined)).toBe('');
    // A wordless message term from before it was refused: kept as the phrase it was (matches nothing).
    expect(storedFilterText({ message: ['!!!'] })).toBe('message:"!!!"');
  });
  it('reads only history index names', () => {
    expect(parseHistoryIndex('logs-dev-recent-2026.11.22')).toBeUndefined();
    expect(parseHistoryIndex('logs-dev-history-b-a')).toBeUndefined();
    expect(parseHistoryIndex('logs-my-env-history-1-2')).toEqual({ env: 'my-env', fromMs: 1000, toMs: 2000 });
  });
});
