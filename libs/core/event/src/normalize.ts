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
  const budget = new FieldBudget(limits);
  const fields: Record<string, unknown> = {};
  const labels: Record<string, string> = {};

  // One pass over the keys that are present (no look-ups of absent keys: partials come in many shapes,
  // and keyed misses on them are what made this function slow).
  let vTimestamp: unknown, vTime: unknown, vTs: unknown, vAt: unknown;
  let vMessage: unknown, vMsg: unknown;
  let vLevelDotted: unknown, vLevel: unknown, vSeverity: unknown, vLvl: unknown;
  let vHost: unknown, vHostDotted: unknown, vHostname: unknown;
  let vService: unknown, vServiceDotted: unknown;
  let vProcess: unknown, vPidDotted: unknown, vPid: unknown;
  let vEvent: unknown, vEventId: unknown, vLog: unknown, vLabels: unknown, vFields: unknown;
  let leftovers: string[] | undefined;
  for (const k in p) {
    const v = p[k];
    if (v === undefined) continue;
    switch (k) {
      case '@timestamp': vAt = v; break;
      case 'timestamp': vTimestamp = v; break;
      case 'time': vTime = v; break;
      case 'ts': vTs = v; break;
      case 'message': vMessage = v; break;
      case 'msg': vMsg = v; break;
      case 'log.level': vLevelDotted = v; break;
      case 'level': vLevel = v; break;
      case 'severity': vSeverity = v; break;
      case 'lvl': vLvl = v; break;
      case 'host': vHost = v; break;
      case 'host.name': vHostDotted = v; break;
      case 'hostname': vHostname = v; break;
      case 'service': vService = v; break;
      case 'service.name': vServiceDotted = v; break;
      case 'process': vProcess = v; break;
      case 'process.pid': vPidDotted = v; break;
      case 'pid': vPid = v; break;
      case 'event': vEvent = v; break;
      case 'event.id': vEventId = v; break;
      case 'log': vLog = v; break;
      case 'labels': vLabels = v; break;
      case 'fields': vFields = v; break;
      default: (leftovers ??= []).push(k);
    }
  }

  // labels: the source's first (string values only), then ours.
  if (vLabels !== null && typeof vLabels === 'object' && !Array.isArray(vLabels)) {
    const src = vLabels as Record<string, unknown>;
    for (const k in src) {
      const v = src[k];
      if (v === undefined || v === null) continue;
      labels[k] = budget.str(typeof v === 'string' ? v : text(v));
    }
  } else if (vLabels !== undefined) budget.put(fields, 'labels', vLabels);
  if (ctx.env !== undefined) labels.env = ctx.env;
  if (ctx.input !== undefined) labels.input = ctx.input;

  // @timestamp: first key (in precedence order) that parses wins.
  let tsMs: number | undefined;
  if (vAt !== undefined) tsMs = timeKey(budget, fields, 'timestamp_unparsed', vAt, tsMs);
  if (vTimestamp !== undefined) tsMs = timeKey(budget, fields, 'timestamp', vTimestamp, tsMs);
  if (vTime !== undefined) tsMs = timeKey(budget, fields, 'time', vTime, tsMs);
  if (vTs !== undefined) tsMs = timeKey(budget, fields, 'ts', vTs, tsMs);
  if (tsMs !== undefined) {
    // A time the pipeline cannot file the event under (ADR 0015): kept beside the receive time, flagged.
    const why = timestampProblem(tsMs, receivedAt, ctx.maxFutureSkewMs ?? DEFAULT_MAX_FUTURE_SKEW_MS);
    if (why !== undefined) {
      labels.timestamp_original = isoFromMs(tsMs);
      labels.timestamp_replaced = why;
      tsMs = undefined;
    }
  }

  // message
  let message: string;
  if (typeof vMessage === 'string') {
    message = vMessage;
    if (vMsg !== undefined && vMsg !== vMessage) budget.put(fields, 'msg', vMsg);
  } else if (typeof vMsg === 'string') {
    message = vMsg;
    if (vMessage !== undefined && vMessage !== null) budget.put(fields, 'message', vMessage);
  } else if (vMessage !== undefined && vMessage !== null) {
    message = text(vMessage);
  } else {
    message = vMsg !== undefined && vMsg !== null ? text(vMsg) : '';
  }
  if (message.length * 3 > limits.maxMessageBytes) {
    const cut = truncateUtf8(message, limits.maxMessageBytes);
    if (cut !== message) {
      message = cut;
      addFlag(labels, 'message');
    }
  }

  // log.level and log.syslog
  let syslog: SyslogFields | undefined;
  let ownLevel: unknown;
  if (vLog !== null && typeof vLog === 'object' && !Array.isArray(vLog)) {
    const lg = vLog as { level?: unknown; syslog?: unknown };
    ownLevel = lg.level;
    if (lg.syslog !== null && typeof lg.syslog === 'object') syslog = lg.syslog as SyslogFields;
  } else if (vLog !== undefined) budget.put(fields, 'log', vLog);
  let level: string | undefined;
  if (ownLevel !== undefined) level = levelKey(budget, fields, 'log.level', ownLevel, level);
  if (vLevelDotted !== undefined) level = levelKey(budget, fields, 'log.level', vLevelDotted, level);
  if (vLevel !== undefined) level = levelKey(budget, fields, 'level', vLevel, level);
  if (vSeverity !== undefined) level = levelKey(budget, fields, 'severity', vSeverity, level);
  if (vLvl !== undefined) level = levelKey(budget, fields, 'lvl', vLvl, level);
  if (level === undefined && syslog?.severity !== undefined) level = SEVERITY_LEVELS[syslog.severity.code];

  // host.name
  const host = str(objField(vHost, 'name')) ?? str(vHost) ?? str(vHostDotted) ?? str(vHostname) ?? str(syslog?.hostname) ?? ctx.hostname;
  if (vHostname !== undefined && vHostname !== host) budget.put(fields, 'hostname', vHostname);

  // service.name
  let service = str(objField(vService, 'name')) ?? str(vService) ?? str(vServiceDotted) ?? str(syslog?.appname);
  if (service === undefined && ctx.unit) service = ctx.unit.endsWith('.service') ? ctx.unit.slice(0, -8) : ctx.unit;
  if (service === undefined && ctx.file) service = serviceFromFile(ctx.file);

  // process.pid
  const pid = normalizedPid(objField(vProcess, 'pid')) ?? normalizedPid(vPidDotted) ?? normalizedPid(vPid) ?? (syslog?.procid !== undefined ? normalizedPid(syslog.procid) : undefined);
  if (vPid !== undefined && normalizedPid(vPid) !== pid) budget.put(fields, 'pid', vPid);

  // event.id: an id the source names is namespaced by who sent it (ADR 0015): two sources never share
  // one, and the same source sending it again gets the same one. The source's own id stays in a label.
  const objId = objField(vEvent, 'id');
  const srcId = idText(objId) ?? idText(vEventId);
  let id: string;
  if (srcId !== undefined) {
    id = sourceEventId(ctx.source ?? sourceIdentity(ctx.hostname ?? '', ctx.input ?? '', ''), srcId);
    labels.source_event_id = budget.str(srcId);
  } else id = ctx.eventId ?? (ctx.ids ?? defaultIdGenerator()).next();
  // An id that is no id (an object, a boolean) is the source's data all the same: kept in fields.
  const badObjId = notAnId(objId);
  if (notAnId(vEventId)) budget.put(fields, 'event.id', vEventId);

  // fields: explicit ones, leftovers, then what the message carries.
  if (vFields !== null && typeof vFields === 'object' && !Array.isArray(vFields)) {
    const src = vFields as Record<string, unknown>;
    for (const k in src) budget.put(fields, k, src[k]);
  } else if (vFields !== undefined) budget.put(fields, 'fields', vFields);
  if (leftovers !== undefined) for (const k of leftovers) budget.put(fields, k, p[k]);
  // Sub-keys of ECS objects we only partly model (host.ip, service.version, …) and non-object values.
  if (vHost !== undefined) extraKeys(budget, fields, 'host', vHost);
  if (vService !== undefined) extraKeys(budget, fields, 'service', vService);
  if (vProcess !== undefined) extraKeys(budget, fields, 'process', vProcess);
  if (vEvent !== undefined) extraKeys(budget, fields, 'event', vEvent, badObjId);
  if (message.length > 0) {
    if (ctx.extractJson === false || !extractJsonObject(message, fields, budget)) {
      if (ctx.extractKeyValues !== false) extractKeyValues(message, fields, budget);
    }
  }
  if (budget.cut) addFlag(labels, 'fields');

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
  out.labels = labels;
  for (const _k in fields) {
    out.fields = fields;
    break;
  }
  return out;
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
