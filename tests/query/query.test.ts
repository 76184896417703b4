// The query service (issue 19 §2-3, ADR 0022) against the real engines, S3 and the real indexer:
//   a range [T0, T0 + 45 min) whose first 15 minutes are only in the archive (S3, written by the real
//   compressor), the next 15 in a history index the indexer loaded (over 25 minutes: it overlaps the
//   recent day by 10), and the last 15 in a recent index (another UTC day).
// Answers must equal the one evaluator (core-query) over the same events in memory; the overlap must
// count once; the archive span must be reported with the manifests' estimate, loaded on rehydrate=auto
// under the cap (and not over it), and then be part of the complete answer, each event exactly once.
// Paging (cursor), NDJSON export, auth and a table of bad requests go through HTTP.
import { spawn } from 'node:child_process';
import { request } from 'node:http';
import { join } from 'node:path';
import { encodeBatch, windowOf } from '@backlog/core-codec';
import { silentLogger } from '@backlog/core-pipeline';
import { type QueryResult, evaluateQuery, planQuery } from '@backlog/core-query';
import { createSearch, logsCatalogue, type SearchEngine, type SearchPort } from '@backlog/adapter-search';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { elasticsearchUrl, repoRoot, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type ApiServer, startApi } from '../../apps/query/src/http';
import { IndexerClient } from '../../apps/query/src/indexer-client';
import { queryMetrics } from '../../apps/query/src/metrics';
import { QueryService } from '../../apps/query/src/service';
import { eventId, produce, type Rec, startCompressor } from '../compressor/helpers';
import { type IndexerProc, exited, manifests, s3Of, startIndexer, untilFinished, waitFor } from '../indexer/helpers';

const MIN = 60_000;
const T0 = Date.parse('2026-11-24T23:30:00Z');
const A_END = T0 + 15 * MIN; // archive only before this
const B_END = T0 + 30 * MIN; // 2026-11-25T00:00Z: the recent day starts here
const END = T0 + 45 * MIN;
const HISTORY = { from: A_END, to: T0 + 40 * MIN }; // overlaps the recent day by 10 minutes
const N = 900;
const TOKEN = 'c5b0e7d3a1f84e2b9a6d4c8e0f1b3a5d7c9e2f4a6b8d0c1e3f5a7b9d2c4e6f80';

type Ev = Record<string, unknown> & { '@timestamp': string; event: { id: string } };

const HOSTS = ['web-1', 'web-2', 'db-1'];
const SERVICES = ['api', 'worker', 'auth'];
const LEVELS = ['info', 'info', 'warn', 'error', 'debug'];
const MESSAGES = ['upstream timed out', 'GET /api/users 200', 'connection refused', 'health check ok'];

function makeEvents(): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < N; i++) {
    const ts = T0 + Math.floor((i * 45 * MIN) / N) + (i % 7);
    out.push({
      '@timestamp': new Date(ts).toISOString(),
      event: { id: eventId(ts, i) },
      host: { name: HOSTS[i % HOSTS.length] as string },
      service: { name: SERVICES[(i >> 1) % SERVICES.length] as string },
      log: { level: LEVELS[(i * 3) % LEVELS.length] as string },
      message: MESSAGES[(i * 5) % MESSAGES.length] as string,
      labels: { env: 'test', input: 'file' },
      process: { pid: (i * 7919) % 5000 },
      fields: { endpoint: ['/api/users', '/api/orders', '/health'][i % 3], status: [200, 404, 500][i % 3] },
    });
  }
  return out;
}

function recordsOf(events: Ev[]): Rec[] {
  const groups = new Map<string, Ev[]>();
  events.forEach((e, i) => {
    const k = `${windowOf(Date.parse(e['@timestamp']))}/${i % 2}`;
    (groups.get(k) ?? groups.set(k, []).get(k))?.push(e);
  });
  const records: Rec[] = [];
  for (const [k, evs] of groups) {
    const b = encodeBatch(evs, { host: `sender-${k.split('/')[1]}`, batchId: `b-${records.length}` });
    records.push({ key: b.key, value: b.value, headers: { ...b.headers } });
  }
  return records;
}

const iso = (ms: number) => new Date(ms).toISOString();
const tsOf = (e: Ev) => Date.parse(e['@timestamp']);

const FILTERS = ['', 'level:error', 'host:web-1 AND NOT service:auth', 'message:timed', 'pid>=2500', 'endpoint:/api*', '(level:warn OR level:error) AND host:db-*'];
const STATS = ['| stats count() by service', 'level:error | stats count() by host, interval(5m)', '| stats avg(pid), max(pid), count() by level', '| top 2 host'];

const es8 = elasticsearchUrl();
const engines: Array<{ engine: SearchEngine; url: () => string }> = [
  { engine: 'opensearch', url: () => stackInfo().search.url },
  ...(es8 ? [{ engine: 'elasticsearch' as const, url: () => es8 }] : []),
];

describe('the query service: one query over archive + history + recent', () => {
  const info = stackInfo();
  const env = testNamespace('qsvc');
  const events = makeEvents();
  const s3 = s3Of(info);

  beforeAll(async () => {
    await produce(info, env, recordsOf(events), 2);
    const c = startCompressor(info, env);
    try {
      await c.ready;
      await waitFor(`all ${N} events archived`, async () => (await manifests(s3, env)).reduce((n, x) => n + x.m.count, 0) === N, 150_000);
    } finally {
      c.child.kill('SIGTERM');
      await exited(c.child);
    }
  }, 240_000);

  afterAll(() => s3.close());

  describe.each(engines)('$engine', ({ engine, url }) => {
    let ix: IndexerProc;
    let search: SearchPort;
    let service: QueryService;
    let api: ApiServer;
    let secured: ApiServer;
    const catalogue = logsCatalogue(engine);
    const recentIndex = `logs-${env}-recent-2026.11.25`;
    const inB = events.filter((e) => tsOf(e) >= A_END && tsOf(e) < B_END);
    const inC = events.filter((e) => tsOf(e) >= B_END && tsOf(e) < END);

    const call = async (server: ApiServer, method: string, path: string, body?: unknown, headers: Record<string, string> = {}) => {
      const res = await fetch(server.url + path, {
        method,
        headers: { ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
        ...(body !== undefined ? { body: typeof body === 'string' ? body : JSON.stringify(body) } : {}),
      });
      const text = await res.text();
      let parsed: Record<string, unknown>;
      try {
        parsed = JSON.parse(text) as Record<string, unknown>;
      } catch {
        parsed = { text };
      }
      return { status: res.status, body: parsed, text, headers: res.headers };
    };
    const get = (params: Record<string, string | number>, server = api) =>
      call(server, 'GET', `/v1/query?${new URLSearchParams(Object.entries(params).map(([k, v]) => [k, String(v)] as [string, string])).toString()}`);
    const ask = async (params: Record<string, string | number>) => {
      const r = await get({ env, ...params });
      expect(r.status, r.text.slice(0, 2000)).toBe(200);
      return r.body as Record<string, unknown> & {
        total: number;
        hits?: Array<{ id: string; source: Ev }>;
        rows?: unknown[][];
        columns?: Array<{ name: string }>;
        cursor?: string;
        complete: boolean;
        coverage: Array<{ source: string; from: string; to: string; index?: string }>;
        rehydration?: Record<string, unknown> & { status: string; events: number; spans: Array<Record<string, unknown>> };
      };
    };
    /** What the evaluator answers over `evs` for the query text and range. */
    const expected = (text: string, from: number, to: number, evs: Ev[]): QueryResult =>
      evaluateQuery(planQuery(text, catalogue, { range: { from: iso(from), to: iso(to) }, defaultHits: 10_000, maxHits: 10_000 }), evs);
    const ids = (r: QueryResult) => (r.kind === 'hits' ? r.hits.map((h) => h.id) : []);

    beforeAll(async () => {
      ix = await startIndexer({ ...info, search: { ...info.search, url: url(), engine } }, env, { BACKLOG_INDEXER_STATE_KEY_PREFIX: `${env}:indexer-${engine}:` });
      search = await createSearch({ node: url() });
      expect(search.engine).toBe(engine);
      // The recent day, as the es-consumer would have written it (same logs-* template, installed by the indexer).
      const r = await search.bulk(
        inC.map((doc) => ({ op: 'create' as const, index: recentIndex, id: doc.event.id, doc })),
        { refresh: true },
      );
      expect(r.failed).toBe(0);
      // The history index: the middle 15 minutes and 10 minutes of the recent day.
      const load = await ix.call('POST', '/v1/history', { env, start: HISTORY.from / 1000, end: HISTORY.to / 1000 });
      expect(load.status, JSON.stringify(load.body)).toBe(202);
      const done = await untilFinished(ix, load.body.index as string);
      expect(done.status, JSON.stringify(done)).toBe('done');
      await search.refresh(`logs-${env}-*`);
      const metrics = queryMetrics(new MetricsRegistry());
      service = new QueryService(search, s3, new IndexerClient(ix.url, undefined, 10_000), metrics, silentLogger, {
        envs: [env],
        defaultLimit: 100,
        maxLimit: 10_000,
        maxExportEvents: 100_000,
        cursorKeepAliveSeconds: 60,
        maxRangeDays: 400,
        rehydrate: { maxEvents: 100_000, maxBytes: 1 << 30, estimateBytesPerSecond: 4 << 20, maxRangeHours: 168 },
      });
      api = await startApi(service, { host: '127.0.0.1', port: 0, limits: { bodyLimitBytes: 32 * 1024 } }, silentLogger, metrics);
      secured = await startApi(service, { host: '127.0.0.1', port: 0, token: TOKEN }, silentLogger, metrics);
    }, 300_000);

    afterAll(async () => {
      await api?.close();
      await secured?.close();
      await ix?.stop();
      if (!search) return;
      await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
      await search.deleteIndexTemplate(`backlog-logs-${env}`).catch(() => undefined);
      await search.close();
    });

    it('reports the coverage of the range: archive, then history, then recent; the archive span with its estimate', async () => {
      const a = await ask({ q: '', from: iso(T0), to: iso(END), limit: 1 });
      expect(a.coverage.map((c) => [c.source, c.from, c.to])).toEqual([
        ['archive', iso(T0), iso(A_END)],
        ['history', iso(A_END), iso(B_END)],
        ['recent', iso(B_END), iso(END)],
      ]);
      expect(a.complete).toBe(false);
      expect(a.total).toBe(inB.length + inC.length);
      const inA = events.filter((e) => tsOf(e) < A_END).length;
      expect(a.rehydration).toMatchObject({ status: 'available', events: inA, filter: '' });
      expect(a.rehydration?.spans.map((s) => [s.from, s.to])).toEqual([[iso(T0), iso(A_END)]]);
      expect(a.rehydration?.hint).toMatch(/rehydrate=auto/);
      // A range the indices answer whole is complete, with no rehydration.
      const b = await ask({ q: '', from: iso(A_END), to: iso(END), limit: 1 });
      expect(b.complete).toBe(true);
      expect(b.rehydration).toBeUndefined();
    });

    it.each(FILTERS)('hits of %j equal the evaluator over the indexed events; the history/recent overlap counts once', async (f) => {
      const a = await ask({ q: f, from: iso(T0), to: iso(END), limit: 10_000 });
      const want = expected(f, T0, END, [...inB, ...inC]);
      expect(a.total).toBe(want.total);
      expect(a.hits?.map((h) => h.id)).toEqual(ids(want));
      expect(new Set(a.hits?.map((h) => h.id)).size).toBe(a.hits?.length);
    });

    it.each(STATS)('stats %j equal the evaluator', async (q) => {
      const a = await ask({ q, from: iso(T0), to: iso(END) });
      const want = expected(q, T0, END, [...inB, ...inC]);
      expect(want.kind).toBe('stats');
      if (want.kind !== 'stats') return;
      expect(a.total).toBe(want.total);
      expect(a.columns?.map((c) => c.name)).toEqual(want.columns.map((c) => c.name));
      const round = (rows: unknown[][]) => rows.map((r) => r.map((c) => (typeof c === 'number' ? Math.round(c * 1000) / 1000 : c)));
      expect(round(a.rows ?? [])).toEqual(round(want.rows));
    });

    it('DATA-001: POST /query with the JSON form, GET /query?q=…&from=…', async () => {
      const body = { env, query: 'level:error AND service:api', aggregation: { type: 'count', field: 'endpoint', interval: '5m' }, from: iso(A_END), to: iso(END) };
      const r = await call(api, 'POST', '/query', body);
      expect(r.status, r.text).toBe(200);
      const want = expected('level:error AND service:api | stats count() by endpoint, interval(5m)', A_END, END, [...inB, ...inC]);
      expect(r.body.total).toBe(want.total);
      expect(r.body.rows).toEqual(want.kind === 'stats' ? want.rows : []);
      const g = await call(api, 'GET', `/query?q=level:error&from=${encodeURIComponent(iso(A_END))}&to=${encodeURIComponent(iso(END))}&env=${env}`);
      expect(g.status).toBe(200);
      expect(g.body.total).toBe(expected('level:error', A_END, END, [...inB, ...inC]).total);
    });

    it('pages with a cursor (point in time + search_after): every event once, in order', async () => {
      const want = ids(expected('', A_END, END, [...inB, ...inC]));
      const got: string[] = [];
      let cursor: string | undefined;
      let pages = 0;
      do {
        const a = await ask({ q: '', from: iso(A_END), to: iso(END), limit: 97, ...(cursor ? { cursor } : {}) });
        got.push(...(a.hits ?? []).map((h) => h.id));
        cursor = a.cursor;
        pages++;
      } while (cursor && pages < 50);
      expect(got).toEqual(want);
      expect(pages).toBe(Math.ceil(want.length / 97));
      // A cursor continues only its own query.
      const first = await ask({ q: '', from: iso(A_END), to: iso(END), limit: 97 });
      const other = await get({ env, q: 'level:error', from: iso(A_END), to: iso(END), limit: 97, cursor: first.cursor as string });
      expect(other.status).toBe(400);
      expect(JSON.stringify(other.body)).toMatch(/another query/);
    });

    it('a first page holds no point in time: more first pages than the engine keeps open at once (300) all answer', async () => {
      // Each of these has more hits than its limit, so each answers with a cursor; the PIT is opened only
      // when a second page is asked for. (Opening one per first page made the 301st query a 503.)
      for (let i = 0; i < 320; i++) {
        const r = await get({ env, q: '', from: iso(A_END), to: iso(END), limit: 5 });
        expect(r.status, JSON.stringify(r.body)).toBe(200);
        expect((r.body as { cursor?: unknown }).cursor).toBeTypeOf('string');
      }
    }, 120_000);

    it('exports NDJSON (format=ndjson or Accept): every matching event once, streamed', async () => {
      const want = ids(expected('host:web-1', A_END, END, [...inB, ...inC]));
      const r = await call(api, 'GET', `/v1/query?env=${env}&q=host:web-1&from=${encodeURIComponent(iso(A_END))}&to=${encodeURIComponent(iso(END))}&format=ndjson`);
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toMatch(/application\/x-ndjson/);
      const lines = r.text
        .split('\n')
        .filter(Boolean)
        .map((l) => JSON.parse(l) as Ev);
      expect(lines.map((e) => e.event.id)).toEqual(want);
      const viaAccept = await call(api, 'GET', `/v1/query?env=${env}&q=host:web-1&from=${encodeURIComponent(iso(A_END))}&to=${encodeURIComponent(iso(END))}`, undefined, {
        accept: 'application/x-ndjson',
      });
      expect(viaAccept.text).toBe(r.text);
      // An export of a bad query is still a 400 with the reason, not a broken stream.
      const bad = await call(api, 'GET', `/v1/query?env=${env}&q=${encodeURIComponent('host:(web-1')}&format=ndjson`);
      expect(bad.status).toBe(400);
      expect(bad.body.error).toMatchObject({ code: 'UNBALANCED_PARENS' });
    });

    it('rehydrate=auto over the cap starts nothing and says so', async () => {
      const before = (await search.listIndices(`logs-${env}-history-*`)).length;
      const a = await ask({ q: 'level:error', from: iso(T0), to: iso(END), rehydrate: 'auto', maxEvents: 10 });
      expect(a.rehydration).toMatchObject({ status: 'over_cap', cap: { maxEvents: 10 } });
      expect(a.rehydration?.hint).toMatch(/over the cap/);
      const bytes = await ask({ q: 'level:error', from: iso(T0), to: iso(END), rehydrate: 'auto', maxBytes: 1 });
      expect(bytes.rehydration?.status).toBe('over_cap');
      expect((await search.listIndices(`logs-${env}-history-*`)).length).toBe(before);
      // A request may not raise the cap above the service's own.
      expect((await get({ env, q: '', from: iso(T0), to: iso(END), rehydrate: 'auto', maxEvents: 100_001 })).status).toBe(400);
    });

    it('rehydrate=auto loads the archive span with the filter pushed down; asked again, the answer is complete, each event once', async () => {
      const q = 'level:error OR host:db-1';
      const first = await ask({ q, from: iso(T0), to: iso(END), rehydrate: 'auto', limit: 10_000 });
      expect(['started', 'loading']).toContain(first.rehydration?.status);
      const index = first.rehydration?.spans[0]?.index as string;
      expect(index).toMatch(new RegExp(`^logs-${env}-history-`));
      let last = first;
      await waitFor(
        'the archive span loaded',
        async () => {
          // No refresh here: a load that is done must be searchable through the service by itself.
          last = await ask({ q, from: iso(T0), to: iso(END), rehydrate: 'auto', limit: 10_000 });
          return last.complete;
        },
        120_000,
        500,
      );
      expect(last.coverage.map((c) => c.source)).toEqual(['history', 'history', 'recent']);
      expect(last.coverage[0]?.index).toBe(index);
      const want = expected(q, T0, END, events);
      expect(last.total).toBe(want.total);
      expect(last.hits?.map((h) => h.id)).toEqual(ids(want));
      // The filter was pushed down: the loaded index holds only matching events.
      const loaded = await search.count(index);
      expect(loaded).toBe(events.filter((e) => tsOf(e) < A_END && ((e.log as { level: string }).level === 'error' || (e.host as { name: string }).name === 'db-1')).length);
      // Stats over the whole range now count the archive span too.
      const s = await ask({ q: `${q} | stats count() by level`, from: iso(T0), to: iso(END) });
      const ws = expected(`${q} | stats count() by level`, T0, END, events);
      expect(s.rows).toEqual(ws.kind === 'stats' ? ws.rows : []);
      // Another filter still sees the span as archive-only: the loaded index holds only what the first asked.
      const other = await ask({ q: 'level:info', from: iso(T0), to: iso(END), limit: 1 });
      expect(other.complete).toBe(false);
      expect(other.coverage[0]?.source).toBe('archive');
    });

    const cli = (args: string[]): Promise<{ code: number | null; stdout: string; stderr: string }> =>
      new Promise((resolve) => {
        const child = spawn(process.execPath, [join(repoRoot(), 'bin/backlog.mjs'), 'query', `--env=${env}`, `--url=${api.url}`, ...args], { cwd: repoRoot(), stdio: ['ignore', 'pipe', 'pipe'] });
        let stdout = '';
        let stderr = '';
        child.stdout.on('data', (d: Buffer) => (stdout += d.toString()));
        child.stderr.on('data', (d: Buffer) => (stderr += d.toString()));
        child.once('exit', (code) => resolve({ code, stdout, stderr }));
      });

    it('the CLI: --json answers as the API, a bad query exits 2 with a caret, --rehydrate loads and answers whole, --ndjson streams', async () => {
      const q = 'level:error | stats count() by service';
      const ok = await cli([q, `--from=${iso(A_END)}`, `--to=${iso(END)}`, '--json']);
      expect(ok.code, ok.stderr).toBe(0);
      const want = expected(q, A_END, END, [...inB, ...inC]);
      expect(JSON.parse(ok.stdout)).toMatchObject({ kind: 'stats', total: want.total, rows: want.kind === 'stats' ? want.rows : [] });
      const bad = await cli(['level:error AND sevice:api', '--json']);
      expect(bad.code).toBe(2);
      expect(bad.stderr).toContain('did you mean "service"');
      expect(bad.stderr).toMatch(/\n {18}\^+/);
      const rq = 'host:web-2 AND NOT level:debug';
      const re = await cli([rq, `--from=${iso(T0)}`, `--to=${iso(END)}`, '--rehydrate', '--json', '--limit=10000']);
      expect(re.code, re.stderr).toBe(0);
      const whole = JSON.parse(re.stdout) as { complete: boolean; total: number; hits: Array<{ id: string }> };
      expect(whole.complete).toBe(true);
      const w = expected(rq, T0, END, events);
      expect(whole.total).toBe(w.total);
      expect(whole.hits.map((h) => h.id)).toEqual(ids(w));
      const nd = await cli([rq, `--from=${iso(T0)}`, `--to=${iso(END)}`, '--ndjson']);
      expect(nd.code, nd.stderr).toBe(0);
      expect(
        nd.stdout
          .split('\n')
          .filter(Boolean)
          .map((l) => (JSON.parse(l) as Ev).event.id),
      ).toEqual(ids(w));
      const down = await cli(['', '--url=http://127.0.0.1:1', '--json']);
      expect(down.code).toBe(1);
    });

    it('GET /v1/fields: the catalogue with types and top values', async () => {
      const r = await call(api, 'GET', `/v1/fields?env=${env}&from=${encodeURIComponent(iso(A_END))}&to=${encodeURIComponent(iso(END))}&top=3`);
      expect(r.status, r.text).toBe(200);
      const fields = r.body.fields as Array<{ name: string; type: string; top?: Array<{ value: string; count: number }> }>;
      expect(fields.find((f) => f.name === 'message')?.type).toBe('text');
      expect(fields.find((f) => f.name === 'process.pid')?.type).toBe('number');
      const host = fields.find((f) => f.name === 'host.name');
      expect(host?.type).toBe('keyword');
      expect(host?.top?.map((t) => t.value).sort()).toEqual([...HOSTS].sort());
    });

    it('auth as the indexer: a token-protected API refuses without it (401), the token never in the URL', async () => {
      const path = `/v1/query?env=${env}&q=level:error&from=${encodeURIComponent(iso(A_END))}&to=${encodeURIComponent(iso(END))}`;
      expect((await call(secured, 'GET', path)).status).toBe(401);
      expect((await call(secured, 'GET', path, undefined, { authorization: 'Bearer wrong' })).status).toBe(401);
      expect((await call(secured, 'GET', path, undefined, { authorization: `Bearer ${TOKEN}` })).status).toBe(200);
      expect((await call(secured, 'GET', '/v1/fields')).status).toBe(401);
      expect((await call(secured, 'GET', '/v1/openapi.json')).status).toBe(200);
      // A token in the query string is no way in, and is refused as an unknown parameter.
      const inUrl = await call(secured, 'GET', `${path}&token=${TOKEN}`, undefined, { authorization: `Bearer ${TOKEN}` });
      expect(inUrl.status).toBe(400);
      // Without a token, only loopback Host names are served (DNS rebinding). fetch sets Host itself: node:http.
      const port = new URL(api.url).port;
      const status = await new Promise<number>((resolve, reject) => {
        const req = request({ host: '127.0.0.1', port, path, headers: { host: 'evil.example' } }, (res) => {
          res.resume();
          resolve(res.statusCode ?? 0);
        });
        req.once('error', reject);
        req.end();
      });
      expect(status).toBe(421);
    });

    const long = 'a '.repeat(9000);
    const CASES: Array<[string, string, string, unknown, number, string | RegExp]> = [
      ['syntax error: column and expected', 'GET', `/v1/query?q=${encodeURIComponent('level:error AND (host:web-1')}`, undefined, 400, 'UNBALANCED_PARENS'],
      ['syntax error: nothing after an operator', 'GET', `/v1/query?q=${encodeURIComponent('level:error AND')}`, undefined, 400, 'UNEXPECTED_END'],
      ['typo in a field: did you mean', 'GET', `/v1/query?q=${encodeURIComponent('sevice:api')}`, undefined, 400, /did you mean/],
      ['a number field given text', 'GET', `/v1/query?q=${encodeURIComponent('pid:abc')}`, undefined, 400, 'FIELD_TYPE'],
      ['unknown command', 'GET', `/v1/query?q=${encodeURIComponent('| frobnicate')}`, undefined, 400, 'UNKNOWN_COMMAND'],
      ['unknown aggregation', 'GET', `/v1/query?q=${encodeURIComponent('| stats median(pid)')}`, undefined, 400, 'UNKNOWN_FUNCTION'],
      ['limit over the maximum in the text', 'GET', `/v1/query?q=${encodeURIComponent('| limit 20000')}`, undefined, 400, 'LIMIT_EXCEEDED'],
      ['unterminated string', 'GET', `/v1/query?q=${encodeURIComponent('message:"open')}`, undefined, 400, 'UNTERMINATED_STRING'],
      ['a bad time', 'GET', '/v1/query?from=yesterday', undefined, 400, 'TIME_INVALID'],
      ['from after to', 'GET', `/v1/query?from=${iso(END)}&to=${iso(T0)}`, undefined, 400, 'TIME_INVALID'],
      ['a range over the maximum', 'GET', '/v1/query?from=-500d', undefined, 400, 'LIMIT_EXCEEDED'],
      ['limit 0', 'GET', '/v1/query?limit=0', undefined, 400, 'REQUEST_INVALID'],
      ['limit not a number', 'GET', '/v1/query?limit=ten', undefined, 400, 'REQUEST_INVALID'],
      ['limit over api.maxLimit', 'GET', '/v1/query?limit=10001', undefined, 400, 'REQUEST_INVALID'],
      ['unknown parameter', 'GET', '/v1/query?qq=level:error', undefined, 400, /unknown parameter/],
      ['a parameter twice', 'GET', '/v1/query?q=a&q=b', undefined, 400, /once/],
      ['q and query both', 'GET', '/v1/query?q=a&query=b', undefined, 400, /give one/],
      ['unknown env', 'GET', '/v1/query?env=nope', undefined, 400, /unknown env/],
      ['rehydrate neither auto nor off', 'GET', '/v1/query?rehydrate=maybe', undefined, 400, /rehydrate/],
      ['a cursor that is not one', 'GET', '/v1/query?cursor=abc', undefined, 400, /cursor/],
      ['format neither json nor ndjson', 'GET', '/v1/query?format=xml', undefined, 400, /format/],
      ['a query over the length bound', 'POST', '/v1/query', { query: long }, 400, /16384/],
      ['a body over api.bodyLimitBytes', 'POST', '/v1/query', { query: 'x'.repeat(40_000) }, 413, /./],
      ['a body that is not JSON', 'POST', '/v1/query', '{"query": ', 400, /./],
      ['a body that is an array', 'POST', '/v1/query', [1, 2], 400, /JSON object/],
      ['an unknown key', 'POST', '/v1/query', { query: 'a', colour: 'red' }, 400, 'REQUEST_INVALID'],
      ['a bad aggregation type', 'POST', '/query', { query: 'a', aggregation: { type: 'median', field: 'pid' } }, 400, 'REQUEST_INVALID'],
      ['an aggregation field that is no name', 'POST', '/query', { aggregation: { type: 'count', field: 'a | stats' } }, 400, 'REQUEST_INVALID'],
      ['avg without a field', 'POST', '/query', { aggregation: { type: 'avg' } }, 400, 'REQUEST_INVALID'],
      ['a bad interval', 'POST', '/query', { aggregation: { type: 'count', interval: '5 minutes' } }, 400, 'REQUEST_INVALID'],
      ['env not a string', 'POST', '/v1/query', { env: 5 }, 400, /env/],
      ['fields with top over 50', 'GET', '/v1/fields?top=99', undefined, 400, /top/],
      ['no such route', 'GET', '/v1/nothing', undefined, 404, /./],
      ['DELETE is not served (read-only)', 'DELETE', '/v1/query', undefined, 404, /./],
      ['valid: DATA-001 GET', 'GET', '/query?q=level:error&from=1h', undefined, 200, /"kind":"hits"/],
      [
        'valid: DATA-001 POST with time_range',
        'POST',
        '/query',
        { query: 'level:error AND service:api', aggregation: { type: 'count', field: 'endpoint', interval: '5m' }, time_range: 'last 1 hour' },
        200,
        /"kind":"stats"/,
      ],
      ['valid: a pipe query', 'GET', `/v1/query?q=${encodeURIComponent('level:error | stats count() by service')}&from=-2h`, undefined, 200, /"columns"/],
      ['valid: the empty query', 'GET', '/v1/query', undefined, 200, /"coverage"/],
      ['valid: OpenAPI', 'GET', '/v1/openapi.json', undefined, 200, /"openapi":"3.1.0"/],
    ];

    it.each(CASES)('%s → %i', async (_name, method, path, body, status, expect_) => {
      // Every case names the test's env unless it is about the env.
      const withEnv =
        /[?&]env=|openapi|nothing/.test(path) || (body && typeof body === 'object' && !Array.isArray(body) && 'env' in body) ? path : `${path}${path.includes('?') ? '&' : '?'}env=${env}`;
      const b = body && typeof body === 'object' && !Array.isArray(body) && method === 'POST' && !('env' in body) ? { ...(body as object), env } : body;
      const r = await call(api, method, withEnv, b);
      expect(r.status, r.text.slice(0, 500)).toBe(status);
      if (typeof expect_ === 'string') expect((r.body.error as { code?: string } | undefined)?.code, r.text.slice(0, 500)).toBe(expect_);
      else expect(r.text).toMatch(expect_);
      if (status === 400) {
        const e = r.body.error as { message?: string; column?: number };
        expect(typeof e.message).toBe('string');
        expect(typeof e.column).toBe('number');
      }
      expect(status).not.toBe(500);
    });

    it('a query-language error names the column, what was expected, and a hint', async () => {
      const r = await get({ env, q: 'level:error AND sevice:api' });
      expect(r.status).toBe(400);
      expect(r.body.error).toMatchObject({ code: 'FIELD_UNKNOWN', column: 17, message: 'unknown field "sevice" — did you mean "service"?' });
      expect((r.body.error as { hint?: string }).hint).toBeTruthy();
    });
  });
});
