import { DEFAULT_FIELD_LIMITS, FieldBudget, type FieldLimits, extractJsonObject, extractKeyValues } from './extract';
import { DEFAULT_MAX_FUTURE_SKEW_MS, timestampProblem } from './event-time';
import { defaultIdGenerator, type EventIdGenerator, sourceEventId, sourceIdentity } from './ids';
import type { LogEvent, SyslogFields } from './schema';
import { SEVERITY_LEVELS, canonicalLevel } from './syslog-names';
import { isoFromMs, toEpochMs } from './time';
import { truncateUtf8 } from './truncate';

/**
 * What a parser (or an input) hands to normalize(): any subset of the LogEvent fields, plus the loose
 * top-level keys that application loggers write (`msg`, `time`, `ts`, `level`, `hostname`, `pid`, ECS
 * dotted keys like `log.level`, and anything else, which ends up in `fields`).
 * `@timestamp` may already be epoch milliseconds (the syslog parsers do this to avoid a round trip).
 */
export interface PartialEvent {
  '@timestamp'?: string | number | Date;
  event?: { id?: string; created?: string; original?: string };
  host?: { name?: string } | string;
  service?: { name?: string } | string;
  process?: { pid?: number };
  log?: { level?: string; syslog?: SyslogFields };
  message?: unknown;
  labels?: Record<string, unknown>;
  fields?: Record<string, unknown>;
  [key: string]: unknown;
}

export interface NormalizeLimits extends FieldLimits {
  /** Longest `message`, in UTF-8 bytes; longer ones are cut at a code point and flagged. Default 65,536. */
  maxMessageBytes: number;
}

export const DEFAULT_NORMALIZE_LIMITS: Readonly<NormalizeLimits> = Object.freeze({
  ...DEFAULT_FIELD_LIMITS,
  maxMessageBytes: 65_536,
});

export interface NormalizeContext {
  /** Receive time, epoch ms; default Date.now(). Becomes `event.created`, and `@timestamp` when none parses. */
  receivedAt?: number;
  /** This machine's host name: `host.name` when the event names none. */
  hostname?: string;
  /** `labels.env` (the harvester's environment wins over a label the source sent). */
  env?: string;
  /** `labels.input`: the input that read the line (syslog_udp, file, …). */
  input?: string;
  /** systemd unit that wrote the line (journald): `service.name` fallback (".service" dropped). */
  unit?: string;
  /** Path of the tailed file: last `service.name` fallback (base name without extension). */
  file?: string;
  /** Keep this raw line as `event.original` (DESIGN: "only when asked to keep it"). */
  original?: string;
  /** Id generator; default: the process-wide one. */
  ids?: EventIdGenerator;
  /** `event.id` when the source names none, instead of a generated one: a deterministic id from the record's position (ADR 0008). */
  eventId?: string;
  /**
   * Who sent the record, as the harvester knows it (`sourceIdentity(host, input, peer)`): the namespace of
   * an id the source names itself (`sourceEventId`, ADR 0015). Default `sourceIdentity(hostname, input, '')`.
   */
  source?: string;
  /**
   * How far ahead of `receivedAt` the event's own time may lie, ms; a later time (or one before 1970) is
   * replaced by the receive time and kept in `labels.timestamp_original` (ADR 0015). Default one day.
   */
  maxFutureSkewMs?: number;
  /** Extract `key=value` pairs from messages into `fields` (default true). */
  extractKeyValues?: boolean;
  /** Extract a message that is a whole JSON object into `fields` (default true). */
  extractJson?: boolean;
  limits?: Partial<NormalizeLimits>;
}

/** A time key: the first that parses wins; a loser that names a different instant (or none) goes to fields. */
function timeKey(b: FieldBudget, fields: Record<string, unknown>, name: string, v: unknown, won: number | undefined): number | undefined {
  if (v === null) return won;
  const ms = toEpochMs(v);
  if (won === undefined && ms !== undefined) return ms;
  if (ms === undefined || ms !== won) b.put(fields, name, v);
  return won;
}

/** A level key: the first that reads as a level wins; a loser that says something else goes to fields. */
function levelKey(b: FieldBudget, fields: Record<string, unknown>, name: string, v: unknown, won: string | undefined): string | undefined {
  if (v === null) return won;
  const lv = canonicalLevel(v);
  if (won === undefined && lv !== undefined) return lv;
  if (lv === undefined || lv !== won) b.put(fields, name, v);
  return won;
}

const MODELLED = new Set(['name', 'pid', 'id', 'created', 'original']);

/** `keepId`: the object's `id` is not a usable event id (an object, a boolean…): keep it with the extras. */
function extraKeys(b: FieldBudget, fields: Record<string, unknown>, name: string, o: unknown, keepId = false): void {
  if (typeof o === 'string') return; // host: "web-01" is the name
  if (o === null || typeof o !== 'object' || Array.isArray(o)) {
    b.put(fields, name, o);
    return;
  }
  let extra: Record<string, unknown> | undefined;
  for (const k in o as Record<string, unknown>) {
    if (!MODELLED.has(k) || (keepId && k === 'id')) (extra ??= {})[k] = (o as Record<string, unknown>)[k];
  }
  if (extra) b.put(fields, name, extra);
}

/** A source's event id as text: a non-empty string, or a finite number; undefined otherwise. */
function idText(v: unknown): string | undefined {
  if (typeof v === 'string') return v.length > 0 ? v : undefined;
  return typeof v === 'number' && Number.isFinite(v) ? String(v) : undefined;
}

/** A value in an id's place that is no id (an object, a boolean); an empty or absent id is just absent. */
function notAnId(v: unknown): boolean {
  return v !== undefined && v !== null && v !== '' && idText(v) === undefined;
}

/** Text of a non-string value; never throws (cycles, BigInt, symbols). */
function text(v: unknown): string {
  if (typeof v === 'object' && v !== null) {
    try {
      return JSON.stringify(v) ?? '';
    } catch {
      return '[unserializable]';
    }
  }
  return String(v);
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v.length > 0 ? v : undefined;
}

function objField(o: unknown, k: string): unknown {
  return o !== null && typeof o === 'object' ? (o as Record<string, unknown>)[k] : undefined;
}

function serviceFromFile(path: string): string | undefined {
  let base = path.slice(Math.max(path.lastIndexOf('/'), path.lastIndexOf('\\')) + 1);
  // nginx/access.log.1 → access; app.log → app
  const dot = base.indexOf('.');
  if (dot > 0) base = base.slice(0, dot);
  return base.length > 0 ? base : undefined;
}

/** `process.pid` from a PROCID / pid value: a non-negative 31-bit integer, else undefined. */
export function normalizedPid(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0x7fffffff ? v : undefined;
  if (typeof v === 'string' && v.length > 0 && v.length <= 10) {
    // Read the digits as they are checked: exact for 10 digits, and cheaper than Number(v) per event.
    let n = 0;
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
      n = n * 10 + (c - 48);
    }
    return n <= 0x7fffffff ? n : undefined;
  }
  return undefined;
}

function addFlag(labels: Record<string, string>, what: string): void {
  const cur = labels.truncated;
  if (cur === undefined) labels.truncated = what;
  else if (!cur.split(',').includes(what)) labels.truncated = `${cur},${what}`;
}

/**
 * Turns a partial event into a complete LogEvent (DESIGN.md "The event"):
 *
 * - adds what is missing: `event.id` (UUIDv7), `event.created` (receive time), `@timestamp` (receive
 *   time when nothing parses), `host.name` (ctx.hostname), `service.name` (syslog APP-NAME, then the
 *   systemd unit, then the file name), `process.pid` (numeric PROCID), `log.level` (syslog severity);
 * - collapses duplicates into the canonical ECS field, keeping one value. Precedence (first present wins):
 *     message:    `message` > `msg`
 *     @timestamp: `@timestamp` (a syslog header time arrives here) > `timestamp` > `time` > `ts`
 *     log.level:  `log.level` (syslog severity arrives here) > `level` > `severity` > `lvl`
 *     host.name:  `host.name` > `hostname` > ctx.hostname;  process.pid: `process.pid` > `pid`
 *   A loser that says the same thing is dropped; a loser that differs (or did not parse) is kept under
 *   its own name in `fields`, so nothing the source sent is lost silently;
 * - moves every other top-level key into `fields`, and extracts a JSON-object message or `key=value`
 *   pairs of the message into `fields` (existing keys win), all bounded by `limits`;
 * - cuts an oversized message at `limits.maxMessageBytes` and flags `labels.truncated`.
 *
 * Never throws on any input value; the output satisfies LogEventSchema.
 */
export function normalize(p: PartialEvent, ctx: NormalizeContext = {}): LogEvent {
  const limits = ctx.limits ? { ...DEFAULT_NORMALIZE_LIMITS, ...ctx.limits } : DEFAULT_NORMALIZE_LIMITS;
  const receivedAt = ctx.receivedAt ?? Date.now();
  const k = presentKeys(p);
  const w: Work = { budget: new FieldBudget(limits), fields: {}, labels: {} };

  labelsOf(w, k, ctx);
  const tsMs = timestampOf(w, k, receivedAt, ctx.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
  const message = messageOf(w, k, limits.maxMessageBytes);
  const { level, syslog } = levelOf(w, k);
  const host = str(objField(k.host, 'name')) ?? str(k.host) ?? str(k.hostDotted) ?? str(k.hostname) ?? str(syslog?.hostname) ?? ctx.hostname;
  if (k.hostname !== undefined && k.hostname !== host) w.budget.put(w.fields, 'hostname', k.hostname);
  const service = serviceOf(k, syslog, ctx);
  const pid = normalizedPid(objField(k.process, 'pid')) ?? normalizedPid(k.pidDotted) ?? normalizedPid(k.pid) ?? (syslog?.procid !== undefined ? normalizedPid(syslog.procid) : undefined);
  if (k.pid !== undefined && normalizedPid(k.pid) !== pid) w.budget.put(w.fields, 'pid', k.pid);
  const { id, badObjId } = eventIdOf(w, k, ctx);
  fieldsOf(w, k, p, badObjId, message, ctx);
  if (w.budget.cut) addFlag(w.labels, 'fields');

  // Assemble in one fixed key order (DESIGN.md's example): stable NDJSON compresses better and diffs cleanly.
  const created = createdIso(receivedAt);
  const out = {
    '@timestamp': tsMs === undefined ? created : isoFromMs(tsMs),
    event: ctx.original !== undefined ? { id, created, original: ctx.original } : { id, created },
  } as LogEvent;
  if (host !== undefined) out.host = { name: host };
  if (service !== undefined) out.service = { name: service };
  if (pid !== undefined) out.process = { pid };
  if (syslog !== undefined) out.log = level !== undefined ? { level, syslog } : { syslog };
  else if (level !== undefined) out.log = { level };
  out.message = message;
  out.labels = w.labels;
  for (const _k in w.fields) {
    out.fields = w.fields;
    break;
  }
  return out;
}

/** What one normalize() call builds besides the event itself: the bounded `fields` and the labels. */
interface Work {
  budget: FieldBudget;
  fields: Record<string, unknown>;
  labels: Record<string, string>;
}

/** The keys of a partial event that normalize() gives a meaning to; every other key is a leftover. */
interface PresentKeys {
  at: unknown;
  timestamp: unknown;
  time: unknown;
  ts: unknown;
  message: unknown;
  msg: unknown;
  levelDotted: unknown;
  level: unknown;
  severity: unknown;
  lvl: unknown;
  host: unknown;
  hostDotted: unknown;
  hostname: unknown;
  service: unknown;
  serviceDotted: unknown;
  process: unknown;
  pidDotted: unknown;
  pid: unknown;
  event: unknown;
  eventId: unknown;
  log: unknown;
  labels: unknown;
  fields: unknown;
  leftovers: string[] | undefined;
}

/**
 * One pass over the keys that are present (no look-ups of absent keys: partials come in many shapes,
 * and keyed misses on them are what made normalize slow).
 */
function presentKeys(p: PartialEvent): PresentKeys {
  const k: PresentKeys = {
    at: undefined,
    timestamp: undefined,
    time: undefined,
    ts: undefined,
    message: undefined,
    msg: undefined,
    levelDotted: undefined,
    level: undefined,
    severity: undefined,
    lvl: undefined,
    host: undefined,
    hostDotted: undefined,
    hostname: undefined,
    service: undefined,
    serviceDotted: undefined,
    process: undefined,
    pidDotted: undefined,
    pid: undefined,
    event: undefined,
    eventId: undefined,
    log: undefined,
    labels: undefined,
    fields: undefined,
    leftovers: undefined,
  };
  for (const key in p) {
    const v = p[key];
    if (v === undefined) continue;
    switch (key) {
      case '@timestamp':
        k.at = v;
        break;
      case 'timestamp':
        k.timestamp = v;
        break;
      case 'time':
        k.time = v;
        break;
      case 'ts':
        k.ts = v;
        break;
      case 'message':
        k.message = v;
        break;
      case 'msg':
        k.msg = v;
        break;
      case 'log.level':
        k.levelDotted = v;
        break;
      case 'level':
        k.level = v;
        break;
      case 'severity':
        k.severity = v;
        break;
      case 'lvl':
        k.lvl = v;
        break;
      case 'host':
        k.host = v;
        break;
      case 'host.name':
        k.hostDotted = v;
        break;
      case 'hostname':
        k.hostname = v;
        break;
      case 'service':
        k.service = v;
        break;
      case 'service.name':
        k.serviceDotted = v;
        break;
      case 'process':
        k.process = v;
        break;
      case 'process.pid':
        k.pidDotted = v;
        break;
      case 'pid':
        k.pid = v;
        break;
      case 'event':
        k.event = v;
        break;
      case 'event.id':
        k.eventId = v;
        break;
      case 'log':
        k.log = v;
        break;
      case 'labels':
        k.labels = v;
        break;
      case 'fields':
        k.fields = v;
        break;
      default:
        (k.leftovers ??= []).push(key);
    }
  }
  return k;
}

/** labels: the source's first (string values only), then ours. */
function labelsOf(w: Work, k: PresentKeys, ctx: NormalizeContext): void {
  if (k.labels !== null && typeof k.labels === 'object' && !Array.isArray(k.labels)) {
    const src = k.labels as Record<string, unknown>;
    for (const key in src) {
      const v = src[key];
      if (v === undefined || v === null) continue;
      w.labels[key] = w.budget.str(typeof v === 'string' ? v : text(v));
    }
  } else if (k.labels !== undefined) w.budget.put(w.fields, 'labels', k.labels);
  if (ctx.env !== undefined) w.labels.env = ctx.env;
  if (ctx.input !== undefined) w.labels.input = ctx.input;
}

/** @timestamp, epoch ms: the first key (in precedence order) that parses wins; undefined → the receive time. */
function timestampOf(w: Work, k: PresentKeys, receivedAt: number, maxFutureSkewMs: number): number | undefined {
  let tsMs: number | undefined;
  if (k.at !== undefined) tsMs = timeKey(w.budget, w.fields, 'timestamp_unparsed', k.at, tsMs);
  if (k.timestamp !== undefined) tsMs = timeKey(w.budget, w.fields, 'timestamp', k.timestamp, tsMs);
  if (k.time !== undefined) tsMs = timeKey(w.budget, w.fields, 'time', k.time, tsMs);
  if (k.ts !== undefined) tsMs = timeKey(w.budget, w.fields, 'ts', k.ts, tsMs);
  if (tsMs === undefined) return undefined;
  // A time the pipeline cannot file the event under (ADR 0015): kept beside the receive time, flagged.
  const why = timestampProblem(tsMs, receivedAt, maxFutureSkewMs);
  if (why === undefined) return tsMs;
  w.labels.timestamp_original = isoFromMs(tsMs);
  w.labels.timestamp_replaced = why;
  return undefined;
}

/** message (`message` > `msg`), cut at maxMessageBytes and flagged. */
function messageOf(w: Work, k: PresentKeys, maxMessageBytes: number): string {
  let message: string;
  if (typeof k.message === 'string') {
    message = k.message;
    if (k.msg !== undefined && k.msg !== k.message) w.budget.put(w.fields, 'msg', k.msg);
  } else if (typeof k.msg === 'string') {
    message = k.msg;
    if (k.message !== undefined && k.message !== null) w.budget.put(w.fields, 'message', k.message);
  } else if (k.message !== undefined && k.message !== null) {
    message = text(k.message);
  } else {
    message = k.msg !== undefined && k.msg !== null ? text(k.msg) : '';
  }
  if (message.length * 3 > maxMessageBytes) {
    const cut = truncateUtf8(message, maxMessageBytes);
    if (cut !== message) {
      message = cut;
      addFlag(w.labels, 'message');
    }
  }
  return message;
}

/** log.level (the first key that reads as a level, then the syslog severity) and log.syslog. */
function levelOf(w: Work, k: PresentKeys): { level: string | undefined; syslog: SyslogFields | undefined } {
  let syslog: SyslogFields | undefined;
  let ownLevel: unknown;
  if (k.log !== null && typeof k.log === 'object' && !Array.isArray(k.log)) {
    const lg = k.log as { level?: unknown; syslog?: unknown };
    ownLevel = lg.level;
    if (lg.syslog !== null && typeof lg.syslog === 'object') syslog = lg.syslog as SyslogFields;
  } else if (k.log !== undefined) w.budget.put(w.fields, 'log', k.log);
  let level: string | undefined;
  if (ownLevel !== undefined) level = levelKey(w.budget, w.fields, 'log.level', ownLevel, level);
  if (k.levelDotted !== undefined) level = levelKey(w.budget, w.fields, 'log.level', k.levelDotted, level);
  if (k.level !== undefined) level = levelKey(w.budget, w.fields, 'level', k.level, level);
  if (k.severity !== undefined) level = levelKey(w.budget, w.fields, 'severity', k.severity, level);
  if (k.lvl !== undefined) level = levelKey(w.budget, w.fields, 'lvl', k.lvl, level);
  if (level === undefined && syslog?.severity !== undefined) level = SEVERITY_LEVELS[syslog.severity.code];
  return { level, syslog };
}

/** service.name: the event's, then syslog APP-NAME, then the systemd unit, then the file name. */
function serviceOf(k: PresentKeys, syslog: SyslogFields | undefined, ctx: NormalizeContext): string | undefined {
  const service = str(objField(k.service, 'name')) ?? str(k.service) ?? str(k.serviceDotted) ?? str(syslog?.appname);
  if (service !== undefined) return service;
  if (ctx.unit) return ctx.unit.endsWith('.service') ? ctx.unit.slice(0, -8) : ctx.unit;
  return ctx.file ? serviceFromFile(ctx.file) : undefined;
}

/**
 * event.id: an id the source names is namespaced by who sent it (ADR 0015): two sources never share one,
 * and the same source sending it again gets the same one. The source's own id stays in a label.
 */
function eventIdOf(w: Work, k: PresentKeys, ctx: NormalizeContext): { id: string; badObjId: boolean } {
  const objId = objField(k.event, 'id');
  const srcId = idText(objId) ?? idText(k.eventId);
  let id: string;
  if (srcId !== undefined) {
    id = sourceEventId(ctx.source ?? sourceIdentity(ctx.hostname ?? '', ctx.input ?? '', ''), srcId);
    w.labels.source_event_id = w.budget.str(srcId);
  } else id = ctx.eventId ?? (ctx.ids ?? defaultIdGenerator()).next();
  // An id that is no id (an object, a boolean) is the source's data all the same: kept in fields.
  if (notAnId(k.eventId)) w.budget.put(w.fields, 'event.id', k.eventId);
  return { id, badObjId: notAnId(objId) };
}

/** fields: explicit ones, leftovers, unmodelled sub-keys of ECS objects, then what the message carries. */
function fieldsOf(w: Work, k: PresentKeys, p: PartialEvent, badObjId: boolean, message: string, ctx: NormalizeContext): void {
  const { budget, fields } = w;
  if (k.fields !== null && typeof k.fields === 'object' && !Array.isArray(k.fields)) {
    const src = k.fields as Record<string, unknown>;
    for (const key in src) budget.put(fields, key, src[key]);
  } else if (k.fields !== undefined) budget.put(fields, 'fields', k.fields);
  if (k.leftovers !== undefined) for (const key of k.leftovers) budget.put(fields, key, p[key]);
  // Sub-keys of ECS objects we only partly model (host.ip, service.version, …) and non-object values.
  if (k.host !== undefined) extraKeys(budget, fields, 'host', k.host);
  if (k.service !== undefined) extraKeys(budget, fields, 'service', k.service);
  if (k.process !== undefined) extraKeys(budget, fields, 'process', k.process);
  if (k.event !== undefined) extraKeys(budget, fields, 'event', k.event, badObjId);
  if (message.length > 0) {
    if (ctx.extractJson === false || !extractJsonObject(message, fields, budget)) {
      if (ctx.extractKeyValues !== false) extractKeyValues(message, fields, budget);
    }
  }
}

let createdMs = Number.NaN;
let createdStr = '';

/** Receive times repeat across a batch; keep their ISO text apart from the per-event timestamps' cache. */
export function createdIso(ms: number): string {
  if (ms !== createdMs) {
    createdStr = new Date(ms).toISOString();
    createdMs = ms;
  }
  return createdStr;
}
