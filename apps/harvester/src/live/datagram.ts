/**
 * Encoding of one live datagram (docs/specs/live-datagram.md): one JSON object per UDP datagram,
 * never larger than `maxBytes` (1,400 by default: fits a 1,500-byte Ethernet MTU after IPv4/IPv6 +
 * UDP headers and a tunnel's overhead, so it is never IP-fragmented — a lost fragment would lose the
 * whole datagram).
 *
 * Pure: no I/O, so the receiver's decoder and the benchmarks can test against it.
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

export type EncodeResult =
  | { ok: true; buf: Buffer; truncated: boolean }
  | { ok: false; reason: 'oversize' };

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
