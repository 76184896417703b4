import { z } from 'zod';
import { bindHostField, bytesField, formatField, nameField, portField } from '../shared/config';

export const syslogUdpConfigSchema = z
  .object({
    type: z.literal('syslog_udp'),
    /** Instance name. Default `syslog_udp`. */
    name: nameField,
    /** Listen address. Default `127.0.0.1`; `0.0.0.0` or `::` to accept from the network. */
    host: bindHostField,
    /** UDP port. Default 5514 (DESIGN.md; 514 needs privileges). */
    port: portField(5514),
    /** Parsing: `auto` (RFC 5424, RFC 3164, JSON or text per datagram), `rfc5424`, `rfc3164`, `json`, `text`. Default `auto`. */
    format: formatField('auto'),
    /**
     * Longest message kept, bytes; a longer datagram is truncated and flagged. Default 65 535
     * (a UDP datagram cannot be larger; RFC 5426 §3.2 only requires receivers to take 480 bytes).
     */
    maxMessageBytes: bytesField(65_535, 480, 65_535),
    /** Kernel receive buffer (SO_RCVBUF), bytes; absorbs bursts while we parse. Default 4 MiB (the kernel may cap it at net.core.rmem_max). */
    receiveBufferBytes: bytesField(4 * 1024 * 1024, 4096, 256 * 1024 * 1024),
  })
  .strict();

export type SyslogUdpConfig = z.output<typeof syslogUdpConfigSchema>;
