// Issue 17 §5: a spool segment that fails its checksum when it is about to be sent is quarantined, and
// the file positions of the lines it held must not be committed: those lines are read again from the
// file. The real harvester (apps/harvester/src/main.ts) tails a file; h-<env> does not exist yet (the
// shared broker does not auto-create topics), so segments wait in the spool; the middle one is damaged
// on disk; then the topic is created. Before the fix, the later segment's ack committed the file offset
// past the damaged lines, and a restart never read them again.
import { mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync, appendFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { createKafka } from '@backlog/adapter-kafka';
import { harvestTopic } from '@backlog/core-codec';
import { stackInfo, testNamespace } from '@backlog/testing';
import { type Proc, freePort, metricValue, readTopic, scrape, sleep, spawnHarvester } from './helpers';

const dir = mkdtempSync(join(tmpdir(), 'corrupt-positions-'));
const procs: Proc[] = [];
afterAll(async () => {
  for (const p of procs) await p.kill9();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

async function until<T>(what: string, fn: () => Promise<T | undefined>, ms: number, out: () => string, metrics?: () => Promise<string>): Promise<T> {
  for (const end = Date.now() + ms; Date.now() < end;) {
    const v = await fn();
    if (v !== undefined) return v;
    await sleep(300);
  }
  const shipping = metrics
    ? (await metrics())
        .split('\n')
        .filter((l) => /^harvester_(spool|shipping)/.test(l))
        .join('\n')
    : '';
  throw new Error(`timed out waiting for ${what}\n${shipping}\n${out().slice(-3000)}`);
}

describe('a corrupt segment does not commit the positions of its lines (issue 17 §5)', () => {
  it('file input: the lines of a segment quarantined for a failed checksum are read again from the file after a restart', async () => {
    const info = stackInfo();
    const env = testNamespace('corruptpos');
    const topic = harvestTopic(env);
    const log = join(dir, 'app.log');
    writeFileSync(log, '');
    const spoolDir = join(dir, 'spool');
    const metricsPort = await freePort();
    const cfgFile = join(dir, 'harvester.json');
    writeFileSync(
      cfgFile,
      JSON.stringify({
        env,
        kafka: { brokers: info.kafka.brokers },
        host: { name: 'web-01' },
        stateDir: join(dir, 'state'),
        metrics: { port: metricsPort },
        // Refusals (unknown topic) must not quarantine anything here: only the checksum failure does.
        shipping: { flushIntervalMs: 300, startupDrainMs: 30_000, spool: { dir: spoolDir, quarantineAfterMs: 3_600_000 } },
        inputs: [{ type: 'file', paths: [log], startAt: 'beginning', pollIntervalMs: 50, checkpointIntervalMs: 100 }],
      }),
    );
    const start = async () => {
      const p = await spawnHarvester(cfgFile, metricsPort);
      procs.push(p);
      return p;
    };
    let h = await start();
    const m = () => scrape(metricsPort);
    const segs = () =>
      readdirSync(join(spoolDir, 'seg'))
        .filter((n) => n.endsWith('.seg'))
        .sort();

    // Three batches, one segment each: lines 0-49, 50-99, 100-149.
    for (let part = 0; part < 3; part++) {
      appendFileSync(log, Array.from({ length: 50 }, (_, i) => `line-${part * 50 + i} ${'x'.repeat(40)}\n`).join(''));
      await until(`segment ${part + 1}`, async () => (segs().length === part + 1 ? true : undefined), 30_000, h.output);
    }
    // Each has been refused once (no topic), so the next attempt reads it from disk again.
    await until('every segment refused once', async () => (metricValue(await m(), 'harvester_shipping_send_errors_total') >= 3 ? true : undefined), 60_000, h.output, m);
    // Damage the middle one on disk (a flipped byte in its gzip value) while it waits to be sent.
    const middle = join(spoolDir, 'seg', segs()[1]!);
    const bytes = readFileSync(middle);
    bytes.writeUInt8(bytes.readUInt8(bytes.length - 20) ^ 0xff, bytes.length - 20);
    writeFileSync(middle, bytes);
    await until('the damaged segment quarantined', async () => (metricValue(await m(), 'harvester_spool_quarantined_total', { reason: 'checksum' }) === 1 ? true : undefined), 60_000, h.output, m);

    const admin = createKafka({ brokers: info.kafka.brokers, clientId: 'corrupt-positions-test' }).admin();
    await admin.connect();
    await admin.ensureTopics([{ topic, partitions: 1 }]);
    await admin.disconnect();
    const text = await until(
      'two segments acked, one quarantined',
      async () => {
        const t = await m();
        return metricValue(t, 'harvester_shipping_acked_events_total') === 100 && metricValue(t, 'harvester_spool_quarantined_total', { reason: 'checksum' }) === 1 ? t : undefined;
      },
      120_000,
      h.output,
      m,
    );
    expect(metricValue(text, 'harvester_shipping_dropped_events_total', { reason: 'corrupt_segment' })).toBe(50);
    const before = await readTopic(info.kafka.brokers, topic);
    const msgs = (c: typeof before) => new Set(c.events.map((e) => String(e.message).split(' ')[0]));
    expect(msgs(before).has('line-75')).toBe(false);

    // Restart: the file's checkpoint stayed before the lost lines, so they are read (and shipped) again.
    await h.term();
    h = await start();
    const after = await until(
      'every line in Kafka',
      async () => {
        const c = await readTopic(info.kafka.brokers, topic);
        return msgs(c).size === 150 ? c : undefined;
      },
      120_000,
      h.output,
    );
    for (let i = 0; i < 150; i++) expect(msgs(after).has(`line-${i}`)).toBe(true);
    // The first run held the file's position before the lost lines (and said so).
    expect(metricValue(text, 'harvester_shipping_held_sources')).toBe(1);
    console.log(
      `[corrupt-positions] ${before.events.length} events before the restart (lines 50-99 lost with the damaged segment), ${after.events.length} after (re-read lines keep their ids: ${new Set(after.events.map((e) => (e.event as { id: string }).id)).size} distinct)`,
    );
  }, 300_000);
});
