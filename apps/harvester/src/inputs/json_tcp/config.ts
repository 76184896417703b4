import { z } from 'zod';
import { bindHostField, bytesField, formatField, nameField, portField } from '../shared/config';

export const jsonTcpConfigSchema = z
  .object({
    type: z.literal('json_tcp'),
    /** Instance name. Default `json_tcp`. */
    name: nameField,
    /** Listen address. Default `127.0.0.1`. */
    host: bindHostField,
    /** TCP port. Default 5170 (DESIGN.md). */
    port: portField(5170),
    /** Parsing of each line. Default `json`: a line that is not a JSON object becomes a flagged event. */
    format: formatField('json'),
    /** Longest line kept, bytes; longer lines are truncated and flagged. Default 1 MiB. */
    maxLineBytes: bytesField(1024 * 1024, 256, 64 * 1024 * 1024),
    /** Connections served at once; more are refused. Default 1024. */
    maxConnections: z.number().int().min(1).max(100_000).default(1024),
    /** Close a connection idle this long, ms; 0 = never. Default 0 (log shippers keep connections open for days). */
    idleTimeoutMs: z.number().int().min(0).default(0),
  })
  .strict();

export type JsonTcpConfig = z.output<typeof jsonTcpConfigSchema>;
