// Fault test (d) of issue 5: the nacl-gateway is killed (SIGKILL) while a harvester ships sealed batches
// through it, and started again on the same address. The harvester's shipping (Shipper + SealedSender,
// the code harvester main.ts runs) resends every unacknowledged batch, sealed again with new sequence
// numbers: 0 events lost, and any duplicate is the same event (same event.id).
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@backlog/core-sealed';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { stackInfo, testNamespace } from '@backlog/testing';
import { shippingMetrics } from '../../apps/harvester/src/shipping/metrics';
import { SealedSender } from '../../apps/harvester/src/shipping/sealed-sender';
import { SeqStore } from '../../apps/harvester/src/shipping/seq-store';
import { Shipper, defaultShipperOptions } from '../../apps/harvester/src/shipping/shipper';
import { Spool } from '../../apps/harvester/src/spool/spool';
import { type GatewayProc, startGateway } from './gateway-helpers';
import { ensureTopic, idReport, readTopic, sleep } from './helpers';

const env = testNamespace('gwkill');
const TOTAL = 100_000;
const dir = mkdtempSync(join(tmpdir(), 'gwkill-'));
let gw: GatewayProc | undefined;

afterAll(async () => {
  await gw?.term();
  rmSync(dir, { recursive: true, force: true });
});

describe('gateway killed mid-stream (issue 5, fault d)', () => {
  it('the harvester resends: every event reaches h-<env>, duplicates only with the same id', async () => {
    const brokers = stackInfo().kafka.brokers;
    await ensureTopic(brokers, `h-${env}`, 2);
    const gwKeys = generateKeyPair();
    const hv = generateKeyPair();
    const start = () => startGateway({ env, brokers, redisUrl: stackInfo().redis.url, keys: gwKeys, allow: [{ name: 'web-01', keys: hv }], port: gw?.port, metricsPort: gw?.metricsPort });
    gw = await start();
    const metrics = shippingMetrics(new MetricsRegistry());
    const sender = new SealedSender({ host: '127.0.0.1', port: gw.port, env, keys: hv, gatewayPublicKey: gwKeys.publicKey, seq: new SeqStore(dir), ackTimeoutMs: 10_000 });
    const shipper = new Shipper({ ...defaultShipperOptions, host: 'web-01', flushIntervalMs: 100, retryMinMs: 100, retryMaxMs: 1000 }, { spool: new Spool({ dir, fsync: false }), sender, metrics });
    shipper.start();

    // ~20,000 events/s for 5 s; the gateway dies 1.5 s in and comes back about 3 s later.
    const t0 = Date.now();
    let sent = 0;
    let killed = false;
    let restarted: Promise<GatewayProc> | undefined;
    while (sent < TOTAL) {
      const n = Math.min(500, TOTAL - sent);
      shipper.write(Array.from({ length: n }, (_, i) => ({ '@timestamp': new Date().toISOString(), message: `line ${sent + i}`, event: { id: `${env}-${sent + i}` }, host: { name: 'web-01' } })));
      sent += n;
      if (!killed && Date.now() - t0 > 1500) {
        killed = true;
        await gw.kill9();
        restarted = sleep(500).then(start);
      }
      await sleep(25);
    }
    gw = await restarted!;
    shipper.flush();
    expect(await shipper.drained(90_000)).toBe(true);
    await shipper.stop(1000);

    const errors = (await metrics.sendErrors.get()).values.reduce((s, v) => s + v.value, 0);
    expect(errors).toBeGreaterThan(0); // batches really were in flight when the gateway died
    const content = await readTopic(brokers, `h-${env}`);
    const r = idReport(content.events, (e) => (e.event as { id?: string } | undefined)?.id);
    for (let i = 0; i < TOTAL; i++) if (!r.seen.has(`${env}-${i}`)) throw new Error(`event ${i} lost`);
    expect(r.unique).toBe(TOTAL);
    console.log(`[gateway-kill] ${TOTAL} events, ${content.records} records, ${r.dups} duplicates (same ids), ${errors} failed sends retried`);
  }, 180_000);
});
