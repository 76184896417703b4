import { describe, expect, it } from 'vitest';
import { FilterError, eventMatcher, filterText, normalizeFilter, parseFilterArgs, partMayMatch, sameFilter } from './filter';

const ev = (host: string, service: string, level: string, message: string) => ({ host: { name: host }, service: { name: service }, log: { level }, message });

describe('filters', () => {
  it('parses the CLI syntax: = values (comma = or), ~ message terms, repeated keys add up', () => {
    const f = parseFilterArgs(['host=web-1,web-2', 'level=ERROR', 'host=web-3', 'message~Timed Out', 'message~upstream', 'service=nginx']);
    expect(f).toEqual({ host: ['web-1', 'web-2', 'web-3'], service: ['nginx'], level: ['error'], message: ['timed out', 'upstream'] });
    expect(filterText(f)).toBe('host=web-1,web-2,web-3 service=nginx level=error message~timed out message~upstream');
  });
  it('refuses what it cannot read, naming the argument', () => {
    for (const bad of ['host', 'colour=red', 'message=x', 'host~web', 'host=a,,b', 'message~']) expect(() => parseFilterArgs([bad])).toThrow(FilterError);
    expect(() => parseFilterArgs(['hostweb'])).toThrow(/"hostweb": expected key=value/);
    expect(() => parseFilterArgs(['region=eu'])).toThrow(/unknown key region/);
    expect(() => parseFilterArgs(['message=x'])).toThrow(/message takes ~/);
    expect(() => parseFilterArgs(['host~x'])).toThrow(/host takes =/);
    expect(() => parseFilterArgs(['host=a,,b'])).toThrow(/empty value/);
    expect(() => parseFilterArgs(['message~'])).toThrow(/empty text/);
  });
  it('prints a parsed filter stably: sorted, de-duplicated, whatever the argument order', () => {
    const f = parseFilterArgs(['host=web-2,web-1', 'level=ERROR', 'host=web-1', 'message~Time Out', 'service=nginx']);
    expect(f).toEqual({ host: ['web-1', 'web-2'], level: ['error'], message: ['time out'], service: ['nginx'] });
    expect(filterText(f)).toBe('host=web-1,web-2 service=nginx level=error message~time out');
    expect(filterText(parseFilterArgs(['service=nginx', 'message~Time Out', 'level=error', 'host=web-1,web-2']))).toBe(filterText(f));
    expect(filterText(parseFilterArgs([]))).toBe('');
  });
  it('matches every given field; level ignores case; message terms are all required substrings', () => {
    const m = eventMatcher(normalizeFilter({ host: ['web-1'], level: ['error', 'warn'], message: ['timeout'] }));
    expect(m(ev('web-1', 'nginx', 'ERROR', 'upstream TIMEOUT after 3 s'))).toBe(true);
    expect(m(ev('web-1', 'nginx', 'info', 'timeout'))).toBe(false);
    expect(m(ev('web-2', 'nginx', 'error', 'timeout'))).toBe(false);
    expect(m(ev('web-1', 'nginx', 'warn', 'slow'))).toBe(false);
    expect(m({ message: 'timeout' })).toBe(false);
    expect(eventMatcher({})({})).toBe(true);
  });
  it('skips a part whose manifest lists nothing the filter accepts', () => {
    const man = { hosts: ['web-1', 'web-2'], services: ['nginx'], levels: ['error', 'info'] };
    expect(partMayMatch(normalizeFilter({ host: ['web-3'] }), man)).toBe(false);
    expect(partMayMatch(normalizeFilter({ host: ['web-2', 'web-3'] }), man)).toBe(true);
    expect(partMayMatch(normalizeFilter({ level: ['WARN'] }), man)).toBe(false);
    expect(partMayMatch(normalizeFilter({ service: ['nginx'], message: ['x'] }), man)).toBe(true);
    // Manifest levels are compared case-insensitively too.
    expect(partMayMatch(parseFilterArgs(['level=info']), { ...man, levels: ['INFO', 'warn'] })).toBe(true);
    expect(partMayMatch(parseFilterArgs(['level=error']), { ...man, levels: ['INFO', 'warn'] })).toBe(false);
  });
  it('compares filters after normalizing', () => {
    expect(sameFilter({ host: ['b', 'a'], level: ['Error'] }, { host: ['a', 'b'], level: ['error'] })).toBe(true);
    expect(sameFilter({ host: ['a'] }, {})).toBe(false);
  });
});
