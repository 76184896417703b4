// Issue 17 §2, end to end: the real harvester (apps/harvester/src/main.ts, shipping to the shared Kafka)
// under the heap caps it is given in production — `backlog start` (--max-old-space-size=96
// --max-semi-space-size=4, apps/cli/src/commands/start.ts) and deploy/k8s/harvester.yaml
// (--max-old-space-size=160) — receives hostile HTTP bodies: ~3 KB of gzip that inflate to a million
// `{}` records (a JSON batch and NDJSON), and a million short NDJSON lines sent as they are. They must be
// refused with 413 naming the records-per-request cap, while a request at the cap (10,000 records, ~7 MB
// once decompressed) is accepted and shipped in slices. The process stays alive and healthy, and its
// metrics add up: received = emitted + dropped (by reason), and every emitted event reached the shipper.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import { stackInfo, testNamespace } from '@backlog/testing';
import { type Proc, ensureTopic, freePort, metricValue, scrape, sleep, spawnHarvester } from '../shipping/helpers';

const dir = mkdtempSync(join(tmpdir(), 'http-heap-'));
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) await p.kill9();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

const MILLION = 1_000_000;
/** The records-per-request default of the http input (apps/harvester/src/inputs/http/config.ts). */
const CAP = 10_000;

// Built once: the hostile bodies are the same for both heap caps.
const jsonBatchBomb = gzipSync(Buffer.from(`[${'{},'.repeat(MILLION - 1)}{}]`), { level: 9 });
const ndjsonBomb = gzipSync(Buffer.from('{}\n'.repeat(MILLION)), { level: 9 });
const ndjsonPlain = Buffer.from('{}\n'.repeat(MILLION));
// At the cap: 10,000 records of ~700 bytes each, 7 MB decompressed (under the 8 MiB default).
const atCap = gzipSync(Buffer.from(Array.from({ length: CAP }, (_, i) => `${JSON.stringify({ message: `record ${i} ${'x'.repeat(660)}`, n: i })}\n`).join('')));

interface Answer {
  status: number;
  body: Record<string, unknown>;
}
async function post(port: number, path: string, body: Buffer, headers: Record<string, string>): Promise<Answer> {
  const res = await fetch(`http://127.0.0.1:${port}${path}`, { method: 'POST', headers, body, signal: AbortSignal.timeout(60_000) });
  const text = await res.text();
  return { status: res.status, body: JSON.parse(text) as Record<string, unknown> };
}

async function scenario(label: string, nodeOptions: string): Promise<void> {
  const env = testNamespace(`heap${label}`);
  const brokers = stackInfo().kafka.brokers;
  await ensureTopic(brokers, `h-${env}`, 1);
  const [httpPort, metricsPort] = [await freePort(), await freePort()];
  const cfgFile = join(dir, `harvester-${label}.json`);
  writeFileSync(
    cfgFile,
    JSON.stringify({
      env,
      kafka: { brokers },
      host: { name: 'web-01' },
      stateDir: join(dir, label, 'state'),
      metrics: { port: metricsPort },
      shipping: { flushIntervalMs: 500, startupDrainMs: 0, spool: { dir: join(dir, label, 'spool') } },
      inputs: [{ type: 'http', port: httpPort }],
    }),
  );
  const harvester = await spawnHarvester(cfgFile, metricsPort, { NODE_OPTIONS: nodeOptions });
  procs.push(harvester);
  try {
    // Sent at once: the cap on concurrent requests (default 8) lets all four in.
    const [batch, ndjson, plain, accepted] = await Promise.all([
      post(httpPort, '/logs/batch', jsonBatchBomb, { 'content-type': 'application/json', 'content-encoding': 'gzip' }),
      post(httpPort, '/logs', ndjsonBomb, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }),
      post(httpPort, '/logs', ndjsonPlain, { 'content-type': 'application/x-ndjson' }),
      post(httpPort, '/logs', atCap, { 'content-type': 'application/x-ndjson', 'content-encoding': 'gzip' }),
    ]).catch((err: unknown) => {
      throw new Error(`requests failed (${(err as Error).message}); harvester exit ${harvester.child.exitCode ?? harvester.child.signalCode}:\n${harvester.output()}`);
    });
    for (const refused of [batch, ndjson, plain]) {
      expect(refused.status).toBe(413);
      expect(refused.body).toMatchObject({ reason: 'too_many_records', limit: CAP, error: expect.stringContaining(String(CAP)) });
    }
    expect(accepted).toEqual({ status: 202, body: { accepted: CAP, flagged: 0 } });

    // Still alive and healthy.
    expect(harvester.child.exitCode).toBeNull();
    const health = await fetch(`http://127.0.0.1:${metricsPort}/healthz`);
    expect(health.status).toBe(200);

    // The counts add up, and every emitted event reached the shipper.
    let text = '';
    for (let until = Date.now() + 60_000; Date.now() < until;) {
      text = await scrape(metricsPort);
      if (metricValue(text, 'harvester_shipping_received_events_total') >= CAP) break;
      await sleep(200);
    }
    const l = { input: 'http' };
    const received = metricValue(text, 'harvester_input_received_events_total', l);
    const emitted = metricValue(text, 'harvester_input_emitted_events_total', l);
    const dropped = metricValue(text, 'harvester_input_dropped_events_total', l);
    const tooMany = metricValue(text, 'harvester_input_dropped_events_total', { ...l, reason: 'too_many_records' });
    console.log(
      `[http heap ${label}] received ${received} emitted ${emitted} dropped ${dropped} (too_many_records ${tooMany}); rss ${Math.round(metricValue(text, 'process_resident_memory_bytes') / 2 ** 20)} MiB, heap ${Math.round(metricValue(text, 'nodejs_heap_size_used_bytes') / 2 ** 20)} MiB`,
    );
    expect(received).toBe(emitted + dropped);
    expect(tooMany).toBe(3);
    expect(dropped).toBe(3);
    expect(emitted).toBe(CAP);
    expect(metricValue(text, 'harvester_shipping_received_events_total')).toBe(CAP);
    expect(harvester.child.exitCode).toBeNull();
  } finally {
    await harvester.term();
  }
}

describe('HTTP input amplification at the harvester heap caps (issue 17 §2)', () => {
  it('backlog start: --max-old-space-size=96 --max-semi-space-size=4', () => scenario('96', '--max-old-space-size=96 --max-semi-space-size=4'), 240_000);
  it('deploy/k8s: --max-old-space-size=160', () => scenario('160', '--max-old-space-size=160'), 240_000);
});
