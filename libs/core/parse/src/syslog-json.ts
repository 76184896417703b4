import {
  DEFAULT_MAX_FUTURE_SKEW_MS,
  DEFAULT_NORMALIZE_LIMITS,
  EventLine,
  type EventIdGenerator,
  FACILITY_NAMES,
  FieldBudget,
  MAX_PRI,
  SEVERITY_LEVELS,
  SEVERITY_NAMES,
  createdIso,
  defaultIdGenerator,
  extractJsonObject,
  extractKeyValues,
  isoFromMs,
  jsonString,
  keyValuesJson,
  normalizedPid,
  timestampProblem,
} from '@backlog/core-event';
import type { SyslogMessage } from './syslog-message';

/** What syslogEventLine needs besides the message: normalize()'s context for an input's events. */
export interface SyslogLineContext {
  /** Receive time, epoch ms: `event.created`, and `@timestamp` when the header has none. */
  receivedAt: number;
  /** `host.name` when the header names none. */
  hostname?: string;
  /** The event's labels as JSON (eventLabelsJson): the same for every event of one input. */
  labelsJson: string;
  /** `event.id` instead of a generated one (ADR 0008). */
  eventId?: string;
  /** Id generator; default: the process-wide one. */
  ids?: EventIdGenerator;
  /** normalize()'s `maxFutureSkewMs` (ADR 0015); default one day. */
  maxFutureSkewMs?: number;
}

/**
 * `labels` of an event an input made with these instance labels, as JSON: `env` first, then `input`, then
 * the instance's other labels in their order (what normalize() followed by the harvester's applyFlags
 * builds for an event that carries no labels of its own).
 */
export function eventLabelsJson(labels: Readonly<Record<string, string>> | undefined, input: string): string {
  const out: Record<string, string> = {};
  if (labels?.env !== undefined) out.env = labels.env;
  out.input = input;
  if (labels) for (const k in labels) if (out[k] === undefined) out[k] = labels[k]!;
  return JSON.stringify(out);
}

/** `"priority":…,"version":…,"facility":{…},"severity":{…}` per PRI and VERSION: a handful of values repeat. */
const headCache = new Map<number, string>();

function syslogHead(pri: number | undefined, version: number | undefined): string {
  if (pri === undefined) return version === undefined ? '' : `"version":${version}`;
  const key = pri * 1024 + (version ?? 1023);
  let h = headCache.get(key);
  if (h === undefined) {
    h = `"priority":${pri}`;
    if (version !== undefined) h += `,"version":${version}`;
    if (pri <= MAX_PRI) h += `,"facility":{"code":${pri >> 3},"name":${JSON.stringify(FACILITY_NAMES[pri >> 3])}}`;
    h += `,"severity":{"code":${pri & 7},"name":${JSON.stringify(SEVERITY_NAMES[pri & 7])}}`;
    if (headCache.size < 4096) headCache.set(key, h);
  }
  return h;
}

function member(out: string, key: string, quoted: string | undefined): string {
  if (quoted === undefined) return out;
  return `${out}${out.length > 1 ? ',' : ''}"${key}":${quoted}`;
}

/** jsonString of header fields (host, app, procid, msgid): few distinct values, so their quoted text is kept. */
const quotedCache = new Map<string, string>();

function quotedHeader(s: string | undefined): string | undefined {
  if (s === undefined) return undefined;
  let q = quotedCache.get(s);
  if (q === undefined) {
    q = jsonString(s);
    if (quotedCache.size >= 1024) quotedCache.clear();
    quotedCache.set(s, q);
  }
  return q;
}

/**
 * The syslog fast path (ADR 0012): the NDJSON line of the event that `normalize(syslogToPartial(m), …)`
 * followed by the harvester's labels would give, built as text in one pass, byte for byte what
 * `JSON.stringify` of that event writes (syslog-json.spec.ts compares the two over the conformance lines,
 * the corpora and generated variants). Returns undefined for the rare messages normalize() treats
 * specially (parse warnings, a message over the size limit, a timestamp it refuses or replaces, fields
 * cut by the budget); the caller then takes the general path.
 */
export function syslogEventLine(m: SyslogMessage, ctx: SyslogLineContext): EventLine | undefined {
  if (m.warnings !== undefined) return undefined;
  const limits = DEFAULT_NORMALIZE_LIMITS;
  const message = m.message ?? '';
  if (message.length * 3 > limits.maxMessageBytes) return undefined;
  let tsMs: number | undefined;
  if (m.time !== undefined) {
    // The header's time is milliseconds already (not a number whose unit is guessed, see exactTime).
    if (!Number.isFinite(m.time)) return undefined;
    tsMs = m.time;
    // A time normalize() replaces (far future, before 1970: ADR 0015) takes the general path, which flags it.
    if (timestampProblem(tsMs, ctx.receivedAt, ctx.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS) !== undefined) return undefined;
  }
  const pri = m.pri;

  let fieldsJson = '';
  if (message.length > 0) {
    let a = 0;
    while (a < message.length && (message.charCodeAt(a) === 32 || message.charCodeAt(a) === 9)) a++;
    if (message.charCodeAt(a) === 123 /* { */) {
      // Maybe a JSON object: normalize()'s own extraction into an object.
      const budget = new FieldBudget(limits);
      const fields: Record<string, unknown> = {};
      if (!extractJsonObject(message, fields, budget)) extractKeyValues(message, fields, budget);
      if (budget.cut) return undefined;
      for (const _k in fields) {
        fieldsJson = `,"fields":${JSON.stringify(fields)}`;
        break;
      }
    } else {
      // key=value pairs straight to JSON text (the same pairs, keys and order as extractKeyValues).
      const kv = keyValuesJson(message, limits);
      if (kv === undefined) return undefined;
      if (kv !== '') fieldsJson = `,"fields":${kv}`;
    }
  }

  // A generated id is hex and dashes: nothing to escape.
  const idJson = ctx.eventId !== undefined ? jsonString(ctx.eventId) : `"${(ctx.ids ?? defaultIdGenerator()).next()}"`;
  const created = createdIso(ctx.receivedAt);
  const iso = tsMs === undefined ? created : isoFromMs(tsMs);
  let out = `{"@timestamp":"${iso}","event":{"id":${idJson},"created":"${created}"}`;
  const hostname = quotedHeader(m.hostname);
  const appname = quotedHeader(m.appname);
  const procid = quotedHeader(m.procid);
  if (m.hostname !== undefined && m.hostname.length > 0) out += `,"host":{"name":${hostname}}`;
  else if (ctx.hostname !== undefined) out += `,"host":{"name":${quotedHeader(ctx.hostname)}}`;
  if (m.appname !== undefined && m.appname.length > 0) out += `,"service":{"name":${appname}}`;
  if (m.procid !== undefined) {
    const pid = normalizedPid(m.procid);
    if (pid !== undefined) out += `,"process":{"pid":${pid}}`;
  }
  let sys = `{${syslogHead(pri, m.version)}`;
  sys = member(sys, 'hostname', hostname);
  sys = member(sys, 'appname', appname);
  sys = member(sys, 'procid', procid);
  sys = member(sys, 'msgid', quotedHeader(m.msgid));
  if (m.structuredData !== undefined) sys += `${sys.length > 1 ? ',' : ''}"structured_data":${JSON.stringify(m.structuredData)}`;
  out += pri !== undefined ? `,"log":{"level":"${SEVERITY_LEVELS[pri & 7]}","syslog":${sys}}}` : `,"log":{"syslog":${sys}}}`;
  out += `,"message":${jsonString(message)},"labels":${ctx.labelsJson}${fieldsJson}}`;
  // Date.parse of the ISO text equals tsMs for every whole millisecond of years 0000-9999.
  const ts = tsMs !== undefined && Number.isInteger(tsMs) && tsMs >= 0 && tsMs < 253_402_300_800_000 ? tsMs : Date.parse(iso);
  return new EventLine(out, ts);
}
