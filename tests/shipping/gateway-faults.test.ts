// Fault test (c) of issue 5: tampered, truncated, wrong-key, replayed (and oversized) frames reach a real
// nacl-gateway process in front of the real Kafka. None is accepted, each is counted by reason, and the
// gateway keeps serving valid frames on other connections throughout.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBatch } from '@backlog/core-codec';
import { AckStatus, encodeFrame, generateKeyPair, openAck, sealBatch, sealedKeys } from '@backlog/core-sealed';
import { stackInfo, testNamespace } from '@backlog/testing';
import { type GatewayProc, exchange as exchangeWith, startGateway } from './gateway-helpers';
import { ensureTopic, metricValue, readTopic, scrape, sleep } from './helpers';

const env = testNamespace('gwfault');
const topic = `h-${env}`;
const gwKeys = generateKeyPair();
const harvester = generateKeyPair();
const shared = sealedKeys(gwKeys.publicKey, harvester.secretKey);
let gw: GatewayProc;
let brokers: string[];
let seq = Date.now() * 1000;

function record(n: number) {
  const events = Array.from({ length: n }, (_, i) => ({ '@timestamp': new Date().toISOString(), message: `ok ${i}`, event: { id: `${env}-${seq}-${i}` } }));
  const b = encodeBatch(events, { host: 'web-01' });
  return { key: b.key, value: b.value, headers: { ...b.headers } as Record<string, string> };
}

function frameFor(rec: ReturnType<typeof record>, s = seq++, keyOf = harvester, sh = shared) {
  return encodeFrame(sealBatch(sh, keyOf.publicKey, { env, seq: s, sentAtMs: Date.now(), ...rec }));
}

/** Opens a connection, writes bytes, and reports what came back: acks, or the gateway closing on us. */
async function exchange(bytes: Uint8Array[], opts: { end?: boolean; waitMs?: number; acks?: number } = {}): Promise<{ acks: { seq: number; status: number }[]; closedByPeer: boolean }> {
  const r = await exchangeWith(gw.port, bytes, { ...opts, frames: opts.acks });
  return {
    acks: r.frames.map((f) => {
      const a = openAck(shared, f, { env });
      return { seq: a.seq, status: a.status };
    }),
    closedByPeer: r.closedByPeer,
  };
}

beforeAll(async () => {
  brokers = stackInfo().kafka.brokers;
  await ensureTopic(brokers, topic, 1);
  gw = await startGateway({ env, brokers, redisUrl: stackInfo().redis.url, keys: gwKeys, allow: [{ name: 'web-01', keys: harvester }] });
});

afterAll(async () => {
  await gw?.term();
});

describe('nacl-gateway under hostile frames (issue 5, fault c)', () => {
  it('accepts nothing bad, counts each by reason, and keeps serving', async () => {
    // A valid frame first: acked only after Kafka acked it.
    const good = frameFor(record(3));
    const first = await exchange([good], { waitMs: 10_000, acks: 1 });
    expect(first.acks).toEqual([{ seq: seq - 1, status: AckStatus.Ok }]);

    // Tampered: one bit flipped inside the box.
    const t = frameFor(record(2));
    t[t.length - 20]! ^= 0x01;
    expect((await exchange([t])).closedByPeer).toBe(true);

    // Truncated: the connection ends inside a frame.
    const cut = frameFor(record(2));
    expect((await exchange([cut.subarray(0, cut.length - 100)], { end: true })).acks).toEqual([]);

    // Truncated body with a consistent length prefix (the box itself cut short): shorter than the
    // fixed part, so it counts as truncated; a cut that leaves the fixed part counts as tampered (MAC).
    const inner = frameFor(record(2)).subarray(4);
    expect((await exchange([encodeFrame(inner.subarray(0, 40))])).closedByPeer).toBe(true);

    // Wrong key (1): a sender that is not on the allow list.
    const stranger = generateKeyPair();
    expect((await exchange([frameFor(record(2), seq++, stranger, sealedKeys(gwKeys.publicKey, stranger.secretKey))])).closedByPeer).toBe(true);
    // Wrong key (2): the allowed sender's public key, sealed for another gateway's key.
    const otherGw = generateKeyPair();
    expect((await exchange([frameFor(record(2), seq++, harvester, sealedKeys(otherGw.publicKey, harvester.secretKey))])).closedByPeer).toBe(true);

    // Replayed: the exact bytes of the accepted frame, on a new connection.
    expect((await exchange([good])).acks).toEqual([]);

    // Oversized: a length prefix far above the cap is refused before any body is buffered.
    expect((await exchange([new Uint8Array([0x7f, 0xff, 0xff, 0xff, 1, 1])])).closedByPeer).toBe(true);

    // Still serving: a fresh valid frame is acked.
    const again = await exchange([frameFor(record(4))], { waitMs: 10_000, acks: 1 });
    expect(again.acks.map((a) => a.status)).toEqual([AckStatus.Ok]);

    await sleep(300);
    const m = await scrape(gw.metricsPort);
    const r = (reason: string) => metricValue(m, 'nacl_gateway_rejected_total', { reason });
    expect({ tampered: r('tampered'), truncated: r('truncated'), unknown_sender: r('unknown_sender'), replay: r('replay'), too_large: r('too_large') }).toEqual({
      tampered: 2,
      truncated: 2,
      unknown_sender: 1,
      replay: 1,
      too_large: 1,
    });
    expect(metricValue(m, 'nacl_gateway_acked_batches_total')).toBe(2);

    // Exactly the two valid batches reached h-<env>, each with the verified sender recorded.
    const content = await readTopic(brokers, topic);
    expect(content.records).toBe(2);
    expect(content.events).toHaveLength(7);
    for (const h of content.headers) expect(h['sender-name']).toBe('web-01');
    expect(gw.child.exitCode).toBeNull();
  });
});
