// The compressor against the real Kafka and S3 server, run as a real child process:
//   kill -9 mid-window + restart → the same objects and bytes as an uninterrupted run, every event once;
//   events an hour late → a further part; a corrupt and an oversized batch → dead-letter objects;
//   its S3 server stopped for 60 s → it waits, 0 lost (a private S3Proxy, so others' tests keep theirs).
import { execFileSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { parseManifest } from '@backlog/core-codec';
import { stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { verifyArchive } from '../../apps/cli/src/commands/archive';
import { startPrivateS3 } from './private-s3';
import { type Rec, archivedIds, buildRecords, exited, listKeys, manifests, produce, s3Of, sleep, startCompressor, unbzip2Text, waitFor } from './helpers';

const START = Date.parse('2026-11-22T10:00:00Z');

describe('compressor: exactly once, late parts, dead letters', () => {
  const info = stackInfo();
  const envA = testNamespace('cmpa');
  const envB = testNamespace('cmpb');
  const s3 = s3Of(info);
  const { records, ids } = buildRecords({ start: START, minutes: 45, hosts: 3, perBatch: 150, lateAfterMin: 40 });
  // A record that is not gzip, and a gzip bomb over the 1 MiB batch cap set below.
  const corrupt: Rec = { key: 'web-0', value: Buffer.from('definitely not gzip'), headers: { schema: '1' } };
  const bomb: Rec = { key: 'web-1', value: gzipSync(Buffer.alloc(4 * 1024 * 1024, 0x61)), headers: { schema: '1' } };
  const input = [...records.slice(0, 40), corrupt, ...records.slice(40, 80), bomb, ...records.slice(80)];
  const settings = { BACKLOG_COMPRESSOR_MAX_BATCH_RAW_BYTES: String(1024 * 1024), BACKLOG_COMPRESSOR_STREAM_RAW_BYTES: String(256 * 1024) };
  const complete = async (env: string) => {
    const ms = await manifests(s3, env);
    return ms.reduce((n, x) => n + x.m.count, 0) === ids.length ? ms : undefined;
  };

  beforeAll(async () => {
    await produce(info, envA, input);
    await produce(info, envB, input);
  });
  afterAll(() => s3.close());

  let refObjects: Map<string, Buffer>;

  it('uninterrupted run: every event once, sorted parts that bzip2 -d and unbzip2-stream both read', async () => {
    const c = startCompressor(info, envA, settings);
    try {
      await c.ready;
      await waitFor(`all ${ids.length} events archived`, () => complete(envA), 90_000);
      // c-<env>: a manifest header on each part's last record is checked in the archive verify spec.
    } finally {
      c.child.kill('SIGTERM');
      expect(await exited(c.child)).toBe(0);
    }
    const got = await archivedIds(s3, envA);
    expect(got.length).toBe(ids.length);
    expect(new Set(got)).toEqual(new Set(ids));
    const ms = await manifests(s3, envA);
    refObjects = new Map();
    for (const { key, m } of ms) {
      const obj = await s3.get(key.replace(/\.json$/, '.log.bz2'));
      refObjects.set(key.slice(envA.length), obj);
      refObjects.set(key.replace(/\.json$/, '.log.bz2').slice(envA.length), obj);
      expect(m.streams.length).toBeGreaterThanOrEqual(1);
      for (const st of m.streams) expect(st.length).toBeLessThanOrEqual(900 * 1024);
    }
    const multi = ms.find((x) => x.m.streams.length > 1);
    expect(multi).toBeDefined();
    const obj = await s3.get((multi as { key: string }).key.replace(/\.json$/, '.log.bz2'));
    const viaTool = execFileSync('bzip2', ['-d', '-c'], { input: obj }).toString();
    expect(await unbzip2Text(obj)).toBe(viaTool);
    const ts = viaTool
      .trim()
      .split('\n')
      .map((l) => Date.parse((JSON.parse(l) as { '@timestamp': string })['@timestamp']));
    expect(ts).toEqual([...ts].sort((a, b) => a - b));
  }, 150_000);

  it('events more than an hour late go into a further part of their window, all present', async () => {
    const ms = await manifests(s3, envA);
    const late = ms.filter((x) => x.m.late);
    expect(late.length).toBeGreaterThanOrEqual(2);
    for (const { m } of late) {
      expect(m.hosts).toEqual(['laptop-7']);
      expect(ms.some((x) => x.m.window === m.window && !x.m.late)).toBe(true);
    }
    expect(late.reduce((n, x) => n + x.m.count, 0)).toBe(40);
  });

  it('a corrupt and an oversized batch are kept as dead-letter objects with their reason', async () => {
    const keys = await listKeys(s3, `${envA}/dead-letter/`);
    expect(keys.length).toBe(2);
    const reasons = await Promise.all(keys.map(async (k) => (JSON.parse((await s3.get(k)).toString()) as { reason: string }).reason));
    expect(reasons.sort()).toEqual(['not_gzip', 'too_large']);
  });

  it('kill -9 in the middle of a window + restart → the same objects and bytes, every event once', async () => {
    const first = startCompressor(info, envB, settings);
    await first.ready;
    // Kill once some parts are out and others still buffered.
    await waitFor('first parts', async () => (await manifests(s3, envB)).length >= 3, 60_000, 100);
    first.child.kill('SIGKILL');
    await exited(first.child);
    const before = (await manifests(s3, envB)).reduce((n, x) => n + x.m.count, 0);
    expect(before).toBeLessThan(ids.length);
    const second = startCompressor(info, envB, settings);
    try {
      await second.ready;
      await waitFor('all events archived after restart', () => complete(envB), 90_000);
    } finally {
      second.child.kill('SIGTERM');
      await exited(second.child);
    }
    const keysB = (await listKeys(s3, `${envB}/`)).filter((k) => !k.includes('/_state/') && !k.includes('/dead-letter/')).map((k) => k.slice(envB.length));
    expect(keysB.sort()).toEqual([...refObjects.keys()].sort());
    for (const k of keysB) {
      if (!k.endsWith('.log.bz2')) continue;
      expect((await s3.get(envB + k)).equals(refObjects.get(k) as Buffer)).toBe(true);
    }
    // Manifests equal too, but for the env and topic names.
    for (const k of keysB.filter((x) => x.endsWith('.json'))) {
      const mb = parseManifest(await s3.get(envB + k));
      const ma = parseManifest(await s3.get(envA + k));
      expect({ ...mb, env: '', topic: '' }).toEqual({ ...ma, env: '', topic: '' });
    }
    const got = await archivedIds(s3, envB);
    expect(got.length).toBe(ids.length);
    expect(new Set(got).size).toBe(ids.length);
  }, 180_000);

  it('backlog archive verify: OK on a whole archive, names a corrupt part and exits non-zero', async () => {
    const range = { fromMs: START, toMs: START + 45 * 60_000 };
    const good = await verifyArchive(s3, { env: envA, ...range });
    expect(good.problems).toEqual([]);
    expect(good.missingWindows).toEqual([]);
    expect(good.events).toBe(ids.length);
    expect(good.ok).toBe(true);
    const { key } = (await manifests(s3, envB))[0] as { key: string };
    const partKeyB = key.replace(/\.json$/, '.log.bz2');
    const bytes = Buffer.from(await s3.get(partKeyB));
    const at = Math.floor(bytes.length / 2);
    bytes.writeUInt8(bytes.readUInt8(at) ^ 0x55, at);
    await s3.put(partKeyB, bytes);
    const bad = await verifyArchive(s3, { env: envB, fromMs: START, toMs: START + 60 * 60_000 });
    expect(bad.ok).toBe(false);
    expect(bad.problems.map((p) => p.code)).toContain('SHA256_MISMATCH');
    expect(bad.problems.every((p) => p.key === partKeyB)).toBe(true);
    // Without the compressor's evidence (Kafka) the three windows after the data cannot be told idle from lost.
    expect(bad.counts.unknown).toBe(3);
    expect(bad.missingWindows).toEqual([]);
  });
});

describe('compressor: S3 server stopped for 60 s', () => {
  const info = stackInfo();
  const env = testNamespace('cmps3');
  const dir = mkdtempSync(join(tmpdir(), 'backlog-private-s3-'));
  let priv: Awaited<ReturnType<typeof startPrivateS3>>;
  afterAll(async () => {
    await priv?.stop();
    rmSync(dir, { recursive: true, force: true });
  });

  it('waits while S3 is down and loses nothing', async () => {
    priv = await startPrivateS3(dir);
    const s3 = s3Of(info, priv.endpoint);
    const { records, ids } = buildRecords({ start: START, minutes: 30, hosts: 2, perBatch: 100 });
    const half = Math.floor(records.length / 2);
    await produce(info, env, records.slice(0, half));
    const c = startCompressor(info, env, { BACKLOG_COMPRESSOR_MAX_IN_FLIGHT_PARTS: '2' }, priv.endpoint);
    try {
      await c.ready;
      await waitFor('first parts', async () => (await manifests(s3, env)).length >= 1, 60_000);
      await priv.stop();
      const downAt = Date.now();
      await produce(info, env, records.slice(half));
      await sleep(60_000 - (Date.now() - downAt));
      expect(c.child.exitCode).toBeNull();
      await priv.start();
      await waitFor('all events archived', async () => (await manifests(s3, env)).reduce((n, x) => n + x.m.count, 0) === ids.length, 90_000);
    } finally {
      c.child.kill('SIGTERM');
      await exited(c.child);
    }
    expect(c.output()).toContain('s3 write failed, retrying');
    const got = await archivedIds(s3, env);
    expect(got.length).toBe(ids.length);
    expect(new Set(got)).toEqual(new Set(ids));
    s3.close();
  }, 240_000);
});
