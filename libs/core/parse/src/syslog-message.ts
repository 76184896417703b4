import { FACILITY_NAMES, MAX_PRI, SEVERITY_NAMES, type PartialEvent, type SyslogFields, exactTime } from '@backlog/core-event';
import { type ParseFailure, fail } from './errors';

export type StructuredData = Record<string, Record<string, string | string[]>>;

/** What the syslog parsers read, before it becomes a partial event. Absent parts stay undefined. */
export interface SyslogMessage {
  ok: true;
  format: 'rfc5424' | 'rfc3164';
  pri?: number;
  version?: number;
  /** TIMESTAMP text exactly as sent. */
  timestamp?: string;
  /** The TIMESTAMP as epoch ms (absent when none or when it could not be completed). */
  time?: number;
  /** RFC 3164: the year used for the timestamp, and whether the line carried it. */
  year?: number;
  yearFromInput?: boolean;
  hostname?: string;
  appname?: string;
  procid?: string;
  msgid?: string;
  /** RFC 3164 TAG as sent, including "[pid]" and ":" (rsyslog's syslogtag). */
  tag?: string;
  structuredData?: StructuredData;
  message?: string;
  /** Non-fatal oddities accepted in lenient mode; they become `labels.parse_warning`. */
  warnings?: string[];
}

export type SyslogResult = SyslogMessage | ParseFailure;

/** Reads `<PRI>` at position 0 (RFC 5424 6.2.1: 1-3 digits). Returns [pri, next index] or a failure. */
export function scanPri(s: string): [number, number] | ParseFailure {
  if (s.charCodeAt(0) !== 60 /* < */) return fail('PRI_MISSING', 0);
  let v = 0;
  let i = 1;
  for (; i < s.length && i <= 4; i++) {
    const c = s.charCodeAt(i);
    if (c === 62 /* > */) break;
    if (c < 48 || c > 57) return fail('PRI_INVALID', i);
    v = v * 10 + (c - 48);
  }
  if (i === 1) return fail('PRI_INVALID', 1);
  if (i > 4 || s.charCodeAt(i) !== 62) return fail('PRI_INVALID', i);
  return [v, i + 1];
}

/** printable US-ASCII, RFC 5424 section 6: %d33-126 */
export function isPrintUsAscii(c: number): boolean {
  return c >= 33 && c <= 126;
}

export function addWarning(m: SyslogMessage, w: string): void {
  (m.warnings ??= []).push(w);
}

/**
 * The partial event for normalize(): the header lands in `log.syslog.*` exactly as sent (DESIGN.md);
 * normalize() derives host.name, service.name, process.pid (numeric PROCID only) and log.level from it.
 */
export function syslogToPartial(m: SyslogMessage): PartialEvent {
  const sys: SyslogFields = {};
  const pri = m.pri;
  if (pri !== undefined) {
    sys.priority = pri;
    if (m.version !== undefined) sys.version = m.version;
    // A PRI above 191 (accepted only in lenient mode) names no facility; its low 3 bits still read as a
    // severity, which is what the sender most likely meant.
    if (pri <= MAX_PRI) sys.facility = { code: pri >> 3, name: FACILITY_NAMES[pri >> 3] as string };
    sys.severity = { code: pri & 7, name: SEVERITY_NAMES[pri & 7] as string };
  } else if (m.version !== undefined) {
    sys.version = m.version;
  }
  if (m.hostname !== undefined) sys.hostname = m.hostname;
  if (m.appname !== undefined) sys.appname = m.appname;
  if (m.procid !== undefined) sys.procid = m.procid;
  if (m.msgid !== undefined) sys.msgid = m.msgid;
  if (m.structuredData !== undefined) sys.structured_data = m.structuredData;
  const p: PartialEvent = { log: { syslog: sys }, message: m.message ?? '' };
  // Milliseconds already: exactTime keeps normalize() from reading them by magnitude as s or µs.
  if (m.time !== undefined) p['@timestamp'] = exactTime(m.time);
  if (m.warnings !== undefined) p.labels = { parse_warning: m.warnings.join(',') };
  return p;
}
