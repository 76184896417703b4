import { z } from 'zod';
import { bindHostField, bufferedBytesProblem, bytesField, formatField, nameField, portField, tcpBoundsFields } from '../shared/config';

export const syslogTcpConfigSchema = z
  .object({
    type: z.literal('syslog_tcp'),
    /** Instance name. Default `syslog_tcp`. */
    name: nameField,
    /** Listen address. Default `127.0.0.1`; `0.0.0.0` or `::` to accept from the network. */
    host: bindHostField,
    /** TCP port. Default 5514 (DESIGN.md; 514 needs privileges). */
    port: portField(5514),
    /** Parsing of each frame: `auto` (RFC 5424, RFC 3164, JSON or text), `rfc5424`, `rfc3164`, `json`, `text`. Default `auto`. */
    format: formatField('auto'),
    /**
     * RFC 6587 framing: `auto` decides per frame (octet counting when it starts with `MSG-LEN SP`, else
     * LF/NUL-terminated), or one of `octet-counting`, `lf`, `nul`. Default `auto`.
     */
    framing: z.enum(['auto', 'octet-counting', 'lf', 'nul']).default('auto'),
    /**
     * Largest frame kept, bytes; a longer frame is truncated and flagged and the rest skipped as it streams
     * past. It is also the per-connection buffer bound. Default 65 536 (RFC 5425 §4.3.1 asks for at least 2 048).
     */
    maxFrameBytes: bytesField(65_536, 480, 16 * 1024 * 1024),
    ...tcpBoundsFields,
  })
  .strict()
  .superRefine((c, ctx) => {
    const problem = bufferedBytesProblem(c.maxBufferedBytes, c.maxFrameBytes, 'maxFrameBytes');
    if (problem) ctx.addIssue({ code: 'custom', path: ['maxBufferedBytes'], message: problem });
  });

export type SyslogTcpConfig = z.output<typeof syslogTcpConfigSchema>;
