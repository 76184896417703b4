// Issue 17 §1: a harvester's own sealed batch, sent back to it as an "ack", must never make it delete
// the spooled batch. The harvester's real shipping (Shipper + Spool + SealedSender, what main.ts runs)
// connects through a man-in-the-middle on loopback to a real nacl-gateway process. The middle first
// reflects each batch frame back to the harvester instead of forwarding it — (1) v1's attack: the body
// without its clear sender key, type byte set to "ack"; (2) only the type byte changed — and checks
// that nothing left the spool and each frame was counted as a rejected ack. Then it forwards honestly,
// and the same batch is acknowledged by the gateway and found in h-<env>: the harvester was working
// all along, so the first half cannot pass by doing nothing.
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { type Server, type Socket, connect, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { generateKeyPair } from '@backlog/core-sealed';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { stackInfo, testNamespace, waitFor } from '@backlog/testing';
import { shippingMetrics } from '../../apps/harvester/src/shipping/metrics';
import { SealedSender } from '../../apps/harvester/src/shipping/sealed-sender';
import { SeqStore } from '../../apps/harvester/src/shipping/seq-store';
import { Shipper, defaultShipperOptions } from '../../apps/harvester/src/shipping/shipper';
import { Spool } from '../../apps/harvester/src/spool/spool';
import { type GatewayProc, startGateway } from './gateway-helpers';
import { ensureTopic, freePort, readTopic } from './helpers';

const env = testNamespace('reflect');
const dir = mkdtempSync(join(tmpdir(), 'reflect-'));
let gw: GatewayProc | undefined;
let mitm: Server | undefined;
const open = new Set<Socket>();

afterAll(async () => {
  for (const s of open) s.destroy();
  await new Promise<void>((r) => (mitm ? mitm.close(() => r()) : r()));
  await gw?.term();
  rmSync(dir, { recursive: true, force: true });
});

/** Splits a byte stream into `u32 length | body` frames, whatever their version (so it works on v1 code too). */
function splitter(onFrame: (body: Buffer) => void): (chunk: Buffer) => void {
  let buf = Buffer.alloc(0);
  return (chunk) => {
    buf = Buffer.concat([buf, chunk]);
    while (buf.length >= 4 && buf.length >= 4 + buf.readUInt32BE(0)) {
      const len = buf.readUInt32BE(0);
      onFrame(buf.subarray(4, 4 + len));
      buf = buf.subarray(4 + len);
    }
  };
}

const frame = (body: Uint8Array) => {
  const out = Buffer.alloc(4 + body.length);
  out.writeUInt32BE(body.length, 0);
  out.set(body, 4);
  return out;
};

const ACK = 2;
const SENDER_KEY_END = 2 + 32;

describe('a sealed batch reflected back to the harvester (issue 17 §1)', () => {
  it('is refused and counted; the batch stays spooled until the real gateway acknowledges it', async () => {
    const brokers = stackInfo().kafka.brokers;
    await ensureTopic(brokers, `h-${env}`, 1);
    const gwKeys = generateKeyPair();
    const hv = generateKeyPair();
    gw = await startGateway({ env, brokers, redisUrl: stackInfo().redis.url, keys: gwKeys, allow: [{ name: 'web-01', keys: hv }] });

    // The middle: reflects the first batch frames it sees, one attack per connection, then forwards.
    const attacks: ((body: Buffer) => Buffer)[] = [
      (body) => Buffer.concat([Buffer.from([body[0]!, ACK]), body.subarray(SENDER_KEY_END)]), // v1's attack
      (body) => Buffer.concat([Buffer.from([body[0]!, ACK]), body.subarray(2)]), // type byte only
    ];
    const reflected: number[] = [];
    let forwarded = 0;
    const mitmPort = await freePort();
    mitm = createServer((down) => {
      open.add(down);
      down.on('error', () => undefined);
      const attack = attacks.shift();
      let up: Socket | undefined;
      if (!attack) {
        up = connect({ host: '127.0.0.1', port: gw!.port });
        open.add(up);
        up.on('error', () => down.destroy());
        up.on('close', () => down.destroy());
        up.pipe(down);
        down.on('close', () => up!.destroy());
      }
      down.on(
        'data',
        splitter((body) => {
          if (attack) {
            reflected.push(body.length);
            down.write(frame(attack(body)));
          } else {
            forwarded++;
            up!.write(frame(body));
          }
        }),
      );
    });
    await new Promise<void>((r) => mitm!.listen(mitmPort, '127.0.0.1', () => r()));

    const metrics = shippingMetrics(new MetricsRegistry());
    const sender = new SealedSender({ host: '127.0.0.1', port: mitmPort, env, keys: hv, gatewayPublicKey: gwKeys.publicKey, seq: new SeqStore(dir), ackTimeoutMs: 10_000, metrics });
    // A long retry pause after the first failures, so the spool can be looked at between the attacks and the honest forward.
    const shipper = new Shipper({ ...defaultShipperOptions, host: 'web-01', flushIntervalMs: 60_000, retryMinMs: 300, retryMaxMs: 600 }, { spool: new Spool({ dir, fsync: false }), sender, metrics });
    shipper.start();
    shipper.write(Array.from({ length: 5 }, (_, i) => ({ '@timestamp': new Date().toISOString(), message: `line ${i}`, event: { id: `${env}-${i}` }, host: { name: 'web-01' } })));
    await shipper.flushed();
    const segDir = join(dir, 'seg');
    expect(readdirSync(segDir)).toHaveLength(1);

    const rejected = async (reason: string) => (await metrics.rejectedAcks.get()).values.find((v) => v.labels.reason === reason)?.value ?? 0;
    const acked = async () => (await metrics.ackedBatches.get()).values[0]?.value ?? 0;
    const settled = async (n: number) => {
      // The harvester either refused the n-th reflection (the send failed) or took it as an ack.
      await waitFor(`reflection ${n} handled`, async () => reflected.length >= n && (await metrics.sendErrors.get()).values.reduce((s, v) => s + v.value, 0) + (await acked()) >= n, 20_000, 20);
      // Not resolved: the segment is still on disk, nothing counts as acknowledged.
      expect(await acked(), `reflection ${n} was taken as an ack`).toBe(0);
      expect(readdirSync(segDir), `reflection ${n} deleted the spooled batch`).toHaveLength(1);
      expect(shipper.backlog.segments).toBe(1);
    };
    await settled(1);
    await settled(2);
    expect(attacks).toHaveLength(0);
    // The reflected batch is recognised as such (it opens under the batch key, never the ack key).
    expect(await rejected('wrong_direction')).toBe(1);
    expect(await rejected('tampered')).toBe(1);

    // Honest forwarding from here on: the same batch is resent, acknowledged and leaves the spool.
    expect(await shipper.drained(30_000)).toBe(true);
    await shipper.stop(2_000);
    expect(forwarded).toBeGreaterThanOrEqual(1);
    expect((await metrics.ackedBatches.get()).values[0]?.value).toBe(1);
    expect(readdirSync(segDir)).toHaveLength(0);
    const content = await readTopic(brokers, `h-${env}`);
    expect(content.events.map((e) => (e.event as { id: string }).id).sort()).toEqual([0, 1, 2, 3, 4].map((i) => `${env}-${i}`));
  }, 90_000);
});
