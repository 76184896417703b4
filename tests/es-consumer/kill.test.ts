// The es-consumer as a real child process (`node --import tsx apps/es-consumer/src/main.ts`), killed
// with SIGKILL in the middle of 200,000 events and started again: the index must then hold exactly
// the 200,000 unique ids (0 lost, 0 duplicated), and a SIGTERM must stop it cleanly (exit 0).
import { type ChildProcess, spawn } from 'node:child_process';
import { join } from 'node:path';
import { afterAll, beforeAll, expect, it } from 'vitest';
import { harvestTopic } from '@backlog/core-codec';
import { stackInfo, testNamespace } from '@backlog/testing';
import { countIn, freePort, fullyCommitted, makeEvents, produceBatches, setupEnv, waitFor, type TestEnv } from './helpers';

const ROOT = join(import.meta.dirname, '..', '..');
const TOTAL = 200_000;
const env = testNamespace('esckill');
let t: TestEnv;
const children: ChildProcess[] = [];

function startConsumer(port: number): { child: ChildProcess; output: () => string; exited: Promise<number | null> } {
  const child = spawn(process.execPath, ['--import', 'tsx', join(ROOT, 'apps/es-consumer/src/main.ts')], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...process.env,
      ...t.childEnv,
      BACKLOG_ES_CONSUMER_METRICS_PORT: String(port),
      // A killed member's partitions are handed over after its session expires: keep that short.
      BACKLOG_ES_CONSUMER_CONSUMER_SESSION_TIMEOUT_MS: '10000',
      BACKLOG_ES_CONSUMER_CONSUMER_HEARTBEAT_INTERVAL_MS: '1000',
      BACKLOG_ES_CONSUMER_LOG_LEVEL: 'warn',
    },
  });
  children.push(child);
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  return { child, output: () => out.slice(-4000), exited };
}

async function metric(port: number, name: string): Promise<number> {
  const text = await (await fetch(`http://127.0.0.1:${port}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith(`${name} `));
  return line ? Number(line.split(' ')[1]) : NaN;
}

beforeAll(async () => {
  t = await setupEnv(env, stackInfo(), 3);
  const produced = await produceBatches(t.producer, env, makeEvents('kill', TOTAL), 1000);
  expect(produced.records).toBe(200);
});

afterAll(async () => {
  for (const c of children) if (c.exitCode === null && c.signalCode === null) c.kill('SIGKILL');
  await t?.cleanup();
});

it('kill -9 during 200,000 events, restart: index count == unique ids (0 lost, 0 duplicated)', async () => {
  const index = `logs-${env}-recent-*`;
  const port1 = await freePort();
  const first = startConsumer(port1);
  await waitFor('the first consumer to index some events', async () => (await countIn(t.search, index)) >= 30_000, 90_000, 250).catch((e: Error) => {
    throw new Error(`${e.message}\n${first.output()}`);
  });
  first.child.kill('SIGKILL');
  expect(await first.exited).toBeNull();
  const atKill = await countIn(t.search, index);
  expect(atKill).toBeLessThan(TOTAL); // really killed in the middle

  const port2 = await freePort();
  const second = startConsumer(port2);
  await waitFor(
    'every record committed after the restart',
    async () => (await fullyCommitted(t.kafka, `es-consumer-${env}`, harvestTopic(env))) && (await countIn(t.search, index)) === TOTAL,
    150_000,
    1_000,
  ).catch((e: Error) => {
    throw new Error(`${e.message}\n${second.output()}`);
  });
  expect(await countIn(t.search, index)).toBe(TOTAL);
  expect(await countIn(t.search, `logs-${env}-dlq`)).toBe(0);
  // _id is event.id: spot-check that the two agree, so the count above is a count of unique ids.
  const sample = await t.search.search<{ event: { id: string } }>({ index, size: 50, source: ['event.id'], query: { match_all: {} } });
  for (const h of sample.hits) expect(h.id).toBe(h.source.event.id);
  const redelivered = await metric(port2, 'es_consumer_already_indexed_events_total');
  const indexed = await metric(port2, 'es_consumer_indexed_events_total');
  console.info(`kill test: ${atKill} searchable at kill; after restart ${indexed} created + ${redelivered} already there (redelivered)`);

  second.child.kill('SIGTERM');
  expect(await second.exited).toBe(0);
}, 240_000);
