import { z } from 'zod';
import type { Query } from './ast';
import { QueryError } from './errors';
import { MAX_QUERY_LENGTH, parseQuery } from './parse';
import type { TimeRangeInput } from './time';

/**
 * The JSON form of a query (DATA-001's `/query` body), e.g.
 *   {"query": "level:error AND service:api",
 *    "aggregation": {"type": "count", "field": "endpoint", "interval": "5m"},
 *    "time_range": "last 1 hour"}
 * It is sugar for the text form: it is written out as one (`requestText`) and parsed like any query,
 * so both forms mean the same by construction. `aggregation.type: count` with a `field` counts per
 * value of that field (DATA-001); any other type aggregates the field itself.
 */

const name = z
  .string()
  .min(1)
  .max(256)
  .regex(/^[A-Za-z_@$\u00c0-\uffff][A-Za-z0-9_@$.\-/\u00c0-\uffff]*$/, 'a field name (letters, digits, _ @ $ . - /)');
const names = z.union([name, z.array(name).min(1).max(8)]);
const time = z.union([z.string().min(1).max(64), z.number().finite()]).transform((v) => String(v));

export const queryRequestSchema = z
  .object({
    /** The filter, or a whole query with `| …` commands when there is no `aggregation`. Default: every event. */
    query: z.string().max(MAX_QUERY_LENGTH).default(''),
    aggregation: z
      .object({
        type: z.enum(['count', 'avg', 'min', 'max', 'sum', 'distinct', 'percentiles']),
        /** count: the field to count per value; other types: the field to aggregate. */
        field: name.optional(),
        /** More fields to group by. */
        by: names.optional(),
        /** A time histogram: `5m`, `1h`. */
        interval: z
          .string()
          .regex(/^\d{1,9}[smhdw]$/, 'a whole number and a unit: s, m, h, d or w (e.g. 5m)')
          .optional(),
        /** percentiles: which ones (default 50, 95, 99). */
        percents: z.array(z.number().min(0).max(100)).min(1).max(20).optional(),
        /** Groups kept (default 100). */
        size: z.number().int().min(1).max(10_000).optional(),
      })
      .strict()
      .optional(),
    /** DATA-001: "last 1 hour", "15m", "now-15m". */
    time_range: time.optional(),
    from: time.optional(),
    to: time.optional(),
    /** Events returned (no aggregation). */
    limit: z.number().int().min(1).max(10_000).optional(),
    /** A sort key as in `| sort`: `-@timestamp`, `host.name`. */
    sort: z
      .string()
      .regex(/^[+-]?[A-Za-z_@$][A-Za-z0-9_@$.\-/()]*( (asc|desc))?$/i)
      .optional(),
    /** Only these fields of each event. */
    fields: z.array(name).min(1).max(100).optional(),
  })
  .strict();

export type QueryRequest = z.input<typeof queryRequestSchema>;

export interface ParsedRequest {
  /** The text form of the request (what the CLI would take). */
  text: string;
  query: Query;
  range: TimeRangeInput | undefined;
}

/** Validates a JSON request and parses it. Throws QueryError (REQUEST_INVALID with `path`, or the parser's error). */
export function parseRequest(body: unknown): ParsedRequest {
  const r = queryRequestSchema.safeParse(body);
  if (!r.success) {
    const issue = r.error.issues[0] as z.core.$ZodIssue;
    const path = issue.path.join('.');
    const e = new QueryError('REQUEST_INVALID', `${path || 'request'}: ${issue.message}`, { column: 0, path, expected: 'see docs/specs/query.md' });
    e.errors = r.error.issues.map((i) => new QueryError('REQUEST_INVALID', `${i.path.join('.') || 'request'}: ${i.message}`, { column: 0, path: i.path.join('.') }));
    e.errors[0] = e;
    return fail(e);
  }
  const req = r.data;
  // The user's own text first, so a syntax error's column points into what they wrote.
  parseQuery(req.query);
  const text = requestText(req);
  let query: Query;
  try {
    query = parseQuery(text);
  } catch (e) {
    if (e instanceof QueryError && e.column > req.query.length) {
      throw new QueryError(e.code, e.message, { column: 0, path: 'aggregation', ...(e.expected ? { expected: e.expected } : {}), ...(e.hint ? { hint: e.hint } : {}) });
    }
    throw e;
  }
  const range: TimeRangeInput | undefined =
    req.from !== undefined || req.to !== undefined || req.time_range !== undefined
      ? { ...(req.from !== undefined ? { from: req.from } : {}), ...(req.to !== undefined ? { to: req.to } : {}), ...(req.time_range !== undefined ? { time_range: req.time_range } : {}) }
      : undefined;
  return { text, query, range };
}

function fail(e: QueryError): never {
  throw e;
}

/** The text form of a validated request. */
export function requestText(req: z.output<typeof queryRequestSchema>): string {
  const parts: string[] = [req.query.trim()];
  const a = req.aggregation;
  if (a) {
    const by = a.by === undefined ? [] : Array.isArray(a.by) ? a.by : [a.by];
    let metric: string;
    if (a.type === 'count') {
      metric = 'count()';
      if (a.field) by.unshift(a.field);
    } else {
      if (!a.field) throw new QueryError('REQUEST_INVALID', `aggregation.field: ${a.type} needs a field`, { column: 0, path: 'aggregation.field', expected: 'a field name' });
      metric = a.type === 'percentiles' ? `percentiles(${[a.field, ...(a.percents ?? [])].join(', ')})` : `${a.type}(${a.field})`;
    }
    if (a.interval) by.push(`interval(${a.interval})`);
    parts.push(`stats ${metric}${by.length ? ` by ${by.join(', ')}` : ''}`);
    if (a.size !== undefined) parts.push(`limit ${a.size}`);
    if (req.sort) parts.push(`sort ${req.sort}`);
  } else {
    if (req.sort) parts.push(`sort ${req.sort}`);
    if (req.limit !== undefined) parts.push(`limit ${req.limit}`);
    if (req.fields) parts.push(`fields ${req.fields.join(', ')}`);
  }
  return parts
    .filter((p, i) => i === 0 || p)
    .join(' | ')
    .trim();
}
