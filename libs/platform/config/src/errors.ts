/** One thing wrong with a configuration: where (a dotted path, `` for the root) and what. */
export interface ConfigProblem {
  /** Dotted path into the config, e.g. `kafka.brokers.0`; `` means the whole config. */
  path: string;
  message: string;
  /** Where the offending value came from: `file <path>`, `env BACKLOG_X_Y`, `defaults`. */
  source?: string;
}

/**
 * Coded errors of the config loader: callers branch on `code`, never on the message.
 * - `CONFIG_INVALID`: the user's file or environment is wrong; `problems` lists every problem.
 * - `CONFIG_SCHEMA`: a programming error in an app's schema (e.g. two keys map to one env var).
 */
export type ConfigErrorCode = 'CONFIG_INVALID' | 'CONFIG_SCHEMA';

export class ConfigError extends Error {
  /** Retrying with the same file and environment gives the same answer. */
  readonly retriable = false;
  constructor(
    readonly code: ConfigErrorCode,
    readonly app: string,
    readonly problems: readonly ConfigProblem[],
  ) {
    super(formatProblems(app, problems));
    this.name = 'ConfigError';
  }
}

/**
 * sysexits.h EX_CONFIG: what `main.ts` exits with on a ConfigError, so that supervisors can tell
 * "fix the config" from a crash.
 */
export const CONFIG_EXIT_CODE = 78;

export function formatProblems(app: string, problems: readonly ConfigProblem[]): string {
  const n = problems.length;
  const lines = problems.map((p) => `  - ${p.path || '(root)'}: ${p.message}${p.source ? ` [${p.source}]` : ''}`);
  return `invalid configuration for ${app} (${n} problem${n === 1 ? '' : 's'}):\n${lines.join('\n')}`;
}
