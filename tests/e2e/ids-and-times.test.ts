// Issue 17 §4 through the real pipeline (ADR 0015), every app a real process against the real stack:
//
//   curl from 127.0.0.1 and from 127.0.0.2 ─► harvester (http) ─► h-<env> ─► es-consumer ─► logs-<env>-recent-*
//                                                                      └──► compressor ─► S3 parts
//   `backlog history load` ─► indexer ─► logs-<env>-history-…
//
// Two senders name the same event.id: both events are stored, in the recent index and in a history load,
// and a retry of one of them is still one document. An event dated 9999-12-31 is indexed in today's
// index with the claimed time kept and flagged, and a future-dated recent index that already existed is
// pruned: no index dated after tomorrow is left.
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '@backlog/adapter-kafka';
import { createS3, partStoreOf, type S3Port } from '@backlog/adapter-s3';
import { WINDOW_SECONDS, compressedTopic, harvestTopic, listArchiveParts, windowOf } from '@backlog/core-codec';
import { stackInfo, testNamespace, type StackInfo } from '@backlog/testing';
import { type App, ROOT, freePort, run, searchAll, stackEnv, startApp, stopApp, waitFor } from './helpers';

const env = testNamespace('ids');
const TAG = `ids${Date.now().toString(36)}`;
const WINDOW_MS = WINDOW_SECONDS * 1000;
// 10 s into a window of an hour ago: the compressor seals it as soon as its partition is idle.
const T0 = windowOf(Date.now() - 3_600_000) * WINDOW_MS + 10_000;
const PRE_EXISTING = `logs-${env}-recent-9999.12.30`;
let info: StackInfo;
let s3: S3Port;
let dir: string;
const apps: App[] = [];
const ports: Record<string, number> = {};
const day = (ms: number) => new Date(ms).toISOString().slice(0, 10).replace(/-/g, '.');

beforeAll(async () => {
  info = stackInfo();
  s3 = createS3({ endpoint: info.s3.endpoint, region: info.s3.region, bucket: info.s3.bucket, accessKeyId: info.s3.accessKeyId, secretAccessKey: info.s3.secretAccessKey, forcePathStyle: true });
  dir = mkdtempSync(join(tmpdir(), 'backlog-ids-'));
  for (const k of ['harvester', 'http', 'es', 'compressor', 'indexer', 'indexerApi']) ports[k] = await freePort();
  // A recent index an older version made from a bogus time: the es-consumer's pruning (at start) must delete it.
  const put = await fetch(`${info.search.url}/${PRE_EXISTING}`, { method: 'PUT' });
  expect(put.status, await put.text()).toBe(200);
  const base = stackEnv(info, env);
  const start = (name: string, entry: string, healthPort: number, extra: Record<string, string>) => startApp(name, entry, { ...base, ...extra }, healthPort).then((a) => (apps.push(a), a));
  await start('es-consumer', 'apps/es-consumer/src/main.ts', ports.es as number, {
    BACKLOG_ES_CONSUMER_TEMPLATE_NAME: `backlog-logs-${env}`,
    BACKLOG_ES_CONSUMER_TEMPLATE_PATTERNS: `logs-${env}-*`,
    BACKLOG_ES_CONSUMER_TEMPLATE_PRIORITY: '440',
    BACKLOG_ES_CONSUMER_METRICS_PORT: String(ports.es),
  });
  await start('compressor', 'apps/compressor/src/main.ts', ports.compressor as number, {
    BACKLOG_COMPRESSOR_METRICS_PORT: String(ports.compressor),
    BACKLOG_COMPRESSOR_GRACE_SECONDS: '0',
    BACKLOG_COMPRESSOR_IDLE_SECONDS: '1',
    BACKLOG_COMPRESSOR_COMMIT_INTERVAL_MS: '200',
  });
  await start('harvester', 'apps/harvester/src/main.ts', ports.harvester as number, {
    BACKLOG_HARVESTER_METRICS_PORT: String(ports.harvester),
    BACKLOG_HARVESTER_STATE_DIR: join(dir, 'state'),
    BACKLOG_HARVESTER_SHIPPING_SPOOL_DIR: join(dir, 'spool'),
    BACKLOG_HARVESTER_SHIPPING_FLUSH_INTERVAL_MS: '500',
    BACKLOG_HARVESTER_HOST_NAME: 'ids-e2e',
    BACKLOG_HARVESTER_INPUTS: JSON.stringify([{ type: 'http', port: ports.http }]),
  });
}, 240_000);

afterAll(async () => {
  for (const a of [...apps].reverse()) await stopApp(a);
  rmSync(dir, { recursive: true, force: true });
  s3?.close();
  await fetch(`${info.search.url}/logs-${env}-*`, { method: 'DELETE' }).catch(() => undefined);
  await fetch(`${info.search.url}/_index_template/backlog-logs-${env}`, { method: 'DELETE' }).catch(() => undefined);
  const kafka = createKafka({ brokers: info.kafka.brokers, clientId: `ids-clean-${env}`, logLevel: 'nothing' });
  const admin = kafka.admin();
  await admin.connect().catch(() => undefined);
  await admin.deleteTopics([harvestTopic(env), compressedTopic(env)]).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
}, 120_000);

function appOutputs(): string {
  return apps.map((a) => `--- ${a.name} ---\n${a.output().slice(-3000)}`).join('\n');
}

/** POST one JSON event with curl, the real client, from `from` (a loopback address). */
async function post(body: Record<string, unknown>, from = '127.0.0.1'): Promise<void> {
  const r = await run('curl', [
    '-sS',
    '--interface',
    from,
    '-o',
    '/dev/null',
    '-w',
    '%{http_code}',
    '-H',
    'content-type: application/json',
    '--data-binary',
    JSON.stringify(body),
    `http://127.0.0.1:${ports.http}/logs`,
  ]);
  expect(r.stdout, r.stderr).toBe('202');
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  let sum = 0;
  for (const line of text.split('\n')) if (line.startsWith(name) && (line[name.length] === ' ' || line[name.length] === '{')) sum += Number(line.slice(line.lastIndexOf(' ') + 1));
  return sum;
}

const sourceId = `order-${TAG}`;
type Doc = Record<string, any>;

describe('ids a source names and times the pipeline cannot file, end to end (ADR 0015)', () => {
  let recent: Doc[] = [];

  it('two senders with the same event.id: both in the recent index; a retry stays one document', async () => {
    await post({ '@timestamp': new Date(T0).toISOString(), event: { id: sourceId }, message: `${TAG} from a` }, '127.0.0.1');
    await post({ '@timestamp': new Date(T0 + 1000).toISOString(), event: { id: sourceId }, message: `${TAG} from b` }, '127.0.0.2');
    // The first sender retries (its answer was lost, say): same id, same namespace.
    await post({ '@timestamp': new Date(T0).toISOString(), event: { id: sourceId }, message: `${TAG} from a` }, '127.0.0.1');
    await post({ '@timestamp': '9999-12-31T23:59:59Z', message: `${TAG} far future` }, '127.0.0.1');

    // All four events settled (created, or already there: a 409).
    const settled = async () => (await metric(ports.es as number, 'es_consumer_indexed_events_total')) + (await metric(ports.es as number, 'es_consumer_already_indexed_events_total'));
    await waitFor('the four events settled', async () => (await settled()) >= 4, 90_000, 500).catch((e: Error) => {
      throw new Error(`${e.message}\n${appOutputs()}`);
    });
    await fetch(`${info.search.url}/logs-${env}-recent-*/_refresh`, { method: 'POST' });
    const sent = { match_phrase: { message: `${TAG} from` } };
    recent = await searchAll(info.search.url, `logs-${env}-recent-*`, sent);
    expect(recent.map((d) => d.message).sort()).toEqual([`${TAG} from a`, `${TAG} from b`]);
    const ids = recent.map((d) => d.event.id as string);
    expect(new Set(ids).size).toBe(2);
    expect(ids).not.toContain(sourceId);
    for (const d of recent) expect(d.labels).toMatchObject({ env, input: 'http', source_event_id: sourceId });
    // The retry was the one 409.
    expect(await metric(ports.es as number, 'es_consumer_already_indexed_events_total')).toBe(1);
  }, 120_000);

  it("9999-12-31 is indexed in today's index with the claimed time kept and flagged; no index dated after tomorrow is left", async () => {
    const res = await fetch(`${info.search.url}/logs-${env}-recent-*/_search`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ query: { match_phrase: { message: `${TAG} far future` } } }),
    });
    const hits = ((await res.json()) as { hits: { hits: { _index: string; _source: Doc }[] } }).hits.hits;
    expect(hits).toHaveLength(1);
    const far = hits[0] as { _index: string; _source: Doc };
    const created = Date.parse(far._source.event.created);
    expect(far._index).toBe(`logs-${env}-recent-${day(created)}`);
    expect(far._source['@timestamp']).toBe(far._source.event.created);
    expect(far._source.labels).toMatchObject({ timestamp_original: '9999-12-31T23:59:59.000Z', timestamp_replaced: 'future' });
    const names = ((await (await fetch(`${info.search.url}/_cat/indices/logs-${env}-recent-*?format=json&h=index`)).json()) as { index: string }[]).map((i) => i.index);
    const tomorrow = day(Date.now() + 86_400_000);
    expect(
      names.filter((n) => n.slice(-10) > tomorrow),
      names.join(' '),
    ).toEqual([]);
    expect(names).not.toContain(PRE_EXISTING);
    expect(await metric(ports.es as number, 'es_consumer_pruned_indices_total{reason="future"}')).toBe(1);
  }, 60_000);

  it("a history load of that window holds both senders' events, the same documents as the recent index", async () => {
    const fromMs = windowOf(T0) * WINDOW_MS;
    const toMs = fromMs + WINDOW_MS;
    // Three lines archived: a, b and a's retry (the archive keeps what was sent; the load makes it one document).
    await waitFor(
      'the window archived',
      async () => {
        const listing = await listArchiveParts(partStoreOf(s3), env, fromMs, toMs);
        return listing.parts.reduce((n, p) => n + p.manifest.count, 0) >= 3 || undefined;
      },
      90_000,
      1000,
    ).catch((e: Error) => {
      throw new Error(`${e.message}\n${appOutputs()}`);
    });
    const [fromS, toS] = [fromMs / 1000, toMs / 1000];
    const res = await run(process.execPath, [join(ROOT, 'bin/backlog.mjs'), 'history', 'load', '--env', env, '--from', String(fromS), '--to', String(toS)], {
      env: {
        ...stackEnv(info, env),
        BACKLOG_INDEXER_METRICS_PORT: String(ports.indexer),
        BACKLOG_INDEXER_API_PORT: String(ports.indexerApi),
        BACKLOG_INDEXER_TEMPLATE_NAME: `backlog-logs-${env}`,
        BACKLOG_INDEXER_TEMPLATE_PATTERNS: `logs-${env}-*`,
        BACKLOG_INDEXER_TEMPLATE_PRIORITY: '440',
        BACKLOG_INDEXER_STATE_KEY_PREFIX: `backlog:${env}:indexer:`,
      },
      timeoutMs: 180_000,
    });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const index = `logs-${env}-history-${fromS.toString(36)}-${toS.toString(36)}`;
    await fetch(`${info.search.url}/${index}/_refresh`, { method: 'POST' });
    const history: Doc[] = await searchAll(info.search.url, index, { match_phrase: { message: `${TAG} from` } });
    expect(history.map((d) => d.message).sort()).toEqual([`${TAG} from a`, `${TAG} from b`]);
    const byId = new Map(recent.map((d) => [d.event.id as string, d]));
    for (const h of history) expect(h).toEqual(byId.get(h.event.id as string));
  }, 240_000);
});
