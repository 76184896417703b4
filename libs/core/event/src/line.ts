import type { LogEvent } from './schema';

/**
 * An event that is already its canonical NDJSON line (ADR 0012): exactly `JSON.stringify` of the
 * LogEvent that normalize() would have built, without the object. The harvester's syslog fast path
 * produces these, so an event is serialized once and never exists as ~12 small objects; stages that
 * only store or forward events (the shipper's WAL, stdout) use `json` as it is, and a stage that reads
 * fields (the live copy's filter) asks for `event`, parsed once on first use.
 */
export class EventLine {
  private parsed: LogEvent | undefined;

  constructor(
    /** The event as one JSON object, no newline. */
    readonly json: string,
    /** `@timestamp` as epoch milliseconds (what `Date.parse` of the line's `@timestamp` gives). */
    readonly ts: number,
  ) {}

  /** The event as an object (parsed on first use, then kept). */
  get event(): LogEvent {
    this.parsed ??= JSON.parse(this.json) as LogEvent;
    return this.parsed;
  }
}

/** An event in either form. */
export type AnyEvent = LogEvent | EventLine;

/** The event as an object, whichever form it came in. */
export function eventObject(e: AnyEvent): LogEvent {
  return e instanceof EventLine ? e.event : e;
}

/** The event's NDJSON line (no newline), whichever form it came in. */
export function eventJson(e: AnyEvent): string {
  return e instanceof EventLine ? e.json : JSON.stringify(e);
}

// JSON.stringify escapes `"`, `\`, C0 controls and lone surrogates; a string with none of these is
// written between quotes as it is. Paired surrogates also match here and simply take the slow path.
// eslint-disable-next-line no-control-regex -- the C0 controls are exactly what must be escaped
const NEEDS_ESCAPE = /["\\\u0000-\u001f\ud800-\udfff]/;

/** `JSON.stringify(s)` for a string, without the call for the common case of nothing to escape. */
export function jsonString(s: string): string {
  const n = s.length;
  if (n <= 32) {
    // Short strings (host, app, ids): a loop beats entering the regular expression.
    for (let i = 0; i < n; i++) {
      const c = s.charCodeAt(i);
      if (c < 32 || c === 34 || c === 92 || (c >= 0xd800 && c <= 0xdfff)) return JSON.stringify(s);
    }
    return `"${s}"`;
  }
  return NEEDS_ESCAPE.test(s) ? JSON.stringify(s) : `"${s}"`;
}
