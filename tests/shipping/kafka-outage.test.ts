// Fault test (b) of issue 5: a private Kafka (never the shared stack's broker) is stopped for 60 s while a
// harvester process receives a steady 10,000 events/s over TCP (json_tcp input). Batches pile up in
// the disk spool, not in memory: once Kafka is back every event arrives (0 lost) and the harvester's
// resident memory stays ≤ 150 MB throughout.
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { testNamespace } from '@backlog/testing';
import { type PrivateKafka, startPrivateKafka } from '@backlog/testing';
import { HARVESTER_NODE_OPTIONS, type Proc, ensureTopic, freePort, idReport, metricValue, readTopic, scrape, sleep, spawnHarvester } from './helpers';
import { tcpLoad } from './load';

const env = testNamespace('outage');
const RATE = Number(process.env.BACKLOG_TEST_OUTAGE_RATE ?? 10_000);
const DOWN_S = Number(process.env.BACKLOG_TEST_OUTAGE_SECONDS ?? 60);
const dir = mkdtempSync(join(tmpdir(), 'outage-'));
let kafka: PrivateKafka | undefined;
let harvester: Proc | undefined;

afterAll(async () => {
  await harvester?.kill9();
  await kafka?.destroy();
  rmSync(dir, { recursive: true, force: true });
}, 60_000);

function rssMb(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) / 1024 : 0;
}

describe(`Kafka stopped for ${DOWN_S} s under ${RATE} events/s (issue 5, fault b)`, () => {
  it('loses nothing and keeps the harvester under 150 MB RSS', async () => {
    kafka = await startPrivateKafka({ dir: join(dir, 'kafka'), port: await freePort(), controllerPort: await freePort(), heapMb: 512 });
    await ensureTopic(kafka.brokers, `h-${env}`, 2);
    const inPort = await freePort();
    const cfgFile = join(dir, 'harvester.json');
    const metricsPort = await freePort();
    writeFileSync(
      cfgFile,
      JSON.stringify({
        env,
        kafka: { brokers: kafka.brokers },
        host: { name: 'web-01' },
        stateDir: join(dir, 'state'),
        metrics: { port: metricsPort },
        shipping: { flushIntervalMs: 5000, spool: { dir: join(dir, 'spool') } },
        inputs: [{ type: 'json_tcp', port: inPort }],
      }),
    );
    // The real harvester (main.ts), with the heap caps it is deployed with (SHIPPING.md "Memory": V8 sizes
    // its heap from the command line only; uncapped, garbage alone takes it to 200-330 MB RSS here).
    harvester = await spawnHarvester(cfgFile, metricsPort, { NODE_OPTIONS: process.env.BACKLOG_TEST_HARVESTER_NODE_OPTIONS ?? HARVESTER_NODE_OPTIONS });
    const pid = harvester.child.pid!;
    let maxRss = 0;
    const sampler = setInterval(() => (maxRss = Math.max(maxRss, rssMb(pid))), 500);

    const load = tcpLoad(inPort, RATE, (n) => `${JSON.stringify({ '@timestamp': new Date().toISOString(), message: `outage line ${n}`, event: { id: `${env}-${n}` }, service: { name: 'load' } })}\n`);
    await sleep(10_000);
    const t0 = Date.now();
    await kafka.stop();
    const stopS = (Date.now() - t0) / 1000;
    await sleep(DOWN_S * 1000);
    const spoolAtPeak = metricValue(await scrape(metricsPort), 'harvester_spool_bytes');
    await kafka.start();
    await sleep(10_000);
    await load.stop();
    const sent = load.sent;

    // Wait until the harvester has had every event acknowledged (its own counters), then read back.
    const deadline = Date.now() + 180_000;
    let acked = 0;
    while (Date.now() < deadline) {
      const m = await scrape(metricsPort);
      acked = metricValue(m, 'harvester_shipping_acked_events_total');
      if (acked >= sent && metricValue(m, 'harvester_spool_segments') === 0) break;
      await sleep(1000);
    }
    clearInterval(sampler);
    const content = await readTopic(kafka.brokers, `h-${env}`);
    // The id each line named; the harvester's event.id is that id namespaced by the sender (ADR 0015).
    const r = idReport(content.events, (e) => (e.labels as { source_event_id?: string } | undefined)?.source_event_id);
    const lost: number[] = [];
    for (let i = 0; i < sent; i++) if (!r.seen.has(`${env}-${i}`)) lost.push(i);
    console.log(
      `[kafka-outage] sent ${sent} at ${RATE}/s (sender blocked ${load.blockedMs} ms), broker stop took ${stopS.toFixed(1)} s then down ${DOWN_S} s, spool peak ${(spoolAtPeak / 1e6).toFixed(1)} MB, ${content.records} records, ${r.dups} duplicates (same ids), lost ${lost.length}, max RSS ${maxRss.toFixed(0)} MB`,
    );
    expect(lost.slice(0, 10)).toEqual([]);
    expect(r.unique).toBe(sent);
    expect(maxRss).toBeLessThanOrEqual(150);
  }, 360_000);
});
