import { MAX_PRI, daysInMonth, scanRfc3339, yearInZone, zonedToEpochMs } from '@backlog/core-event';
import { type ParseFailure, fail } from './errors';
import { type SdOptions, scanStructuredData } from './structured-data';
import { type SyslogMessage, type SyslogResult, addWarning, scanPri } from './syslog-message';

/**
 * RFC 3164 ("BSD syslog", section 4.1):  <PRI>TIMESTAMP SP HOSTNAME SP TAG[pid]: CONTENT
 * with TIMESTAMP = "Mmm dd hh:mm:ss" (day space-padded), no year, no zone.
 *
 * Strict mode: PRI and an RFC 3164 timestamp are required (capitalised month, space-padded day).
 * Lenient mode takes the variants real senders produce (each one is a vector in the conformance suite):
 *   - no PRI: `defaultPri` (RFC 3164 4.3.3: a relay assigns 13, user.notice) or absent;
 *   - SP after PRI; upper-case or lower-case month; zero-padded or unpadded day;
 *   - a year inside the timestamp ("Mar 7 2008 19:06:53"), fraction seconds, a ':' after the time (Cisco);
 *   - an RFC 3339 timestamp instead of the BSD one (rsyslog RSYSLOG_ForwardFormat);
 *   - no timestamp and/or no HOSTNAME (the first word ending in ':' is then the TAG);
 *   - a TAG without ':' and longer than 32 chars; an RFC 5424 SD element right after the TAG.
 *
 * A year-less timestamp is completed with the receiver's year in `timeZone`, chosen so that the event lies
 * between 11 months before and 1 month after the receive time: at New Year, "Dec 31 23:59:59" received
 * on Jan 1 is last year's, and a sender whose clock runs a little ahead stays in the current year.
 */
export interface Rfc3164Options {
  strict: boolean;
  /** IANA zone of the sender's wall clock. Default "UTC". */
  timeZone?: string;
  /** Fixed year for year-less timestamps (overrides the roll-over rule). */
  year?: number;
  /** Receive time (epoch ms) that year completion is relative to. Default Date.now(). */
  now?: number;
  /** PRI to assume when the line has none; undefined leaves priority absent. */
  defaultPri?: number;
  /** Fail with NOT_SYSLOG when there is neither PRI nor timestamp (auto-detection); otherwise the whole line is CONTENT (RFC 3164 4.3.3). */
  requireHeader?: boolean;
}

const DAY_MS = 86_400_000;

/** Month number (1-12) of a 3-letter name at s[i..i+3), any case when !strict, else capitalised only. */
function monthAt(s: string, i: number, strict: boolean): number {
  const a = s.charCodeAt(i);
  const b = s.charCodeAt(i + 1);
  const c = s.charCodeAt(i + 2);
  if (strict && (a < 65 || a > 90 || b < 97 || b > 122 || c < 97 || c > 122)) return 0;
  const key = String.fromCharCode(a | 0x20, b | 0x20, c | 0x20);
  switch (key) {
    case 'jan':
      return 1;
    case 'feb':
      return 2;
    case 'mar':
      return 3;
    case 'apr':
      return 4;
    case 'may':
      return 5;
    case 'jun':
      return 6;
    case 'jul':
      return 7;
    case 'aug':
      return 8;
    case 'sep':
      return 9;
    case 'oct':
      return 10;
    case 'nov':
      return 11;
    case 'dec':
      return 12;
    default:
      return 0;
  }
}

function digitAt(s: string, i: number): number {
  const c = s.charCodeAt(i) - 48;
  return c >= 0 && c <= 9 ? c : -1;
}

interface BsdTime {
  month: number;
  day: number;
  hour: number;
  minute: number;
  second: number;
  ms: number;
  year?: number;
  end: number;
}

/** Scans "Mmm dd hh:mm:ss" (and, when lenient, the variants above) at `i`; null when it is not one. */
export function scanBsdTimestamp(s: string, i: number, strict: boolean): BsdTime | null {
  const month = monthAt(s, i, strict);
  if (month === 0 || s.charCodeAt(i + 3) !== 32) return null;
  let p = i + 4;
  let day: number;
  if (strict) {
    // RFC 3164 4.1.2: "Mmm d" is written with two spaces, "Mmm dd" with one.
    const d1 = s.charCodeAt(p) === 32 ? 0 : digitAt(s, p);
    const d2 = digitAt(s, p + 1);
    if (d1 < 0 || d2 < 0 || (d1 === 0 && s.charCodeAt(p) !== 32)) return null;
    day = d1 * 10 + d2;
    p += 2;
  } else {
    while (s.charCodeAt(p) === 32) p++;
    const d1 = digitAt(s, p);
    if (d1 < 0) return null;
    const d2 = digitAt(s, p + 1);
    day = d2 < 0 ? d1 : d1 * 10 + d2;
    p += d2 < 0 ? 1 : 2;
  }
  if (day < 1 || day > 31 || s.charCodeAt(p) !== 32) return null;
  p++;
  let year: number | undefined;
  if (!strict) {
    while (s.charCodeAt(p) === 32) p++;
    // "Mar 7 2008 19:06:53": a 4-digit year before the time.
    if (s.charCodeAt(p + 4) === 32 && digitAt(s, p) >= 0 && digitAt(s, p + 1) >= 0 && digitAt(s, p + 2) >= 0 && digitAt(s, p + 3) >= 0) {
      year = digitAt(s, p) * 1000 + digitAt(s, p + 1) * 100 + digitAt(s, p + 2) * 10 + digitAt(s, p + 3);
      p += 5;
    }
  }
  const h1 = digitAt(s, p),
    h2 = digitAt(s, p + 1),
    m1 = digitAt(s, p + 3),
    m2 = digitAt(s, p + 4),
    s1 = digitAt(s, p + 6),
    s2 = digitAt(s, p + 7);
  if (h1 < 0 || h2 < 0 || m1 < 0 || m2 < 0 || s1 < 0 || s2 < 0 || s.charCodeAt(p + 2) !== 58 || s.charCodeAt(p + 5) !== 58) return null;
  const hour = h1 * 10 + h2,
    minute = m1 * 10 + m2,
    second = s1 * 10 + s2;
  if (hour > 23 || minute > 59 || second > 60) return null;
  p += 8;
  let ms = 0;
  if (!strict && s.charCodeAt(p) === 46 /* . */ && digitAt(s, p + 1) >= 0) {
    p++;
    let scale = 100;
    while (digitAt(s, p) >= 0) {
      if (scale >= 1) ms += digitAt(s, p) * scale;
      scale /= 10;
      p++;
    }
    ms = Math.floor(ms);
  }
  return { month, day, hour, minute, second: Math.min(second, 59), ms, year, end: p };
}

/** Looks like a TAG rather than a host name: ends with ':' (e.g. "su:", "sshd[42]:"), has no other ':' outside "[...]". */
function looksLikeTag(s: string, start: number, end: number): boolean {
  if (end - start < 2 || s.charCodeAt(end - 1) !== 58) return false;
  for (let k = start; k < end - 1; k++) {
    const c = s.charCodeAt(k);
    if (c === 58) return false;
    if (c === 91) return true; // "name[...]:"
  }
  return true;
}

const MAX_TAG = 128;
/** Shared, never-mutated options for the SD element after a TAG (no literal per line on the hot path). */
const SD_AFTER_TAG: Readonly<SdOptions> = Object.freeze({ strict: false, requireParams: true });

function completeYear(bt: BsdTime, o: Rfc3164Options, m: SyslogMessage): number | undefined {
  const tz = o.timeZone ?? 'UTC';
  let year: number;
  if (bt.year !== undefined) {
    year = bt.year;
    m.yearFromInput = true;
  } else if (o.year !== undefined) {
    year = o.year;
  } else {
    const now = o.now ?? Date.now();
    year = yearInZone(tz, now);
    // Candidate in this year; move it into (now - 11 months, now + 1 month]. Feb 29 is tried in a leap year.
    const dim = daysInMonth(year, bt.month);
    const t = zonedToEpochMs(tz, year, bt.month, Math.min(bt.day, dim), bt.hour, bt.minute, bt.second, bt.ms);
    if (t > now + 31 * DAY_MS) year--;
    else if (t <= now - 334 * DAY_MS) year++;
    else if (bt.day <= dim) {
      // The usual case: the candidate is the answer; do not convert the same time twice.
      m.year = year;
      return t;
    }
  }
  m.year = year;
  if (bt.day > daysInMonth(year, bt.month)) return undefined;
  return zonedToEpochMs(tz, year, bt.month, bt.day, bt.hour, bt.minute, bt.second, bt.ms);
}

/**
 * A step of the header scan: the index where the next part starts, DONE when the step has set the
 * message and the parse is complete, or the failure (strict mode).
 */
type Step = number | ParseFailure;
const DONE = -1;

/**
 * RFC 3164 (BSD syslog), lenient unless `o.strict`: PRI, TIMESTAMP (or an RFC 3339 one), HOSTNAME, TAG
 * (with `[pid]`), an RFC 5424 SD element right after the TAG, then CONTENT. Each header part that is not
 * there leaves the rest as the message (RFC 3164 4.3.3).
 */
export function parseRfc3164(s: string, o: Rfc3164Options): SyslogResult {
  const m: SyslogMessage = { ok: true, format: 'rfc3164' };
  let i = scanPriPart(s, o, m);
  if (typeof i !== 'number') return i;
  const hasPri = m.pri !== undefined && i > 0;
  if (!hasPri && o.defaultPri !== undefined) m.pri = o.defaultPri;
  if (!o.strict) while (s.charCodeAt(i) === 32) i++;

  const afterTime = scanTimePart(s, i, o, m);
  if (typeof afterTime !== 'number') return afterTime;
  const hasTime = afterTime !== i;
  i = afterTime;
  if (!hasPri && !hasTime) {
    if (o.requireHeader) return fail('NOT_SYSLOG', 0);
    // RFC 3164 4.3.3: no recognisable header → the whole line is CONTENT.
    m.message = s;
    return m;
  }

  const afterHost = hasTime ? scanHostPart(s, i, o.strict, m) : tagOnlyAfterPri(s, i, m);
  if (typeof afterHost !== 'number') return afterHost;
  if (afterHost === DONE) return m;
  const afterTag = scanTagPart(s, afterHost, m);
  if (afterTag === DONE) return m;
  m.message = s.slice(scanSdAfterTag(s, afterTag, o.strict, m));
  return m;
}

/** PRI: `<N>`; lenient mode goes on without one (or with one out of range, flagged). */
function scanPriPart(s: string, o: Rfc3164Options, m: SyslogMessage): Step {
  if (s.charCodeAt(0) !== 60 /* < */) return o.strict ? fail('PRI_MISSING', 0) : 0;
  const pri = scanPri(s);
  if (!Array.isArray(pri)) return o.strict ? pri : 0;
  if (pri[0] > MAX_PRI) {
    if (o.strict) return fail('PRI_OUT_OF_RANGE', pri[1] - 1);
    addWarning(m, 'pri_out_of_range');
  }
  m.pri = pri[0];
  return pri[1];
}

/** TIMESTAMP: `Mmm dd hh:mm:ss` (year completed), or in lenient mode an RFC 3339 time; `i` unchanged when none. */
function scanTimePart(s: string, i: number, o: Rfc3164Options, m: SyslogMessage): Step {
  const bt = scanBsdTimestamp(s, i, o.strict);
  if (bt !== null) {
    m.timestamp = s.slice(i, bt.end);
    const t = completeYear(bt, o, m);
    if (t === undefined) {
      // "Feb 29" in a year without one: the header is still a header; the time is not.
      if (o.strict) return fail('TIMESTAMP_INVALID', i);
      addWarning(m, 'timestamp_invalid');
    } else {
      m.time = t;
    }
    return bt.end;
  }
  if (o.strict) return fail('TIMESTAMP_INVALID', i);
  const c = s.charCodeAt(i);
  if (c >= 48 && c <= 57) {
    const t = scanRfc3339(s, i, false);
    if (t !== null && (t.end === s.length || s.charCodeAt(t.end) === 32)) {
      m.timestamp = s.slice(i, t.end);
      m.time = t.ms;
      return t.end;
    }
  }
  return i;
}

/** After a TIMESTAMP: HOSTNAME, unless the next word is already the TAG (the sender left the host out). */
function scanHostPart(s: string, i: number, strict: boolean | undefined, m: SyslogMessage): Step {
  const n = s.length;
  if (!strict && s.charCodeAt(i) === 58 /* : */) i++; // Cisco "19:06:53:"
  if (i < n && s.charCodeAt(i) !== 32 && strict) return fail('SP_EXPECTED', i);
  while (s.charCodeAt(i) === 32) i++;
  if (i >= n) {
    m.message = '';
    return DONE;
  }
  let end = s.indexOf(' ', i);
  if (end === -1) end = n;
  if (looksLikeTag(s, i, end)) return i;
  m.hostname = s.slice(i, end);
  if (end >= n) {
    m.message = '';
    return DONE;
  }
  i = end + 1; // the SP after HOSTNAME
  if (s.charCodeAt(i) === 32) {
    // Two spaces after the host: no TAG, the rest is CONTENT.
    while (s.charCodeAt(i) === 32) i++;
    m.message = s.slice(i);
    return DONE;
  }
  return i;
}

/** PRI only ("<27>xapi: ..."): the first word is the TAG only when it says so with a ':'. */
function tagOnlyAfterPri(s: string, i: number, m: SyslogMessage): number {
  let end = s.indexOf(' ', i);
  if (end === -1) end = s.length;
  if (looksLikeTag(s, i, end)) return i;
  m.message = s.slice(i);
  return DONE;
}

/** TAG: up to SP, ':' or "[pid]". No TAG when the word is empty or too long for one: the rest is CONTENT. */
function scanTagPart(s: string, i: number, m: SyslogMessage): number {
  const n = s.length;
  const tagStart = i;
  let k = i;
  let appEnd = -1;
  let pidStart = -1;
  let pidEnd = -1;
  while (k < n && k - tagStart <= MAX_TAG) {
    const c = s.charCodeAt(k);
    if (c === 32) break;
    if (c === 58 /* : */) {
      if (appEnd < 0) appEnd = k;
      k++;
      break;
    }
    if (c === 91 /* [ */ && appEnd < 0 && k > tagStart) {
      const close = s.indexOf(']', k + 1);
      const after = s.charCodeAt(close + 1);
      if (close > 0 && (close + 1 === n || after === 58 || after === 32)) {
        appEnd = k;
        pidStart = k + 1;
        pidEnd = close;
        k = close + 1;
        if (after === 58) k++;
        break;
      }
    }
    k++;
  }
  if (k - tagStart > MAX_TAG || k === tagStart || s.charCodeAt(tagStart) === 91 /* [ */) {
    m.message = s.slice(tagStart);
    return DONE;
  }
  if (appEnd < 0) appEnd = k;
  if (appEnd <= tagStart) {
    // A bare ':' is not a TAG.
    m.message = s.slice(tagStart);
    return DONE;
  }
  m.tag = s.slice(tagStart, k);
  m.appname = s.slice(tagStart, appEnd);
  if (pidEnd > pidStart) m.procid = s.slice(pidStart, pidEnd);
  while (s.charCodeAt(k) === 32) k++;
  return k;
}

/** An RFC 5424 SD element right after the TAG (rsyslog's own messages, RSYSLOG_ForwardFormat); where CONTENT starts. */
function scanSdAfterTag(s: string, i: number, strict: boolean | undefined, m: SyslogMessage): number {
  if (strict || s.charCodeAt(i) !== 91) return i;
  const sd = scanStructuredData(s, i, SD_AFTER_TAG);
  if (!sd.ok || (sd.end !== s.length && s.charCodeAt(sd.end) !== 32)) return i;
  m.structuredData = sd.sd;
  i = sd.end;
  while (s.charCodeAt(i) === 32) i++;
  return i;
}
