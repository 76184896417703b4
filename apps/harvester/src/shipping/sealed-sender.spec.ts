// SealedSender resolves a send only on an authenticated ack that names that exact batch (env, seq and
// the batch's nonce). A scripted peer on a loopback socket holds the gateway's real keys and answers each
// batch with one crafted ack; anything but the right ack fails the send (the batch stays spooled and is
// resent) and is counted by reason.
import { mkdtempSync, rmSync } from 'node:fs';
import { type Server, createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, afterEach, describe, expect, it } from 'vitest';
import { AckStatus, FrameReader, type OpenedBatch, encodeFrame, encodeKey, generateKeyPair, openBatch, randomNonce, sealAck, sealedKeys } from '@backlog/core-sealed';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { shippingMetrics } from './metrics';
import { GatewayError, SealedSender } from './sealed-sender';
import { SeqStore } from './seq-store';

const dir = mkdtempSync(join(tmpdir(), 'sealed-sender-'));
const gwKeys = generateKeyPair();
const hv = generateKeyPair();
const gwSide = sealedKeys(hv.publicKey, gwKeys.secretKey);
let server: Server | undefined;

afterEach(async () => {
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** A peer that opens each batch with the gateway's keys and answers with `answer(batch)`. */
async function peer(answer: (b: OpenedBatch) => Uint8Array): Promise<number> {
  server = createServer((sock) => {
    const reader = new FrameReader();
    sock.on('error', () => undefined);
    sock.on('data', (d: Buffer) => {
      for (const f of reader.push(d)) sock.write(encodeFrame(answer(openBatch(f.body, (b64) => (b64 === encodeKey(hv.publicKey) ? gwSide : undefined)))));
    });
  });
  await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
  return (server.address() as { port: number }).port;
}

async function sendOnce(port: number): Promise<{ result: 'resolved' | string; rejected: Record<string, number> }> {
  const metrics = shippingMetrics(new MetricsRegistry());
  const sender = new SealedSender({ host: '127.0.0.1', port, env: 'prod', keys: hv, gatewayPublicKey: gwKeys.publicKey, seq: new SeqStore(dir), ackTimeoutMs: 5_000, metrics });
  let result: string;
  try {
    await sender.send({ key: 'web-01', value: Buffer.from([0x1f, 0x8b]), headers: { count: '1' } });
    result = 'resolved';
  } catch (err) {
    result = (err as GatewayError).code;
  }
  await sender.close();
  const rejected: Record<string, number> = {};
  for (const v of (await metrics.rejectedAcks.get()).values) rejected[String(v.labels.reason)] = v.value;
  return { result, rejected };
}

describe('SealedSender ack binding', () => {
  it('resolves on the ack of its batch', async () => {
    const port = await peer((b) => sealAck(gwSide, { env: b.env, seq: b.seq, batchNonce: b.nonce, status: AckStatus.Ok }));
    expect(await sendOnce(port)).toEqual({ result: 'resolved', rejected: {} });
  });

  it('refuses an ack naming its seq but another batch (nonce)', async () => {
    const port = await peer((b) => sealAck(gwSide, { env: b.env, seq: b.seq, batchNonce: randomNonce(), status: AckStatus.Ok }));
    expect(await sendOnce(port)).toEqual({ result: 'GATEWAY_BAD_ACK', rejected: { wrong_batch: 1 } });
  });

  it('refuses an ack sealed for another env', async () => {
    const port = await peer((b) => sealAck(gwSide, { env: 'staging', seq: b.seq, batchNonce: b.nonce, status: AckStatus.Ok }));
    expect(await sendOnce(port)).toEqual({ result: 'GATEWAY_BAD_ACK', rejected: { wrong_env: 1 } });
  });

  it('refuses its own batch sent back unchanged', async () => {
    let raw: Uint8Array | undefined;
    server = createServer((sock) => {
      sock.on('error', () => undefined);
      sock.on('data', (d: Buffer) => {
        raw = d.subarray(4);
        sock.write(encodeFrame(raw));
      });
    });
    await new Promise<void>((r) => server!.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    expect(await sendOnce(port)).toEqual({ result: 'GATEWAY_BAD_ACK', rejected: { wrong_direction: 1 } });
    expect(raw?.[1]).toBe(1);
  });

  it('treats a failed ack as a failed send, not a rejected frame', async () => {
    const port = await peer((b) => sealAck(gwSide, { env: b.env, seq: b.seq, batchNonce: b.nonce, status: AckStatus.Failed, reason: 'REPLAY_STORE_UNAVAILABLE' }));
    expect(await sendOnce(port)).toEqual({ result: 'GATEWAY_FAILED', rejected: {} });
  });
});
