// Issue 17 §5, poison batches, end to end through the real harvester (apps/harvester/src/main.ts) and the
// real broker:
//   - h-<env> created with max.message.bytes = 8 KiB: records far above it are split in halves until they
//     fit, with count / min-ts / max-ts / batch-id right in every half, and delivered; one event too
//     large on its own is quarantined (reason record_too_large) while the rest flows; /healthz turns
//     unhealthy and `backlog spool inspect` lists it with its reason.
//   - h-<env> that does not exist (the shared broker has auto.create.topics.enable=false): each batch is
//     quarantined (reason unknown_topic) after the configured refusals; once the topic exists,
//     `backlog spool drain --quarantine` delivers them.
// Before the fix, a refused record was retried forever and everything behind it waited.
import { spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '@backlog/adapter-kafka';
import { harvestTopic } from '@backlog/core-codec';
import { stackInfo, testNamespace } from '@backlog/testing';
import { type Proc, freePort, metricValue, readTopic, root, scrape, sleep, spawnHarvester } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'poison-'));
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) await p.kill9();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

/** `node bin/backlog.mjs <args>`: exit code and stdout. */
function cli(args: string[]): Promise<{ code: number | null; out: string; err: string }> {
  return new Promise((resolve) => {
    const child = spawn(process.execPath, [join(root, 'bin/backlog.mjs'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.once('close', (code) => resolve({ code, out, err }));
  });
}

async function sendTcp(port: number, lines: string[]): Promise<void> {
  const sock = connect({ host: '127.0.0.1', port });
  await new Promise<void>((r, j) => {
    sock.once('connect', () => r());
    sock.once('error', j);
  });
  await new Promise<void>((r) => sock.end(lines.join(''), () => r()));
}

async function startHarvester(env: string, name: string, spool: Record<string, unknown>): Promise<{ proc: Proc; tcpPort: number; metricsPort: number; spoolDir: string }> {
  const info = stackInfo();
  const [tcpPort, metricsPort] = [await freePort(), await freePort()];
  const spoolDir = join(dir, name, 'spool');
  const cfgFile = join(dir, `${name}.json`);
  writeFileSync(
    cfgFile,
    JSON.stringify({
      env,
      kafka: { brokers: info.kafka.brokers },
      host: { name: 'web-01' },
      stateDir: join(dir, name, 'state'),
      metrics: { port: metricsPort },
      shipping: { flushIntervalMs: 300, startupDrainMs: 0, spool: { dir: spoolDir, ...spool } },
      inputs: [{ type: 'json_tcp', port: tcpPort, maxLineBytes: 256 * 1024 }],
    }),
  );
  const proc = await spawnHarvester(cfgFile, metricsPort);
  procs.push(proc);
  return { proc, tcpPort, metricsPort, spoolDir };
}

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number, out: () => string): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(300);
  }
  throw new Error(`timed out waiting for ${what}\n${out().slice(-3000)}`);
}

describe('poison batches against the real broker (issue 17 §5)', () => {
  it('a topic with max.message.bytes 8 KiB: big records are split and delivered with right headers; one event too large is quarantined, the rest flows', async () => {
    const info = stackInfo();
    const env = testNamespace('poisonbig');
    const topic = harvestTopic(env);
    const admin = createKafka({ brokers: info.kafka.brokers, clientId: 'poison-test' }).admin();
    await admin.connect();
    await admin.ensureTopics([{ topic, partitions: 1, config: { 'max.message.bytes': '8192' } }]);
    await admin.disconnect();
    const h = await startHarvester(env, 'big', {});
    const base = Date.now();
    // ~500 bytes of random text per event: a 300-event batch gzips to ~100 KiB, far above 8 KiB.
    const lines = Array.from(
      { length: 300 },
      (_, i) => `${JSON.stringify({ '@timestamp': new Date(base + i).toISOString(), event: { id: `${env}-${i}` }, message: randomBytes(370).toString('base64') })}\n`,
    );
    const huge = `${JSON.stringify({ '@timestamp': new Date(base + 150).toISOString(), event: { id: `${env}-huge` }, message: randomBytes(30_000).toString('base64') })}\n`;
    await sendTcp(h.tcpPort, [...lines.slice(0, 150), huge, ...lines.slice(150)]);

    const m = () => scrape(h.metricsPort);
    const text = await until(
      '300 events acked and one quarantined',
      async () => {
        const t = await m();
        return metricValue(t, 'harvester_shipping_acked_events_total') === 300 && metricValue(t, 'harvester_spool_quarantined_files') === 1 ? t : undefined;
      },
      120_000,
      h.proc.output,
    );
    expect(metricValue(text, 'harvester_shipping_split_batches_total')).toBeGreaterThan(2);
    expect(metricValue(text, 'harvester_spool_quarantined_total', { reason: 'record_too_large' })).toBe(1);
    expect(metricValue(text, 'harvester_spool_quarantined_events_total', { reason: 'record_too_large' })).toBe(1);
    expect(metricValue(text, 'harvester_spool_segments')).toBe(0);
    const health = await fetch(`http://127.0.0.1:${h.metricsPort}/healthz`);
    expect(health.status).toBe(503);
    expect(((await health.json()) as { shipping: { state: string; quarantined: number } }).shipping).toMatchObject({ state: 'quarantined', quarantined: 1 });

    // Every event but the huge one, once; each record within the broker's limit, its headers true to its events.
    const content = await readTopic(info.kafka.brokers, topic);
    // The id each line names is kept in labels.source_event_id (event.id is namespaced by the sender, ADR 0015).
    const ids = content.events.map((e) => (e.labels as { source_event_id: string }).source_event_id);
    expect(ids.length).toBe(300);
    expect(new Set(ids)).toEqual(new Set(lines.map((_, i) => `${env}-${i}`)));
    const batchIds = new Set<string>();
    let at = 0;
    for (const hd of content.headers) {
      const n = Number(hd.count);
      const evs = content.events.slice(at, at + n);
      at += n;
      const ts = evs.map((e) => Date.parse(e['@timestamp'] as string));
      expect(evs.length).toBe(n);
      expect(Number(hd['min-ts'])).toBe(Math.min(...ts));
      expect(Number(hd['max-ts'])).toBe(Math.max(...ts));
      expect(ts).toEqual([...ts].sort((a, b) => a - b));
      expect(hd['batch-id']).toMatch(/\.s[01]$/);
      batchIds.add(hd['batch-id']!);
    }
    expect(batchIds.size).toBe(content.records);

    // `backlog spool inspect` names the quarantined batch and why; it is an intact, resendable segment.
    const inspect = await cli(['spool', 'inspect', '--dir', h.spoolDir, '--json']);
    expect(inspect.code).toBe(2);
    const rows = inspect.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; reason?: string; events?: number; resendable?: boolean });
    expect(rows).toEqual([expect.objectContaining({ kind: 'quarantine', reason: 'record_too_large', events: 1, resendable: true })]);
    console.log(`[poison] 8 KiB topic: ${content.records} records after ${metricValue(text, 'harvester_shipping_split_batches_total')} splits, 1 event quarantined (record_too_large)`);
  }, 240_000);

  it('an unknown topic (auto-creation off): batches are quarantined after the configured refusals; spool drain --quarantine delivers them once it exists', async () => {
    const info = stackInfo();
    const env = testNamespace('poisontopic');
    const topic = harvestTopic(env);
    const h = await startHarvester(env, 'topic', { quarantineAfterAttempts: 2, quarantineAfterMs: 0 });
    const lines = (from: number) =>
      Array.from({ length: 20 }, (_, i) => `${JSON.stringify({ '@timestamp': new Date().toISOString(), event: { id: `${env}-${from + i}` }, message: `m ${from + i}` })}\n`);
    await sendTcp(h.tcpPort, lines(0));
    const m = () => scrape(h.metricsPort);
    await until(
      'the first batch quarantined',
      async () => {
        const t = await m();
        return metricValue(t, 'harvester_spool_quarantined_total', { reason: 'unknown_topic' }) >= 1 ? t : undefined;
      },
      120_000,
      h.proc.output,
    );
    // Shipping goes on: the next batch is tried (and, the topic still missing, set aside too).
    await sendTcp(h.tcpPort, lines(20));
    const text = await until(
      'both batches quarantined',
      async () => {
        const t = await m();
        return metricValue(t, 'harvester_spool_quarantined_events_total', { reason: 'unknown_topic' }) === 40 && metricValue(t, 'harvester_spool_segments') === 0 ? t : undefined;
      },
      120_000,
      h.proc.output,
    );
    expect(metricValue(text, 'harvester_shipping_acked_events_total')).toBe(0);
    expect((await fetch(`http://127.0.0.1:${h.metricsPort}/healthz`)).status).toBe(503);
    const listed = await cli(['spool', 'inspect', '--dir', h.spoolDir, '--json']);
    const rows = listed.out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l) as { kind: string; reason?: string; events?: number });
    expect(rows.filter((r) => r.kind === 'quarantine').map((r) => [r.reason, r.events])).toEqual([
      ['unknown_topic', 20],
      ['unknown_topic', 20],
    ]);

    // The operator creates the topic and resends the quarantine (harvester stopped, as drain asks).
    await h.proc.term();
    const admin = createKafka({ brokers: info.kafka.brokers, clientId: 'poison-test' }).admin();
    await admin.connect();
    await admin.ensureTopics([{ topic, partitions: 1 }]);
    await admin.disconnect();
    const drained = await cli(['spool', 'drain', '--quarantine', '--dir', h.spoolDir, '--env', env, '--brokers', info.kafka.brokers.join(',')]);
    expect(drained.code, drained.err).toBe(0);
    expect(JSON.parse(drained.out.trim().split('\n').pop()!)).toMatchObject({ segments: 2, events: 40, refused: 0, quarantined: 0 });
    expect(readdirSync(join(h.spoolDir, 'quarantine'))).toEqual([]);
    const content = await readTopic(info.kafka.brokers, topic);
    expect(new Set(content.events.map((e) => (e.labels as { source_event_id: string }).source_event_id))).toEqual(new Set(Array.from({ length: 40 }, (_, i) => `${env}-${i}`)));
  }, 300_000);
});
