import { Command, CommanderError } from 'commander';
import { commands } from './registry';

/** Builds the `backlog` program; every sub-command is listed in registry.ts. */
export function buildProgram(): Command {
  const program = new Command('backlog').description('backlog: keep every log line cheaply for years, read recent logs in seconds').showHelpAfterError().exitOverride();
  for (const register of commands) register(program);
  return program;
}

export async function main(argv: string[]): Promise<void> {
  const program = buildProgram();
  try {
    await program.parseAsync(argv);
  } catch (err) {
    if (err instanceof CommanderError) {
      process.exitCode = err.exitCode;
      return;
    }
    process.stderr.write(`backlog: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  }
}
