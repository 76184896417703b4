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
    /**
     * Largest body once decoded (after gzip; a body sent without encoding is its own decoded form), bytes;
     * larger → 413 (zip-bomb guard). Default 8 MiB: the decoded body is held in memory (outside the V8 heap)
     * while its records are counted and parsed, so `maxConcurrentRequests` × this is the input's worst case
     * (64 MiB with the defaults, within the 256 MiB the k8s manifest allows the harvester). 8 MiB still
     * carries 10 000 records of 800 bytes; Datadog's intake takes 5 MB decoded per request, and
     * Elasticsearch's maintainers call 8-32 MB the useful range of a bulk request (elastic/elasticsearch#67804).
     * It was 64 MiB, which let 3 KB of gzip become millions of records (issue 17 §2).
     */
    maxDecompressedBytes: bytesField(8 * 1024 * 1024, 1024, 4 * 1024 * 1024 * 1024),
    /** Longest single record (NDJSON line, serialized batch element), bytes; longer ones are truncated and flagged. Default 1 MiB. */
    maxRecordBytes: bytesField(1024 * 1024, 256, 64 * 1024 * 1024),
    /**
     * Records in one request at most (NDJSON lines that are not blank, or elements of a JSON array); a
     * request with more is refused whole with 413 `{"reason":"too_many_records","limit":…}` before any of
     * it is emitted, so the sender can split it and resend without duplicates. Default 10 000, the
     * per-request limit of CloudWatch Logs' PutLogEvents (Datadog's intake: 1 000). It bounds the work one
     * request can ask for: 3 KB of gzip inflate to a million `{}` records, ~10 s of parsing and far more
     * than a 96 MiB heap if built at once.
     */
    maxRecordsPerRequest: z.number().int().min(1).max(1_000_000).default(10_000),
    /**
     * Requests read and ingested at once; beyond it → 503 + `Retry-After: 1` before the body is read.
     * Default 8 (with the 8 MiB decoded cap: at most 64 MiB of bodies in memory).
     */
    maxConcurrentRequests: z.number().int().min(1).max(1024).default(8),
    /** Connections open at once (idle keep-alive ones included); Node closes further ones at once. Default 1 024. */
    maxConnections: z.number().int().min(1).max(100_000).default(1024),
    /** Time allowed to receive a whole request (headers and body), ms; then 408 and close. Default 30 000. */
    requestTimeoutMs: z.number().int().min(100).default(30_000),
    /** Time allowed to receive the request headers, ms (slow-header senders); at most requestTimeoutMs. Default 10 000. */
    headersTimeoutMs: z.number().int().min(100).default(10_000),
    /** Close a keep-alive connection idle this long between requests, ms. Default 5 000. */
    keepAliveTimeoutMs: z.number().int().min(100).max(600_000).default(5_000),
  })
  .strict();

export type HttpConfig = z.output<typeof httpConfigSchema>;
