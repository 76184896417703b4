/**
 * Decoding of live datagrams (docs/specs/live-datagram.md; the encoder is the harvester's
 * `apps/harvester/src/live/datagram.ts`). Anything a network can deliver must come out as either a
 * datagram or a counted reason: a receiver never crashes on input.
 */

/** The event fields the live view reads; the rest is passed through untouched. */
export interface LiveEvent {
  '@timestamp'?: string;
  message?: unknown;
  host?: { name?: unknown };
  service?: { name?: unknown };
  log?: { level?: unknown };
  labels?: { env?: unknown };
  [key: string]: unknown;
}

export interface LiveDatagram {
  host: string;
  run: string;
  seq: number;
  sent: number;
  event: LiveEvent;
}

export type InvalidReason = 'not_json' | 'version' | 'header' | 'event' | 'too_large';

/** Bigger than any compliant datagram (≤ 1,400) yet small enough that a flood cannot cost much. */
export const MAX_ACCEPTED_BYTES = 16 * 1024;
const RUN = /^[A-Za-z0-9_-]{1,64}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates a parsed value as a datagram; the reason when it is not one. */
export function checkDatagram(v: unknown): LiveDatagram | InvalidReason {
  if (!isObject(v)) return 'not_json';
  if (v.v !== 1) return 'version';
  const { host, run, seq, sent, event } = v;
  if (typeof host !== 'string' || host.length === 0 || host.length > 255) return 'header';
  if (typeof run !== 'string' || !RUN.test(run)) return 'header';
  if (typeof seq !== 'number' || !Number.isSafeInteger(seq) || seq < 0) return 'header';
  if (typeof sent !== 'number' || !Number.isFinite(sent)) return 'header';
  if (!isObject(event)) return 'event';
  return { host, run, seq, sent, event: event as LiveEvent };
}

/**
 * Parses and validates one datagram's bytes (the whole of it: what is published is then known to be
 * JSON, so the fan-out can pass the bytes through unparsed). Returns the datagram and the bytes to
 * publish: the same buffer, or a copy with each newline turned into a space — newlines can only be
 * JSON whitespace (inside strings they are escaped), and the fan-out joins datagrams with `\n`.
 */
export function decodeDatagram(buf: Buffer): { d: LiveDatagram; raw: Buffer } | InvalidReason {
  if (buf.length > MAX_ACCEPTED_BYTES) return 'too_large';
  const text = buf.toString('utf8');
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch {
    return 'not_json';
  }
  const d = checkDatagram(parsed);
  if (typeof d === 'string') return d;
  return { d, raw: buf.includes(0x0a) ? Buffer.from(text.replace(/\n/g, ' '), 'utf8') : buf };
}

export interface DatagramHeader {
  host: string;
  run: string;
  seq: number;
  sent: number;
}

// The header as the harvester writes it (first keys, fixed order, ASCII host). Reading it with a
// regex over the first bytes avoids a JSON.parse per event per receiver on the fan-out path.
const HEADER = /^\{"v":1,"host":"([\x20\x21\x23-\x5b\x5d-\x7e]{1,255})","run":"([A-Za-z0-9_-]{1,64})","seq":(\d{1,15}),"sent":(\d{1,15})[,}]/;

/**
 * The header of a datagram that a receiver already validated (from the cluster channel). Fast path
 * for the harvester's layout, JSON.parse for anything else (other key order, escaped host).
 */
export function readHeader(raw: Buffer): DatagramHeader | undefined {
  const m = HEADER.exec(raw.toString('latin1', 0, Math.min(raw.length, 400)));
  if (m) return { host: m[1] as string, run: m[2] as string, seq: Number(m[3]), sent: Number(m[4]) };
  try {
    const d = checkDatagram(JSON.parse(raw.toString('utf8')));
    return typeof d === 'string' ? undefined : d;
  } catch {
    return undefined;
  }
}

/** The Redis dedupe key's variable part. `run` has no `:` (see RUN), so the tuple is unambiguous. */
export const dedupeId = (d: LiveDatagram): string => `${d.run}:${d.seq}:${d.host}`;
