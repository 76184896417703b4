import { z } from 'zod';
import { bytesField, formatField, nameField } from '../shared/config';

export const stdinConfigSchema = z
  .object({
    type: z.literal('stdin'),
    /** Instance name. Default `stdin`. */
    name: nameField,
    /** Parsing of each line. Default `auto` (RFC 5424, RFC 3164, JSON or text per line). */
    format: formatField('auto'),
    /** Longest line kept, bytes; longer lines are truncated and flagged. Default 1 MiB. */
    maxLineBytes: bytesField(1024 * 1024, 256, 64 * 1024 * 1024),
  })
  .strict();

export type StdinConfig = z.output<typeof stdinConfigSchema>;
