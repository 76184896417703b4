import { DEFAULT_FIELD_LIMITS, FieldBudget, type FieldLimits, extractJsonObject, extractKeyValues } from './extract';
import { defaultIdGenerator, type EventIdGenerator } from './ids';
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
  /** Extract `key=value` pairs from messages into `fields` (default true). */
  extractKeyValues?: boolean;
  /** Extract a message that is a whole JSON object into `fields` (default true). */
  extractJson?: boolean;
  limits?: Partial<NormalizeLimits>;
}

/** Top-level keys that normalize() consumes itself; every other key goes to `fields`. */
const CONSUMED = new Set([
  '@timestamp', 'event', 'host', 'service', 'process', 'log', 'message', 'labels', 'fields',
  'msg', 'timestamp', 'time', 'ts', 'level', 'severity', 'lvl', 'hostname', 'pid',
  'log.level', 'host.name', 'service.name', 'process.pid', 'event.id',
]);

/** Time keys in precedence order (first one that parses wins). */
const TIME_KEYS = ['@timestamp', 'timestamp', 'time', 'ts'] as const;
/** Level keys in precedence order. */
const LEVEL_KEYS = ['log.level', 'level', 'severity', 'lvl'] as const;

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

function toPid(v: unknown): number | undefined {
  if (typeof v === 'number') return Number.isInteger(v) && v >= 0 && v <= 0x7fffffff ? v : undefined;
  if (typeof v === 'string' && v.length > 0 && v.length <= 10) {
    for (let i = 0; i < v.length; i++) {
      const c = v.charCodeAt(i);
      if (c < 48 || c > 57) return undefined;
    }
    const n = Number(v);
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

  // labels: the source's first (string values only), then ours.
  const srcLabels = p.labels;
  if (srcLabels !== null && typeof srcLabels === 'object') {
    for (const k in srcLabels) {
      const v = srcLabels[k];
      if (v === undefined || v === null) continue;
      labels[k] = budget.str(typeof v === 'string' ? v : text(v));
    }
  }
  if (ctx.env !== undefined) labels.env = ctx.env;
  if (ctx.input !== undefined) labels.input = ctx.input;

  // @timestamp
  let tsMs: number | undefined;
  for (const k of TIME_KEYS) {
    const v = p[k];
    if (v === undefined || v === null) continue;
    const ms = toEpochMs(v);
    if (tsMs === undefined && ms !== undefined) tsMs = ms;
    else if (ms === undefined || ms !== tsMs) budget.put(fields, k === '@timestamp' ? 'timestamp_unparsed' : k, v);
  }

  // message
  let message: string;
  const m = p.message;
  const msg = p.msg;
  if (typeof m === 'string') {
    message = m;
    if (msg !== undefined && msg !== m) budget.put(fields, 'msg', msg);
  } else if (typeof msg === 'string') {
    message = msg;
    if (m !== undefined && m !== null) budget.put(fields, 'message', m);
  } else if (m !== undefined && m !== null) {
    message = text(m);
  } else {
    message = msg !== undefined && msg !== null ? text(msg) : '';
  }
  const cut = truncateUtf8(message, limits.maxMessageBytes);
  if (cut !== message) {
    message = cut;
    addFlag(labels, 'message');
  }

  // log.level and log.syslog
  const syslog = p.log?.syslog;
  let level: string | undefined;
  for (const k of LEVEL_KEYS) {
    const raw = k === 'log.level' ? (p.log?.level ?? p[k]) : p[k];
    if (raw === undefined || raw === null) continue;
    const lv = canonicalLevel(raw);
    if (level === undefined && lv !== undefined) level = lv;
    else if (lv === undefined || lv !== level) budget.put(fields, k, raw);
  }
  if (level === undefined && syslog?.severity !== undefined) level = SEVERITY_LEVELS[syslog.severity.code];

  // host.name
  const host = str(objField(p.host, 'name')) ?? str(typeof p.host === 'string' ? p.host : undefined) ?? str(p['host.name']) ?? str(p.hostname) ?? syslog?.hostname ?? ctx.hostname;
  if (p.hostname !== undefined && p.hostname !== host) budget.put(fields, 'hostname', p.hostname);

  // service.name
  let service =
    str(objField(p.service, 'name')) ?? str(typeof p.service === 'string' ? p.service : undefined) ?? str(p['service.name']) ?? syslog?.appname;
  if (service === undefined && ctx.unit) service = ctx.unit.endsWith('.service') ? ctx.unit.slice(0, -8) : ctx.unit;
  if (service === undefined && ctx.file) service = serviceFromFile(ctx.file);

  // process.pid
  const pid = toPid(p.process?.pid) ?? toPid(p['process.pid']) ?? toPid(p.pid) ?? (syslog?.procid !== undefined ? toPid(syslog.procid) : undefined);
  if (p.pid !== undefined && toPid(p.pid) !== pid) budget.put(fields, 'pid', p.pid);

  // event.id: the source's when it gave a usable one.
  const srcId = str(p.event?.id) ?? str(p['event.id']);
  const id = srcId !== undefined && srcId.length <= 512 ? srcId : (ctx.ids ?? defaultIdGenerator()).next();

  // fields: explicit ones, leftovers, then what the message carries.
  const srcFields = p.fields;
  if (srcFields !== null && typeof srcFields === 'object' && !Array.isArray(srcFields)) {
    for (const k in srcFields) budget.put(fields, k, srcFields[k]);
  }
  for (const k in p) {
    if (CONSUMED.has(k)) continue;
    budget.put(fields, k, p[k]);
  }
  // Leftover sub-keys of ECS objects we only partly model (host.ip, service.version, …).
  for (const k of ['host', 'service', 'process', 'event'] as const) {
    const o = p[k];
    if (o === null || typeof o !== 'object') continue;
    let extra: Record<string, unknown> | undefined;
    for (const sk in o as Record<string, unknown>) {
      if (sk === 'name' || sk === 'pid' || sk === 'id' || sk === 'created' || sk === 'original') continue;
      (extra ??= {})[sk] = (o as Record<string, unknown>)[sk];
    }
    if (extra) budget.put(fields, k, extra);
  }
  if (message.length > 0 && ctx.extractJson !== false && message.charCodeAt(0) <= 123) {
    if (!extractJsonObject(message, fields, budget) && ctx.extractKeyValues !== false) extractKeyValues(message, fields, budget);
  } else if (message.length > 0 && ctx.extractKeyValues !== false) {
    extractKeyValues(message, fields, budget);
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
function createdIso(ms: number): string {
  if (ms !== createdMs) {
    createdStr = new Date(ms).toISOString();
    createdMs = ms;
  }
  return createdStr;
}
