import type { Command } from 'commander';
import { registerArchive } from './commands/archive';
import { registerBench } from './commands/bench';
import { registerDemo } from './commands/demo';
import { registerHistory } from './commands/history';
import { registerKeys } from './commands/keys';
import { registerLive } from './commands/live';
import { registerParse } from './commands/parse';
import { registerQuery } from './commands/query';
import { registerSpool } from './commands/spool';
import { registerStack } from './commands/stack';
import { registerStart } from './commands/start';

/** A sub-command adds itself to the program it is given. Listed explicitly: nothing registers by side effect. */
export type RegisterCommand = (program: Command) => void;

export const commands: RegisterCommand[] = [
  registerStack,
  registerStart,
  registerBench,
  registerParse,
  registerHistory,
  registerQuery,
  registerArchive,
  registerSpool,
  registerKeys,
  registerLive,
  registerDemo,
];
