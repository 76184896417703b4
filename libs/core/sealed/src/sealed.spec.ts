import { describe, expect, it } from 'vitest';
import {
  AckStatus, FrameReader, FrameType, ReplayWindow, SealedError, batchSender, decodeKey, encodeFrame, encodeKey, generateKeyPair,
  keyFileOf, openAck, openBatch, parseKeyFile, publicKeyOf, sealAck, sealBatch, sharedKey,
} from './index';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as SealedError).code;
  }
  return 'none';
};

describe('keys', () => {
  it('round-trips base64 keys and key files; shared keys are symmetric', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    expect(decodeKey(encodeKey(a.publicKey))).toEqual(a.publicKey);
    expect(publicKeyOf(a.secretKey)).toEqual(a.publicKey);
    expect(sharedKey(b.publicKey, a.secretKey)).toEqual(sharedKey(a.publicKey, b.secretKey));
    const parsed = parseKeyFile(JSON.stringify(keyFileOf(a, 'harvester', 'web-01')));
    expect(parsed.secretKey).toEqual(a.secretKey);
    expect(code(() => decodeKey('abc'))).toBe('KEY_INVALID');
    const mixed = { ...keyFileOf(a, 'harvester', 'x'), publicKey: encodeKey(b.publicKey) };
    expect(code(() => parseKeyFile(JSON.stringify(mixed)))).toBe('KEY_INVALID');
  });
});

describe('seal/open', () => {
  const sender = generateKeyPair();
  const gw = generateKeyPair();
  const sShared = sharedKey(gw.publicKey, sender.secretKey);
  const gShared = sharedKey(sender.publicKey, gw.secretKey);
  const lookup = (b64: string) => (b64 === encodeKey(sender.publicKey) ? gShared : undefined);
  const rec = { seq: 2 ** 40 + 7, sentAtMs: 1795341600123, key: 'web-01', headers: { schema: '1', count: '2' }, value: new Uint8Array([0x1f, 0x8b, 1, 2, 3]) };

  it('opens what it sealed, with the verified sender', () => {
    const body = sealBatch(sShared, sender.publicKey, rec);
    expect(body[1]).toBe(FrameType.Batch);
    expect(encodeKey(batchSender(body))).toBe(encodeKey(sender.publicKey));
    const o = openBatch(body, lookup);
    expect({ ...o, value: [...o.value] }).toEqual({ ...rec, value: [...rec.value], sender: encodeKey(sender.publicKey) });
  });

  it('uses a fresh random nonce each time', () => {
    const a = sealBatch(sShared, sender.publicKey, rec);
    const b = sealBatch(sShared, sender.publicKey, rec);
    expect(Buffer.from(a.subarray(34, 58)).equals(Buffer.from(b.subarray(34, 58)))).toBe(false);
  });

  it('refuses tampered, cut, unknown-sender and wrong-gateway-key bodies', () => {
    const body = sealBatch(sShared, sender.publicKey, rec);
    for (const i of [40, 70, body.length - 1]) {
      const t = body.slice();
      t[i]! ^= 1;
      expect(code(() => openBatch(t, lookup))).toBe('TAMPERED');
    }
    expect(code(() => openBatch(body.subarray(0, body.length - 3), lookup))).toBe('TAMPERED');
    expect(code(() => openBatch(body.subarray(0, 30), lookup))).toBe('FRAME_TRUNCATED');
    const stranger = generateKeyPair();
    expect(code(() => openBatch(sealBatch(sharedKey(gw.publicKey, stranger.secretKey), stranger.publicKey, rec), lookup))).toBe('UNKNOWN_SENDER');
    // An allowed sender's public key, but sealed by someone else (or for another gateway): the MAC fails.
    const otherGw = generateKeyPair();
    expect(code(() => openBatch(sealBatch(sharedKey(otherGw.publicKey, sender.secretKey), sender.publicKey, rec), lookup))).toBe('TAMPERED');
    const spoof = sealBatch(sharedKey(gw.publicKey, stranger.secretKey), stranger.publicKey, rec);
    spoof.set(sender.publicKey, 2);
    expect(code(() => openBatch(spoof, lookup))).toBe('TAMPERED');
  });

  it('seals acks both ways and refuses a forged ack', () => {
    const body = sealAck(gShared, { seq: 42, status: AckStatus.Ok });
    expect(openAck(sShared, body)).toEqual({ seq: 42, status: AckStatus.Ok });
    expect(openAck(sShared, sealAck(gShared, { seq: 43, status: AckStatus.Failed, reason: 'kafka down' }))).toEqual({ seq: 43, status: AckStatus.Failed, reason: 'kafka down' });
    const t = body.slice();
    t[30]! ^= 4;
    expect(code(() => openAck(sShared, t))).toBe('TAMPERED');
  });
});

describe('frames', () => {
  it('decodes frames split at any byte', () => {
    const bodies = [new Uint8Array([1, 1, 9, 9, 9]), new Uint8Array([1, 2, 7]), new Uint8Array(3000).fill(1)];
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    for (const step of [1, 3, 7, 1000, stream.length]) {
      const r = new FrameReader(4096);
      const got: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += step) got.push(...r.push(stream.subarray(i, i + step)).map((f) => f.body));
      expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
      r.end();
    }
  });

  it('refuses oversized, tiny and unknown-version frames, and a cut stream', () => {
    expect(code(() => new FrameReader(100).push(encodeFrame(new Uint8Array(101).fill(1))))).toBe('FRAME_TOO_LARGE');
    expect(code(() => new FrameReader().push(new Uint8Array([0, 0, 0, 1, 1])))).toBe('FRAME_MALFORMED');
    expect(code(() => new FrameReader().push(encodeFrame(new Uint8Array([9, 1]))))).toBe('FRAME_MALFORMED');
    const r = new FrameReader();
    r.push(encodeFrame(new Uint8Array([1, 1, 2, 3])).subarray(0, 6));
    expect(code(() => r.end())).toBe('FRAME_TRUNCATED');
    // A length of 4 GiB is refused from the 4 header bytes alone, nothing buffered.
    expect(code(() => new FrameReader().push(new Uint8Array([0xff, 0xff, 0xff, 0xff])))).toBe('FRAME_TOO_LARGE');
  });
});

describe('replay window', () => {
  it('accepts new and slightly reordered numbers once, refuses repeats and the too old', () => {
    const w = new ReplayWindow(64);
    for (const s of [10, 12, 11, 100, 99, 70]) w.accept(s);
    for (const s of [10, 11, 12, 100, 99, 70]) expect(code(() => w.check(s))).toBe('REPLAY');
    expect(code(() => w.check(36))).toBe('REPLAY'); // 100 - 36 >= 64
    expect(code(() => w.check(37))).toBe('none');
    w.accept(10_000);
    expect(code(() => w.check(9_999))).toBe('none');
    expect(code(() => w.check(100))).toBe('REPLAY');
    expect(w.last).toBe(10_000);
  });
});
