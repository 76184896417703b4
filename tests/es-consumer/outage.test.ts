// The search engine stops answering for 60 s while events keep arriving: the consumer must retry,
// pause consumption (backpressure), commit nothing it has not written, and index everything once the
// engine is back — 0 lost. The engine here is a PRIVATE OpenSearch on free ports (started from the
// stack library), frozen with SIGSTOP and thawed with SIGCONT, so the shared stack is never touched.
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { harvestTopic } from '@backlog/core-codec';
import { loadStackConfig, searchServer, stackInfo, stopPid, testNamespace, upOne } from '@backlog/testing';
import { createSearch, type SearchPort } from '@backlog/adapter-search';
import { consumerOptions, searchAdapterConfig } from '../../apps/es-consumer/src/app';
import { EsConsumer } from '../../apps/es-consumer/src/consumer';
import { esConsumerMetrics } from '../../apps/es-consumer/src/metrics';
import { countIn, freePort, fullyCommitted, makeEvents, newMetrics, produceBatches, setupEnv, sleep, testConfig, testLogger, waitFor, type TestEnv } from './helpers';

const env = testNamespace('escdown');
let dir: string;
let pid: number | undefined;
let url: string;
let t: TestEnv;
let consumer: EsConsumer;
let consumerSearch: SearchPort | undefined;
const registry = newMetrics();
const metrics = esConsumerMetrics(registry);

beforeAll(async () => {
  const cfg = loadStackConfig();
  dir = mkdtempSync(join(tmpdir(), 'backlog-esc-os-'));
  // Reuse the shared stack's resolved classpath (the jars are in ~/.m2): no Maven run for this node.
  const cp = join(cfg.dir, 'opensearch', 'classpath.txt');
  if (existsSync(cp)) {
    mkdirSync(join(dir, 'opensearch'), { recursive: true });
    copyFileSync(cp, join(dir, 'opensearch', 'classpath.txt'));
  }
  const search = { port: await freePort(), transportPort: await freePort(), heapMb: 512 };
  const mine = { ...cfg, dir, search, startTimeoutS: 240 };
  const report = await upOne(searchServer(mine), mine);
  pid = report.pid;
  url = `http://127.0.0.1:${search.port}`;
  t = await setupEnv(env, stackInfo(), 2, url);
  const c = testConfig(env, stackInfo(), url, {
    bulk: { requestTimeoutMs: 2_000, maxDocs: 1_000 },
    retry: { attempts: 3, initialBackoffMs: 100, maxBackoffMs: 2_000 },
  });
  // The consumer's own adapter, configured as main.ts does (2 s request timeout, no client retries).
  consumerSearch = await createSearch(searchAdapterConfig(c));
  consumer = new EsConsumer(t.kafka, consumerSearch, metrics, testLogger, consumerOptions(c));
  await consumer.start();
}, 300_000);

afterAll(async () => {
  if (pid) process.kill(pid, 'SIGCONT');
  await consumer?.stop(Date.now() + 10_000);
  await consumerSearch?.close();
  await t?.cleanup();
  if (pid) await stopPid(pid, 30_000);
  if (dir) rmSync(dir, { recursive: true, force: true });
}, 120_000);

it('search engine stopped for 60 s: the consumer waits (paused, nothing committed past what is written), then 0 lost', async () => {
  const index = `logs-${env}-recent-*`;
  const group = `es-consumer-${env}`;
  await produceBatches(t.producer, env, makeEvents('before', 5_000), 500);
  await waitFor('the first 5,000 events', async () => (await countIn(t.search, index)) === 5_000, 60_000);

  process.kill(pid as number, 'SIGSTOP');
  const stoppedAt = Date.now();
  try {
    await produceBatches(t.producer, env, makeEvents('during', 20_000), 500);
    // The writer must notice (timeouts), retry, then pause consumption.
    await waitFor('consumption paused', async () => (await metrics.paused.get()).values[0]?.value === 1, 30_000, 200);
    expect(consumer.health()).toMatchObject({ ok: true, paused: true });
    expect(await fullyCommitted(t.kafka, group, harvestTopic(env))).toBe(false);
    await sleep(Math.max(0, stoppedAt + 60_000 - Date.now()));
    // Still nothing committed past what the engine has: the uncommitted records are all still ahead.
    expect(await fullyCommitted(t.kafka, group, harvestTopic(env))).toBe(false);
  } finally {
    process.kill(pid as number, 'SIGCONT');
  }

  await waitFor('all 25,000 events after the engine came back', async () => (await fullyCommitted(t.kafka, group, harvestTopic(env))) && (await countIn(t.search, index)) === 25_000, 120_000, 1_000);
  expect(await countIn(t.search, `logs-${env}-dlq`)).toBe(0);
  expect((await metrics.paused.get()).values[0]?.value).toBe(0);
  const retried = (await metrics.retried.get()).values.reduce((n, v) => n + v.value, 0);
  expect(retried).toBeGreaterThan(0);
  expect(consumer.health()).toMatchObject({ ok: true, paused: false });
}, 240_000);
