import { Command } from 'commander';
import { type HistoryCommand, decodeHistoryCommand, encodeHistoryCommand } from '@backlog/platform-config';
import { afterEach, describe, expect, it } from 'vitest';
import { registerHistory } from './history';

/** Parses a `backlog history …` command line once, as the CLI does, and returns what the indexer would get. */
async function parsed(...argv: string[]): Promise<HistoryCommand[]> {
  const got: HistoryCommand[] = [];
  const program = new Command('backlog').exitOverride().configureOutput({ writeErr: () => undefined, writeOut: () => undefined });
  registerHistory(program, async (cmd) => {
    // What crosses the process boundary: the JSON argument, decoded by the indexer's main.ts.
    got.push(decodeHistoryCommand(encodeHistoryCommand(cmd)));
    return 0;
  });
  await program.parseAsync(['history', ...argv], { from: 'user' });
  return got;
}

describe('backlog history: one parse, a typed command for the indexer', () => {
  afterEach(() => {
    process.exitCode = undefined;
  });

  it('values that start with a dash (relative times, filters) are values, in either spelling', async () => {
    const want = { sub: 'load', env: 'dev', from: '-2h', to: 'now', filter: ['-level:debug', 'host=a,b'], maxEvents: 10, dryRun: true, json: false };
    expect(await parsed('load', '--env', 'dev', '--from', '-2h', '--to', 'now', '--filter', '-level:debug', '--filter', 'host=a,b', '--max-events', '10', '--dry-run')).toEqual([want]);
    expect(await parsed('load', '--env=dev', '--from=-2h', '--to=now', '--filter=-level:debug', '--filter=host=a,b', '--max-events=10', '--dry-run')).toEqual([want]);
  });

  it('list, extend and drop', async () => {
    expect(await parsed('list', '--env', 'dev', '--json')).toEqual([{ sub: 'list', env: 'dev', json: true }]);
    expect(await parsed('extend', 'logs-dev-history-a-b', '--hours', '1.5')).toEqual([{ sub: 'extend', index: 'logs-dev-history-a-b', hours: 1.5 }]);
    expect(await parsed('drop', 'logs-dev-history-a-b', '--config', 'ix.yaml')).toEqual([{ sub: 'drop', index: 'logs-dev-history-a-b', config: 'ix.yaml' }]);
  });

  it('a bad number is refused while parsing, before any indexer starts', async () => {
    await expect(parsed('load', '--env', 'dev', '--from', '-1h', '--to', 'now', '--max-events', '2.5')).rejects.toThrow(/--max-events <n>' argument '2.5' is invalid. expected a positive integer/);
    await expect(parsed('extend', 'x', '--hours', '0')).rejects.toThrow(/expected a positive number/);
  });

  it('the indexer refuses anything but one JSON command', () => {
    expect(() => decodeHistoryCommand('load')).toThrow(/one JSON argument/);
    expect(() => decodeHistoryCommand('{"sub":"load","env":"dev"}')).toThrow(/--from: /);
    expect(() => decodeHistoryCommand('{"sub":"drop","index":"x","extra":1}')).toThrow(/extra/);
  });
});
