// The archive read path (core-codec listArchiveParts / readPartEvents, with the S3 store and the bz2
// decoder of the adapters) against the local S3Proxy, on parts built with the codec's part builders and
// compressed by the system's bzip2 (as the compressor does with lbzip2).
import { mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { tmpdir } from 'node:os';
import { type Bz2DecoderOptions, findLbzip2, partReaderIo } from '@backlog/adapter-bz2';
import { type S3Port, createS3, partStoreOf } from '@backlog/adapter-s3';
import { type ArchivePart, ArchivePartError, type ReadPartOptions, type ReadablePart, listArchiveParts as listParts, manifestKey, partKey, readPartEvents, windowStartMs } from '@backlog/core-codec';
import { stackInfo, testNamespace } from '@backlog/testing';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { type Built, type TextLine, buildPart, events, storePart } from './helpers';

// 2026-01-01T10:00Z: parts live under a per-run env, so the window only has to be fixed.
const W0 = Math.floor(Date.UTC(2026, 0, 1, 10, 0, 0) / 300_000);

const build = (env: string, window: number, partition: number, firstOffset: string, lines: TextLine[], streamRawBytes: number): Built =>
  buildPart(env, window, partition, firstOffset, lines, streamRawBytes);

async function store(s3: S3Port, env: string, b: Built, opts: { manifest?: boolean; object?: Buffer } = {}): Promise<void> {
  if (opts.manifest !== false) return storePart(s3, b, opts.object);
  await s3.put(partKey(env, Math.floor(b.manifest.windowStart / 300_000), b.manifest.partition, b.manifest.firstOffset), opts.object ?? b.object);
}

const listArchiveParts = (s3: S3Port, ...rest: Parameters<typeof listParts> extends [unknown, ...infer R] ? R : never) => listParts(partStoreOf(s3), ...rest);

/** readPartEvents with the S3 store, a bz2 decoder and temp-file spools made for the call. */
function readPart(s3: S3Port | undefined, part: ReadablePart, opts: ReadPartOptions & { decoder?: Bz2DecoderOptions['decoder']; decoderThreads?: number; tmpDir?: string } = {}) {
  const { decoder, decoderThreads, tmpDir, ...rest } = opts;
  const io = partReaderIo(s3 ? partStoreOf(s3) : undefined, { ...(decoder ? { decoder } : {}), ...(decoderThreads ? { threads: decoderThreads } : {}), ...(tmpDir ? { tmpDir } : {}) });
  return readPartEvents(io, part, rest);
}

async function all(it: AsyncIterable<string[]>): Promise<string[]> {
  const out: string[] = [];
  for await (const b of it) out.push(...b);
  return out;
}

async function rejection(p: Promise<unknown>): Promise<ArchivePartError> {
  try {
    await p;
  } catch (e) {
    return e as ArchivePartError;
  }
  throw new Error('expected a rejection');
}

const idOf = (line: string) => (JSON.parse(line) as { event: { id: string } }).event.id;
const tsOf = (line: string) => Date.parse((JSON.parse(line) as { '@timestamp': string })['@timestamp']);

describe('archive read path', () => {
  const env = testNamespace('arcread');
  let s3: S3Port;
  // Window W0: partition 0 (two parts: main + late) and partition 1; W0+1: one multi-stream part;
  // W0+2: nothing; W0+3: a part without manifest and a bad manifest.
  const w0p0 = () => build(env, W0, 0, '100', events(env, windowStartMs(W0), 300, 1000, 'a'), 1 << 20);
  const w0p0late = () => build(env, W0, 0, '2000', events(env, windowStartMs(W0) + 500, 20, 7000, 'late'), 1 << 20);
  const w0p1 = () => build(env, W0, 1, '7', events(env, windowStartMs(W0) + 250, 150, 2000, 'b'), 1 << 20);
  // ~4,000 events cut into streams of ≤ 40 KB raw: many bz2 streams in one object.
  const w1p0 = () => build(env, W0 + 1, 0, '400', events(env, windowStartMs(W0 + 1), 4000, 75, 'm'), 40_000);
  let parts: Record<string, Built>;

  beforeAll(async () => {
    const i = stackInfo().s3;
    s3 = createS3({ endpoint: i.endpoint, region: i.region, bucket: i.bucket, accessKeyId: i.accessKeyId, secretAccessKey: i.secretAccessKey, forcePathStyle: true });
    await s3.ensureBucket();
    parts = { w0p0: w0p0(), w0p0late: w0p0late(), w0p1: w0p1(), w1p0: w1p0() };
    for (const b of Object.values(parts)) await store(s3, env, b);
    // W0+3: an interrupted write (no manifest) and a manifest that is not JSON.
    const orphan = build(env, W0 + 3, 0, '900', events(env, windowStartMs(W0 + 3), 10, 1000, 'o'), 1 << 20);
    await store(s3, env, orphan, { manifest: false });
    const bad = build(env, W0 + 3, 1, '5', events(env, windowStartMs(W0 + 3), 10, 1000, 'q'), 1 << 20);
    await store(s3, env, bad, { manifest: false });
    await s3.put(manifestKey(env, W0 + 3, 1, '5'), Buffer.from('{"schema":1,'));
  });

  afterAll(async () => {
    if (!s3) return;
    for await (const o of s3.list(`${env}/`)) await s3.delete(o.key);
    s3.close();
  });

  it('lists the parts of a range in window, partition, offset order; problems are reported, not thrown', async () => {
    const from = windowStartMs(W0);
    const to = windowStartMs(W0 + 4);
    const l = await listArchiveParts(s3, env, from, to);
    expect(l.windows).toEqual([W0, W0 + 1, W0 + 2, W0 + 3].map((w) => w.toString(36)));
    expect(l.parts.map((p) => [p.manifest.window, p.manifest.partition, p.manifest.firstOffset])).toEqual([
      [W0.toString(36), 0, '100'],
      [W0.toString(36), 0, '2000'],
      [W0.toString(36), 1, '7'],
      [(W0 + 1).toString(36), 0, '400'],
    ]);
    expect(l.parts[3]?.manifest.streams.length).toBeGreaterThan(3);
    expect(l.parts.every((p) => p.size === p.manifest.compressedBytes && p.manifestKey === p.key.replace(/\.log\.bz2$/, '.json'))).toBe(true);
    expect(l.windowsWithoutParts).toEqual([(W0 + 2).toString(36), (W0 + 3).toString(36)]);
    expect(l.problems.map((p) => [p.code, p.key.split('/').pop()])).toEqual([
      ['MISSING_MANIFEST', 'p0-900.log.bz2'],
      ['BAD_MANIFEST', 'p1-5.json'],
    ]);
    // Offsets order numerically, not as text ('2000' after '100', '400' partition order).
    expect(l.outOfRange).toBe(0);
  });

  it('lists only the windows of the range, and leaves out parts with no event in it', async () => {
    // [W0 start + 10 min .. ) is W0+2..: W0's and W0+1's parts are not listed at all.
    const l = await listArchiveParts(s3, env, windowStartMs(W0 + 2), windowStartMs(W0 + 3));
    expect(l.windows).toEqual([(W0 + 2).toString(36)]);
    expect(l.parts).toEqual([]);
    expect(l.problems).toEqual([]);
    // A range inside W0 after the last event of the late part (its events end at +133 s).
    const late = parts.w0p0late as Built;
    const from = late.manifest.maxTs + 1;
    const r = await listArchiveParts(s3, env, from, windowEndMs(W0));
    expect(r.parts.map((p) => p.manifest.firstOffset)).toEqual(['100', '7']);
    expect(r.outOfRange).toBe(1);
    const every = await listArchiveParts(s3, env, from, windowEndMs(W0), { includeOutOfRange: true });
    expect(every.parts).toHaveLength(3);
  });

  it('reads a whole part, verified, in batches', async () => {
    const l = await listArchiveParts(s3, env, windowStartMs(W0), windowEndMs(W0));
    const p = l.parts[0] as ArchivePart;
    const batches: string[][] = [];
    for await (const b of readPart(s3, p, { batchLines: 64 })) batches.push(b);
    expect(batches.every((b) => b.length <= 64)).toBe(true);
    expect(batches.flat()).toEqual((parts.w0p0 as Built).lines.map((x) => x.line));
  });

  it('reads a multi-stream part whole, and spills to disk above the memory bound', async () => {
    const l = await listArchiveParts(s3, env, windowStartMs(W0 + 1), windowEndMs(W0 + 1));
    const p = l.parts[0] as ArchivePart;
    const want = (parts.w1p0 as Built).lines.map((x) => x.line);
    expect(await all(readPart(s3, p))).toEqual(want);
    let bytes = 0;
    const spill = mkdtempSync(join(tmpdir(), 'arcread-'));
    const got = await all(readPart(s3, p, { memoryBytes: 16 * 1024, tmpDir: spill, onBytes: (n) => (bytes += n) }));
    expect(got).toEqual(want);
    expect(bytes).toBe(p.manifest.compressedBytes);
    expect(await all(readPart(s3, p, { verify: false }))).toEqual(want);
    // No spill directory is left behind.
    expect(readdirSync(spill)).toEqual([]);
    rmSync(spill, { recursive: true, force: true });
  });

  it('decodes alike with a spawned lbzip2 and with unbzip2-stream (auto picks lbzip2 when it is installed)', async () => {
    // scripts/prereqs.sh installs lbzip2; without it `auto` falls back and an explicit `lbzip2` is an error.
    const lbzip2 = await findLbzip2();
    const l = await listArchiveParts(s3, env, windowStartMs(W0 + 1), windowEndMs(W0 + 1));
    const p = l.parts[0] as ArchivePart;
    const want = (parts.w1p0 as Built).lines.map((x) => x.line);
    expect(await all(readPart(s3, p, { decoder: 'unbzip2-stream' }))).toEqual(want);
    expect(await all(readPart(s3, p, { decoder: 'auto', decoderThreads: 1 }))).toEqual(want);
    if (lbzip2) {
      expect(await all(readPart(s3, p, { decoder: 'lbzip2', decoderThreads: 2 }))).toEqual(want);
      const start = windowStartMs(W0 + 1) + 75 * 1000;
      const slice = (parts.w1p0 as Built).lines.filter((x) => x.ts >= start && x.ts < start + 75 * 1000).map((x) => x.line);
      expect(await all(readPart(s3, p, { decoder: 'lbzip2', fromMs: start, toMs: start + 75 * 1000 }))).toEqual(slice);
      expect(await all(readPart(s3, p, { decoder: 'lbzip2', fromMs: start, toMs: start + 75 * 1000, verify: false }))).toEqual(slice);
    } else {
      expect((await rejection(all(readPart(s3, p, { decoder: 'lbzip2' })))).message).toMatch(/lbzip2 is not on the PATH/);
    }
    // The manifest's codec is checked before anything is fetched.
    const odd = { ...p, manifest: { ...p.manifest, codec: 'zstd' } } as unknown as ArchivePart;
    const e = await rejection(all(readPart(s3, odd)));
    expect(e.code).toBe('DECOMPRESS');
    expect(e.message).toMatch(/codec zstd is not supported/);
  });

  it('filters on @timestamp at window edges, [from, to)', async () => {
    const m = (parts.w1p0 as Built).lines;
    const start = windowStartMs(W0 + 1);
    const cases: [number, number][] = [
      [start, start + 1], // first event only
      [start - 1000, start], // nothing (end exclusive)
      [start + 75 * 1000, start + 75 * 2000], // a middle slice
      [start + 299_000, windowEndMs(W0 + 1) + 5000], // the tail across the window's end
      [(m[m.length - 1] as TextLine).ts, windowEndMs(W0 + 1)], // the last event exactly
    ];
    const l = await listArchiveParts(s3, env, start, windowEndMs(W0 + 1));
    const p = l.parts[0] as ArchivePart;
    for (const [from, to] of cases) {
      const want = m.filter((x) => x.ts >= from && x.ts < to).map((x) => x.line);
      expect(await all(readPart(s3, p, { fromMs: from, toMs: to }))).toEqual(want);
      // Unverified: only the byte ranges of the streams in range are fetched.
      let bytes = 0;
      expect(await all(readPart(s3, p, { fromMs: from, toMs: to, verify: false, onBytes: (n) => (bytes += n) }))).toEqual(want);
      const inRange = p.manifest.streams.filter((s) => s.maxTs >= from && s.minTs < to);
      expect(bytes).toBe(inRange.reduce((a, s) => a + s.length, 0));
    }
    // Across windows, through the listing: every event of [from, to) exactly once.
    const from = windowStartMs(W0) + 290_000;
    const to = windowStartMs(W0 + 1) + 10_000;
    const range = await listArchiveParts(s3, env, from, to);
    const got: string[] = [];
    for (const p2 of range.parts) got.push(...(await all(readPart(s3, p2, { fromMs: from, toMs: to }))));
    const want = Object.values(parts)
      .flatMap((b) => b.lines)
      .filter((x) => x.ts >= from && x.ts < to);
    expect(got.map(idOf).sort()).toEqual(want.map((x) => x.id).sort());
    expect(got.every((x) => tsOf(x) >= from && tsOf(x) < to)).toBe(true);
  });

  it('a tampered object → SHA256_MISMATCH before any line is yielded', async () => {
    const b = parts.w0p1 as Built;
    const tampered = Buffer.from(b.object);
    tampered[tampered.length >> 1] = (tampered[tampered.length >> 1] as number) ^ 0xff;
    const env2 = `${env}t`;
    await store(s3, env2, { ...b, manifest: { ...b.manifest, env: env2 } }, { object: tampered });
    const l = await listArchiveParts(s3, env2, windowStartMs(W0), windowEndMs(W0));
    const p = l.parts[0] as ArchivePart;
    const yielded: string[][] = [];
    const err = await rejection(
      (async () => {
        for await (const x of readPart(s3, p)) yielded.push(x);
      })(),
    );
    expect(err).toBeInstanceOf(ArchivePartError);
    expect(err.code).toBe('SHA256_MISMATCH');
    expect(err.message).toContain(p.key);
    expect(yielded).toEqual([]);
    // Unverified, the same bytes fail to decompress (bz2 CRC) rather than yield garbage silently — with either decoder.
    for (const decoder of ['auto', 'unbzip2-stream'] as const) {
      const e2 = await rejection(all(readPart(s3, p, { verify: false, decoder })));
      expect(e2.code).toBe('DECOMPRESS');
      expect(e2.message).toContain(p.key);
    }
    for await (const o of s3.list(`${env2}/`)) await s3.delete(o.key);
  });

  it('a manifest with a wrong count → COUNT_MISMATCH; a deleted object → MISSING', async () => {
    const b = parts.w0p0late as Built;
    const env3 = `${env}c`;
    await store(s3, env3, { ...b, manifest: { ...b.manifest, env: env3, count: b.manifest.count + 1 } });
    const l = await listArchiveParts(s3, env3, windowStartMs(W0), windowEndMs(W0));
    const p = l.parts[0] as ArchivePart;
    const err = await rejection(all(readPart(s3, p)));
    expect(err.code).toBe('COUNT_MISMATCH');
    await s3.delete(p.key);
    expect((await rejection(all(readPart(s3, p)))).code).toBe('MISSING');
    for await (const o of s3.list(`${env3}/`)) await s3.delete(o.key);
  });

  it('reads a part whose bytes are at hand (the c-<env> records) with the same checks and no store', async () => {
    const b = parts.w1p0 as Built;
    const key = `${b.manifest.window}/p0-400`;
    const at = { key, manifest: b.manifest, object: b.object };
    expect(await all(readPart(undefined, at, { batchLines: 100 }))).toEqual(b.lines.map((x) => x.line));
    const start = windowStartMs(W0 + 1) + 30_000;
    const slice = b.lines.filter((x) => x.ts >= start && x.ts < start + 60_000).map((x) => x.line);
    for (const decoder of ['auto', 'unbzip2-stream'] as const) expect(await all(readPart(undefined, at, { fromMs: start, toMs: start + 60_000, decoder }))).toEqual(slice);
    const tampered = Buffer.from(b.object);
    tampered[10] = (tampered[10] as number) ^ 0xff;
    const e1 = await rejection(all(readPart(undefined, { ...at, object: tampered })));
    expect([e1.code, e1.key]).toEqual(['SHA256_MISMATCH', key]);
    const e2 = await rejection(all(readPart(undefined, { ...at, manifest: { ...b.manifest, count: b.manifest.count - 1 } })));
    expect(e2.code).toBe('COUNT_MISMATCH');
  });
});

function windowEndMs(w: number): number {
  return windowStartMs(w + 1);
}
