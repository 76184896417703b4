import { z } from 'zod';
import { historyIndexName, parseTimeArg } from '@backlog/core-codec';
import { type FieldCatalogue, QueryError, archiveFilter, legacyFilterText } from '@backlog/core-query';

/** A validated load request: whole seconds, [fromMs, toMs). */
export interface LoadRequest {
  env: string;
  fromMs: number;
  toMs: number;
  /** The filter's canonical text (`archiveFilter(…).text`; '' = every event). */
  filter: string;
  /** At most this many events (whole windows, in time order, by the manifests' counts). */
  maxEvents?: number;
  /** Expiry after this request, hours (default: config `history.ttlHours`). */
  ttlHours?: number;
}

export interface RequestLimits {
  envs: readonly string[];
  maxRangeHours: number;
  maxTtlHours: number;
  /** What filters are checked against: the `logs-*` template's fields (`logsCatalogue`, search adapter). */
  catalogue: FieldCatalogue;
}

/** A filter that did not parse or check: the text and the error (column, hint), for a caret or a JSON answer. */
export interface FilterProblem {
  text: string;
  error: QueryError;
}

/** A request the API answers with 400: every reason at once. */
export class RequestError extends Error {
  readonly code = 'REQUEST_INVALID';
  constructor(
    readonly reasons: string[],
    readonly filter?: FilterProblem,
  ) {
    super(reasons.join('; '));
  }
}

const valueList = z.union([z.string().min(1), z.array(z.string().min(1)).min(1)]).transform((v) => (Array.isArray(v) ? v : [v]));
const time = z.union([z.string().min(1), z.number().finite()]);

/** `POST /v1/history` body (DESIGN.md: `{env, start, end, filter?, maxEvents?}`), strict. */
export const loadBodySchema = z
  .object({
    env: z.string().min(1),
    /** RFC 3339, epoch seconds (number or digits), or relative (`-2h`). */
    start: time,
    end: time,
    /**
     * A filter of the query language (no `| commands`: docs/specs/query.md), or the older object
     * `{host?, service?, level?, message?}` (ADR 0009), translated into the language once, here.
     */
    filter: z.union([z.string(), z.object({ host: valueList.optional(), service: valueList.optional(), level: valueList.optional(), message: valueList.optional() }).strict()]).optional(),
    maxEvents: z.number().int().positive().optional(),
    ttlHours: z.number().positive().optional(),
  })
  .strict();

export type LoadBody = z.input<typeof loadBodySchema>;

function toMs(v: string | number, what: string, nowMs: number, reasons: string[]): number | undefined {
  if (typeof v === 'number') return v * 1000;
  try {
    return parseTimeArg(v, nowMs);
  } catch (e) {
    reasons.push(`${what}: ${(e as Error).message}`);
    return undefined;
  }
}

/** Validates a request body against the schema and the limits; throws RequestError with every reason. */
export function validateLoad(body: unknown, limits: RequestLimits, nowMs = Date.now()): LoadRequest {
  const parsed = loadBodySchema.safeParse(body);
  if (!parsed.success) {
    throw new RequestError(parsed.error.issues.map((i) => `${i.path.length ? i.path.join('.') : 'body'}: ${i.message}`));
  }
  const b = parsed.data;
  const reasons: string[] = [];
  if (!limits.envs.includes(b.env)) reasons.push(`env: unknown env ${JSON.stringify(b.env)} (known: ${limits.envs.join(', ')})`);
  const from = toMs(b.start, 'start', nowMs, reasons);
  const to = toMs(b.end, 'end', nowMs, reasons);
  // Whole seconds: the index name holds seconds, and the same name must mean the same range.
  const fromMs = from === undefined ? undefined : Math.floor(from / 1000) * 1000;
  const toMsV = to === undefined ? undefined : Math.floor(to / 1000) * 1000;
  if (fromMs !== undefined && toMsV !== undefined) {
    if (toMsV <= fromMs) reasons.push(`end (${new Date(toMsV).toISOString()}) must be after start (${new Date(fromMs).toISOString()})`);
    else if (toMsV - fromMs > limits.maxRangeHours * 3_600_000)
      reasons.push(`range is ${((toMsV - fromMs) / 3_600_000).toFixed(1)} h, over the maximum of ${limits.maxRangeHours} h (api.maxRangeHours)`);
    if (fromMs < 0) reasons.push('start is before 1970');
  }
  if (b.ttlHours !== undefined && b.ttlHours > limits.maxTtlHours) reasons.push(`ttlHours ${b.ttlHours} is over the maximum of ${limits.maxTtlHours} (history.maxTtlHours)`);
  let filter = '';
  let problem: FilterProblem | undefined;
  const text = typeof b.filter === 'string' ? b.filter : undefined;
  try {
    filter = archiveFilter(b.filter === undefined ? '' : typeof b.filter === 'string' ? b.filter : legacyFilterText(b.filter), limits.catalogue).text;
  } catch (e) {
    if (!(e instanceof QueryError)) throw e;
    problem = { text: text ?? '', error: e };
    reasons.push(filterReason(e));
  }
  if (reasons.length) throw new RequestError(reasons, problem);
  const req: LoadRequest = { env: b.env, fromMs: fromMs as number, toMs: toMsV as number, filter };
  if (b.maxEvents !== undefined) req.maxEvents = b.maxEvents;
  if (b.ttlHours !== undefined) req.ttlHours = b.ttlHours;
  return req;
}

/** `filter: <message> (column N) — hint: …`, one line. */
export function filterReason(e: QueryError): string {
  return `filter: ${e.message}${e.column > 0 ? ` (column ${e.column})` : ''}${e.hint ? ` — hint: ${e.hint}` : ''}`;
}

/**
 * A filter as stored by any version (job state in Redis, the index `_meta`): the text, or the older
 * object, translated as a request's would be. A term the translation refuses (`message~!!`, from
 * before the refusal) is kept as the phrase it was, which matches nothing.
 */
export function storedFilterText(stored: unknown): string {
  if (typeof stored === 'string') return stored;
  if (!stored || typeof stored !== 'object') return '';
  const o = stored as Record<string, unknown>;
  const list = (v: unknown): string[] => (Array.isArray(v) ? v.filter((x): x is string => typeof x === 'string') : typeof v === 'string' ? [v] : []);
  const legacy = { host: list(o.host), service: list(o.service), level: list(o.level), message: list(o.message) };
  return legacyFilterText(legacy, { keepWordless: true });
}

export function indexOf(req: Pick<LoadRequest, 'env' | 'fromMs' | 'toMs'>): string {
  return historyIndexName(req.env, req.fromMs / 1000, req.toMs / 1000);
}
