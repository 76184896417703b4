import { describe, expect, it } from 'vitest';
import { FrameReader, SealedError, encodeFrame, encodeKey, generateKeyPair, openBatch, sealBatch, sealedKeys } from '@backlog/core-sealed';
import { AllowList } from './allow-list';
import { ByteBudget, type FinisherCandidate, defaultMaxBufferedBytes, pickFinisher } from './budget';
import { defaultGatewayOptions, gatewayBounds, gatewayConfigSchema } from './config';

// The gateway's pure parts: allow list, frame admission by header, byte budget, config checks. The
// gateway with real sockets, Redis and Kafka is tested in tests/shipping/gateway-*.test.ts.

const code = (f: () => unknown): string => {
  try {
    f();
  } catch (e) {
    return e instanceof SealedError ? e.code : String(e);
  }
  return 'none';
};

describe('allow list', () => {
  const gw = generateKeyPair();
  const web = generateKeyPair();
  const db = generateKeyPair();
  const stranger = generateKeyPair();
  const allow = new AllowList(
    [
      { name: 'web-01', publicKey: web.publicKey },
      { name: 'db-01', publicKey: db.publicKey },
    ],
    gw.secretKey,
    64,
  );
  const rec = { env: 'prod', seq: 1, sentAtMs: 1_795_341_600_000, key: 'web-01', headers: { count: '1' }, value: new Uint8Array([0x1f, 0x8b, 0]) };
  const frameOf = (from: typeof web) => encodeFrame(sealBatch(sealedKeys(gw.publicKey, from.secretKey), from.publicKey, rec));

  it('knows each sender by its base64 key, with its name and the keys derived once', () => {
    expect(allow.size).toBe(2);
    const s = allow.get(encodeKey(web.publicKey));
    expect(s).toMatchObject({ name: 'web-01', b64: encodeKey(web.publicKey) });
    expect(allow.keysOf(encodeKey(web.publicKey))).toBe(s?.keys);
    expect(s?.keys).toEqual(sealedKeys(web.publicKey, gw.secretKey));
    expect(allow.get(encodeKey(stranger.publicKey))).toBeUndefined();
    expect(allow.keysOf(encodeKey(stranger.publicKey))).toBeUndefined();
  });

  it("passes a listed sender's frame through the reader, and it opens with the list's keys", () => {
    const frames = new FrameReader(1 << 20, allow.headerCheck).push(frameOf(db));
    expect(frames).toHaveLength(1);
    const opened = openBatch(frames[0]!.body, (b64) => allow.keysOf(b64), { env: 'prod' });
    expect(allow.get(opened.sender)?.name).toBe('db-01');
  });

  it('refuses an unlisted sender from the header, before the body is buffered', () => {
    const reader = new FrameReader(1 << 20, allow.headerCheck);
    const frame = frameOf(stranger);
    // The length prefix (4 bytes) and the 34 header bytes: refused there, whatever follows.
    expect(reader.push(frame.subarray(0, 4 + 33))).toEqual([]);
    expect(code(() => reader.push(frame.subarray(4 + 33, 4 + 34)))).toBe('UNKNOWN_SENDER');
    expect(code(() => new FrameReader(1 << 20, new AllowList([], gw.secretKey, 64).headerCheck).push(frameOf(web)))).toBe('UNKNOWN_SENDER');
  });
});

describe('byte budget', () => {
  const gauges = () => {
    const seen = { bufferedBytes: [] as number[], bufferedBytesPeak: [] as number[] };
    return { seen, gauges: { bufferedBytes: { set: (v: number) => seen.bufferedBytes.push(v) }, bufferedBytesPeak: { set: (v: number) => seen.bufferedBytesPeak.push(v) } } };
  };

  it('pauses at the limit, once, and resumes only at three quarters of it', () => {
    const { gauges: g } = gauges();
    const b = new ByteBudget(1000, g);
    b.add(999);
    expect(b.step()).toBeUndefined();
    b.add(1);
    expect(b.step()).toBe('pause');
    expect(b.isPaused).toBe(true);
    b.add(500);
    expect(b.step()).toBeUndefined();
    b.add(-749);
    expect(b.step()).toBeUndefined(); // 751: still above 750
    b.add(-1);
    expect(b.step()).toBe('resume');
    expect(b.isPaused).toBe(false);
    expect(b.step()).toBeUndefined();
    expect(b.state).toEqual({ bytes: 750, peak: 1500, limit: 1000, paused: false });
  });

  it('publishes the count and the peak', () => {
    const { seen, gauges: g } = gauges();
    const b = new ByteBudget(100, g);
    b.add(40);
    b.add(30);
    b.add(-50);
    b.add(10);
    expect(seen.bufferedBytes).toEqual([0, 40, 70, 20, 30]);
    expect(seen.bufferedBytesPeak).toEqual([0, 40, 70]);
  });

  it('defaults to a quarter of the heap limit, never below two frames', () => {
    expect(defaultMaxBufferedBytes(2 << 20, 176 << 20)).toBe(44 << 20);
    expect(defaultMaxBufferedBytes(2 << 20, 8 << 20)).toBe(4 << 20);
    expect(defaultMaxBufferedBytes(1 << 20)).toBeGreaterThanOrEqual(2 << 20);
  });

  it('picks as finisher the live connection furthest into its frame that may still put one in flight', () => {
    const conn = (name: string, pending: number, over: Partial<FinisherCandidate> = {}) => ({ name, dead: false, inflight: 0, reader: { inFrame: true, pending }, ...over });
    const a = conn('a', 100);
    const b = conn('b', 300);
    const dead = conn('dead', 900, { dead: true });
    const idle = conn('idle', 0, { reader: { inFrame: false, pending: 0 } });
    const full = conn('full', 800, { inflight: 4 });
    expect(pickFinisher([a, dead, b, idle, full], 4)?.name).toBe('b');
    expect(pickFinisher([a, conn('a2', 100)], 4)?.name).toBe('a');
    expect(pickFinisher([dead, idle, full], 4)).toBeUndefined();
    expect(pickFinisher([], 4)).toBeUndefined();
  });
});

describe('gateway config', () => {
  const key = encodeKey(generateKeyPair().publicKey);
  const secretKey = encodeKey(generateKeyPair().secretKey);

  it('takes its defaults from the schema', () => {
    const c = gatewayConfigSchema.parse({ keys: { secretKey } });
    expect(c).toMatchObject({ listen: { host: '127.0.0.1', port: 5516 }, allow: [], maxFrameBytes: 2 << 20, replayWindow: 4096, maxConnectionsPerAddress: 16, frameTimeoutMs: 30_000 });
    expect(c.maxBufferedBytes).toBeUndefined();
    // The Gateway's defaults are these, not a second copy.
    expect(defaultGatewayOptions).toEqual(gatewayBounds(c));
    expect(defaultGatewayOptions).toEqual({
      host: '127.0.0.1',
      port: 5516,
      maxFrameBytes: 2 << 20,
      replayWindow: 4096,
      maxClockSkewMs: 600_000,
      maxInFlightPerConnection: 16,
      maxConnections: 1024,
      maxConnectionsPerAddress: 16,
      idleTimeoutMs: 120_000,
      frameTimeoutMs: 30_000,
    });
  });

  it('refuses what would make the gateway unsafe or useless, naming the setting', () => {
    const issues = (v: unknown) => {
      const r = gatewayConfigSchema.safeParse(v);
      return r.success ? [] : r.error.issues.map((i) => i.path.join('.'));
    };
    expect(issues({})).toContain('keys');
    expect(issues({ keys: { secretKey }, maxFrameBytes: 4096, maxBufferedBytes: 2048 })).toContain('maxBufferedBytes');
    expect(issues({ keys: { secretKey }, maxFrameBytes: 4096, maxBufferedBytes: 4096 })).toEqual([]);
    expect(issues({ keys: { secretKey }, allow: [{ name: 'web-01', publicKey: 'not-a-key' }] })).toContain('allow.0.publicKey');
    expect(issues({ keys: { secretKey }, allow: [{ name: 'web-01', publicKey: key, extra: 1 }] })).toEqual(['allow.0']);
    expect(issues({ keys: { secretKey }, allow: [{ name: '', publicKey: key }] })).toContain('allow.0.name');
    expect(issues({ keys: { secretKey }, replayWindow: 100 })).toContain('replayWindow');
    expect(issues({ keys: { secretKey }, allow: [{ name: 'web-01', publicKey: key }] })).toEqual([]);
  });
});
