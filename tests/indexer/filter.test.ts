// One filter language over the archive (issue 19): a range of parts written by the real compressor is
// loaded into history indices with query-language filters by a real indexer, on each engine of the
// stack (OpenSearch 2.19 and the Elasticsearch 8 node, ADR 0017), and for every filter three answers
// must be the same set of event ids:
//   (a) what the indexer loaded (its one evaluator, compileFilter, over the archived lines);
//   (b) the engine's answer to the same filter, translated by translateQuery, over an index made by the
//       same logs-* template that holds the same events (as a recent index would);
//   (c) compileFilter over the source events in memory.
// Also: the older key=value forms through the API and the CLI, parse errors as 400 / exit 64 with their
// column, the canonical text in the job, and the same range asked with the same or another filter.
import { encodeBatch, historyIndexName, windowOf } from '@backlog/core-codec';
import { archiveFilter, compileFilter, legacyFilterText } from '@backlog/core-query';
import { createSearch, logsCatalogue, type SearchEngine, type SearchPort, translateQuery } from '@backlog/adapter-search';
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { eventId, produce, type Rec, startCompressor } from '../compressor/helpers';
import { type IndexerProc, exited, manifests, runHistory, s3Of, startIndexer, untilFinished, waitFor } from './helpers';

const START = Date.parse('2026-11-23T08:00:00Z');
const MIN = 60_000;
/** Events lie in [START, START + 13 min): windows 0..2. A load ends at END + k seconds (still in window 2), one index per filter. */
const END_S = (START + 14 * MIN) / 1000;
const N = 2400;

type Ev = Record<string, unknown> & { '@timestamp': string; event: { id: string } };

const MESSAGES = [
  'upstream timed out while reading response header',
  'Upstream TIMEOUT!',
  'connection refused by 10.0.0.1:5432',
  'GET /api/v1/users 500 12ms',
  'user_id=42 logged in from web-1',
  'health check ok',
  'timed out: upstream',
  'Straße gesperrt — ÜBERLAUF',
  'deploy done v1.2.3',
];
const HOSTS = ['web-1', 'web-2', 'web-10', 'db-1', 'cache-1'];
const SERVICES = ['api', 'worker', 'web', 'auth'];
const LEVELS = ['info', 'info', 'warn', 'error', 'debug', 'info', 'error'];
const IPS = ['10.0.0.1', '10.1.2.3', '192.168.1.7', '172.16.0.9'];
const ENDPOINTS = ['/api/users', '/api/orders', '/web/home', '/api/users/42', '/health'];

/** Varied events (deterministic): missing fields, numbers, free-form keys, nested keys, IPs. */
function makeEvents(): Ev[] {
  const out: Ev[] = [];
  for (let i = 0; i < N; i++) {
    const ts = START + Math.floor((i * 13 * MIN) / N);
    const e: Ev = {
      '@timestamp': new Date(ts).toISOString(),
      event: { id: eventId(ts, i) },
      message: MESSAGES[(i * 31) % MESSAGES.length] as string,
      labels: { env: i % 4 ? 'prod' : 'staging', input: 'file' },
    };
    if (i % 13) e.host = { name: HOSTS[i % HOSTS.length] as string, ...(i % 3 === 0 ? { ip: IPS[(i >> 2) % IPS.length] as string } : {}) };
    if (i % 17) e.service = { name: SERVICES[(i >> 1) % SERVICES.length] as string };
    e.log = { level: LEVELS[(i * 5) % LEVELS.length] as string };
    if (i % 4) e.process = { pid: (i * 7919) % 40_000 };
    if (i % 3 !== 2) {
      const f: Record<string, unknown> = { endpoint: ENDPOINTS[(i >> 3) % ENDPOINTS.length], status: [200, 404, 500, 503][i % 4], duration_ms: (i * 37) % 2000 };
      if (i % 5 === 0) f.user = { id: String(i % 100) };
      out.push({ ...e, fields: f });
      continue;
    }
    out.push(e);
  }
  return out;
}

/** h-<env> records as harvesters send them: per (window, sender) batches of ≤ 100 events in time order. */
function recordsOf(events: Ev[]): Rec[] {
  const groups = new Map<string, Ev[]>();
  events.forEach((e, i) => {
    const k = `${windowOf(Date.parse(e['@timestamp']))}/${i % 3}`;
    (groups.get(k) ?? groups.set(k, []).get(k))?.push(e);
  });
  const records: Rec[] = [];
  for (const [k, evs] of groups) {
    for (let i = 0; i < evs.length; i += 100) {
      const b = encodeBatch(evs.slice(i, i + 100), { host: `sender-${k.split('/')[1]}`, batchId: `b-${records.length}` });
      records.push({ key: b.key, value: b.value, headers: { ...b.headers } });
    }
  }
  return records;
}

/** Filters on message (text analysis), keywords, numeric ranges, existence, free-form keys, NOT, wildcards, IP blocks. */
const FILTERS = [
  'message:timeout',
  '"timed out"',
  'message:time*',
  'host:web-1',
  'host:web-*',
  'host:*-1',
  'service:(api OR worker) AND NOT level:debug',
  '-level:info',
  'process.pid>=20000',
  'pid:[100 TO 5000}',
  'pid:*',
  'NOT pid:*',
  'NOT host:*',
  'fields.endpoint:/api/users',
  'endpoint:/api*',
  'fields.endpoint:*users*',
  'fields.endpoint>="/api/p"',
  'fields.status:500',
  'fields.user.id:*',
  'NOT fields.user.id:* AND fields.endpoint:*',
  'host.ip:10.0.0.0/8',
  'labels.env:prod AND level:(error OR warn)',
  '(message:refused OR message:"health check") AND NOT service:auth',
  'fields.duration_ms:1* AND NOT host:db-?',
] as const;

const es8 = elasticsearchUrl();
const engines: Array<{ engine: SearchEngine; url: () => string }> = [
  { engine: 'opensearch', url: () => stackInfo().search.url },
  ...(es8 ? [{ engine: 'elasticsearch' as const, url: () => es8 }] : []),
];

describe('history loads with query-language filters: loaded = engine = evaluator', () => {
  const info = stackInfo();
  const env = testNamespace('ixq');
  const events = makeEvents();
  const s3 = s3Of(info);

  beforeAll(async () => {
    await produce(info, env, recordsOf(events), 2);
    const c = startCompressor(info, env);
    try {
      await c.ready;
      await waitFor(`all ${events.length} events archived`, async () => (await manifests(s3, env)).reduce((n, x) => n + x.m.count, 0) === events.length, 150_000);
    } finally {
      c.child.kill('SIGTERM');
      await exited(c.child);
    }
  }, 240_000);

  afterAll(() => s3.close());

  describe.each(engines)('$engine', ({ engine, url }) => {
    let ix: IndexerProc;
    let search: SearchPort;
    const catalogue = logsCatalogue(engine);
    const recent = `logs-${env}-recent-2026.11.23`;
    const loaded = new Map<string, string[]>();

    const idsOf = async (index: string): Promise<string[]> => {
      await search.refresh(index);
      const out: string[] = [];
      for (let after: unknown[] | undefined; ;) {
        const r = await search.search<{ event: { id: string } }>({ index, size: 5000, sort: [{ 'event.id': 'asc' }], source: ['event.id'], ...(after ? { searchAfter: after } : {}) });
        if (!r.hits.length) return out;
        out.push(...r.hits.map((h) => h.source.event.id));
        after = r.hits[r.hits.length - 1]?.sort;
      }
    };
    const engineIds = async (filter: string): Promise<string[]> => {
      const { request } = translateQuery(`${filter} | limit 10000`, catalogue, engine);
      const r = await search.search({ ...request, index: recent, source: false });
      return r.hits.map((h) => h.id).sort();
    };
    const memoryIds = (filter: string) =>
      events
        .filter(compileFilter(filter, catalogue))
        .map((e) => e.event.id)
        .sort();
    const load = async (k: number, filter: unknown): Promise<{ index: string; body: Record<string, unknown> }> => {
      const r = await ix.call('POST', '/v1/history', { env, start: new Date(START).toISOString(), end: END_S + k, filter });
      expect(r.status, JSON.stringify(r.body)).toBe(202);
      return { index: r.body.index as string, body: r.body };
    };

    beforeAll(async () => {
      // Its own job keys per engine, so that the two indexers never see each other's jobs.
      // Every filter loads at once (below): room for all of them, above the default cap of concurrent loads.
      ix = await startIndexer({ ...info, search: { ...info.search, url: url(), engine } }, env, {
        BACKLOG_INDEXER_STATE_KEY_PREFIX: `${env}:indexer-${engine}:`,
        BACKLOG_INDEXER_LOAD_MAX_CONCURRENT_JOBS: String(FILTERS.length + 2),
      });
      search = await createSearch({ node: url() });
      expect(search.engine).toBe(engine);
      // The indexer installed the logs-* template for logs-<env>-*: this index gets the history indices' mappings.
      const r = await search.bulk(
        events.map((doc) => ({ op: 'create' as const, index: recent, id: doc.event.id, doc })),
        { refresh: true },
      );
      expect(r.failed).toBe(0);
      // Every filter loads at once, each into its own index ([START, END + k s) holds the same events).
      const started = await Promise.all(FILTERS.map((f, k) => load(k, f)));
      for (const [k, s] of started.entries()) {
        const f = FILTERS[k] as string;
        expect(s.index).toBe(historyIndexName(env, START / 1000, END_S + k));
        expect(s.body.filter).toBe(archiveFilter(f, catalogue).text);
      }
      for (const [k, s] of started.entries()) {
        const done = await untilFinished(ix, s.index, 180_000);
        expect(done.status, JSON.stringify(done)).toBe('done');
        loaded.set(FILTERS[k] as string, (await idsOf(s.index)).sort());
      }
    }, 420_000);

    afterAll(async () => {
      await ix?.stop();
      if (!search) return;
      await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
      await search.deleteIndexTemplate(`backlog-logs-${env}`).catch(() => undefined);
      await search.close();
    });

    it.each(FILTERS)('%s', async (f) => {
      const inMemory = memoryIds(f);
      expect(inMemory.length, 'the filter splits the events').toBeGreaterThan(0);
      expect(inMemory.length, 'the filter splits the events').toBeLessThan(events.length);
      expect(loaded.get(f), 'loaded by the indexer').toEqual(inMemory);
      expect(await engineIds(f), 'answered by the engine').toEqual(inMemory);
    });

    it('the older object form: translated once, the same three answers', async () => {
      const legacy = { host: ['web-2', 'web-1'], level: ['ERROR', 'warn'], message: ['TIMED OUT'] };
      const text = legacyFilterText(legacy);
      expect(text).toBe('host.name:(web-1 OR web-2) AND log.level:(error OR warn) AND message:"timed out"');
      const { index, body } = await load(40, legacy);
      expect(body.filter).toBe('(host.name:web-1 OR host.name:web-2) AND (log.level:error OR log.level:warn) AND message:"timed out"');
      expect((await untilFinished(ix, index)).status).toBe('done');
      const want = memoryIds(text);
      expect(want.length).toBeGreaterThan(0);
      expect((await idsOf(index)).sort()).toEqual(want);
      expect(await engineIds(text)).toEqual(want);
      // The same range asked again with the same filter in other words (short names, another order): the same index.
      const same = await ix.call('POST', '/v1/history', { env, start: new Date(START).toISOString(), end: END_S + 40, filter: 'message:"timed out" level:(warn OR error) host:(web-2 OR web-1)' });
      expect(same.status, JSON.stringify(same.body)).toBe(202);
      expect(same.body.index).toBe(index);
      expect(same.body.filter).toBe(body.filter);
      // Another filter for the same range: 409, the index would not be what was asked for.
      const other = await ix.call('POST', '/v1/history', { env, start: new Date(START).toISOString(), end: END_S + 40, filter: 'level:error' });
      expect(other.status).toBe(409);
      expect(other.body.message).toMatch(/drop it first/);
    });

    it('a filter that does not parse or check: 400 with the reason, its column and hint; never 500', async () => {
      const bad = async (filter: unknown) => {
        const r = await ix.call('POST', '/v1/history', { env, start: new Date(START).toISOString(), end: END_S + 50, filter });
        expect(r.status, JSON.stringify(r.body)).toBe(400);
        return r.body as { reasons: string[]; filter?: { code: string; column: number; hint?: string } };
      };
      const pipe = await bad('level:error | stats count() by service');
      expect(pipe.reasons[0]).toMatch(/^filter: a filter takes no \| stats command here \(column 15\)/);
      expect(pipe.filter).toMatchObject({ code: 'COMMAND_CONFLICT', column: 15 });
      expect(pipe.filter?.hint).toBeTruthy();
      expect((await bad('level:error AND sevice:api')).filter).toMatchObject({ code: 'FIELD_UNKNOWN', column: 17 });
      expect((await bad('host:(web-1 OR')).filter?.code).toBe('UNEXPECTED_END');
      expect((await bad('fields.status>=500')).filter?.code).toBe('FIELD_TYPE');
      expect((await bad('@timestamp>=now-1h')).filter).toMatchObject({ code: 'TIME_INVALID', column: 13 });
      expect((await bad({ region: 'eu' })).reasons.join('\n')).toMatch(/filter/);
      expect((await ix.call('GET', `/v1/history/${historyIndexName(env, START / 1000, END_S + 50)}`)).status).toBe(404);
    });
  });

  it('the CLI: a query-language --filter (and one starting with a dash), the canonical text in the job and in history list', async () => {
    const end = END_S + 60;
    const res = await runHistory(info, env, ['load', `--env=${env}`, `--from=${new Date(START).toISOString()}`, `--to=${end}`, '--filter=-level:info', '--filter=host:web-* OR NOT host:*']);
    expect(res.code, res.stderr).toBe(0);
    const index = historyIndexName(env, START / 1000, end);
    expect(res.stdout.split('\n')[0]).toBe(index);
    const search = await createSearch({ node: info.search.url });
    try {
      await search.refresh(index);
      const got: string[] = [];
      for (let after: unknown[] | undefined; ;) {
        const r = await search.search<{ event: { id: string } }>({ index, size: 5000, sort: [{ 'event.id': 'asc' }], source: ['event.id'], ...(after ? { searchAfter: after } : {}) });
        if (!r.hits.length) break;
        got.push(...r.hits.map((h) => h.source.event.id));
        after = r.hits[r.hits.length - 1]?.sort;
      }
      const text = '(-level:info) AND (host:web-* OR NOT host:*)';
      const want = events
        .filter(compileFilter(text, logsCatalogue('opensearch')))
        .map((e) => e.event.id)
        .sort();
      expect(want.length).toBeGreaterThan(0);
      expect(got.sort()).toEqual(want);
      const list = await runHistory(info, env, ['list', `--env=${env}`, '--json']);
      const job = list.stdout
        .trim()
        .split('\n')
        .map((l) => JSON.parse(l) as { index: string; filter: string })
        .find((j) => j.index === index);
      expect(job?.filter).toBe('NOT level:info AND (host:web-* OR NOT host:*)');
      // --dry-run with a filter: the manifests' counts (before the filter), and parts whose manifests hold
      // no wanted host are skipped without being read.
      const dry = await runHistory(info, env, [
        'load',
        `--env=${env}`,
        `--from=${new Date(START).toISOString()}`,
        `--to=${end + 2}`,
        '--dry-run',
        '--filter=host:nosuch-* OR (host:web-1 AND level:nosuch)',
      ]);
      expect(dry.code, dry.stderr).toBe(0);
      const plan = JSON.parse(dry.stdout.trim().split('\n')[1] as string) as { parts: unknown[]; skippedByFilter: number; events: number; filter: string; eventsBeforeFilter: boolean };
      expect(plan).toMatchObject({ parts: [], events: 0, filter: 'host:nosuch-* OR (host:web-1 AND level:nosuch)', eventsBeforeFilter: true });
      expect(plan.skippedByFilter).toBe((await manifests(s3, env)).length);
      const dryAll = await runHistory(info, env, ['load', `--env=${env}`, `--from=${new Date(START).toISOString()}`, `--to=${end + 2}`, '--dry-run', '--filter=message:timeout']);
      const planAll = JSON.parse(dryAll.stdout.trim().split('\n')[1] as string) as { skippedByFilter: number; events: number };
      expect(planAll).toMatchObject({ skippedByFilter: 0, events: events.length });
      expect((await search.listIndices(historyIndexName(env, START / 1000, end + 2))).length).toBe(0);
      const bad = await runHistory(info, env, ['load', `--env=${env}`, `--from=${new Date(START).toISOString()}`, `--to=${end + 1}`, '--filter=level:error | top 5 host']);
      expect(bad.code).toBe(64);
      expect(bad.stderr).toContain('level:error | top 5 host\n              ^^^^^^^^^^ a filter takes no | top command here');
    } finally {
      await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
      await search.close();
    }
  }, 180_000);
});
