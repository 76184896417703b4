/**
 * The one place where the inputs turn raw records into events. Everything protocol-specific stays in the
 * input folders; parsing and normalization belong to @backlog/core-parse and @backlog/core-event.
 */
import { EventLine, type LogEvent, normalize } from '@backlog/core-event';
import { type LineFormat as CoreLineFormat, parseCleanSyslog, parseLine, syslogEventLine } from '@backlog/core-parse';

/** What inputs hand to the sink: an event object, or an event already serialized (the syslog fast path, ADR 0012). */
export type HarvestEvent = LogEvent | EventLine;

/** Formats the line parser understands (@backlog/core-parse `LineFormat`). */
export type LineFormat = CoreLineFormat;

/** Why the transport flags an event; each becomes a label so the flag is searchable in Kibana. */
export type FlagReason = 'truncated' | 'partial_frame' | 'framing_error';

export interface MakeEventOptions {
  format: LineFormat;
  /** `labels.input`. */
  input: string;
  /** Receive time: the `@timestamp` fallback and `event.created`. */
  receivedAt: Date;
  /** host.name when the record names none. */
  hostname: string;
  /** Extra labels (env, instance name). */
  labels?: Record<string, string>;
  /** Flags the transport already knows (truncated line, cut frame). */
  flags?: readonly FlagReason[];
  /** The length of the record before truncation, bytes (with `truncated`). */
  originalBytes?: number;
  /** The framing decoder's error code, with `framing_error`. */
  framingError?: string;
  /** Path of the tailed file (service.name fallback). */
  file?: string;
  /** `event.id` unless the record names its own: a deterministic id from the record's position (ADR 0008). */
  eventId?: string;
  /** Who sent the record (`InputCore.source`): the namespace of an id the record names itself (ADR 0015). */
  source?: string;
  /** How far ahead of `receivedAt` the record's own time may lie, ms (ADR 0015); default one day. */
  maxFutureSkewMs?: number;
}

const strictUtf8 = new TextDecoder('utf-8', { fatal: true });
const lenientUtf8 = new TextDecoder('utf-8', { fatal: false });

/**
 * Bytes → string. Invalid UTF-8 is replaced by U+FFFD (WHATWG decoding) and flagged, so the event still
 * carries everything that was readable and says that it was altered.
 */
export function decodeUtf8(raw: Buffer | string): { text: string; invalid: boolean } {
  if (typeof raw === 'string') return { text: raw, invalid: false };
  try {
    return { text: strictUtf8.decode(raw), invalid: false };
  } catch {
    return { text: lenientUtf8.decode(raw), invalid: true };
  }
}

/**
 * Parses one record (@backlog/core-parse `parseLine`: RFC 5424, RFC 3164, JSON, text, invalid UTF-8 and NUL
 * handling) and normalizes it (@backlog/core-event). Never throws: an unparsable record is a flagged event.
 */
export function makeEvent(raw: Uint8Array | string, opts: MakeEventOptions): LogEvent {
  let event: LogEvent;
  try {
    // The transport already bounded the record; the parser's own cap is set just above it so it never cuts twice.
    const partial = parseLine(raw, { format: opts.format, maxLineBytes: Math.max(64, (typeof raw === 'string' ? raw.length * 3 : raw.length) + 1) });
    event = normalize(partial, normalizeContext(opts, { file: opts.file, eventId: opts.eventId }));
  } catch (err) {
    const text = typeof raw === 'string' ? raw : decodeUtf8(Buffer.from(raw.buffer, raw.byteOffset, raw.byteLength)).text;
    event = fallbackEvent(text, opts, `parser_crash: ${(err as Error).message}`);
  }
  return applyFlags(event, opts.flags ?? [], opts);
}

/**
 * makeEvent for a syslog record, through the fast path where it applies (ADR 0012): a clean record (valid
 * UTF-8, no NUL, no transport flags) that parses as syslog becomes its NDJSON line directly, byte for byte
 * what makeEvent + JSON.stringify give; anything else takes makeEvent. `labelsJson` is
 * eventLabelsJson(opts.labels, opts.input), computed once per input.
 */
export function makeSyslogEvent(raw: Uint8Array, opts: MakeEventOptions, labelsJson: string): HarvestEvent {
  if ((opts.flags === undefined || opts.flags.length === 0) && opts.file === undefined) {
    const line = syslogEventLineOf(raw, opts.format, opts.receivedAt.getTime(), opts.hostname, labelsJson, opts.eventId, opts.maxFutureSkewMs);
    if (line !== undefined) return line;
  }
  return makeEvent(raw, opts);
}

/**
 * The fast path alone, for a record without transport flags: its EventLine, or undefined when the record
 * must take makeEvent (it is not clean syslog, or normalize() would treat it specially).
 */
export function syslogEventLineOf(raw: Uint8Array, format: LineFormat, receivedAtMs: number, hostname: string, labelsJson: string, eventId?: string, maxFutureSkewMs?: number): EventLine | undefined {
  const m = parseCleanSyslog(raw, { format, maxLineBytes: raw.length });
  if (m === undefined) return undefined;
  try {
    return syslogEventLine(m, { receivedAt: receivedAtMs, hostname, labelsJson, eventId, maxFutureSkewMs });
  } catch {
    // never expected; makeEvent turns whatever it was into a flagged event
    return undefined;
  }
}

/** Adds `labels.input`, the instance labels and the transport's flags to a parsed event. */
export function applyFlags(event: LogEvent, flags: readonly FlagReason[], opts: Pick<MakeEventOptions, 'input' | 'labels' | 'originalBytes' | 'framingError'>): LogEvent {
  if (flags.length === 0) {
    // The common case, on the hot path: fill in what normalize() did not set, without copying the object.
    const labels = event.labels;
    if (opts.labels) for (const k in opts.labels) if (labels[k] === undefined) labels[k] = opts.labels[k]!;
    labels.input = opts.input;
    return event;
  }
  const labels: Record<string, string> = { ...opts.labels, ...event.labels, input: opts.input };
  for (const f of flags) {
    // DESIGN.md: flags are labels, so "show me what was truncated" is a Kibana filter. `truncated` is a
    // comma list shared with normalize() (which adds `message`, `fields`); ours says the line was cut.
    if (f === 'truncated') {
      const cur = labels.truncated;
      labels.truncated = cur ? (cur.split(',').includes('line') ? cur : `line,${cur}`) : 'line';
      if (opts.originalBytes !== undefined) labels.original_bytes = String(opts.originalBytes);
    } else if (f === 'framing_error') labels.framing_error = opts.framingError ?? 'true';
    else labels[f] = 'true';
  }
  event.labels = labels;
  return event;
}

/** The event of a record nobody could parse: the raw text as message, the reason in labels.parse_error. */
export function fallbackEvent(text: string, opts: Pick<MakeEventOptions, 'receivedAt' | 'hostname' | 'input' | 'labels' | 'eventId'>, reason: string): LogEvent {
  return normalize(
    { message: text, labels: { ...opts.labels, parse_error: reason } },
    { receivedAt: opts.receivedAt.getTime(), hostname: opts.hostname, input: opts.input, env: opts.labels?.env, extractJson: false, extractKeyValues: false, eventId: opts.eventId },
  );
}

/** normalize()'s context for an input's event. */
export function normalizeContext(
  opts: Pick<MakeEventOptions, 'receivedAt' | 'hostname' | 'input' | 'labels' | 'source' | 'maxFutureSkewMs'>,
  extra?: { unit?: string; file?: string; eventId?: string },
) {
  return { receivedAt: opts.receivedAt.getTime(), hostname: opts.hostname, input: opts.input, env: opts.labels?.env, source: opts.source, maxFutureSkewMs: opts.maxFutureSkewMs, ...extra };
}

/**
 * A socket's remote address as a source's peer (ADR 0015): an IPv4 peer of a dual-stack listener
 * (`::ffff:10.0.0.1`) is the same peer as on an IPv4 listener. '' when unknown (a closed socket).
 */
export function peerAddress(address: string | undefined): string {
  if (!address) return '';
  return address.startsWith('::ffff:') && address.includes('.') ? address.slice(7) : address;
}
