import { z } from 'zod';
import { bindHostField, bufferedBytesProblem, bytesField, formatField, nameField, portField, tcpBoundsFields } from '../shared/config';

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
    ...tcpBoundsFields,
  })
  .strict()
  .superRefine((c, ctx) => {
    const problem = bufferedBytesProblem(c.maxBufferedBytes, c.maxLineBytes, 'maxLineBytes');
    if (problem) ctx.addIssue({ code: 'custom', path: ['maxBufferedBytes'], message: problem });
  });

export type JsonTcpConfig = z.output<typeof jsonTcpConfigSchema>;
