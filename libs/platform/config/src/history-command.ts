import { z } from 'zod';

/**
 * What `backlog history load|list|extend|drop` asks of the indexer (ADR 0009). The CLI parses the
 * command line once (commander, apps/cli/src/commands/history.ts) into this object and starts
 * `apps/indexer/src/main.ts history '<json>'` with it (ADR 0002: the CLI never imports an app); the
 * indexer checks it against the same schema and runs it. Nothing re-reads the user's options, so a
 * value starting with a dash (`--from -2h`, `--filter '-level:debug'`) means what the user typed.
 */

const positive = z.number().finite().positive();
const text = z
  .string()
  .min(1)
  .max(64 * 1024);
const config = { /** Indexer config file (else BACKLOG_INDEXER_CONFIG / BACKLOG_CONFIG). */ config: text.optional() };

export const historyCommandSchema = z.discriminatedUnion('sub', [
  z
    .object({
      sub: z.literal('load'),
      env: text,
      /** RFC 3339, epoch seconds or relative (-2h); read by the indexer's request validation. */
      from: text,
      to: text,
      /** Query-language filters (or the older forms); all must match. */
      filter: z.array(text).max(64).default([]),
      maxEvents: positive.int().optional(),
      ttlHours: positive.optional(),
      dryRun: z.boolean().default(false),
      json: z.boolean().default(false),
      ...config,
    })
    .strict(),
  z.object({ sub: z.literal('list'), env: text.optional(), json: z.boolean().default(false), ...config }).strict(),
  z.object({ sub: z.literal('extend'), index: text, hours: positive.optional(), ...config }).strict(),
  z.object({ sub: z.literal('drop'), index: text, ...config }).strict(),
]);

export type HistoryCommand = z.output<typeof historyCommandSchema>;
export type HistoryCommandInput = z.input<typeof historyCommandSchema>;

/** Why a history command is not valid: one line per problem, naming the option as the user types it. */
export class HistoryCommandError extends Error {
  readonly exitCode = 64;
}

const optionName: Record<string, string> = { maxEvents: '--max-events', ttlHours: '--ttl-hours', hours: '--hours', dryRun: '--dry-run', filter: '--filter' };

/** Checks a command (from the CLI's parse, or decoded JSON); throws HistoryCommandError (exit 64). */
export function historyCommand(input: unknown): HistoryCommand {
  const r = historyCommandSchema.safeParse(input);
  if (r.success) return r.data;
  const lines = r.error.issues.map((i) => {
    const key = String(i.path[0] ?? '');
    const name = optionName[key] ?? (key ? `--${key}` : 'history command');
    return `${name}: ${i.message}`;
  });
  throw new HistoryCommandError(lines.join('\n'));
}

/** The command as the single argument after `history` on the indexer's command line. */
export function encodeHistoryCommand(cmd: HistoryCommandInput): string {
  return JSON.stringify(historyCommand(cmd));
}

export function decodeHistoryCommand(arg: string | undefined): HistoryCommand {
  if (arg === undefined || !arg.startsWith('{'))
    throw new HistoryCommandError('main.ts history takes the command as one JSON argument, as `backlog history …` passes it; run `npx backlog history --help`');
  let value: unknown;
  try {
    value = JSON.parse(arg);
  } catch (e) {
    throw new HistoryCommandError(`history command: not JSON (${(e as Error).message})`);
  }
  return historyCommand(value);
}
