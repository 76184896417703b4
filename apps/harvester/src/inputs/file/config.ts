import { z } from 'zod';
import { bytesField, formatField, nameField } from '../shared/config';

export const fileConfigSchema = z
  .object({
    type: z.literal('file'),
    /** Instance name; also names the checkpoint file. Default `file`. */
    name: nameField,
    /** Glob patterns of files to tail (`*`, `?`, `[…]`, `**`), absolute or relative to the working directory. Required. */
    paths: z.array(z.string().min(1)).min(1),
    /** Glob patterns of files to skip (matched against the whole path). Default none. */
    exclude: z.array(z.string().min(1)).default([]),
    /**
     * Where to start in a file seen for the first time at start-up with no checkpoint: `end` (only new
     * lines) or `beginning`. Files that appear later are always read from the beginning. Default `end`.
     */
    startAt: z.enum(['beginning', 'end']).default('end'),
    /** Parsing of each line. Default `auto`. */
    format: formatField('auto'),
    /** Longest line kept, bytes; a longer line is truncated and flagged, never dropped. Default 1 MiB. */
    maxLineBytes: bytesField(1024 * 1024, 256, 64 * 1024 * 1024),
    /** How often each file is checked for new data, ms (fs.watch wakes us sooner where it works). Default 250. */
    pollIntervalMs: z.number().int().min(10).max(60_000).default(250),
    /** How often the globs are expanded again to find new files, ms. Default 1 000. */
    globIntervalMs: z.number().int().min(10).max(600_000).default(1_000),
    /** Also use fs.watch on the files' directories for low latency (polling stays as the fallback). Default true. */
    watch: z.boolean().default(true),
    /** After a file was renamed or deleted, keep reading it until it is idle this long, ms. Default 5 000. */
    rotatedGraceMs: z.number().int().min(0).max(3_600_000).default(5_000),
    /** Bytes read per file per poll before giving other files a turn. Default 4 MiB. */
    readBudgetBytes: bytesField(4 * 1024 * 1024, 4096),
    /** Files tailed at once (open descriptors). Default 1 024. */
    maxOpenFiles: z.number().int().min(1).max(100_000).default(1_024),
    /** Checkpoint file; default `<stateDir>/file-<name>.json`. */
    stateFile: z.string().min(1).optional(),
    /** How often committed offsets are written to the checkpoint file, ms. Default 1 000. */
    checkpointIntervalMs: z.number().int().min(10).max(600_000).default(1_000),
  })
  .strict();

export type FileConfig = z.output<typeof fileConfigSchema>;
