import { logsCatalogue } from '@backlog/adapter-search';
import type { Logger } from '@backlog/core-pipeline';
import { describe, expect, it } from 'vitest';
import type { Indexer } from './app';
import { historyCommand } from '@backlog/platform-config';
import { runHistoryCli } from './cli';
import { validateLoad } from './request';

// `history load` stops at a bad --filter before it touches any server: usage errors (exit 64) with the
// filter, a caret under the problem and a hint. Only the request validation of the service is needed
// for that, so the indexer here is that alone (nothing past validation is reached: a test that got
// further would fail on the missing parts).
const opts = { envs: ['dev'], maxRangeHours: 24, maxTtlHours: 72, ttlHours: 24, catalogue: logsCatalogue('opensearch') };
const ix = { service: { opts, validate: (body: unknown) => validateLoad(body, opts, Date.parse('2026-11-22T12:00:00Z')) } } as unknown as Indexer;
const logger = { error: () => undefined } as unknown as Logger;

async function load(...filters: string[]): Promise<{ code: number; out: string[]; err: string }> {
  const out: string[] = [];
  let err = '';
  const args = historyCommand({ sub: 'load', env: 'dev', from: '-1h', to: 'now', filter: filters });
  const code = await runHistoryCli(ix, args, { out: (s) => out.push(s), err: (s) => (err += `${s}\n`), tty: false }, logger, new AbortController().signal);
  return { code, out, err };
}

describe('history load --filter: errors are usage errors with the column', () => {
  it('a pipe: exit 64, the filter, a caret under the command, the hint', async () => {
    const r = await load('level:error | stats count()');
    expect(r.code).toBe(64);
    expect(r.out).toEqual([]);
    expect(r.err).toBe(
      'invalid --filter:\nlevel:error | stats count()\n              ^^^^^^^^^^^^^ a filter takes no | stats command here\n  hint: aggregations belong to queries and alert rules, not to filters\n',
    );
  });
  it('an unknown field: did you mean', async () => {
    const r = await load('level:error AND sevice:api');
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/level:error AND sevice:api\n {16}\^{6} unknown field "sevice" — did you mean "service"\?/);
  });
  it('an older form that cannot be read names the argument', async () => {
    const r = await load('host=web-1,,web-2');
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/^invalid --filter: --filter "host=web-1,,web-2": an empty value\n {2}hint: values are separated by single commas/);
  });
  it('a relative time in the filter: refused with a hint to use --from/--to', async () => {
    const r = await load('@timestamp>=now-15m');
    expect(r.code).toBe(64);
    expect(r.err).toMatch(/\^{7} "now-15m" is relative to now[\s\S]*hint: give the range beside the filter/);
  });
});
