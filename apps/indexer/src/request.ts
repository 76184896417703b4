import { z } from 'zod';
import { type EventFilter, historyIndexName, normalizeFilter, parseTimeArg } from '@backlog/core-codec';

/** A validated load request: whole seconds, [fromMs, toMs). */
export interface LoadRequest {
  env: string;
  fromMs: number;
  toMs: number;
  filter: EventFilter;
  /** At most this many events (whole windows, in time order, by the manifests' counts). */
  maxEvents?: number;
  /** Expiry after this request, hours (default: config `history.ttlHours`). */
  ttlHours?: number;
}

export interface RequestLimits {
  envs: readonly string[];
  maxRangeHours: number;
  maxTtlHours: number;
}

/** A request the API answers with 400: every reason at once. */
export class RequestError extends Error {
  readonly code = 'REQUEST_INVALID';
  constructor(readonly reasons: string[]) {
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
    filter: z
      .object({ host: valueList.optional(), service: valueList.optional(), level: valueList.optional(), message: valueList.optional() })
      .strict()
      .optional(),
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
    else if (toMsV - fromMs > limits.maxRangeHours * 3_600_000) reasons.push(`range is ${((toMsV - fromMs) / 3_600_000).toFixed(1)} h, over the maximum of ${limits.maxRangeHours} h (api.maxRangeHours)`);
    if (fromMs < 0) reasons.push('start is before 1970');
  }
  if (b.ttlHours !== undefined && b.ttlHours > limits.maxTtlHours) reasons.push(`ttlHours ${b.ttlHours} is over the maximum of ${limits.maxTtlHours} (history.maxTtlHours)`);
  if (reasons.length) throw new RequestError(reasons);
  const req: LoadRequest = { env: b.env, fromMs: fromMs as number, toMs: toMsV as number, filter: normalizeFilter(b.filter) };
  if (b.maxEvents !== undefined) req.maxEvents = b.maxEvents;
  if (b.ttlHours !== undefined) req.ttlHours = b.ttlHours;
  return req;
}

export function indexOf(req: Pick<LoadRequest, 'env' | 'fromMs' | 'toMs'>): string {
  return historyIndexName(req.env, req.fromMs / 1000, req.toMs / 1000);
}

/** `logs-<env>-history-<start36>-<end36>` → its parts, or undefined for any other name. */
export function parseHistoryIndex(name: string): { env: string; fromMs: number; toMs: number } | undefined {
  const m = /^logs-([a-z0-9][a-z0-9_-]{0,31})-history-([0-9a-z]{1,10})-([0-9a-z]{1,10})$/.exec(name);
  if (!m) return undefined;
  const fromMs = parseInt(m[2] as string, 36) * 1000;
  const toMs = parseInt(m[3] as string, 36) * 1000;
  if (!(toMs > fromMs)) return undefined;
  return { env: m[1] as string, fromMs, toMs };
}
