// The indexer against the real Kafka, S3 server, search engine and Redis, on parts written by the real
// compressor, every indexer a real child process:
//   one hour loaded → the index holds exactly that hour's events (0 lost, 0 duplicated);
//   the same load asked of two indexers at once → each part loaded once; kill -9 mid-load + restart → exact;
//   filters → exactly the matching events; a window not yet in S3 → read from c-<env>;
//   a short TTL → deleted by the reaper, also after Redis lost the job; a corrupt part → partial, others loaded;
//   API hygiene (400 reasons, 401, 404, OpenAPI) and the CLI (--dry-run, progress as JSON lines).
// The loads run against the stack's OpenSearch; one range is also loaded into its Elasticsearch 8 node
// (ADR 0017), by an indexer pointed there, from the same archive.
import { historyIndexName, windowId, windowOf } from '@backlog/core-codec';
import { generateToken } from '@backlog/platform-config';
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { createSearch, type SearchPort } from '@backlog/adapter-search';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type IndexerProc, type SourceEvent, archiveFixture, exited, manifests, redisOf, runHistory, s3Of, searchOf, startIndexer, untilFinished, waitFor } from './helpers';

const START = Date.parse('2026-11-22T10:00:00Z');
const MIN = 60_000;
const iso = (ms: number) => new Date(ms).toISOString();

describe('indexer: history loads', () => {
  const info = stackInfo();
  const env = testNamespace('ix');
  let events: SourceEvent[];
  let search: SearchPort;
  const s3 = s3Of(info);
  const procs: IndexerProc[] = [];
  const inRange = (from: number, to: number) => events.filter((e) => e.ts >= from && e.ts < to);
  const partsBy = async (index: string): Promise<Record<string, string>> => {
    const redis = redisOf(info, env);
    try {
      const raw = await redis.hGetAll(`parts:${index}`);
      return Object.fromEntries(Object.entries(raw).map(([k, v]) => [k, (JSON.parse(v) as { by: string }).by]));
    } finally {
      await redis.quit();
    }
  };
  const count = async (index: string) => {
    await search.refresh(index);
    return search.count(index);
  };
  const ids = async (index: string): Promise<string[]> => {
    await search.refresh(index);
    const out: string[] = [];
    let after: unknown[] | undefined;
    for (;;) {
      const r = await search.search<{ event: { id: string } }>({ index, size: 5000, sort: [{ 'event.id': 'asc' }], source: ['event.id'], ...(after ? { searchAfter: after } : {}) });
      if (!r.hits.length) return out;
      for (const h of r.hits) out.push(h.source.event.id);
      after = r.hits[r.hits.length - 1]?.sort;
    }
  };

  beforeAll(async () => {
    search = await searchOf(info);
    // 70 minutes, 3 hosts, 100 events per 30-s batch: 42,000 events in 15 windows × 2 partitions.
    events = await archiveFixture(info, env, { start: START, minutes: 70, hosts: 3, perBatch: 100 });
    procs.push(await startIndexer(info, env));
  }, 240_000);

  afterAll(async () => {
    for (const p of procs) await p.stop();
    await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
    await search.deleteIndexTemplate(`backlog-logs-${env}`).catch(() => undefined);
    await search.close();
    s3.close();
  });

  it('loads one hour: the index holds exactly the events of that hour, the name comes back at once', async () => {
    const ix = procs[0] as IndexerProc;
    const from = START;
    const to = START + 60 * MIN;
    const r = await ix.call('POST', '/v1/history', { env, start: iso(from), end: iso(to) });
    expect(r.status).toBe(202);
    const index = historyIndexName(env, from / 1000, to / 1000);
    expect(r.body.index).toBe(index);
    expect(['queued', 'loading']).toContain(r.body.status);
    expect(Date.parse(r.body.expiresAt as string)).toBeGreaterThan(Date.now() + 23 * 3_600_000);
    const done = await untilFinished(ix, index);
    expect(done.status).toBe('done');
    const want = inRange(from, to);
    expect(await count(index)).toBe(want.length);
    expect(new Set(await ids(index))).toEqual(new Set(want.map((e) => e.id)));
    const p = done.progress as { events: { read: number; indexed: number; already: number }; parts: { total: number; done: number } };
    expect(p.events.read).toBe(want.length);
    expect(p.events.indexed).toBe(want.length);
    expect(p.parts.done).toBe(p.parts.total);
    // The index got the logs-* mappings and its expiry in _meta.
    const meta = await search.getIndexMeta(index);
    expect((meta.history as { expiresAt: number }).expiresAt).toBe(Date.parse(done.expiresAt as string));
    // The same request: same index, later expiry, nothing loaded again.
    const again = await ix.call('POST', '/v1/history', { env, start: iso(from), end: iso(to) });
    expect(again.body.index).toBe(index);
    const again2 = await untilFinished(ix, index);
    expect(Date.parse(again2.expiresAt as string)).toBeGreaterThanOrEqual(Date.parse(done.expiresAt as string));
    expect((again2.progress as { events: { already: number } }).events.already).toBe(0);
    expect(await count(index)).toBe(want.length);
  }, 180_000);

  const es8 = elasticsearchUrl();
  it.skipIf(!es8)(
    'loads into Elasticsearch 8: exactly the events of the range, under the logs-* template, with its expiry in _meta',
    async () => {
      // Its own job keys, so that this indexer neither sees nor resumes the OpenSearch loads of this file.
      const ix = await startIndexer({ ...info, search: { url: es8 as string, engine: 'elasticsearch' } }, env, { BACKLOG_INDEXER_STATE_KEY_PREFIX: `${env}:indexer-es8:` });
      procs.push(ix);
      const es = await createSearch({ node: es8 as string });
      try {
        // 20 minutes (~12,000 events in 4 windows): the engine is what differs from the OpenSearch loads above.
        const from = START + 10 * MIN;
        const to = START + 30 * MIN;
        const r = await ix.call('POST', '/v1/history', { env, start: iso(from), end: iso(to) });
        expect(r.status).toBe(202);
        const index = historyIndexName(env, from / 1000, to / 1000);
        expect(r.body.index).toBe(index);
        const done = await untilFinished(ix, index);
        expect(done.status).toBe('done');
        const want = inRange(from, to);
        await es.refresh(index);
        expect(await es.count(index)).toBe(want.length);
        const got: string[] = [];
        for (let after: unknown[] | undefined; ;) {
          const page = await es.search<{ event: { id: string } }>({ index, size: 5000, sort: [{ 'event.id': 'asc' }], source: ['event.id'], ...(after ? { searchAfter: after } : {}) });
          if (!page.hits.length) break;
          got.push(...page.hits.map((h) => h.source.event.id));
          after = page.hits[page.hits.length - 1]?.sort;
        }
        expect(got.length).toBe(want.length);
        expect(new Set(got)).toEqual(new Set(want.map((e) => e.id)));
        const meta = await es.getIndexMeta(index);
        expect((meta.history as { expiresAt: number }).expiresAt).toBe(Date.parse(done.expiresAt as string));
        // The Elasticsearch side of the template: free-form fields are `flattened`.
        const mapping = (await (await fetch(`${es8}/${index}/_mapping`)).json()) as Record<string, { mappings: { properties: Record<string, { type?: string }> } }>;
        expect(mapping[index]?.mappings.properties.fields?.type).toBe('flattened');
      } finally {
        await ix.stop();
        await es.deleteIndices(`logs-${env}-*`).catch(() => undefined);
        await es.deleteIndexTemplate(`backlog-logs-${env}`).catch(() => undefined);
        await es.close();
      }
    },
    180_000,
  );

  it('the same load asked of two indexers at once: one index, every part loaded once', async () => {
    // Production leases (30 s): with leases that hold, no part may be loaded by both.
    const lease = { BACKLOG_INDEXER_LOAD_LEASE_MS: '30000', BACKLOG_INDEXER_HISTORY_REAPER: 'false' };
    const [first, second] = await Promise.all([startIndexer(info, env, lease), startIndexer(info, env, lease)]);
    const from = START + 5 * MIN + 17_000;
    const to = START + 55 * MIN;
    const body = { env, start: iso(from), end: iso(to) };
    const [a, b] = await Promise.all([first.call('POST', '/v1/history', body), second.call('POST', '/v1/history', body)]);
    expect(a.status).toBe(202);
    expect(b.body.index).toBe(a.body.index);
    const index = a.body.index as string;
    const done = await untilFinished(second, index);
    expect(done.status).toBe('done');
    const want = inRange(Math.floor(from / 1000) * 1000, to);
    expect(await count(index)).toBe(want.length);
    const ev = (done.progress as { events: { indexed: number; already: number } }).events;
    // A part loaded twice would show up as 409s (already) on the second pass.
    expect(ev.indexed).toBe(want.length);
    expect(ev.already).toBe(0);
    // Several processes did work (the file-wide indexer resumes unfinished jobs too), none loaded a part twice.
    const by = new Set(Object.values(await partsBy(index)));
    expect(by.size).toBeGreaterThanOrEqual(2);
    await Promise.all([first.stop(), second.stop()]);
  }, 180_000);

  it('filters: exactly the matching events (CLI, --filter), progress as JSON lines', async () => {
    const from = START;
    const to = START + 70 * MIN;
    const res = await runHistory(info, env, [
      'load',
      '--env',
      env,
      '--from',
      iso(from),
      '--to',
      String(to / 1000),
      '--filter',
      'host=web-0,web-2',
      '--filter',
      'level=ERROR',
      '--filter',
      'service=sshd',
    ]);
    expect(res.code).toBe(0);
    const lines = res.stdout.trim().split('\n');
    const index = historyIndexName(env, from / 1000, to / 1000);
    expect(lines[0]).toBe(index);
    const last = JSON.parse(lines[lines.length - 1] as string) as { done: boolean; status: string };
    expect(last).toMatchObject({ done: true, status: 'done' });
    expect(lines.slice(1, -1).every((l) => 'parts' in (JSON.parse(l) as object))).toBe(true);
    const want = events.filter((e) => (e.host === 'web-0' || e.host === 'web-2') && e.level === 'error' && e.service === 'sshd');
    expect(want.length).toBeGreaterThan(100);
    expect((await ids(index)).sort()).toEqual(want.map((e) => e.id).sort());

    // A message filter on another range (another index).
    const to2 = START + 30 * MIN;
    const res2 = await runHistory(info, env, ['load', '--env', env, '--from', iso(from), '--to', iso(to2), '--filter', 'message~SERVED IN 74 ms']);
    expect(res2.code).toBe(0);
    const want2 = inRange(from, to2).filter((e) => e.message.toLowerCase().includes('served in 74 ms'));
    expect(want2.length).toBeGreaterThan(0);
    expect((await ids(historyIndexName(env, from / 1000, to2 / 1000))).sort()).toEqual(want2.map((e) => e.id).sort());
    // Same range with another filter: refused (the index would not be what was asked for).
    const clash = await runHistory(info, env, ['load', '--env', env, '--from', iso(from), '--to', iso(to2), '--filter', 'host=web-1']);
    expect(clash.code).toBe(1);
    expect(clash.stderr).toMatch(/drop it first/);
  }, 180_000);

  it('--dry-run prints the plan: parts, compressed bytes, events from the manifests, an estimate; loads nothing', async () => {
    const from = START + 10 * MIN;
    const to = START + 20 * MIN;
    const res = await runHistory(info, env, ['load', '--env', env, '--from', iso(from), '--to', iso(to), '--dry-run']);
    expect(res.code).toBe(0);
    const [name, json] = res.stdout.trim().split('\n');
    expect(name).toBe(historyIndexName(env, from / 1000, to / 1000));
    const plan = JSON.parse(json as string) as { parts: { source: string; events: number; bytes: number }[]; compressedBytes: number; events: number; estimatedSeconds: number; windows: number };
    const ms = (await manifests(s3, env)).filter((x) => x.m.windowStart >= from && x.m.windowEnd <= to);
    expect(plan.windows).toBe(2);
    expect(plan.parts.length).toBe(ms.length);
    expect(plan.events).toBe(ms.reduce((n, x) => n + x.m.count, 0));
    expect(plan.compressedBytes).toBe(ms.reduce((n, x) => n + x.m.compressedBytes, 0));
    expect(plan.estimatedSeconds).toBeGreaterThanOrEqual(1);
    expect((await search.listIndices(name as string)).length).toBe(0);
  }, 60_000);

  it('a window not in S3 yet is read from c-<env>', async () => {
    const w = windowOf(START + 50 * MIN);
    const gone = (await manifests(s3, env)).filter((x) => x.m.window === windowId(w));
    expect(gone.length).toBeGreaterThan(0);
    for (const { key } of gone) {
      await s3.delete(key.replace(/\.json$/, '.log.bz2'));
      await s3.delete(key);
    }
    const from = START + 45 * MIN;
    const to = START + 60 * MIN;
    const ix = procs[0] as IndexerProc;
    const r = await ix.call('POST', '/v1/history', { env, start: iso(from), end: iso(to) });
    const done = await untilFinished(ix, r.body.index as string);
    expect(done.status).toBe('done');
    expect(done.windowsWithoutParts).toEqual([]);
    expect(await count(r.body.index as string)).toBe(inRange(from, to).length);
    const plan = await runHistory(info, env, ['load', '--env', env, '--from', iso(from), '--to', iso(to), '--dry-run']);
    const parts = (JSON.parse(plan.stdout.trim().split('\n')[1] as string) as { parts: { source: string; window: string }[] }).parts;
    expect(parts.filter((p) => p.source === 'kafka').map((p) => p.window)).toEqual(gone.map(() => windowId(w)));
  }, 120_000);

  it('kill -9 mid-load, then a restarted indexer resumes: exact count', async () => {
    const slow = { BACKLOG_INDEXER_LOAD_PART_CONCURRENCY: '1', BACKLOG_INDEXER_LOAD_BULK_DOCS: '100', BACKLOG_INDEXER_LOAD_BULK_CONCURRENCY: '1' };
    const first = await startIndexer(info, env, slow);
    const from = START + 1_000;
    const to = START + 70 * MIN;
    const r = await first.call('POST', '/v1/history', { env, start: iso(from), end: iso(to) });
    const index = r.body.index as string;
    const mid = await waitFor(
      'some parts loaded',
      async () => {
        const g = await first.call('GET', `/v1/history/${index}`);
        const p = (g.body.progress as { parts: { done: number; total: number } } | undefined)?.parts;
        return p && p.done >= 2 ? p : undefined;
      },
      120_000,
      50,
    );
    first.child.kill('SIGKILL');
    await exited(first.child);
    expect(mid.done).toBeLessThan(mid.total);
    const second = await startIndexer(info, env);
    try {
      const done = await untilFinished(second, index, 180_000);
      expect(done.status).toBe('done');
      const want = inRange(from, to);
      expect(await count(index)).toBe(want.length);
      expect(new Set(await ids(index))).toEqual(new Set(want.map((e) => e.id)));
    } finally {
      await second.stop();
    }
  }, 360_000);

  it('a short TTL: the reaper deletes the index; after Redis lost the job it rebuilds it from _meta', async () => {
    const ix = procs[0] as IndexerProc;
    const from = START + 20 * MIN;
    const to = START + 25 * MIN;
    const r = await ix.call('POST', '/v1/history', { env, start: iso(from), end: iso(to), ttlHours: 600 });
    const index = r.body.index as string;
    expect((await untilFinished(ix, index)).status).toBe('done');
    // Redis loses the job: the reaper rebuilds it from the index _meta (same expiry).
    const redis = redisOf(info, env);
    try {
      await redis.del(`job:${index}`, `plan:${index}`, `parts:${index}`);
      await redis.sRem(`${env}:history`, index);
      expect((await ix.call('GET', `/v1/history/${index}`)).status).toBe(404);
      const back = await waitFor(
        'job rebuilt from _meta',
        async () => {
          const g = await ix.call('GET', `/v1/history/${index}`);
          return g.status === 200 ? g.body : undefined;
        },
        20_000,
        200,
      );
      expect(back.restored).toBe(true);
      expect(back.expiresAt).toBe(r.body.expiresAt);
    } finally {
      await redis.quit();
    }
    // extend to ~2 s: the reaper deletes it.
    const ext = await ix.call('POST', `/v1/history/${index}/extend`, { hours: 2 / 3600 });
    expect(ext.status).toBe(200);
    await waitFor('index deleted by the reaper', async () => (await search.listIndices(index)).length === 0, 30_000, 250);
    expect((await ix.call('GET', `/v1/history/${index}`)).status).toBe(404);
  }, 90_000);

  it('a part whose sha256 does not match: reported, the other parts loaded, status partial', async () => {
    const from = START + 30 * MIN;
    const to = START + 40 * MIN;
    const ms = (await manifests(s3, env)).filter((x) => x.m.windowStart >= from && x.m.windowEnd <= to);
    const bad = ms[0] as (typeof ms)[number];
    const key = bad.key.replace(/\.json$/, '.log.bz2');
    const obj = Buffer.from(await s3.get(key));
    const at = Math.floor(obj.length / 2);
    obj[at] = (obj[at] as number) ^ 0xff;
    await s3.put(key, obj);
    const ix = procs[0] as IndexerProc;
    const r = await ix.call('POST', '/v1/history', { env, start: iso(from), end: iso(to) });
    const done = await untilFinished(ix, r.body.index as string);
    expect(done.status).toBe('partial');
    const failures = done.failures as { key: string; code: string; reason: string }[];
    expect(failures).toHaveLength(1);
    expect(failures[0]).toMatchObject({ key, code: 'SHA256_MISMATCH' });
    expect(failures[0]?.reason).toMatch(/sha256/);
    expect(await count(r.body.index as string)).toBe(inRange(from, to).length - bad.m.count);
  }, 90_000);

  it('API hygiene: 400 with reasons, 404, bearer token, OpenAPI', async () => {
    // A real random token: placeholders and made-up values are refused at start (platform-config tokens).
    const token = generateToken();
    const ix = await startIndexer(info, env, { BACKLOG_INDEXER_API_TOKEN: token, BACKLOG_INDEXER_API_MAX_RANGE_HOURS: '2', BACKLOG_INDEXER_HISTORY_REAPER: 'false' });
    try {
      expect((await ix.call('GET', '/v1/history')).status).toBe(401);
      expect((await ix.call('GET', '/v1/history', undefined, 'wrong-token-0123456789')).status).toBe(401);
      expect((await ix.call('GET', '/v1/history', undefined, token)).status).toBe(200);
      const bad = await ix.call('POST', '/v1/history', { env: 'nosuchenv', start: iso(START + 10 * MIN), end: iso(START) }, token);
      expect(bad.status).toBe(400);
      expect((bad.body.reasons as string[]).join('\n')).toMatch(/unknown env "nosuchenv"[\s\S]*must be after start|must be after start[\s\S]*unknown env/);
      const long = await ix.call('POST', '/v1/history', { env, start: iso(START), end: iso(START + 3 * 3_600_000) }, token);
      expect(long.status).toBe(400);
      expect(long.body.message).toMatch(/over the maximum of 2 h/);
      expect((await ix.call('POST', '/v1/history', { env, start: iso(START), end: iso(START + MIN), colour: 'red' }, token)).status).toBe(400);
      expect((await ix.call('GET', `/v1/history/logs-${env}-history-1-2`, undefined, token)).status).toBe(404);
      expect((await ix.call('DELETE', `/v1/history/logs-${env}-history-1-2`, undefined, token)).status).toBe(404);
      const doc = await ix.call('GET', '/openapi.json');
      expect(doc.status).toBe(200);
      expect(Object.keys(doc.body.paths as object)).toEqual(expect.arrayContaining(['/v1/history', '/v1/history/{index}']));
      // DELETE drops the index and its job.
      const one = await ix.call('POST', '/v1/history', { env, start: iso(START), end: iso(START + 5 * MIN) }, token);
      await waitFor('loaded', async () => (await ix.call('GET', `/v1/history/${one.body.index as string}`, undefined, token)).body.status === 'done', 60_000, 250);
      const del = await ix.call('DELETE', `/v1/history/${one.body.index as string}`, undefined, token);
      expect(del.status).toBe(200);
      expect((await search.listIndices(one.body.index as string)).length).toBe(0);
      expect((await ix.call('GET', `/v1/history/${one.body.index as string}`, undefined, token)).status).toBe(404);
    } finally {
      await ix.stop();
    }
  }, 90_000);
});
