import { z } from 'zod';
import { bytesField, nameField } from '../shared/config';

export const journaldConfigSchema = z
  .object({
    type: z.literal('journald'),
    /** Instance name; also names the cursor checkpoint file. Default `journald`. */
    name: nameField,
    /** The journalctl executable (a path or a name on $PATH). Default `journalctl`. Tests pass a fake that prints journal JSON. */
    command: z.string().min(1).default('journalctl'),
    /** Extra arguments, e.g. `['--unit', 'nginx.service']` or `['--directory', '/var/log/journal']`. Default none. */
    args: z.array(z.string()).default([]),
    /** Without a checkpointed cursor: `end` (only new entries) or `beginning` (the whole journal). Default `end`. */
    startAt: z.enum(['beginning', 'end']).default('end'),
    /** Longest JSON line from journalctl kept, bytes; longer entries are truncated and flagged. Default 1 MiB. */
    maxLineBytes: bytesField(1024 * 1024, 1024, 64 * 1024 * 1024),
    /** Wait before restarting journalctl after it exited, ms; doubles up to 30 000 while it keeps failing. Default 1 000. */
    restartDelayMs: z.number().int().min(10).max(60_000).default(1_000),
    /** Cursor checkpoint file; default `<stateDir>/journald-<name>.json`. */
    stateFile: z.string().min(1).optional(),
    /** How often the committed cursor is written, ms. Default 1 000. */
    checkpointIntervalMs: z.number().int().min(10).max(600_000).default(1_000),
  })
  .strict();

export type JournaldConfig = z.output<typeof journaldConfigSchema>;
