import { describe, expect, it } from 'vitest';
import { archiveFilter, filterArgsText, legacyFilterText } from './archive-filter';
import { QueryError } from './errors';
import { compileFilter } from './evaluate';
import { exampleCatalogue } from './testing';

const cat = exampleCatalogue();

const ev = (host: unknown, service: unknown, level: unknown, message: unknown, extra: Record<string, unknown> = {}) => ({
  host: { name: host },
  service: { name: service },
  log: { level },
  message,
  ...extra,
});

function queryError(fn: () => unknown): QueryError {
  try {
    fn();
  } catch (e) {
    if (e instanceof QueryError) return e;
    throw e;
  }
  throw new Error('expected a QueryError');
}

describe('the older filter forms, translated once at the edge', () => {
  it('host=a,b → host.name:(a OR b); keys in a fixed order, values sorted and de-duplicated', () => {
    expect(filterArgsText(['host=a,b'])).toBe('host.name:(a OR b)');
    expect(filterArgsText(['host=web-2,web-1', 'level=ERROR', 'host=web-1', 'message~Timed Out', 'message~upstream', 'service=nginx'])).toBe(
      'host.name:(web-1 OR web-2) AND service.name:nginx AND log.level:error AND message:"timed out" AND message:"upstream"',
    );
    // Argument order does not matter: the same filter, the same text.
    expect(filterArgsText(['service=nginx', 'message~upstream', 'message~TIMED OUT', 'level=error', 'host=web-1,web-2'])).toBe(
      filterArgsText(['host=web-2,web-1', 'level=ERROR', 'host=web-1', 'message~Timed Out', 'message~upstream', 'service=nginx']),
    );
    expect(filterArgsText(['level=error,Warn'])).toBe('log.level:(error OR warn)');
    expect(filterArgsText([])).toBe('');
    // The API's object form goes through the same function.
    expect(legacyFilterText({ host: ['web-1'], level: ['ERROR'] })).toBe('host.name:web-1 AND log.level:error');
    expect(legacyFilterText({})).toBe('');
  });

  it('values are exact: anything that is not a plain word is quoted (no wildcard, no operator)', () => {
    expect(filterArgsText(['host=web 1,web-*,or,a"b'])).toBe('host.name:("a\\"b" OR "or" OR "web 1" OR "web-*")');
    const f = archiveFilter(filterArgsText(['host=web-*']), cat);
    expect(f.test(ev('web-*', 'x', 'info', ''))).toBe(true);
    expect(f.test(ev('web-1', 'x', 'info', ''))).toBe(false);
  });

  it('keeps the old meaning: exact hosts and services, levels in any case (events have them lower-cased), message terms all required', () => {
    const f = archiveFilter(filterArgsText(['host=web-1', 'level=ERROR,warn', 'message~timeout', 'message~upstream']), cat);
    expect(f.test(ev('web-1', 'nginx', 'error', 'upstream TIMEOUT after 3 s'))).toBe(true);
    expect(f.test(ev('web-1', 'nginx', 'warn', 'Upstream timeout'))).toBe(true);
    expect(f.test(ev('web-1', 'nginx', 'info', 'upstream timeout'))).toBe(false);
    expect(f.test(ev('web-2', 'nginx', 'error', 'upstream timeout'))).toBe(false);
    expect(f.test(ev('Web-1', 'nginx', 'error', 'upstream timeout'))).toBe(false);
    expect(f.test(ev('web-1', 'nginx', 'error', 'timeout only'))).toBe(false);
    expect(f.test({ message: 'upstream timeout' })).toBe(false);
  });

  it('message~ now matches words, not substrings (the documented difference)', () => {
    const f = archiveFilter(filterArgsText(['message~served in 74 ms']), cat);
    expect(f.test({ message: 'request 3 served in 74 ms from 10.0.3.21' })).toBe(true);
    expect(f.test({ message: 'request 3 SERVED IN 74 MS' })).toBe(true);
    // A substring inside a word matched before; now the word must be there.
    expect(archiveFilter(filterArgsText(['message~time']), cat).test({ message: 'timeout' })).toBe(false);
    expect(archiveFilter('message:time*', cat).test({ message: 'timeout' })).toBe(true);
  });

  it('refuses what it cannot read, naming the argument', () => {
    expect(queryError(() => filterArgsText(['host=a,,b'])).message).toMatch(/--filter "host=a,,b": an empty value/);
    expect(queryError(() => filterArgsText(['level='])).message).toMatch(/an empty value/);
    expect(queryError(() => filterArgsText(['message~'])).message).toMatch(/no text after message~/);
    const e = queryError(() => filterArgsText(['message~!!!']));
    expect(e.message).toMatch(/message~!!!: no word/);
    expect(e.hint).toMatch(/words/);
  });

  it('anything else is the query language; several arguments must all match', () => {
    expect(filterArgsText(['level:error AND service:api'])).toBe('level:error AND service:api');
    expect(filterArgsText(['host=a,b', 'process.pid>=100', 'NOT level:debug'])).toBe('(host.name:(a OR b)) AND (process.pid>=100) AND (NOT level:debug)');
    // `message=x`, `colour=red`, `host~x` were errors of the old syntax; they are the language now.
    expect(filterArgsText(['colour=red'])).toBe('colour=red');
    expect(archiveFilter('colour=red', cat).text).toBe('colour:red');
  });
});

describe('archiveFilter: the language over archived events', () => {
  it('canonical text: printQuery of the parse, stable when parsed again; empty and * match everything', () => {
    for (const [input, canonical] of [
      ['host:web-1 level:error', 'host:web-1 AND level:error'],
      ['-level:debug', 'NOT level:debug'],
      ['host.name:(a OR b) AND message:"timed out"', '(host.name:a OR host.name:b) AND message:"timed out"'],
      ['process.pid:[100 TO *]', 'process.pid>=100'],
      ['', ''],
      ['*', ''],
      ['  ', ''],
    ] as const) {
      const f = archiveFilter(input, cat);
      expect(f.text, input).toBe(canonical);
      expect(archiveFilter(f.text, cat).text).toBe(canonical);
      expect(f.matchesAll).toBe(canonical === '');
    }
  });

  it('key: the same for filters that ask the same with other names', () => {
    expect(archiveFilter('host:web-1 AND level:error', cat).key).toBe(archiveFilter('host.name:web-1 log.level:error', cat).key);
    expect(archiveFilter('endpoint:/x', cat).key).toBe('fields.endpoint:/x');
    expect(archiveFilter(filterArgsText(['host=b,a']), cat).key).toBe(archiveFilter('host:(a OR b)', cat).key);
    expect(archiveFilter('host:a', cat).key).not.toBe(archiveFilter('host:b', cat).key);
    // AND and OR terms in any order.
    expect(archiveFilter('level:error AND (host:b OR host:a)', cat).key).toBe(archiveFilter('(host.name:a OR host.name:b) log.level:error', cat).key);
    expect(archiveFilter('level:error AND (host:b OR host:a)', cat).key).not.toBe(archiveFilter('level:error OR (host:b AND host:a)', cat).key);
  });

  it('evaluates exactly as compileFilter does (one evaluator)', () => {
    const events = [
      ev('web-1', 'api', 'error', 'upstream timed out', { process: { pid: 120 }, fields: { endpoint: '/api/users', status: 500 } }),
      ev('web-2', 'web', 'info', 'GET / 200', { fields: { endpoint: '/health' } }),
      ev('db-1', 'api', 'warn', 'slow query', { process: { pid: 9000 } }),
      { message: 'no host at all' },
    ];
    for (const q of [
      'host:web-*',
      'NOT level:info',
      'process.pid>=100',
      'pid:*',
      'NOT fields.endpoint:*',
      'fields.status:500',
      'endpoint:*users*',
      '"timed out" OR service:web',
      'host.name:[db-1 TO web-1}',
    ]) {
      const f = archiveFilter(q, cat);
      const ref = compileFilter(q, cat);
      expect(
        events.map((e) => f.test(e)),
        q,
      ).toEqual(events.map((e) => ref(e)));
    }
  });

  it('a pipe is an error at its column', () => {
    const e = queryError(() => archiveFilter('level:error | stats count()', cat));
    expect(e.code).toBe('COMMAND_CONFLICT');
    expect(e.column).toBe(15);
    expect(e.hint).toBeTruthy();
  });

  it('syntax and field errors carry the column and a hint', () => {
    const typo = queryError(() => archiveFilter('level:error AND sevice:api', cat));
    expect(typo).toMatchObject({ code: 'FIELD_UNKNOWN', column: 17 });
    expect(typo.message).toMatch(/did you mean "service"/);
    expect(queryError(() => archiveFilter('host:(a OR b', cat))).toMatchObject({ code: 'UNBALANCED_PARENS' });
    expect(queryError(() => archiveFilter('pid:abc', cat))).toMatchObject({ code: 'FIELD_TYPE', column: 5 });
    // Numeric comparisons on free-form keys: refused as the engine would compare letters.
    expect(queryError(() => archiveFilter('fields.status>=500', cat))).toMatchObject({ code: 'FIELD_TYPE' });
  });

  it('refuses relative times (a resumed load would read them differently), at the column of the time', () => {
    const e = queryError(() => archiveFilter('level:error AND @timestamp>=now-15m', cat));
    expect(e).toMatchObject({ code: 'TIME_INVALID', column: 29 });
    expect(e.hint).toMatch(/--from\/--to/);
    expect(queryError(() => archiveFilter('@timestamp:[-2h TO now]', cat))).toMatchObject({ code: 'TIME_INVALID', column: 13 });
    expect(archiveFilter('@timestamp>=2026-11-22T10:00:00Z', cat).test({ '@timestamp': '2026-11-22T10:30:00Z' })).toBe(true);
  });

  it('skips a part whose manifest lists nothing the filter accepts, and only then', () => {
    const man = { hosts: ['web-1', 'web-2'], services: ['nginx'], levels: ['error', 'info'] };
    const may = (q: string) => archiveFilter(q, cat).mayMatchPart(man);
    expect(may('host:web-3')).toBe(false);
    expect(may('host:(web-2 OR web-3)')).toBe(true);
    expect(may('host:web-*')).toBe(true);
    expect(may('host:db-*')).toBe(false);
    expect(may('level:warn')).toBe(false);
    expect(may('level:ERROR')).toBe(false); // keyword: exact, as the evaluator
    expect(may('service:nginx AND message:x')).toBe(true);
    expect(may('service:nginx AND level:warn')).toBe(false);
    expect(may('host:web-3 OR message:x')).toBe(true);
    expect(may('host:web-3 OR level:warn')).toBe(false);
    expect(may('NOT host:web-1')).toBe(true);
    expect(may('host.name>=web-2')).toBe(true);
    expect(may('host.name>web-2')).toBe(false);
    expect(may('')).toBe(true);
    expect(may('fields.host:x')).toBe(true);
    // Manifests leave out empty values: an exact "" is never proved absent.
    expect(may('host:""')).toBe(true);
    expect(archiveFilter(filterArgsText(['level=INFO']), cat).mayMatchPart({ ...man, levels: ['info'] })).toBe(true);
  });
});
