/**
 * The live datagram (docs/specs/live-datagram.md), encoder and decoder side by side: one JSON object
 * per UDP datagram, written by the harvester's live output and read by every live-receiver.
 *
 * Encoding: never larger than `maxBytes` (1,400 by default: fits a 1,500-byte Ethernet MTU after
 * IPv4/IPv6 + UDP headers and a tunnel's overhead, so it is never IP-fragmented — a lost fragment would
 * lose the whole datagram).
 *
 * Decoding: anything a network can deliver comes out as either a datagram or a counted reason; a
 * receiver never crashes on input.
 *
 * Pure: no I/O. live-datagram.spec.ts checks that what the encoder writes the decoder reads back.
 */

/** The fields of a normalized event (DESIGN.md "The event") that the live path reads. */
export interface LiveEventLike {
  '@timestamp'?: string;
  message?: string;
  host?: { name?: string };
  service?: { name?: string };
  log?: { level?: string; syslog?: Record<string, unknown> & { structured_data?: unknown } };
  labels?: Record<string, string | undefined>;
  event?: { original?: string } & Record<string, unknown>;
  fields?: unknown;
  [key: string]: unknown;
}

/** What every datagram of one harvester run carries besides the event. */
export interface DatagramHeader {
  /** The harvester's host name: the first part of the dedupe key. */
  host: string;
  /** The harvester's run id: a new one at each start, so `seq` may restart at 0. */
  run: string;
  /** 0, 1, 2, … per run, one per datagram (the same datagram to every target keeps its seq). */
  seq: number;
  /** Epoch ms at send: receivers and the benchmark measure latency from it. */
  sent: number;
}

export const DATAGRAM_VERSION = 1;
export const DEFAULT_MAX_DATAGRAM_BYTES = 1400;

export type EncodeResult = { ok: true; buf: Buffer; truncated: boolean } | { ok: false; reason: 'oversize' };

const utf8 = (s: string) => Buffer.byteLength(s, 'utf8');

function envelope(h: DatagramHeader, event: unknown, extra: string): string {
  return envelopeJson(h, JSON.stringify(event), extra);
}

function envelopeJson(h: DatagramHeader, eventJson: string, extra: string): string {
  // Hand-built so the header keys come first (a reader of `tcpdump -A` sees host/run/seq at once)
  // and only the event needs a full JSON.stringify.
  return `{"v":${DATAGRAM_VERSION},"host":${JSON.stringify(h.host)},"run":${JSON.stringify(h.run)},"seq":${h.seq},"sent":${h.sent}${extra},"event":${eventJson}}`;
}

/**
 * encodeDatagram for an event that is already its JSON line (an EventLine, ADR 0012): the same datagram
 * bytes, with the line used as it is when it fits; only an event that must be cut is parsed (`event()`).
 */
export function encodeDatagramJson(eventJson: string, event: () => LiveEventLike, header: DatagramHeader, maxBytes = DEFAULT_MAX_DATAGRAM_BYTES): EncodeResult {
  const first = envelopeJson(header, eventJson, '');
  if (first.length <= maxBytes && utf8(first) <= maxBytes) return { ok: true, buf: Buffer.from(first, 'utf8'), truncated: false };
  return encodeDatagram(event(), header, maxBytes);
}

/**
 * The longest prefix of `msg` whose JSON-escaped UTF-8 form takes at most `budget` bytes. JSON
 * escaping makes cost non-linear in length (`"` → 2 bytes, control chars → 6, é → 2), so this
 * narrows in on the cut from a proportional guess; it never splits a surrogate pair.
 */
export function cutToFit(msg: string, budget: number): string {
  if (budget <= 0) return '';
  const cost = (s: string) => utf8(JSON.stringify(s)) - 2;
  let n = Math.min(msg.length, budget);
  for (let i = 0; i < 64 && n > 0; i++) {
    let cand = msg.slice(0, n);
    const code = cand.charCodeAt(n - 1);
    if (code >= 0xd800 && code <= 0xdbff) cand = msg.slice(0, --n);
    const c = cost(cand);
    if (c <= budget) return cand;
    const next = Math.floor((n * budget) / c);
    n = next < n ? next : n - 1;
  }
  return '';
}

/** Removes, in this order, the parts of an event that a live tail can best do without. */
const STRIP_STEPS: readonly ((e: LiveEventLike) => LiveEventLike | undefined)[] = [
  (e) => (e.event?.original !== undefined ? { ...e, event: { ...e.event, original: undefined } } : undefined),
  (e) => (e.fields !== undefined ? { ...e, fields: undefined } : undefined),
  (e) => (e.log?.syslog !== undefined ? { ...e, log: { ...e.log, syslog: undefined } } : undefined),
  (e) => {
    // Keep only what the live filters and the page use.
    const slim: LiveEventLike = {
      '@timestamp': e['@timestamp'],
      message: e.message,
      host: e.host?.name !== undefined ? { name: e.host.name } : undefined,
      service: e.service?.name !== undefined ? { name: e.service.name } : undefined,
      log: e.log?.level !== undefined ? { level: e.log.level } : undefined,
      labels: e.labels?.env !== undefined ? { env: e.labels.env } : undefined,
    };
    return slim;
  },
];

/**
 * Encodes `event` into one datagram of at most `maxBytes`. When too large: first `event.original`,
 * `fields` and `log.syslog` are left out (listed in `stripped`), then the message is cut to fit and
 * the datagram says so (`truncated` = the message's original UTF-8 length). If even an empty message
 * does not fit (a huge host or service name), the event is not sent: `{ ok: false }`.
 */
export function encodeDatagram(event: LiveEventLike, header: DatagramHeader, maxBytes = DEFAULT_MAX_DATAGRAM_BYTES): EncodeResult {
  const first = envelope(header, event, '');
  if (utf8(first) <= maxBytes) return { ok: true, buf: Buffer.from(first, 'utf8'), truncated: false };

  const message = typeof event.message === 'string' ? event.message : '';
  const messageBytes = utf8(message);
  let current: LiveEventLike = event;
  const stripped: string[] = [];
  const names = ['event.original', 'fields', 'log.syslog', 'other'];
  for (let step = 0; step <= STRIP_STEPS.length; step++) {
    const extraBase = stripped.length ? `,"stripped":${JSON.stringify(stripped)}` : '';
    // Whole message still fits after stripping?
    if (step > 0) {
      const whole = envelope(header, current, extraBase);
      if (utf8(whole) <= maxBytes) return { ok: true, buf: Buffer.from(whole, 'utf8'), truncated: true };
    }
    // Cut the message: measure the datagram with an empty message, give the rest to the message.
    const extra = `${extraBase},"truncated":${messageBytes}`;
    const base = utf8(envelope(header, { ...current, message: '' }, extra));
    const budget = maxBytes - base;
    // Cut only when a useful part of the message remains; otherwise strip more first.
    if (budget >= Math.min(256, messageBytes) || step === STRIP_STEPS.length) {
      if (budget >= 0) {
        const cut = envelope(header, { ...current, message: cutToFit(message, budget) }, extra);
        if (utf8(cut) <= maxBytes) return { ok: true, buf: Buffer.from(cut, 'utf8'), truncated: true };
      }
    }
    const strip = STRIP_STEPS[step];
    if (!strip) break;
    const next = strip(current);
    if (next !== undefined) {
      current = next;
      stripped.push(names[step] as string);
    }
  }
  return { ok: false, reason: 'oversize' };
}

// ── decoding (live-receiver) ──

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

export type DatagramInvalidReason = 'not_json' | 'version' | 'header' | 'event' | 'too_large';

/** Bigger than any compliant datagram (≤ 1,400) yet small enough that a flood cannot cost much. */
export const MAX_ACCEPTED_DATAGRAM_BYTES = 16 * 1024;
const RUN = /^[A-Za-z0-9_-]{1,64}$/;

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

/** Validates a parsed value as a datagram; the reason when it is not one. */
export function checkDatagram(v: unknown): LiveDatagram | DatagramInvalidReason {
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
export function decodeDatagram(buf: Buffer): { d: LiveDatagram; raw: Buffer } | DatagramInvalidReason {
  if (buf.length > MAX_ACCEPTED_DATAGRAM_BYTES) return 'too_large';
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

// The header as the harvester writes it (first keys, fixed order, ASCII host). Reading it with a
// regex over the first bytes avoids a JSON.parse per event per receiver on the fan-out path.
const HEADER = /^\{"v":1,"host":"([\x20\x21\x23-\x5b\x5d-\x7e]{1,255})","run":"([A-Za-z0-9_-]{1,64})","seq":(\d{1,15}),"sent":(\d{1,15})[,}]/;

/**
 * The header of a datagram that a receiver already validated (from the cluster channel). Fast path
 * for the harvester's layout, JSON.parse for anything else (other key order, escaped host).
 */
export function readDatagramHeader(raw: Buffer): DatagramHeader | undefined {
  const m = HEADER.exec(raw.toString('latin1', 0, Math.min(raw.length, 400)));
  if (m) return { host: m[1] as string, run: m[2] as string, seq: Number(m[3]), sent: Number(m[4]) };
  try {
    const d = checkDatagram(JSON.parse(raw.toString('utf8')));
    return typeof d === 'string' ? undefined : d;
  } catch {
    return undefined;
  }
}
