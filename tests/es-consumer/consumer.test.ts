// es-consumer against the real Kafka and each real search engine of the stack — OpenSearch 2.19 and
// Elasticsearch 8 (ADR 0017) — in process: the conflict corpus, 1,000 malformed batches, the template as
// the engine applied it, and pruning. Elasticsearch words its mapping errors differently
// (document_parsing_exception, a parser position before the field name): this is where that is proven.
import { gzipSync } from 'node:zlib';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch, harvestTopic } from '@backlog/core-codec';
import { elasticsearchUrl, stackInfo, testNamespace } from '@backlog/testing';
import { consumerOptions } from '../../apps/es-consumer/src/app';
import { EsConsumer } from '../../apps/es-consumer/src/consumer';
import { esConsumerMetrics } from '../../apps/es-consumer/src/metrics';
import { pruneRecent } from '../../apps/es-consumer/src/prune';
import { countIn, fullyCommitted, makeEvents, newMetrics, setupEnv, testConfig, testLogger, waitFor, type TestEnv } from './helpers';

const es8 = elasticsearchUrl();
const engines = [{ engine: 'OpenSearch', url: () => stackInfo().search.url, freeForm: 'flat_object' }, ...(es8 ? [{ engine: 'Elasticsearch 8', url: () => es8, freeForm: 'flattened' }] : [])];

describe.each(engines)('es-consumer (real Kafka + $engine)', ({ url, freeForm }) => {
  let t: TestEnv;
  let consumer: EsConsumer;
  let metrics: ReturnType<typeof esConsumerMetrics>;
  let registry: ReturnType<typeof newMetrics>;
  const newMetricsText = () => registry.metrics();
  const env = testNamespace('esc');

  beforeAll(async () => {
    const info = stackInfo();
    t = await setupEnv(env, info, 3, url());
    // A small decompression cap so that "oversized" batches fit under the broker's 1 MiB record limit.
    const cfg = testConfig(env, info, url(), { decode: { maxDecompressedBytes: 256 * 1024 }, bulk: { maxDocs: 500 } });
    registry = newMetrics();
    metrics = esConsumerMetrics(registry);
    consumer = new EsConsumer(t.kafka, t.search, metrics, testLogger, consumerOptions(cfg));
    await consumer.start();
  });

  afterAll(async () => {
    await consumer?.stop(Date.now() + 10_000);
    await t?.cleanup();
  });

  const recent = () => `logs-${env}-recent-*`;
  const dlq = () => `logs-${env}-dlq`;
  const group = () => `es-consumer-${env}`;

  it('indexes a conflict corpus: every document indexed (moved values flagged) or dead-lettered with its reason', async () => {
    const ts = new Date().toISOString();
    const shapes: unknown[] = [42, { a: 1, b: 'x' }, 'forty-two', [1, 2, 3], ['a', 'b'], [{ a: 1 }, { a: 'z' }], true, null, 4.5];
    const events: Record<string, unknown>[] = [];
    let n = 0;
    const id = () => `conf-${n++}`;
    for (const v of shapes) {
      // free-form `fields.*`: never a conflict (flat_object/flattened)
      events.push({ '@timestamp': ts, event: { id: id() }, message: 'fields', fields: { value: v, nested: { value: v } } });
      // an unknown top-level field: its first type wins, the others are moved and flagged
      events.push({ '@timestamp': ts, event: { id: id() }, message: 'custom', custom: { value: v } });
      // ECS-mapped fields with the wrong type
      events.push({ '@timestamp': ts, event: { id: id() }, message: 'ecs', host: v, log: { syslog: { priority: v } }, labels: { x: v } });
    }
    // Events that cannot be fixed by moving one field: dead-lettered with the reason.
    events.push({ '@timestamp': ts, event: { id: 'conf-toomany' }, message: 'too many fields', ...Object.fromEntries(Array.from({ length: 2100 }, (_, i) => [`k${i}`, i])) });
    const total = events.length;
    // One event per batch: each lands in its own bulk order, several partitions, so types race.
    for (const e of events) {
      const b = encodeBatch([e as never], { host: 'conflicts' });
      await t.producer.send(harvestTopic(env), [{ key: b.key, value: b.value, headers: { ...b.headers } }]);
    }
    await waitFor('conflict corpus settled', async () => (await fullyCommitted(t.kafka, group(), harvestTopic(env))) || undefined, 90_000).catch(async (e) => {
      console.error(await newMetricsText());
      throw e;
    });
    // Committed means indexed, not yet searchable: refresh (interval 1 s) before reading back.
    await t.search.refresh([recent(), dlq()]).catch(() => undefined);
    const indexed = await t.search.search<Record<string, unknown>>({ index: recent(), size: 500, query: { prefix: { 'event.id': 'conf-' } }, source: ['event.id', 'tags', 'backlog'] });
    const dead = await t.search.search<{ event: { id: string }; backlog: { dlq: { reason: string } } }>({ index: dlq(), size: 500, query: { prefix: { 'event.id': 'conf-' } } });
    expect(indexed.total.value + dead.total.value).toBe(total);
    const ids = new Set([...indexed.hits.map((h) => h.id), ...dead.hits.map((h) => h.source.event.id)]);
    expect(ids.size).toBe(total);
    // Flagged ones carry the moved value.
    const flagged = indexed.hits.filter((h) => (h.source.tags as string[] | undefined)?.includes('mapping_conflict'));
    expect(flagged.length).toBeGreaterThan(5);
    for (const h of flagged) expect((h.source.backlog as { conflicts: unknown[] }).conflicts.length).toBeGreaterThan(0);
    // Every fields.* variant went in untouched.
    const fieldsDocs = await t.search.count(recent(), { bool: { filter: [{ term: { message: 'fields' } }], must_not: [{ term: { tags: 'mapping_conflict' } }] } });
    expect(fieldsDocs).toBe(shapes.length);
    expect(dead.hits.map((h) => [h.source.event.id, h.source.backlog.dlq.reason])).toEqual([['conf-toomany', 'mapping']]);
    expect((await metrics.conflicted.get()).values[0]?.value).toBeGreaterThan(5);
  });

  it('dead-letters 1,000 malformed batches (bad gzip, bad JSON, oversized, not gzip) and keeps consuming', async () => {
    const before = await countIn(t.search, dlq());
    const recentBefore = await countIn(t.search, recent());
    const bomb = gzipSync(Buffer.alloc(512 * 1024, 0x20)); // 512 KiB of spaces > 256 KiB cap, ~600 bytes compressed
    const good = makeEvents('after-bad', 1000);
    const records: { key: string; value: Buffer; headers?: Record<string, string> }[] = [];
    let badLines = 0;
    for (let i = 0; i < 1000; i++) {
      const kind = i % 4;
      if (kind === 0)
        records.push({ key: `k${i}`, value: gzipSync(Buffer.from(`{"event":{"id":"x${i}"}}\n`)).subarray(0, 20) }); // truncated gzip
      else if (kind === 1) {
        records.push({ key: `k${i}`, value: gzipSync(Buffer.from(`{"broken": ${i}\n`)) }); // bad JSON, one line
        badLines++;
      } else if (kind === 2) records.push({ key: `k${i}`, value: bomb });
      else records.push({ key: `k${i}`, value: Buffer.from(`plain text batch ${i}`) });
      // Good batches in between: consumption must carry on around the bad ones.
      if (i % 100 === 99) {
        const b = encodeBatch(good.slice(i - 99, i + 1) as never, { host: 'good' });
        records.push({ key: b.key, value: b.value, headers: { ...b.headers } });
      }
    }
    for (let i = 0; i < records.length; i += 100) await t.producer.send(harvestTopic(env), records.slice(i, i + 100));
    await waitFor('malformed batches settled', async () => (await fullyCommitted(t.kafka, group(), harvestTopic(env))) || undefined, 120_000);
    const added = (await countIn(t.search, dlq())) - before;
    expect(added).toBe(1000); // one DLQ document per bad record (each bad-JSON record holds one bad line)
    expect(badLines).toBe(250);
    expect((await countIn(t.search, recent())) - recentBefore).toBe(1000);
    const reasons = await t.search.search({ index: dlq(), size: 0, query: { prefix: { 'backlog.dlq.topic': harvestTopic(env) } }, aggs: { r: { terms: { field: 'backlog.dlq.reason' } } } });
    const buckets = Object.fromEntries((reasons.aggregations?.r as { buckets: { key: string; doc_count: number }[] }).buckets.map((b) => [b.key, b.doc_count]));
    expect(buckets).toMatchObject({ corrupt: 250, invalid_json: 250, too_large: 250, not_gzip: 250 });
    expect(consumer.health()).toMatchObject({ ok: true, state: 'running', paused: false });
  });

  it('creates indices from the template: ECS types, free-form fields, refresh interval, replicas 0', async () => {
    const mapping = (await (await fetch(`${url()}/${recent()}/_mapping`)).json()) as Record<
      string,
      { mappings: { properties: Record<string, { type?: string; properties?: Record<string, unknown> }> } }
    >;
    const props = Object.values(mapping)[0]?.mappings.properties;
    expect(props?.['@timestamp']?.type).toBe('date');
    expect(props?.message?.type).toBe('text');
    expect(props?.fields?.type).toBe(freeForm);
    expect(props?.event?.properties?.id).toMatchObject({ type: 'keyword', ignore_above: 1024 });
    const settings = (await (await fetch(`${url()}/${recent()}/_settings`)).json()) as Record<string, { settings: { index: Record<string, string> } }>;
    const idx = Object.values(settings)[0]?.settings.index;
    expect(idx?.refresh_interval).toBe('1s');
    expect(idx?.number_of_replicas).toBe('0');
  });

  it('prunes recent indices older than N days and never touches history or the DLQ', async () => {
    const old = `logs-${env}-recent-2020.01.01`;
    const young = `logs-${env}-recent-${new Date().toISOString().slice(0, 10).replace(/-/g, '.')}`;
    const hist = `logs-${env}-history-abc-abd`;
    await t.search.createIndex(old);
    await t.search.createIndex(hist);
    const logged: string[] = [];
    const res = await pruneRecent(t.search, env, 7, { ...testLogger, info: (_m: string, f?: Record<string, unknown>) => logged.push(String(f?.index)) });
    expect(res.deleted).toEqual([old]);
    expect(logged).toEqual([old]);
    const left = (await t.search.listIndices(`logs-${env}-*`)).map((i) => i.name);
    expect(left).toEqual(expect.arrayContaining([young, hist, dlq()]));
    expect(left).not.toContain(old);
  });

  it('indexes what an older harvester dated 9999-12-31 or 0001-01-01 in the day of its record, the claimed time kept and flagged (ADR 0015)', async () => {
    const now = Date.now();
    const day = new Date(now).toISOString().slice(0, 10).replace(/-/g, '.');
    const created = new Date(now - 1000).toISOString();
    // As a harvester without ADR 0015 wrote them: times as the source claimed, one batch (its window is the far one's).
    const events = [
      { '@timestamp': '9999-12-31T23:59:59.000Z', event: { id: 'ts-far', created }, message: 'far future', labels: { env, input: 'http' } },
      { '@timestamp': '0001-01-01T00:00:00.000Z', event: { id: 'ts-old', created }, message: 'year one', labels: { env, input: 'http' } },
    ];
    for (const e of events) {
      const value = gzipSync(Buffer.from(`${JSON.stringify(e)}\n`));
      await t.producer.send(harvestTopic(env), [{ key: 'old-harvester', value, headers: { schema: '1', 'content-encoding': 'gzip', count: '1' } }]);
    }
    await waitFor('dated events settled', async () => (await fullyCommitted(t.kafka, group(), harvestTopic(env))) || undefined, 60_000);
    await t.search.refresh(recent()).catch(() => undefined);
    const res = await t.search.search<Record<string, any>>({ index: recent(), size: 10, query: { terms: { 'event.id': ['ts-far', 'ts-old'] } } });
    expect(res.hits.map((h) => [h.id, h.index]).sort()).toEqual([
      ['ts-far', `logs-${env}-recent-${day}`],
      ['ts-old', `logs-${env}-recent-${day}`],
    ]);
    const far = res.hits.find((h) => h.id === 'ts-far')?.source;
    expect(far?.['@timestamp']).toBe(created);
    expect(far?.labels).toMatchObject({ timestamp_original: '9999-12-31T23:59:59.000Z', timestamp_replaced: 'future' });
    expect(res.hits.find((h) => h.id === 'ts-old')?.source.labels).toMatchObject({ timestamp_original: '0001-01-01T00:00:00.000Z', timestamp_replaced: 'before_epoch' });
    const names = (await t.search.listIndices(`logs-${env}-recent-*`)).map((i) => i.name);
    expect(names.filter((n) => n.startsWith(`logs-${env}-recent-9999`) || n.startsWith(`logs-${env}-recent-0001`))).toEqual([]);
    expect((await metrics.timestampReplaced.get()).values.map((v) => [v.labels.reason, v.value]).sort()).toEqual([
      ['before_epoch', 1],
      ['future', 1],
    ]);
  });

  it('prunes a recent index dated in the future (which the age rule never reaches), keeps the index of tomorrow (ADR 0015)', async () => {
    const far = `logs-${env}-recent-9999.12.31`;
    const nextYear = `logs-${env}-recent-${new Date().getUTCFullYear() + 2}.01.01`;
    const tomorrow = `logs-${env}-recent-${new Date(Date.now() + 86_400_000).toISOString().slice(0, 10).replace(/-/g, '.')}`;
    for (const i of [far, nextYear, tomorrow]) await t.search.createIndex(i);
    const warned: string[] = [];
    const res = await pruneRecent(t.search, env, 7, { ...testLogger, warn: (_m: string, f?: Record<string, unknown>) => warned.push(String(f?.index)) });
    const left = (await t.search.listIndices(`logs-${env}-recent-*`)).map((i) => i.name);
    expect(left).toContain(tomorrow);
    expect(left).not.toContain(far);
    expect(left).not.toContain(nextYear);
    expect(res.future.sort()).toEqual([nextYear, far].sort());
    expect(warned.sort()).toEqual([nextYear, far].sort());
  });
});
