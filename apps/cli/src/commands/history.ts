import { spawn } from 'node:child_process';
import { join } from 'node:path';
import type { Command } from 'commander';
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

export interface LoadOptions {
  env: string;
  from: string;
  to: string;
  filter?: string[];
  maxEvents?: string;
  ttlHours?: string;
  dryRun?: boolean;
  json?: boolean;
  config?: string;
}

/**
 * The indexer's `history load` arguments. Values go as `--name=value`: the indexer reads them with
 * node:util parseArgs, which takes a separate value starting with a dash — a relative time (`-2h`), a
 * filter (`-level:debug`) — for an option and refuses it.
 */
export function loadArgs(o: LoadOptions): string[] {
  const args = ['load', `--env=${o.env}`, `--from=${o.from}`, `--to=${o.to}`];
  for (const f of o.filter ?? []) args.push(`--filter=${f}`);
  if (o.maxEvents !== undefined) args.push(`--max-events=${o.maxEvents}`);
  if (o.ttlHours !== undefined) args.push(`--ttl-hours=${o.ttlHours}`);
  if (o.dryRun) args.push('--dry-run');
  if (o.json) args.push('--json');
  if (o.config) args.push(`--config=${o.config}`);
  return args;
}

export function registerHistory(program: Command): void {
  const history = program.command('history').description('load any time range into an expiring history index; list, extend, drop them (apps/indexer)');
  const run = async (args: string[]) => {
    process.exitCode = await runIndexerHistory(args);
  };
  const common = (c: Command) => c.option('--config <file>', 'indexer config file (else BACKLOG_INDEXER_CONFIG / BACKLOG_CONFIG)');
  common(
    history
      .command('load')
      .description('load [from, to) of an env into logs-<env>-history-<start36>-<end36>; prints its name at once, then progress')
      .requiredOption('--env <env>', 'environment')
      .requiredOption('--from <time>', 'start: RFC 3339, epoch seconds, or relative (-2h)')
      .requiredOption('--to <time>', 'end (exclusive), same forms')
      .option('--filter <filter>', "keep matching events only: the query language without | commands ('level:error AND NOT host:web-*'), or host=a,b service=x level=error message~text; repeatable (all must match)", collect)
      .option('--max-events <n>', 'at most this many events (whole 5-minute windows in time order)')
      .option('--ttl-hours <h>', 'expire this many hours after the request (default: history.ttlHours)')
      .option('--dry-run', 'print the parts, compressed bytes, events and an estimated time; load nothing')
      .option('--json', 'JSON output even on a terminal'),
  ).action(async (o: LoadOptions) => {
    await run(loadArgs(o));
  });
  common(history.command('list').description('history indices with status, range, events and expiry').option('--env <env>', 'only this environment').option('--json', 'one JSON object per line')).action(
    async (o: { env?: string; json?: boolean; config?: string }) => {
      await run(['list', ...(o.env ? ['--env', o.env] : []), ...(o.json ? ['--json'] : []), ...(o.config ? ['--config', o.config] : [])]);
    },
  );
  common(history.command('extend').argument('<index>').description('move the expiry to now + hours').option('--hours <h>', 'hours (default: history.ttlHours)')).action(
    async (index: string, o: { hours?: string; config?: string }) => {
      await run(['extend', index, ...(o.hours ? ['--hours', o.hours] : []), ...(o.config ? ['--config', o.config] : [])]);
    },
  );
  common(history.command('drop').argument('<index>').description('delete the index and its job now')).action(async (index: string, o: { config?: string }) => {
    await run(['drop', index, ...(o.config ? ['--config', o.config] : [])]);
  });
}
