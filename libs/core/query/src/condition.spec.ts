import { describe, expect, it } from 'vitest';
import { evaluateCondition, parseCondition, planCondition } from './condition';
import { QueryError } from './errors';
import { exampleCatalogue } from './testing';

const cat = exampleCatalogue();

const events = [
  ...Array.from({ length: 30 }, (_, i) => ({
    '@timestamp': '2026-11-22T10:00:00Z',
    log: { level: i < 6 ? 'error' : 'info' },
    service: { name: i % 2 ? 'api' : 'web' },
    host: { name: 'web-1' },
    http: { response_time: 100 * i },
  })),
  { '@timestamp': '2026-11-22T10:00:00Z', log: { level: 'error' }, host: { name: 'db-2' }, fields: { duration_ms: '1500' } },
];

describe('alert conditions', () => {
  it.each([
    ['count(level:error) > 5', 7, true],
    ['count(level:error) > 100', 7, false],
    ['count(level:error) / count() > 0.05', 7 / 31, true],
    ['avg(http.response_time) > 1000', 1450, true],
    ['count(host.name:db-1) == 0 for 10m', 0, true],
    ['count() - count(level:info) >= 7', 7, true],
    ['(count(level:error) + 1) * 2 == 16', 16, true],
    ['p90(http.response_time) < 3000', 2650, true],
    ['max(fields.duration_ms) >= 1500', 1500, true],
    ['count(level:error AND (service:api OR host:"db-2")) == 4', 4, true],
    ['count("a \\"(quoted)\\" text") == 0', 0, true],
    ['avg(http.response_time) / count(host.name:nothing) > 1', null, false],
  ] as const)('%s', (text, value, holds) => {
    const [r] = evaluateCondition(planCondition(text, cat), events);
    if (value === null) expect(r?.value).toBeNull();
    else expect(r?.value).toBeCloseTo(value);
    expect(r?.holds).toBe(holds);
  });

  it('for keeps its duration', () => {
    expect(parseCondition('count(host.name:db-1) == 0 for 10m').forMs).toBe(600_000);
  });

  it('group_by: the condition holds per group', () => {
    const r = evaluateCondition(planCondition('count(level:error) / count() > 0.15', cat, { groupBy: ['service'] }), events);
    expect(r.map((x) => [x.group, x.values, x.holds])).toEqual([
      [['api'], [3, 15], true],
      [['web'], [3, 15], true],
    ]);
    const avg = evaluateCondition(planCondition('avg(http.response_time) > 1400', cat, { groupBy: ['service.name'] }), events);
    expect(avg.map((x) => [x.group[0], x.holds])).toEqual([
      ['api', true],
      ['web', false],
    ]);
  });

  it.each([
    ['count(level:error)', 'UNEXPECTED_END', 19],
    ['count(level:error) > ', 'UNEXPECTED_END', 22],
    ['count(level:) > 5', 'VALUE_EXPECTED', 7],
    ['count(sevice:api) > 5', 'FIELD_UNKNOWN', 7],
    ['avg(message) > 5', 'FIELD_TYPE', 5],
    ['avgg(x) > 5', 'UNKNOWN_FUNCTION', 1],
    ['count(level:error > 5', 'UNBALANCED_PARENS', 22],
    ['count(a | stats count()) > 1', 'COMMAND_CONFLICT', 11],
    ['count() > 5 for 10M', 'DURATION_INVALID', 17],
    ['count() > 5 extra', 'UNEXPECTED_TOKEN', 13],
    ['avg(a b) > 1', 'ARGUMENT_INVALID', 5],
    ['count > 1', 'UNEXPECTED_TOKEN', 7],
  ] as const)('%s → %s at %i', (text, code, column) => {
    let err: unknown;
    try {
      planCondition(text, cat);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(QueryError);
    expect({ code: (err as QueryError).code, column: (err as QueryError).column }).toEqual({ code, column });
  });

  it('a bad group_by names the key', () => {
    expect(() => planCondition('count() > 1', cat, { groupBy: ['sevice'] })).toThrow(
      expect.objectContaining({ code: 'FIELD_UNKNOWN', path: 'group_by', message: expect.stringContaining('did you mean "service"') }),
    );
  });
});
