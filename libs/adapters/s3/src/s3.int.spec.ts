// Smoke tests of the S3 adapter against the local S3Proxy 4.0 (filesystem backend, path style).
// Tests (not sources) of an adapter use the test stack; the tag rules have no spec exception yet.
import { stackInfo, testNamespace } from '@backlog/testing';
import { DeleteBucketCommand, S3Client } from '@aws-sdk/client-s3';
import { createHash, randomBytes } from 'node:crypto';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createS3, type S3AdapterError, type S3Config, type S3Port } from './index';

const MiB = 1024 * 1024;
const sha = (b: Buffer) => createHash('sha256').update(b).digest('hex');

async function rejection(p: Promise<unknown>): Promise<S3AdapterError> {
  try {
    await p;
  } catch (e) {
    return e as S3AdapterError;
  }
  throw new Error('expected a rejection');
}

async function collect<T>(it: AsyncIterable<T>): Promise<T[]> {
  const out: T[] = [];
  for await (const x of it) out.push(x);
  return out;
}

describe('s3 adapter', () => {
  const ns = testNamespace('s3');
  let base: S3Config;
  let s3: S3Port;

  beforeAll(async () => {
    const i = stackInfo().s3;
    base = { endpoint: i.endpoint, region: i.region, bucket: i.bucket, accessKeyId: i.accessKeyId, secretAccessKey: i.secretAccessKey, forcePathStyle: true };
    // 5 MiB parts above 5 MiB, so a 12 MiB object is 3 parts (5 + 5 + 2).
    s3 = createS3({ ...base, multipartThresholdBytes: 5 * MiB, partSizeBytes: 5 * MiB, partConcurrency: 2 });
    await s3.ensureBucket();
  });

  afterAll(async () => {
    if (!s3) return;
    for await (const o of s3.list(`${ns}/`)) await s3.delete(o.key);
    s3.close();
  });

  it('ensureBucket creates a missing bucket once', async () => {
    const bucket = `${ns}-bucket`;
    const other = createS3({ ...base, bucket });
    expect(await other.ensureBucket()).toEqual({ created: true });
    expect(await other.ensureBucket()).toEqual({ created: false });
    other.close();
    const raw = new S3Client({
      endpoint: base.endpoint,
      region: base.region,
      forcePathStyle: true,
      credentials: { accessKeyId: base.accessKeyId ?? '', secretAccessKey: base.secretAccessKey ?? '' },
    });
    await raw.send(new DeleteBucketCommand({ Bucket: bucket }));
    raw.destroy();
  });

  it('puts, heads, gets and deletes a small object', async () => {
    const key = `${ns}/small/p0-42.json`;
    const body = Buffer.from(JSON.stringify({ count: 3, sha256: 'x' }));
    const put = await s3.put(key, body, { contentType: 'application/json', metadata: { schema: '1' } });
    expect(put).toMatchObject({ key, size: body.length, parts: 1 });
    const head = await s3.head(key);
    expect(head).toMatchObject({ key, size: body.length, contentType: 'application/json', metadata: { schema: '1' } });
    expect(await s3.get(key)).toEqual(body);
    // Same key again overwrites with the same bytes (exactly-once parts by name).
    await s3.put(key, body);
    expect(await s3.get(key)).toEqual(body);
    await s3.delete(key);
    expect(await s3.head(key)).toBeUndefined();
    expect(await rejection(s3.get(key))).toMatchObject({ code: 'S3_NOT_FOUND', retriable: false });
    await s3.delete(key); // deleting a missing key is not an error
  });

  it('lists by prefix, page by page, in key order', async () => {
    const keys = Array.from({ length: 5 }, (_, i) => `${ns}/list/3k9nc/p${i}-0.log.bz2`);
    for (const k of [...keys].reverse()) await s3.put(k, Buffer.from(k));
    await s3.put(`${ns}/list-other/x`, Buffer.from('x'));
    await s3.put(`${ns}/list/3k9nd/p0-0.log.bz2`, Buffer.from('y'));
    const listed = await collect(s3.list(`${ns}/list/3k9nc/`, { pageSize: 2 }));
    expect(listed.map((o) => o.key)).toEqual(keys);
    expect(listed[0]?.size).toBe(Buffer.byteLength(keys[0] as string));
    expect((await collect(s3.list(`${ns}/list/3k9nc/`, { startAfter: keys[2] }))).map((o) => o.key)).toEqual(keys.slice(3));
    expect((await collect(s3.list(`${ns}/list/`))).length).toBe(6);
    expect(await collect(s3.list(`${ns}/nothing/`))).toEqual([]);
  });

  it('gets byte ranges', async () => {
    const key = `${ns}/range/obj`;
    const body = randomBytes(1000);
    await s3.put(key, body);
    expect(await s3.getRange(key, 10, 19)).toEqual(body.subarray(10, 20));
    expect(await s3.getRange(key, 0, 0)).toEqual(body.subarray(0, 1));
    // The end is clamped to the object, as HTTP ranges are.
    expect(await s3.getRange(key, 990, 5000)).toEqual(body.subarray(990));
    expect(await rejection(s3.getRange(key, 1000, 1010))).toMatchObject({ code: 'S3_INVALID_RANGE', retriable: false });
    const stream = await s3.getStream(key, { start: 100, endInclusive: 199 });
    expect(Buffer.concat(await collect(stream as AsyncIterable<Buffer>))).toEqual(body.subarray(100, 200));
    expect(await rejection(s3.get(key, { maxBytes: 999 }))).toMatchObject({ code: 'S3_TOO_LARGE' });
  });

  it('uploads 12 MiB from a buffer as 3 multipart parts and reads the same bytes back', async () => {
    const key = `${ns}/multipart/buffer.bin`;
    const body = randomBytes(12 * MiB);
    const put = await s3.put(key, body, { contentType: 'application/x-bzip2' });
    expect(put).toMatchObject({ size: 12 * MiB, parts: 3 });
    expect((await s3.head(key))?.size).toBe(12 * MiB);
    expect(sha(await s3.get(key))).toBe(sha(body));
    // A range across the first part boundary.
    expect(await s3.getRange(key, 5 * MiB - 10, 5 * MiB + 9)).toEqual(body.subarray(5 * MiB - 10, 5 * MiB + 10));
  });

  it('uploads a 12 MiB stream as multipart, and a small stream as one PUT', async () => {
    const key = `${ns}/multipart/stream.bin`;
    const body = randomBytes(12 * MiB);
    const chunks = function* () {
      for (let o = 0; o < body.length; o += 64 * 1024) yield body.subarray(o, o + 64 * 1024);
    };
    const put = await s3.put(key, Readable.from(chunks()));
    expect(put).toMatchObject({ size: 12 * MiB, parts: 3 });
    expect(sha(await s3.get(key))).toBe(sha(body));
    const small = await s3.put(`${ns}/multipart/small.bin`, Readable.from([Buffer.from('a'), Buffer.from('b')]));
    expect(small).toMatchObject({ size: 2, parts: 1 });
    expect((await s3.get(`${ns}/multipart/small.bin`)).toString()).toBe('ab');
  });

  it('aborts the multipart upload when the source stream fails, leaving no object', async () => {
    const key = `${ns}/multipart/broken.bin`;
    const boom = new Error('source failed');
    async function* broken() {
      for (let i = 0; i < 8; i++) yield randomBytes(MiB);
      throw boom;
    }
    await expect(s3.put(key, broken())).rejects.toBe(boom);
    expect(await s3.head(key)).toBeUndefined();
  });

  it('maps transport failures to retriable coded errors', async () => {
    const down = createS3({ ...base, endpoint: 'http://127.0.0.1:1', maxAttempts: 1 });
    expect(await rejection(down.get(`${ns}/x`))).toMatchObject({ code: 'S3_UNAVAILABLE', retriable: true });
    down.close();
    const badKey = createS3({ ...base, secretAccessKey: 'wrong', maxAttempts: 1 });
    expect(await rejection(badKey.get(`${ns}/x`))).toMatchObject({ code: 'S3_ACCESS_DENIED', retriable: false });
    badKey.close();
  });
});
