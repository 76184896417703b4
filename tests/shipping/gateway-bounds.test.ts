// Issue 17 §1: idle and slow-drip connections do not keep real harvesters out of a nacl-gateway. One
// loopback address (127.0.0.2) keeps opening more idle connections than the gateway's whole connection
// cap, plus connections that drip a frame (an allowed sender's header, then the body) one byte every
// 100 ms, reopening each soon after the gateway closes it — bounded to 30 s and 6,000 connection
// attempts, loopback only. Meanwhile the harvester's real shipping (Shipper + SealedSender) ships from
// 127.0.0.1 through the same gateway, once at the start of the attack and once after the gateway has
// closed attacking connections for each of its bounds (address_limit, idle_timeout, frame_timeout):
// every batch is acknowledged while the attack goes on.
import { mkdtempSync, rmSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { FRAME_VERSION, FrameType, generateKeyPair } from '@backlog/core-sealed';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { shippingMetrics } from '../../apps/harvester/src/shipping/metrics';
import { SealedSender } from '../../apps/harvester/src/shipping/sealed-sender';
import { SeqStore } from '../../apps/harvester/src/shipping/seq-store';
import { Shipper, defaultShipperOptions } from '../../apps/harvester/src/shipping/shipper';
import { Spool } from '../../apps/harvester/src/spool/spool';
import { type GatewayProc, startGateway } from './gateway-helpers';
import { ensureTopic, idReport, metricValue, readTopic, scrape, sleep } from './helpers';

const env = testNamespace('gwbounds');
const dir = mkdtempSync(join(tmpdir(), 'gwbounds-'));
const ATTACKER = '127.0.0.2';
const BOUNDS = { maxConnections: 24, maxConnectionsPerAddress: 6, idleTimeoutMs: 1000, frameTimeoutMs: 1500 };
let gw: GatewayProc | undefined;
let attack: Attack | undefined;

afterAll(async () => {
  attack?.stop();
  await gw?.term();
  rmSync(dir, { recursive: true, force: true });
});

interface Attack {
  stop(): void;
  /** Connection attempts so far. */
  readonly attempts: number;
  /** Not stopped, and attempts left: still reopening whatever the gateway closes. */
  readonly running: boolean;
}

/** Keeps `idle` idle and `drip` slow-drip connections open from one address, reopening each when closed. */
function startAttack(port: number, opts: { idle: number; drip: number; dripBytes: Uint8Array; maxAttempts: number; maxMs: number }): Attack {
  const socks = new Set<Socket>();
  let attempts = 0;
  let stopped = false;
  const end = setTimeout(() => stop(), opts.maxMs);
  const stop = () => {
    stopped = true;
    clearTimeout(end);
    for (const s of socks) s.destroy();
  };
  const open = (kind: 'idle' | 'drip') => {
    if (stopped || attempts >= opts.maxAttempts) return;
    attempts++;
    const s = connect({ host: '127.0.0.1', port, localAddress: ATTACKER });
    socks.add(s);
    let drip: NodeJS.Timeout | undefined;
    s.on('connect', () => {
      if (kind !== 'drip') return;
      let i = 0;
      drip = setInterval(() => {
        if (i < opts.dripBytes.length && !s.destroyed) s.write(opts.dripBytes.subarray(i, i + 1));
        i++;
      }, 100);
    });
    s.on('error', () => undefined);
    s.on('close', () => {
      if (drip) clearInterval(drip);
      socks.delete(s);
      setTimeout(() => open(kind), 200).unref();
    });
  };
  for (let i = 0; i < opts.drip; i++) open('drip');
  for (let i = 0; i < opts.idle; i++) open('idle');
  return {
    stop,
    get attempts() {
      return attempts;
    },
    get running() {
      return !stopped && attempts < opts.maxAttempts;
    },
  };
}

describe('listener bounds of the nacl-gateway (issue 17 §1)', () => {
  it('idle and slow-drip connections from one address do not keep a real harvester out', async () => {
    const brokers = stackInfo().kafka.brokers;
    await ensureTopic(brokers, `h-${env}`, 1);
    const gwKeys = generateKeyPair();
    const hv = generateKeyPair();
    gw = await startGateway({ env, brokers, redisUrl: stackInfo().redis.url, keys: gwKeys, allow: [{ name: 'web-01', keys: hv }], extra: BOUNDS });

    // A frame announcing 2,000 bytes, from the real harvester's (public) key, so it passes the allow
    // list and only the frame deadline can end it.
    const drip = new Uint8Array(4 + 2 + 32 + 40);
    new DataView(drip.buffer).setUint32(0, 2000, false);
    drip.set([FRAME_VERSION, FrameType.Batch], 4);
    drip.set(hv.publicKey, 6);
    attack = startAttack(gw.port, { idle: 2 * BOUNDS.maxConnections, drip: 12, dripBytes: drip, maxAttempts: 6000, maxMs: 30_000 });
    await sleep(500); // the attack holds what it can before the harvester shows up

    const metrics = shippingMetrics(new MetricsRegistry());
    const sender = new SealedSender({
      host: '127.0.0.1',
      port: gw.port,
      env,
      keys: hv,
      gatewayPublicKey: gwKeys.publicKey,
      seq: new SeqStore(dir),
      ackTimeoutMs: 5_000,
      connectTimeoutMs: 2_000,
      metrics,
    });
    const shipper = new Shipper({ ...defaultShipperOptions, host: 'web-01', flushIntervalMs: 200, retryMinMs: 100, retryMaxMs: 500 }, { spool: new Spool({ dir, fsync: false }), sender, metrics });
    shipper.start();
    let sent = 0;
    const ship = async (n: number) => {
      for (const end = sent + n; sent < end; sent += 250) {
        shipper.write(Array.from({ length: 250 }, (_, i) => ({ '@timestamp': new Date().toISOString(), message: `line ${sent + i}`, event: { id: `${env}-${sent + i}` }, host: { name: 'web-01' } })));
        await sleep(300); // several batches, some after an idle close of the harvester's own connection
      }
      shipper.flush();
      return shipper.drained(12_000);
    };
    const counts = async () => {
      const m = await scrape(gw!.metricsPort);
      const closed = (reason: string) => metricValue(m, 'nacl_gateway_connections_closed_total', { reason });
      return {
        address_limit: closed('address_limit'),
        idle_timeout: closed('idle_timeout'),
        frame_timeout: metricValue(m, 'nacl_gateway_rejected_total', { reason: 'frame_timeout' }),
        connection_limit: closed('connection_limit'),
      };
    };

    expect(await ship(1_000), 'first round acknowledged during the attack').toBe(true);
    // The attack goes on until the gateway has closed its connections for every bound.
    await waitFor(
      'every bound used',
      async () => {
        const c = await counts();
        return c.address_limit > 0 && c.idle_timeout > 0 && c.frame_timeout > 0;
      },
      15_000,
      250,
    );
    const before = attack.attempts;
    expect(await ship(1_000), 'second round acknowledged during the attack').toBe(true);
    const during = attack.attempts - before;
    const stillAttacking = attack.running;
    attack.stop();
    await shipper.stop(1_000);
    // The attack went on through the second round, reopening what the gateway closed.
    expect(stillAttacking).toBe(true);
    expect(during).toBeGreaterThan(2 * BOUNDS.maxConnections + 12);
    const content = await readTopic(brokers, `h-${env}`);
    const r = idReport(content.events, (e) => (e.event as { id?: string } | undefined)?.id);
    expect(r.unique).toBe(2_000);
    expect((await counts()).connection_limit).toBe(0);
    expect(gw.child.exitCode).toBeNull();
  }, 120_000);
});
