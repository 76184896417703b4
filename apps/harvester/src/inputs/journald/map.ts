import { type PartialEvent, exactTime, keyedEventId, normalize } from '@backlog/core-event';
import type { LogEvent } from '@backlog/core-event';
import { decodeUtf8 } from '../shared/event';

/** RFC 5424 §6.2.1 severities, which journald's PRIORITY uses (sd-journal's LOG_EMERG..LOG_DEBUG). */
const LEVELS = ['emergency', 'alert', 'critical', 'error', 'warning', 'notice', 'informational', 'debug'] as const;
const SEVERITY_NAMES = ['emerg', 'alert', 'crit', 'err', 'warning', 'notice', 'info', 'debug'] as const;

/** Journal fields kept in `fields.journald` (the rest is journald bookkeeping: cursors, monotonic times, boot ids are kept too). */
const KEPT = ['_SYSTEMD_UNIT', '_SYSTEMD_USER_UNIT', '_TRANSPORT', '_COMM', '_EXE', '_UID', '_BOOT_ID', 'SYSLOG_FACILITY', 'CODE_FILE', 'CODE_LINE', 'CODE_FUNC', '_MACHINE_ID'] as const;

/**
 * A journal field as text. `journalctl -o json` prints a field that is not valid UTF-8 (or holds control
 * characters) as an array of byte values, and a field whose value is too large as null (unless `--all`);
 * see systemd's journal-export-formats "Journal JSON Format".
 */
export function fieldText(v: unknown): { text: string; invalid: boolean } | undefined {
  if (typeof v === 'string') return { text: v, invalid: false };
  if (typeof v === 'number') return { text: String(v), invalid: false };
  if (Array.isArray(v)) {
    // A field that occurs several times in one entry is an array of its values.
    if (v.length > 0 && v.every((x) => typeof x === 'number' && x >= 0 && x <= 255)) return decodeUtf8(Buffer.from(v as number[]));
    const first = v.find((x) => typeof x === 'string' || Array.isArray(x));
    return first === undefined ? undefined : fieldText(first);
  }
  return undefined;
}

export interface JournalContext {
  receivedAt: Date;
  hostname: string;
  input: string;
  labels: Record<string, string>;
  /** normalize()'s `maxFutureSkewMs` (ADR 0015). */
  maxFutureSkewMs?: number;
}

/** One `journalctl -o json` object → a LogEvent. Never throws. */
export function journalEntryToEvent(entry: Record<string, unknown>, ctx: JournalContext): LogEvent {
  const msg = fieldText(entry.MESSAGE);
  const p: PartialEvent = { message: msg?.text ?? '' };
  const labels: Record<string, string> = { ...ctx.labels };
  if (msg?.invalid) labels.invalid_utf8 = 'true';
  if (entry.MESSAGE === null) labels.truncated = 'journald_null_field';

  // __REALTIME_TIMESTAMP: microseconds since the epoch, as a decimal string.
  const rt = fieldText(entry.__REALTIME_TIMESTAMP)?.text;
  const rtMs = rt && /^\d{1,19}$/.test(rt) ? Math.floor(Number(rt) / 1000) : undefined;
  if (rtMs !== undefined) p['@timestamp'] = exactTime(rtMs);
  const host = fieldText(entry._HOSTNAME)?.text;
  if (host) p.host = { name: host };
  // SYSLOG_IDENTIFIER is what the program calls itself (the syslog tag); the unit is the fallback.
  const ident = fieldText(entry.SYSLOG_IDENTIFIER)?.text;
  const unit = fieldText(entry._SYSTEMD_UNIT)?.text ?? fieldText(entry._SYSTEMD_USER_UNIT)?.text;
  if (ident) p.service = { name: ident };
  const prio = Number(fieldText(entry.PRIORITY)?.text);
  const pid = fieldText(entry._PID)?.text ?? fieldText(entry.SYSLOG_PID)?.text;
  if (pid && /^\d{1,10}$/.test(pid)) p.process = { pid: Number(pid) };
  if (Number.isInteger(prio) && prio >= 0 && prio <= 7) {
    p.log = { level: LEVELS[prio], syslog: { severity: { code: prio, name: SEVERITY_NAMES[prio] as string }, ...(ident ? { appname: ident } : {}), ...(pid ? { procid: pid } : {}) } };
    const fac = Number(fieldText(entry.SYSLOG_FACILITY)?.text);
    if (Number.isInteger(fac) && fac >= 0 && fac <= 23 && p.log.syslog) {
      p.log.syslog.facility = { code: fac };
      p.log.syslog.priority = fac * 8 + prio;
    }
  }
  const journald: Record<string, string> = {};
  for (const k of KEPT) {
    const t = fieldText(entry[k])?.text;
    if (t !== undefined) journald[k.replace(/^_+/, '').toLowerCase()] = t;
  }
  const cursor = fieldText(entry.__CURSOR)?.text;
  if (cursor) journald.cursor = cursor;
  // The cursor names the entry for good: an entry read again after a crash gets the id it had (ADR 0008).
  const eventId = cursor && rtMs !== undefined ? keyedEventId(rtMs, `${ctx.hostname}\0${cursor}`) : undefined;
  p.fields = { journald };
  p.labels = labels;
  return normalize(p, {
    receivedAt: ctx.receivedAt.getTime(),
    hostname: ctx.hostname,
    input: ctx.input,
    env: ctx.labels.env,
    unit,
    // The message of a journal entry is the program's text; do not mine it for key=value pairs twice.
    extractJson: true,
    eventId,
    maxFutureSkewMs: ctx.maxFutureSkewMs,
  });
}
