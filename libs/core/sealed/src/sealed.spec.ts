import nacl from 'tweetnacl';
import { describe, expect, it } from 'vitest';
import {
  AckStatus,
  BATCH_HEADER_BYTES,
  Direction,
  FRAME_VERSION,
  FrameReader,
  FrameType,
  ReplayWindow,
  SealedError,
  ackHeader,
  ackMatches,
  batchHeader,
  batchSender,
  checkFresh,
  decodeKey,
  encodeFrame,
  encodeKey,
  generateKeyPair,
  keyFileOf,
  openAck,
  openBatch,
  parseKeyFile,
  publicKeyOf,
  replayClaimTtlMs,
  sealAck,
  sealBatch,
  sealedKeys,
  sharedKey,
} from './index';

const code = (f: () => unknown) => {
  try {
    f();
  } catch (e) {
    return (e as SealedError).code ?? String(e);
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

  it('derives one key per direction, equal on both ends, distinct from each other and from the shared key', () => {
    const a = generateKeyPair();
    const b = generateKeyPair();
    const ka = sealedKeys(b.publicKey, a.secretKey);
    const kb = sealedKeys(a.publicKey, b.secretKey);
    expect(ka).toEqual(kb);
    expect(ka.batch).toHaveLength(32);
    expect(ka.ack).toHaveLength(32);
    const hex = (k: Uint8Array) => Buffer.from(k).toString('hex');
    expect(new Set([hex(ka.batch), hex(ka.ack), hex(sharedKey(b.publicKey, a.secretKey))]).size).toBe(3);
  });
});

describe('seal/open (v2)', () => {
  const sender = generateKeyPair();
  const gw = generateKeyPair();
  const sKeys = sealedKeys(gw.publicKey, sender.secretKey);
  const gKeys = sealedKeys(sender.publicKey, gw.secretKey);
  const lookup = (b64: string) => (b64 === encodeKey(sender.publicKey) ? gKeys : undefined);
  const rec = { env: 'prod', seq: 2 ** 40 + 7, sentAtMs: 1795341600123, key: 'web-01', headers: { schema: '1', count: '2' }, value: new Uint8Array([0x1f, 0x8b, 1, 2, 3]) };

  it('opens what it sealed, with the verified sender, the env and the nonce', () => {
    const nonce = nacl.randomBytes(24);
    const body = sealBatch(sKeys, sender.publicKey, rec, nonce);
    expect([body[0], body[1]]).toEqual([FRAME_VERSION, FrameType.Batch]);
    expect(encodeKey(batchSender(body))).toBe(encodeKey(sender.publicKey));
    const o = openBatch(body, lookup, { env: 'prod' });
    expect({ ...o, value: [...o.value], nonce: [...o.nonce] }).toEqual({ ...rec, value: [...rec.value], sender: encodeKey(sender.publicKey), nonce: [...nonce] });
  });

  it('uses a fresh random nonce each time', () => {
    const a = sealBatch(sKeys, sender.publicKey, rec);
    const b = sealBatch(sKeys, sender.publicKey, rec);
    expect(Buffer.from(a.subarray(34, 58)).equals(Buffer.from(b.subarray(34, 58)))).toBe(false);
  });

  it('refuses tampered, cut, unknown-sender and wrong-gateway-key bodies', () => {
    const body = sealBatch(sKeys, sender.publicKey, rec);
    for (const i of [40, 70, body.length - 1]) {
      const t = body.slice();
      t[i]! ^= 1;
      expect(code(() => openBatch(t, lookup))).toBe('TAMPERED');
    }
    expect(code(() => openBatch(body.subarray(0, body.length - 3), lookup))).toBe('TAMPERED');
    expect(code(() => openBatch(body.subarray(0, 30), lookup))).toBe('FRAME_TRUNCATED');
    const stranger = generateKeyPair();
    expect(code(() => openBatch(sealBatch(sealedKeys(gw.publicKey, stranger.secretKey), stranger.publicKey, rec), lookup))).toBe('UNKNOWN_SENDER');
    const otherGw = generateKeyPair();
    expect(code(() => openBatch(sealBatch(sealedKeys(otherGw.publicKey, sender.secretKey), sender.publicKey, rec), lookup))).toBe('TAMPERED');
    const spoof = sealBatch(sealedKeys(gw.publicKey, stranger.secretKey), stranger.publicKey, rec);
    spoof.set(sender.publicKey, 2);
    expect(code(() => openBatch(spoof, lookup))).toBe('TAMPERED');
  });

  it('refuses a batch sealed for another env (the env is inside the box)', () => {
    const body = sealBatch(sKeys, sender.publicKey, { ...rec, env: 'staging' });
    expect(code(() => openBatch(body, lookup, { env: 'prod' }))).toBe('WRONG_ENV');
    expect(openBatch(body, lookup, { env: 'staging' }).env).toBe('staging');
  });

  it('binds an ack to its batch: env, seq and the batch nonce, and refuses a forged ack', () => {
    const batch = sealBatch(sKeys, sender.publicKey, rec);
    const opened = openBatch(batch, lookup, { env: 'prod' });
    const body = sealAck(gKeys, { env: 'prod', seq: opened.seq, batchNonce: opened.nonce, status: AckStatus.Ok });
    const ack = openAck(sKeys, body, { env: 'prod' });
    expect({ ...ack, batchNonce: [...ack.batchNonce] }).toEqual({ env: 'prod', seq: rec.seq, batchNonce: [...batch.subarray(34, 58)], status: AckStatus.Ok });
    expect(code(() => ackMatches(ack, { seq: rec.seq, nonce: batch.subarray(34, 58) }))).toBe('none');
    // Same sequence number, another batch (another nonce): not this batch's ack.
    expect(code(() => ackMatches(ack, { seq: rec.seq, nonce: nacl.randomBytes(24) }))).toBe('WRONG_BATCH');
    expect(code(() => ackMatches(ack, { seq: rec.seq + 1, nonce: batch.subarray(34, 58) }))).toBe('WRONG_BATCH');
    const failed = openAck(sKeys, sealAck(gKeys, { env: 'prod', seq: 43, batchNonce: opened.nonce, status: AckStatus.Failed, reason: 'kafka down' }));
    expect([failed.status, failed.reason]).toEqual([AckStatus.Failed, 'kafka down']);
    expect(code(() => openAck(sKeys, sealAck(gKeys, { env: 'staging', seq: 1, batchNonce: opened.nonce, status: AckStatus.Ok }), { env: 'prod' }))).toBe('WRONG_ENV');
    const t = body.slice();
    t[30]! ^= 4;
    expect(code(() => openAck(sKeys, t))).toBe('TAMPERED');
    // An ack sealed by a stranger gateway for this harvester's key pair does not authenticate.
    const other = sealedKeys(sender.publicKey, generateKeyPair().secretKey);
    expect(code(() => openAck(sKeys, sealAck(other, { env: 'prod', seq: rec.seq, batchNonce: opened.nonce, status: AckStatus.Ok })))).toBe('TAMPERED');
  });

  it('a batch reflected back to its sender never opens as an ack (issue 17 §1)', () => {
    // v1's attack: the batch body minus the clear sender key, with the type byte set to "ack". Under v1
    // it opened with the shared key and read as an Ok ack for its own seq.
    const batch = sealBatch(sKeys, sender.publicKey, { ...rec, sentAtMs: Date.now() });
    const stripped = new Uint8Array([FRAME_VERSION, FrameType.Ack, ...batch.subarray(BATCH_HEADER_BYTES)]);
    expect(code(() => openAck(sKeys, stripped))).toBe('WRONG_DIRECTION');
    // Only the type byte changed: not even the nonce is where an ack's is.
    const retyped = batch.slice();
    retyped[1] = FrameType.Ack;
    expect(code(() => openAck(sKeys, retyped))).toBe('TAMPERED');
    // Unchanged: the header says batch.
    expect(code(() => openAck(sKeys, batch))).toBe('WRONG_DIRECTION');
    expect(code(() => ackHeader(batch.subarray(0, 2)))).toBe('WRONG_DIRECTION');
  });

  it('an ack reflected to a gateway as a batch never opens as a batch', () => {
    const ack = sealAck(gKeys, { env: 'prod', seq: 5, batchNonce: nacl.randomBytes(24), status: AckStatus.Ok });
    const asBatch = new Uint8Array([FRAME_VERSION, FrameType.Batch, ...sender.publicKey, ...ack.subarray(2)]);
    expect(code(() => openBatch(asBatch, lookup))).toBe('WRONG_DIRECTION');
    expect(code(() => batchHeader(ack.subarray(0, 34), ack.length))).toBe('WRONG_DIRECTION');
  });

  it('checks the authenticated context against the frame (defence in depth behind the per-direction keys)', () => {
    // A box sealed under the batch key whose inner context claims to be an ack: refused as wrong direction.
    const plain = new Uint8Array([FRAME_VERSION, FrameType.Ack, Direction.GatewayToHarvester, 4, ...Buffer.from('prod'), ...new Uint8Array(40)]);
    const nonce = nacl.randomBytes(24);
    const body = new Uint8Array([FRAME_VERSION, FrameType.Batch, ...sender.publicKey, ...nonce, ...nacl.secretbox(plain, nonce, sKeys.batch)]);
    expect(code(() => openBatch(body, lookup))).toBe('WRONG_DIRECTION');
  });

  it('refuses v1 frames with their own reason, and reads batch headers before bodies', () => {
    const v1 = sealBatch(sKeys, sender.publicKey, rec);
    v1[0] = 1;
    expect(code(() => openBatch(v1, lookup))).toBe('VERSION_UNSUPPORTED');
    expect(code(() => batchHeader(v1.subarray(0, 34), v1.length))).toBe('VERSION_UNSUPPORTED');
    expect(encodeKey(batchHeader(sealBatch(sKeys, sender.publicKey, rec).subarray(0, 34), 500))).toBe(encodeKey(sender.publicKey));
    expect(code(() => batchHeader(sealBatch(sKeys, sender.publicKey, rec).subarray(0, 34), 60))).toBe('FRAME_TRUNCATED');
  });
});

describe('frames', () => {
  it('decodes frames split at any byte', () => {
    const bodies = [new Uint8Array([2, 1, 9, 9, 9]), new Uint8Array([2, 2, 7]), new Uint8Array(3000).fill(2)];
    const stream = Buffer.concat(bodies.map((b) => encodeFrame(b)));
    for (const step of [1, 3, 7, 1000, stream.length]) {
      const r = new FrameReader(4096);
      const got: Uint8Array[] = [];
      for (let i = 0; i < stream.length; i += step) got.push(...r.push(stream.subarray(i, i + step)).map((f) => f.body));
      expect(got.map((g) => Buffer.from(g).toString('hex'))).toEqual(bodies.map((b) => Buffer.from(b).toString('hex')));
      expect(r.frames).toBe(3);
      expect(r.inFrame).toBe(false);
      r.end();
    }
  });

  it('refuses oversized, tiny, v1 and unknown-version frames, and a cut stream', () => {
    expect(code(() => new FrameReader(100).push(encodeFrame(new Uint8Array(101).fill(2))))).toBe('FRAME_TOO_LARGE');
    expect(code(() => new FrameReader().push(new Uint8Array([0, 0, 0, 1, 2])))).toBe('FRAME_MALFORMED');
    expect(code(() => new FrameReader().push(encodeFrame(new Uint8Array([9, 1]))))).toBe('VERSION_UNSUPPORTED');
    // A v1 frame is refused on its first body byte, however long it claims to be.
    expect(code(() => new FrameReader().push(new Uint8Array([0, 0, 0x10, 0, 1])))).toBe('VERSION_UNSUPPORTED');
    const r = new FrameReader();
    r.push(encodeFrame(new Uint8Array([2, 1, 2, 3])).subarray(0, 6));
    expect(r.inFrame).toBe(true);
    expect(code(() => r.end())).toBe('FRAME_TRUNCATED');
    // A length of 4 GiB is refused from the 4 header bytes alone, nothing buffered.
    expect(code(() => new FrameReader().push(new Uint8Array([0xff, 0xff, 0xff, 0xff])))).toBe('FRAME_TOO_LARGE');
  });

  it('runs the header check once per frame as soon as the header is in, before the body', () => {
    const seen: number[][] = [];
    const r = new FrameReader(1 << 20, {
      bytes: 4,
      check: (head, len) => {
        seen.push([...head, len]);
        if (head[2] === 0xee) throw new SealedError('UNKNOWN_SENDER', 'no');
      },
    });
    const big = new Uint8Array(100_000).fill(2);
    const frame = encodeFrame(big);
    // Header bytes arrive one at a time: the check runs when the 4th arrives, with nothing else buffered.
    for (let i = 0; i < 7; i++) expect(r.push(frame.subarray(i, i + 1))).toEqual([]);
    expect(seen).toEqual([]);
    r.push(frame.subarray(7, 8));
    expect(seen).toEqual([[2, 2, 2, 2, 100_000]]);
    expect(r.push(frame.subarray(8))).toHaveLength(1);
    expect(seen).toHaveLength(1);
    // A refused header throws after 4 + 4 bytes of a 1 MB frame, before the body exists.
    const bad = new Uint8Array([0, 0x0f, 0, 0, 2, 1, 0xee, 0]);
    expect(code(() => r.push(bad))).toBe('UNKNOWN_SENDER');
    // A body shorter than the header still gets its check (with what there is).
    const r2 = new FrameReader(4096, { bytes: 34, check: (head, len) => seen.push([head.length, len]) });
    expect(r2.push(encodeFrame(new Uint8Array([2, 1, 5])))).toHaveLength(1);
    expect(seen.at(-1)).toEqual([3, 3]);
  });
});

describe('replay window and freshness', () => {
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

  it('keeps a replay claim exactly as long as the frame is fresh, plus the clock margin', () => {
    const skew = 600_000;
    expect(code(() => checkFresh(1_000_000, 1_000_000 + skew, skew))).toBe('none');
    expect(code(() => checkFresh(1_000_000, 1_000_001 + skew, skew))).toBe('STALE');
    expect(code(() => checkFresh(1_000_001 + skew, 1_000_000, skew))).toBe('STALE');
    // Sealed now: fresh for one more skew. Sealed a skew ahead of us (the latest we accept): two skews.
    expect(replayClaimTtlMs(5_000_000, 5_000_000, skew, 60_000)).toBe(skew + 60_000);
    expect(replayClaimTtlMs(5_000_000 + skew, 5_000_000, skew, 60_000)).toBe(2 * skew + 60_000);
    // Sealed a skew ago (the oldest we accept): only the margin is left.
    expect(replayClaimTtlMs(5_000_000 - skew, 5_000_000, skew, 60_000)).toBe(60_000);
  });
});
