import { describe, expect, it } from 'vitest';
import { FieldBudget, checkFieldLimits, extractJsonObject, extractKeyValues, safeKey } from './extract';

const budget = (maxKeys = 64, maxDepth = 4, maxValueLength = 2048) => new FieldBudget({ maxKeys, maxDepth, maxValueLength });

describe('extractKeyValues', () => {
  it('takes logfmt-style pairs, quoted values, and trims list punctuation', () => {
    const f: Record<string, unknown> = {};
    const n = extractKeyValues('disconnect host=/192.0.2.1 in=3274, out=1448; msg="a \\"b\\" c" duration=0', f, budget());
    expect(n).toBe(5);
    expect(f).toEqual({ host: '/192.0.2.1', in: '3274', out: '1448', msg: 'a "b" c', duration: '0' });
  });

  it('ignores = that is not preceded by a key at a word start', () => {
    const f: Record<string, unknown> = {};
    extractKeyValues('a == b, GET /x?y=1 1+1=2 =z', f, budget());
    expect(f).toEqual({});
  });

  it('handles sudo-style "KEY=value ;" lists', () => {
    const f: Record<string, unknown> = {};
    extractKeyValues('ec2-user : TTY=pts/0 ; PWD=/var/log ; USER=root ; COMMAND=/bin/tail secure', f, budget());
    expect(f).toEqual({ TTY: 'pts/0', PWD: '/var/log', USER: 'root', COMMAND: '/bin/tail' });
  });

  it('never overwrites an existing key', () => {
    const f: Record<string, unknown> = { user: 'first' };
    extractKeyValues('user=second', f, budget());
    expect(f.user).toBe('first');
  });

  it('bounds keys and value length and flags the cut', () => {
    const b = budget(3, 4, 5);
    const f: Record<string, unknown> = {};
    extractKeyValues('a=1 b=2 c=1234567890 d=4 e=5', f, b);
    expect(f).toEqual({ a: '1', b: '2', c: '12345' });
    expect(b.cut).toBe(true);
  });

  it('is linear on hostile input', () => {
    const f: Record<string, unknown> = {};
    const evil = 'k='.repeat(200_000);
    const t0 = performance.now();
    extractKeyValues(evil, f, budget());
    expect(performance.now() - t0).toBeLessThan(500);
    expect(Object.keys(f).length).toBeLessThanOrEqual(64);
  });
});

describe('extractJsonObject', () => {
  it('copies the keys of a whole-JSON message', () => {
    const f: Record<string, unknown> = {};
    expect(extractJsonObject(' {"a":1,"b":{"c":[1,2]}} ', f, budget())).toBe(true);
    expect(f).toEqual({ a: 1, b: { c: [1, 2] } });
  });

  it('leaves non-objects and broken JSON alone', () => {
    const f: Record<string, unknown> = {};
    expect(extractJsonObject('{not json}', f, budget())).toBe(false);
    expect(extractJsonObject('[1,2]', f, budget())).toBe(false);
    expect(f).toEqual({});
  });

  it('bounds depth: deeper subtrees become their JSON text', () => {
    const b = budget(64, 2, 2048);
    const f: Record<string, unknown> = {};
    extractJsonObject('{"a":{"b":{"c":{"d":1}}}}', f, b);
    expect(f).toEqual({ a: { b: '{"c":{"d":1}}' } });
    expect(b.cut).toBe(true);
  });

  it('bounds the total number of keys over all levels', () => {
    const b = budget(4);
    const f: Record<string, unknown> = {};
    extractJsonObject('{"a":{"x":1,"y":2,"z":3},"b":2}', f, b);
    expect(f).toEqual({ a: { x: 1, y: 2, z: 3 } });
    expect(b.cut).toBe(true);
  });
});

describe('limits and keys', () => {
  it('renames keys Elasticsearch or JS cannot take', () => {
    expect(safeKey('')).toBe('_empty');
    expect(safeKey('...')).toBe('_dots');
    expect(safeKey('__proto__')).toBe('_proto');
    expect(safeKey('ok.key')).toBe('ok.key');
  });

  it('rejects non-positive limits with a coded error', () => {
    expect(() => checkFieldLimits({ maxKeys: 0, maxDepth: 1, maxValueLength: 1 })).toThrowError(expect.objectContaining({ code: 'LIMIT_INVALID' }));
  });
});
