import { readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { parseTimeExpr, resolveTime } from '@backlog/core-query';

/**
 * `backlog query '<q>'`: one question over any time range, asked of the query service's API
 * (apps/query, `GET /v1/query`; ADR 0022) like any client (ADR 0002: the CLI imports no app). Times are
 * resolved once here, so the polls of a rehydration ask exactly the same range. Exit codes: 0 answered,
 * 2 the query (or a parameter) is bad, 1 anything else (unreachable, refused, a load that failed).
 */

export const DEFAULT_QUERY_URL = 'http://127.0.0.1:8083';
export const EXIT_OK = 0;
export const EXIT_FAILED = 1;
export const EXIT_BAD_QUERY = 2;

export interface QueryOptions {
  env?: string;
  from?: string;
  to?: string;
  limit?: string;
  table?: boolean;
  json?: boolean;
  ndjson?: boolean;
  rehydrate?: boolean;
  maxEvents?: string;
  url?: string;
  tokenFile?: string;
  /** Seconds to wait for a rehydration before giving up. */
  wait?: string;
}

export interface Io {
  out(s: string): void;
  err(s: string): void;
  tty: boolean;
  columns: number;
}

/** A time flag → RFC 3339 (the query language's forms: -3d, now-15m, 1h, RFC 3339, epoch seconds). Throws with the forms. */
export function absoluteTime(text: string, what: string, nowMs: number): string {
  const t = parseTimeExpr(text);
  if (!t) throw new UsageError(`--${what}: not a time: ${JSON.stringify(text)} (RFC 3339, epoch seconds, now, -15m, now-15m, 15m)`);
  return new Date(resolveTime(t, nowMs)).toISOString();
}

export class UsageError extends Error {}

/** The GET parameters of a query from the CLI's options (times already absolute). */
export function queryParams(q: string, o: QueryOptions, nowMs = Date.now()): URLSearchParams {
  const p = new URLSearchParams();
  p.set('q', q);
  if (o.env) p.set('env', o.env);
  p.set('from', absoluteTime(o.from ?? '-1h', 'from', nowMs));
  p.set('to', absoluteTime(o.to ?? 'now', 'to', nowMs));
  if (o.limit !== undefined) p.set('limit', o.limit);
  if (o.rehydrate) p.set('rehydrate', 'auto');
  if (o.maxEvents !== undefined) p.set('maxEvents', o.maxEvents);
  return p;
}

interface QueryError {
  code: string;
  message: string;
  column?: number;
  endColumn?: number;
  hint?: string;
  path?: string;
}

/** The query with a caret under the error's column, the message and the hint. */
export function formatQueryError(q: string, e: QueryError): string {
  const lines = [`backlog query: ${e.message}`];
  if (e.column && e.column > 0 && !e.path) {
    const width = Math.max(1, (e.endColumn ?? e.column) - e.column);
    lines.push(`  ${q}`, `  ${' '.repeat(e.column - 1)}${'^'.repeat(width)}`);
  } else if (e.path) {
    lines.push(`  (${e.path})`);
  }
  if (e.hint) lines.push(`  hint: ${e.hint}`);
  return lines.join('\n');
}

type Answer = {
  kind: 'hits' | 'stats';
  total: number;
  hits?: Array<{ id: string; source: Record<string, unknown> }>;
  columns?: Array<{ name: string; role: string }>;
  rows?: unknown[][];
  complete: boolean;
  coverage: Array<{ from: string; to: string; source: string; index?: string }>;
  rehydration?: {
    status: string;
    events: number;
    bytes: number;
    parts: number;
    hint?: string;
    spans: Array<{ status?: string; index?: string; error?: string; progress?: { parts?: { total: number; done: number }; events?: { read: number; planned: number } } }>;
  };
};

const get = (o: Record<string, unknown>, path: string): unknown => path.split('.').reduce<unknown>((v, k) => (v && typeof v === 'object' ? (v as Record<string, unknown>)[k] : undefined), o);
const cell = (v: unknown): string => (v === null || v === undefined ? '' : typeof v === 'object' ? JSON.stringify(v) : String(v));

/** A text table: columns padded to their widest cell, the last one cut to the terminal's width. */
export function renderTable(header: string[], rows: string[][], columns = 120): string {
  const widths = header.map((h, i) => Math.min(60, Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length))));
  const line = (r: string[]) => {
    let s = r.map((c, i) => (i === r.length - 1 ? c : c.slice(0, widths[i]).padEnd(widths[i] as number))).join('  ');
    if (s.length > columns) s = `${s.slice(0, Math.max(10, columns - 1))}…`;
    return s.trimEnd();
  };
  return [line(header), line(widths.map((w) => '─'.repeat(w))), ...rows.map(line)].join('\n');
}

/** The answer as a table: events (time, host, service, level, message) or the stats columns. */
export function answerTable(a: Answer, columns = 120): string {
  if (a.kind === 'stats') {
    const cols = a.columns ?? [];
    const rows = (a.rows ?? []).map((r) => r.map((v, i) => (cols[i]?.role === 'time' && typeof v === 'number' ? new Date(v).toISOString() : cell(v))));
    return renderTable(
      cols.map((c) => c.name),
      rows,
      columns,
    );
  }
  const fields = ['@timestamp', 'host.name', 'service.name', 'log.level', 'message'];
  const rows = (a.hits ?? []).map((h) => fields.map((f) => cell(get(h.source, f) ?? (f === '@timestamp' ? undefined : ''))));
  return renderTable(['time', 'host', 'service', 'level', 'message'], rows, columns);
}

function coverageNote(a: Answer): string | undefined {
  const r = a.rehydration;
  if (a.complete || !r) return undefined;
  const spans = a.coverage.filter((c) => c.source === 'archive').map((c) => `${c.from} – ${c.to}`);
  return `note: ${r.events.toLocaleString('en-US')} events of ${spans.join(', ')} are only in the archive and not in this answer${r.status === 'available' ? ' (--rehydrate loads them)' : r.status === 'over_cap' ? ` — ${r.hint ?? 'over the cap'}` : ''}`;
}

function progressLine(a: Answer): string {
  const r = a.rehydration;
  if (!r) return '';
  let done = 0;
  let total = 0;
  for (const s of r.spans) {
    total += s.progress?.parts?.total ?? 0;
    done += s.progress?.parts?.done ?? 0;
  }
  const share = total ? done / total : 0;
  const bar = '█'.repeat(Math.round(share * 30)).padEnd(30, '░');
  return `rehydrating ${bar} ${done}/${total} parts · ${r.events.toLocaleString('en-US')} archived events in range`;
}

export interface QueryDeps {
  fetch: typeof fetch;
  sleep(ms: number): Promise<void>;
}

/** Runs the command; returns the exit code. */
export async function runQuery(q: string, o: QueryOptions, io: Io, deps: QueryDeps = { fetch, sleep: (ms) => new Promise((r) => setTimeout(r, ms)) }): Promise<number> {
  const modes = [o.table, o.json, o.ndjson].filter(Boolean).length;
  if (modes > 1) {
    io.err('backlog query: choose one of --table, --json, --ndjson');
    return EXIT_BAD_QUERY;
  }
  let params: URLSearchParams;
  try {
    params = queryParams(q, o);
  } catch (e) {
    io.err(`backlog query: ${(e as Error).message}`);
    return EXIT_BAD_QUERY;
  }
  const base = o.url ?? process.env.BACKLOG_QUERY_URL ?? DEFAULT_QUERY_URL;
  let token: string | undefined;
  try {
    token = o.tokenFile ? readFileSync(o.tokenFile, 'utf8').trim() : process.env.BACKLOG_QUERY_TOKEN || undefined;
  } catch (e) {
    io.err(`backlog query: cannot read --token-file: ${(e as Error).message}`);
    return EXIT_FAILED;
  }
  const headers: Record<string, string> = token ? { authorization: `Bearer ${token}` } : {};
  const url = (extra: Record<string, string> = {}) => {
    const p = new URLSearchParams(params);
    for (const [k, v] of Object.entries(extra)) p.set(k, v);
    return `${base.replace(/\/$/, '')}/v1/query?${p.toString()}`;
  };
  const failed = async (res: Response): Promise<number> => {
    const text = await res.text();
    let err: QueryError | undefined;
    try {
      err = (JSON.parse(text) as { error?: QueryError }).error;
    } catch {
      err = undefined;
    }
    if (res.status === 400 && err) {
      io.err(formatQueryError(q, err));
      return EXIT_BAD_QUERY;
    }
    io.err(`backlog query: the query service answered ${res.status}: ${err?.message ?? text.slice(0, 300)}`);
    return EXIT_FAILED;
  };
  const call = async (extra: Record<string, string> = {}, accept = 'application/json'): Promise<Response | number> => {
    try {
      return await deps.fetch(url(extra), { headers: { ...headers, accept } });
    } catch (e) {
      io.err(`backlog query: cannot reach the query service at ${base} (${(e as Error).message}); is it running? (npm start, or --url)`);
      return EXIT_FAILED;
    }
  };

  // A rehydration first (its answer says whether the archive needs loading), then the answer itself.
  let answer: Answer | undefined;
  const waitUntil = Date.now() + Number(o.wait ?? 600) * 1000;
  for (let polls = 0; ; polls++) {
    const res = await call(o.ndjson && !o.rehydrate ? { format: 'json', limit: '1' } : {});
    if (typeof res === 'number') return res;
    if (!res.ok) return failed(res);
    answer = (await res.json()) as Answer;
    const r = answer.rehydration;
    if (!o.rehydrate || answer.complete || !r || r.status === 'over_cap' || r.status === 'failed') break;
    if (Date.now() > waitUntil) {
      io.err('backlog query: the rehydration did not finish in time (--wait); the answer below is partial');
      break;
    }
    const line = progressLine(answer);
    if (io.tty) io.err(`\r${line}`);
    else if (polls % 10 === 0) io.err(line);
    await deps.sleep(1000);
  }
  if (io.tty && o.rehydrate) io.err('\r\x1b[K');
  const r = answer.rehydration;
  if (o.rehydrate && r && (r.status === 'failed' || r.status === 'over_cap')) {
    io.err(
      `backlog query: the archive spans were not loaded (${r.status}): ${
        r.spans
          .map((s) => s.error)
          .filter(Boolean)
          .join('; ') ||
        r.hint ||
        ''
      }`,
    );
    if (r.status === 'failed') return EXIT_FAILED;
  }

  if (o.ndjson) {
    const res = await call({ format: 'ndjson' }, 'application/x-ndjson');
    if (typeof res === 'number') return res;
    if (!res.ok || !res.body) return failed(res);
    const decoder = new TextDecoder();
    for await (const chunk of res.body as unknown as AsyncIterable<Uint8Array>) io.out(decoder.decode(chunk, { stream: true }));
  } else if (o.json || (!o.table && !io.tty)) {
    io.out(`${JSON.stringify(answer)}\n`);
  } else {
    io.out(`${answerTable(answer, io.columns)}\n`);
    io.err(
      `${answer.total.toLocaleString('en-US')} ${answer.kind === 'hits' ? 'events matched' : 'events aggregated'}${answer.kind === 'hits' && (answer.hits?.length ?? 0) < answer.total ? ` (${answer.hits?.length ?? 0} shown; --limit, or --ndjson for all)` : ''}`,
    );
  }
  const note = coverageNote(answer);
  if (note) io.err(note);
  return EXIT_OK;
}

export function registerQuery(program: Command): void {
  program
    .command('query')
    .argument('<query>', "the query: a filter, then | commands ('level:error | stats count() by service'); docs/specs/query.md")
    .description('one question over any time range: recent and history indices, and with --rehydrate the archive (apps/query)')
    .option('--env <env>', "environment (default: the service's)")
    .option('--from <time>', 'start: RFC 3339, epoch seconds, or relative (-3d, now-15m); default -1h')
    .option('--to <time>', 'end (exclusive), same forms; default now')
    .option('--limit <n>', 'events shown (default 100)')
    .option('--table', 'a table (the default on a terminal)')
    .option('--json', 'the whole answer as one JSON object (the default when not a terminal)')
    .option('--ndjson', 'every matching event, one JSON line each (streamed)')
    .option('--rehydrate', "load archive-only spans through the indexer (under the service's cap), show progress, then answer")
    .option('--max-events <n>', "with --rehydrate: load at most this many events (a lower cap than the service's)")
    .option('--wait <seconds>', 'with --rehydrate: give up waiting after this long (default 600)')
    .option('--url <url>', `the query service (default $BACKLOG_QUERY_URL or ${DEFAULT_QUERY_URL})`)
    .option('--token-file <file>', 'a file holding the bearer token (default $BACKLOG_QUERY_TOKEN); never put a token in a URL')
    .action(async (q: string, o: QueryOptions) => {
      process.exitCode = await runQuery(q, o, {
        out: (s) => process.stdout.write(s),
        err: (s) => process.stderr.write(s.startsWith('\r') ? s : `${s}\n`),
        tty: process.stdout.isTTY === true,
        columns: process.stdout.columns ?? 120,
      });
    });
}
