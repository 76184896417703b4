import { describe, expect, it } from 'vitest';
import { absoluteTime, answerTable, formatQueryError, queryParams, renderTable, runQuery, type Io } from './query';

const NOW = Date.parse('2026-11-25T12:00:00Z');

describe('backlog query: arguments', () => {
  it('resolves relative times once, so every poll asks the same range', () => {
    const p = queryParams('level:error', { env: 'dev', from: '-3d', to: '-2d', rehydrate: true, maxEvents: '1000', limit: '5' }, NOW);
    expect(Object.fromEntries(p)).toEqual({ q: 'level:error', env: 'dev', from: '2026-11-22T12:00:00.000Z', to: '2026-11-23T12:00:00.000Z', limit: '5', rehydrate: 'auto', maxEvents: '1000' });
    expect(Object.fromEntries(queryParams('', {}, NOW))).toMatchObject({ from: '2026-11-25T11:00:00.000Z', to: '2026-11-25T12:00:00.000Z' });
    expect(absoluteTime('now-15m', 'from', NOW)).toBe('2026-11-25T11:45:00.000Z');
    expect(absoluteTime('2026-11-20T00:00:00Z', 'from', NOW)).toBe('2026-11-20T00:00:00.000Z');
    expect(() => absoluteTime('yesterday', 'from', NOW)).toThrow(/--from: not a time/);
  });
});

describe('backlog query: output', () => {
  it('puts a caret under the column of a bad query, with the hint', () => {
    const s = formatQueryError('level:error AND sevice:api', {
      code: 'FIELD_UNKNOWN',
      message: 'unknown field "sevice" — did you mean "service"?',
      column: 17,
      endColumn: 23,
      hint: 'service is short for service.name',
    });
    expect(s.split('\n')).toEqual([
      'backlog query: unknown field "sevice" — did you mean "service"?',
      '  level:error AND sevice:api',
      `  ${' '.repeat(16)}^^^^^^`,
      '  hint: service is short for service.name',
    ]);
  });
  it('renders events and stats as tables', () => {
    const hits = answerTable({
      kind: 'hits',
      total: 1,
      complete: true,
      coverage: [],
      hits: [{ id: 'x', source: { '@timestamp': '2026-11-25T00:00:00Z', host: { name: 'web-1' }, log: { level: 'error' }, message: 'boom' } }],
    });
    expect(hits.split('\n')[0]).toMatch(/^time\s+host\s+service\s+level\s+message$/);
    expect(hits.split('\n')[2]).toMatch(/^2026-11-25T00:00:00Z\s+web-1\s+error\s+boom$/);
    const stats = answerTable({
      kind: 'stats',
      total: 3,
      complete: true,
      coverage: [],
      columns: [
        { name: '@timestamp', role: 'time' },
        { name: 'service.name', role: 'group' },
        { name: 'count()', role: 'metric' },
      ],
      rows: [[Date.parse('2026-11-25T00:00:00Z'), 'api', 3]],
    });
    expect(stats.split('\n')[2]).toMatch(/^2026-11-25T00:00:00.000Z\s+api\s+3$/);
    expect(renderTable(['a'], [['x'.repeat(200)]], 40).split('\n')[2]?.length).toBeLessThanOrEqual(40);
  });
});

describe('backlog query: exit codes', () => {
  const io = (): Io & { outs: string[]; errs: string[] } => {
    const outs: string[] = [];
    const errs: string[] = [];
    return { outs, errs, out: (s) => outs.push(s), err: (s) => errs.push(s), tty: false, columns: 100 };
  };
  const reply = (status: number, body: unknown) => async () => new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json' } });
  const sleep = async () => undefined;

  it('0 with the JSON answer when not a terminal', async () => {
    const o = io();
    const code = await runQuery('level:error', { url: 'http://q' }, o, { fetch: reply(200, { kind: 'hits', total: 0, hits: [], complete: true, coverage: [] }) as typeof fetch, sleep });
    expect(code).toBe(0);
    expect(JSON.parse(o.outs.join(''))).toMatchObject({ kind: 'hits', total: 0 });
  });
  it('2 for a bad query (400), with the caret', async () => {
    const o = io();
    const code = await runQuery('host:(a', { url: 'http://q' }, o, {
      fetch: reply(400, { error: { code: 'UNBALANCED_PARENS', message: 'the ( at column 6 is never closed', column: 6 } }) as typeof fetch,
      sleep,
    });
    expect(code).toBe(2);
    expect(o.errs.join('\n')).toMatch(/\n {7}\^/);
  });
  it('2 for a bad time flag, before any request', async () => {
    const o = io();
    let called = false;
    const code = await runQuery('x', { from: 'soon' }, o, { fetch: (async () => ((called = true), new Response('{}'))) as typeof fetch, sleep });
    expect(code).toBe(2);
    expect(called).toBe(false);
  });
  it('1 when the service is unreachable or refuses (401, 5xx)', async () => {
    const o = io();
    expect(
      await runQuery('x', { url: 'http://q' }, o, {
        fetch: (async () => {
          throw new TypeError('fetch failed');
        }) as typeof fetch,
        sleep,
      }),
    ).toBe(1);
    expect(o.errs.join('\n')).toMatch(/cannot reach/);
    expect(await runQuery('x', { url: 'http://q' }, io(), { fetch: reply(401, { error: { code: 'UNAUTHORIZED', message: 'send Authorization' } }) as typeof fetch, sleep })).toBe(1);
    expect(await runQuery('x', { url: 'http://q' }, io(), { fetch: reply(503, { error: { code: 'BUSY', message: 'busy' } }) as typeof fetch, sleep })).toBe(1);
  });
  it('--rehydrate polls the same URL until the answer is complete', async () => {
    const o = io();
    const urls: string[] = [];
    let n = 0;
    const fetchFn = (async (u: string) => {
      urls.push(u);
      n++;
      const done = n >= 3;
      return new Response(
        JSON.stringify({
          kind: 'hits',
          total: done ? 5 : 2,
          hits: [],
          complete: done,
          coverage: [],
          ...(done ? {} : { rehydration: { status: 'loading', events: 3, bytes: 1, parts: 1, spans: [{ progress: { parts: { total: 1, done: 0 } } }] } }),
        }),
        { status: 200 },
      );
    }) as unknown as typeof fetch;
    const code = await runQuery('x', { url: 'http://q', from: '-3d', to: '-2d', rehydrate: true }, o, { fetch: fetchFn, sleep });
    expect(code).toBe(0);
    expect(urls.length).toBe(3);
    expect(new Set(urls).size).toBe(1);
    expect(urls[0]).toMatch(/rehydrate=auto/);
    expect(JSON.parse(o.outs.join('')).total).toBe(5);
    expect(o.errs.join('\n')).toMatch(/rehydrating/);
  });
  it('--rehydrate over the cap: the partial answer, a note, exit 0', async () => {
    const o = io();
    const code = await runQuery('x', { url: 'http://q', rehydrate: true }, o, {
      fetch: reply(200, {
        kind: 'hits',
        total: 1,
        hits: [],
        complete: false,
        coverage: [{ source: 'archive', from: 'a', to: 'b' }],
        rehydration: { status: 'over_cap', events: 9, bytes: 1, parts: 1, spans: [], hint: 'over the cap' },
      }) as typeof fetch,
      sleep,
    });
    expect(code).toBe(0);
    expect(o.errs.join('\n')).toMatch(/over the cap/);
  });
});
