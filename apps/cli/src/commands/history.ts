import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { type Command, InvalidArgumentError } from 'commander';
import { type HistoryCommand, type HistoryCommandInput, HistoryCommandError, encodeHistoryCommand, historyCommand } from '@backlog/platform-config';
import { repoRoot } from '@backlog/platform-stack';

/**
 * `backlog history load|list|extend|drop`: runs `apps/indexer/src/main.ts history …` as a child
 * process with the terminal inherited and passes its exit code through (ADR 0002: the CLI never
 * imports an app's modules; ADR 0008). The indexer does the work, shares job state in Redis with
 * running indexers, and prints the index name, then progress. Usage: docs/specs/indexer.md.
 */
export function runIndexerHistory(args: readonly string[]): Promise<number> {
  const root = repoRoot();
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/indexer/src/main.ts'), 'history', ...args], {
      cwd: root,
      stdio: 'inherit',
      env: { ...process.env, AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true' },
    });
    // Ctrl-C reaches the child through the terminal's process group; it stops cleanly and we pass its code on.
    const forward = (sig: NodeJS.Signals) => () => {
      if (child.exitCode === null) child.kill(sig);
    };
    const onTerm = forward('SIGTERM');
    process.on('SIGTERM', onTerm);
    process.on('SIGINT', () => undefined);
    child.once('error', reject);
    child.once('exit', (code, signal) => {
      process.off('SIGTERM', onTerm);
      resolve(code ?? (signal === 'SIGINT' ? 130 : 1));
    });
  });
}

const collect = (v: string, prev: string[] = []) => [...prev, v];

/** Runs one history command in the indexer; resolves to its exit code. */
export type HistoryRunner = (cmd: HistoryCommand) => Promise<number>;

/** The indexer as a child process, given the command as one JSON argument. */
export const runInIndexer: HistoryRunner = (cmd) => runIndexerHistory([encodeHistoryCommand(cmd)]);

/** `--name <n>` as a positive number (an integer when `integer`), checked while commander parses. */
const positiveNumber = (integer: boolean) => (v: string) => {
  const n = Number(v);
  if (v.trim() === '' || !Number.isFinite(n) || n <= 0 || (integer && !Number.isInteger(n))) throw new InvalidArgumentError(`expected a positive ${integer ? 'integer' : 'number'}`);
  return n;
};

/**
 * The options are parsed here, once, by commander; the indexer receives the result as a typed object
 * (HistoryCommand, @backlog/platform-config), never the command line. `run` is replaceable for tests.
 */
export function registerHistory(program: Command, run: HistoryRunner = runInIndexer): void {
  const history = program.command('history').description('load any time range into an expiring history index; list, extend, drop them (apps/indexer)');
  const exec = async (input: HistoryCommandInput) => {
    let cmd: HistoryCommand;
    try {
      cmd = historyCommand(input);
    } catch (e) {
      if (!(e instanceof HistoryCommandError)) throw e;
      process.stderr.write(`backlog history ${input.sub}: ${e.message}\n`);
      process.exitCode = e.exitCode;
      return;
    }
    process.exitCode = await run(cmd);
  };
  const common = (c: Command) => c.option('--config <file>', 'indexer config file (else BACKLOG_INDEXER_CONFIG / BACKLOG_CONFIG)');
  common(
    history
      .command('load')
      .description('load [from, to) of an env into logs-<env>-history-<start36>-<end36>; prints its name at once, then progress')
      .requiredOption('--env <env>', 'environment')
      .requiredOption('--from <time>', 'start: RFC 3339, epoch seconds, or relative (-2h)')
      .requiredOption('--to <time>', 'end (exclusive), same forms')
      .option(
        '--filter <filter>',
        "keep matching events only: the query language without | commands ('level:error AND NOT host:web-*'), or host=a,b service=x level=error message~text; repeatable (all must match)",
        collect,
      )
      .option('--max-events <n>', 'at most this many events (whole 5-minute windows in time order)', positiveNumber(true))
      .option('--ttl-hours <h>', 'expire this many hours after the request (default: history.ttlHours)', positiveNumber(false))
      .option('--dry-run', 'print the parts, compressed bytes, events and an estimated time; load nothing')
      .option('--json', 'JSON output even on a terminal'),
  ).action(async (o: { env: string; from: string; to: string; filter?: string[]; maxEvents?: number; ttlHours?: number; dryRun?: boolean; json?: boolean; config?: string }) => {
    await exec({
      sub: 'load',
      env: o.env,
      from: o.from,
      to: o.to,
      filter: o.filter ?? [],
      maxEvents: o.maxEvents,
      ttlHours: o.ttlHours,
      dryRun: o.dryRun ?? false,
      json: o.json ?? false,
      config: o.config,
    });
  });
  common(
    history.command('list').description('history indices with status, range, events and expiry').option('--env <env>', 'only this environment').option('--json', 'one JSON object per line'),
  ).action(async (o: { env?: string; json?: boolean; config?: string }) => {
    await exec({ sub: 'list', env: o.env, json: o.json ?? false, config: o.config });
  });
  common(history.command('extend').argument('<index>').description('move the expiry to now + hours').option('--hours <h>', 'hours (default: history.ttlHours)', positiveNumber(false))).action(
    async (index: string, o: { hours?: number; config?: string }) => {
      await exec({ sub: 'extend', index, hours: o.hours, config: o.config });
    },
  );
  common(history.command('drop').argument('<index>').description('delete the index and its job now')).action(async (index: string, o: { config?: string }) => {
    await exec({ sub: 'drop', index, config: o.config });
  });
}
