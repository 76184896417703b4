import { z } from 'zod';
import { bindHostField, bytesField, formatField, nameField, portField } from '../shared/config';

export const httpConfigSchema = z
  .object({
    type: z.literal('http'),
    /** Instance name. Default `http`. */
    name: nameField,
    /** Listen address. Default `127.0.0.1`. */
    host: bindHostField,
    /** TCP port. Default 8080 (DESIGN.md). */
    port: portField(8080),
    /**
     * Parsing of each NDJSON line. Default `json`: a line that is not a JSON object is kept as a flagged
     * event (`labels.parse_error`). (String elements of a JSON batch are always parsed with `auto`.)
     */
    format: formatField('json'),
    /** Largest request body as sent (compressed or not), bytes; larger → 413. Default 10 MiB. */
    maxBodyBytes: bytesField(10 * 1024 * 1024, 1024, 1024 * 1024 * 1024),
    /** Largest body after gzip decompression, bytes; larger → 413 (zip-bomb guard). Default 64 MiB. */
    maxDecompressedBytes: bytesField(64 * 1024 * 1024, 1024, 4 * 1024 * 1024 * 1024),
    /** Longest single record (NDJSON line, serialized batch element), bytes; longer ones are truncated and flagged. Default 1 MiB. */
    maxRecordBytes: bytesField(1024 * 1024, 256, 64 * 1024 * 1024),
    /** Time allowed to receive a whole request, ms. Default 30 000. */
    requestTimeoutMs: z.number().int().min(100).default(30_000),
  })
  .strict();

export type HttpConfig = z.output<typeof httpConfigSchema>;
