import type { Source } from '@backlog/core-pipeline';
import { z } from 'zod';
import type { InputContext, InputFactory } from './shared/input';
import { fileInput } from './file';
import { httpInput } from './http';
import { journaldInput } from './journald';
import { jsonTcpInput } from './json_tcp';
import { stdinInput } from './stdin';
import { syslogTcpInput } from './syslog_tcp';
import { syslogUdpInput } from './syslog_udp';

/**
 * Every input the harvester knows, listed explicitly (ARCHITECTURE.md: nothing registers itself by side
 * effect). A config entry `{ type: 'syslog_udp', … }` picks its factory here.
 */
export const inputRegistry = {
  syslog_udp: syslogUdpInput,
  syslog_tcp: syslogTcpInput,
  json_tcp: jsonTcpInput,
  http: httpInput,
  file: fileInput,
  journald: journaldInput,
  stdin: stdinInput,
} as const satisfies Record<string, InputFactory>;

export type InputType = keyof typeof inputRegistry;
export const INPUT_TYPES = Object.keys(inputRegistry) as InputType[];

/** One entry of the harvester's `inputs:` list: the union of every input's schema, told apart by `type`. */
export const inputConfigSchema = z.discriminatedUnion('type', [
  syslogUdpInput.configSchema,
  syslogTcpInput.configSchema,
  jsonTcpInput.configSchema,
  httpInput.configSchema,
  fileInput.configSchema,
  journaldInput.configSchema,
  stdinInput.configSchema,
]);
export type InputConfig = z.output<typeof inputConfigSchema>;

/** Creates the input a config entry names. */
export function createInput(config: InputConfig, ctx: InputContext): Source {
  const factory = inputRegistry[config.type] as InputFactory;
  return factory.create(config, ctx);
}
