import { LINE_FORMATS, type LineFormat } from '@backlog/core-parse';
import { z } from 'zod';

/** Shared pieces of the inputs' config schemas. Every field documents its unit and default. */

/** Instance name, unique among the harvester's inputs (logs, metrics label `name`, checkpoint file name). Default: the type. */
export const nameField = z.string().regex(/^[A-Za-z0-9_.-]{1,64}$/, 'letters, digits, _ . - (max 64)').optional();

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
