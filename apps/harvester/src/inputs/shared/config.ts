import { LINE_FORMATS, type LineFormat } from '@backlog/core-parse';
import { z } from 'zod';

/** Shared pieces of the inputs' config schemas. Every field documents its unit and default. */

/** Instance name, unique among the harvester's inputs (logs, metrics label `name`, checkpoint file name). Default: the type. */
export const nameField = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (max 64)')
  .optional();

/** Listen address. Default 127.0.0.1 (loopback): exposing a log port is a decision, not an accident. */
export const bindHostField = z.string().min(1).default('127.0.0.1');

/** TCP/UDP port, 0 = any free port (tests). */
export const portField = (def: number) => z.number().int().min(0).max(65535).default(def);

/**
 * How records are parsed (@backlog/core-parse `parseLine`): `auto` detects RFC 5424, RFC 3164, a JSON object
 * or plain text per record; the others accept one format and flag anything else with `labels.parse_error`.
 */
export const formatField = (def: LineFormat) => z.enum(LINE_FORMATS as [LineFormat, ...LineFormat[]]).default(def);

/** A byte size with bounds. */
export const bytesField = (def: number, min = 64, max = 1024 * 1024 * 1024) => z.number().int().min(min).max(max).default(def);

/**
 * The connection bounds of the TCP inputs (syslog_tcp, json_tcp; shared/tcp.ts), spread into their
 * schemas. Every listener has a size, a time and a connection bound (DESIGN.md "Security defaults").
 */
export const tcpBoundsFields = {
  /** Connections served at once; further ones are closed at once and counted (`reason="max_connections"`). Default 1 024. */
  maxConnections: z.number().int().min(1).max(100_000).default(1024),
  /**
   * Connections from one remote address at once; further ones are closed at once and counted
   * (`reason="max_connections_per_address"`), so one sender cannot take every slot. Loopback senders all
   * share 127.0.0.1. Default 256.
   */
  maxConnectionsPerAddress: z.number().int().min(1).max(100_000).default(256),
  /**
   * Close a connection that sent nothing for this long, ms; 0 = never. Default 300 000 (5 min, as
   * Filebeat's TCP input). Log shippers reconnect by themselves; rsyslog's plain-TCP forwarding may lose
   * the message it sends into a connection we just closed, so do not set it shorter than the quietest
   * sender's interval. Suspended while the harvester itself pauses reading (backpressure).
   */
  idleTimeoutMs: z.number().int().min(0).default(300_000),
  /**
   * A record (line, frame) that was started must be finished within this long, ms; else the connection is
   * closed and what arrived becomes an event flagged `partial_frame` (`reason="partial_timeout"`); 0 =
   * never. A slow-drip sender holds at most one record's buffer for this long. Default 30 000.
   */
  partialRecordTimeoutMs: z.number().int().min(0).default(30_000),
  /**
   * Bytes of unfinished records (a line or frame begun and not yet ended) held across all of this
   * listener's connections at most. Past it the connection holding the most is closed and counted
   * (`reason="max_buffered_bytes"`), and what it sent of its record becomes an event flagged
   * `partial_frame`: nothing that was accepted is dropped. At least twice the record bound (`maxLineBytes`,
   * `maxFrameBytes`). Default 16 MiB, or 4 × the record bound when that is larger (ADR 0020, addendum).
   */
  maxBufferedBytes: z
    .number()
    .int()
    .min(1024)
    .max(16 * 1024 * 1024 * 1024)
    .optional(),
};

/** The listener-wide byte budget in effect for a TCP input whose records are at most `recordBytes` (tcpBoundsFields.maxBufferedBytes). */
export function tcpBufferedBytes(maxBufferedBytes: number | undefined, recordBytes: number): number {
  return maxBufferedBytes ?? Math.max(16 * 1024 * 1024, 4 * recordBytes);
}

/** The config check of maxBufferedBytes against the record bound: the problem, or undefined. */
export function bufferedBytesProblem(maxBufferedBytes: number | undefined, recordBytes: number, recordKey: string): string | undefined {
  if (maxBufferedBytes === undefined || maxBufferedBytes >= 2 * recordBytes) return undefined;
  return `must be at least twice ${recordKey} (${2 * recordBytes}): one whole record and room for the other connections'`;
}
