import { parseArgs } from 'node:util';
import { describe, expect, it } from 'vitest';
import { loadArgs } from './history';

describe('history load → the indexer arguments', () => {
  it('values that start with a dash (relative times, filters) stay values for node:util parseArgs', () => {
    const args = loadArgs({ env: 'dev', from: '-2h', to: 'now', filter: ['-level:debug', 'host=a,b'], maxEvents: '10', dryRun: true });
    // The options the indexer declares (apps/indexer/src/cli.ts parseHistoryArgs), strict as there.
    const { values, positionals } = parseArgs({
      args: args.slice(1),
      strict: true,
      allowPositionals: true,
      options: { env: { type: 'string' }, from: { type: 'string' }, to: { type: 'string' }, filter: { type: 'string', multiple: true }, 'max-events': { type: 'string' }, 'ttl-hours': { type: 'string' }, 'dry-run': { type: 'boolean' }, json: { type: 'boolean' }, config: { type: 'string' } },
    });
    expect(args[0]).toBe('load');
    expect(positionals).toEqual([]);
    expect(values).toEqual({ env: 'dev', from: '-2h', to: 'now', filter: ['-level:debug', 'host=a,b'], 'max-events': '10', 'dry-run': true });
  });
});
