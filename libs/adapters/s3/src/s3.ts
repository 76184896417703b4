import {
  AbortMultipartUploadCommand,
  CompleteMultipartUploadCommand,
  CreateBucketCommand,
  CreateMultipartUploadCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadBucketCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
  UploadPartCommand,
  type CompletedPart,
} from '@aws-sdk/client-s3';
import { Readable } from 'node:stream';
import { S3AdapterError, mapS3Error } from './errors';

const MiB = 1024 * 1024;
/** S3's minimum size of every part but the last (https://docs.aws.amazon.com/AmazonS3/latest/userguide/qfacts.html). */
export const MIN_PART_BYTES = 5 * MiB;
/** S3's maximum number of parts in one upload. */
export const MAX_PARTS = 10_000;

export interface S3Config {
  /** Custom endpoint (S3Proxy, MinIO), e.g. `http://127.0.0.1:9000`. Omit for AWS. */
  endpoint?: string;
  /** Default `us-east-1`. */
  region?: string;
  bucket: string;
  /** Static credentials; omit to use the SDK's default chain (env, profile, instance role). */
  accessKeyId?: string;
  secretAccessKey?: string;
  /** Path-style URLs (`endpoint/bucket/key`). Needed for S3Proxy and MinIO. Default: true when `endpoint` is set. */
  forcePathStyle?: boolean;
  /** Objects above this size are sent as a multipart upload. Default 16 MiB. */
  multipartThresholdBytes?: number;
  /** Size of each multipart part (≥ 5 MiB). Default 8 MiB. */
  partSizeBytes?: number;
  /** Parts uploaded at the same time; memory use is about (this + 1) × part size. Default 4. */
  partConcurrency?: number;
  /** SDK attempts per request (including the first) for throttling/5xx/network errors. Default 3. */
  maxAttempts?: number;
  /** Socket inactivity timeout per request, ms. Default 60,000. */
  requestTimeoutMs?: number;
  /** TCP connect timeout, ms. Default 5,000. */
  connectionTimeoutMs?: number;
}

export interface ObjectInfo {
  key: string;
  size: number;
  etag: string | undefined;
  lastModified: Date | undefined;
}

export interface HeadInfo extends ObjectInfo {
  contentType: string | undefined;
  metadata: Record<string, string>;
}

export interface PutOptions {
  contentType?: string;
  /** User metadata (`x-amz-meta-*`); keys are lowercased by S3. */
  metadata?: Record<string, string>;
}

export interface PutResult {
  key: string;
  etag: string | undefined;
  size: number;
  /** 1 for a single PUT, else the number of multipart parts. */
  parts: number;
}

export interface GetOptions {
  /** Refuse (S3_TOO_LARGE) objects larger than this many bytes instead of buffering them. Default 256 MiB. */
  maxBytes?: number;
}

export type PutBody = Buffer | Uint8Array | Readable | AsyncIterable<Uint8Array>;

export interface S3Port {
  readonly bucket: string;
  /** Creates the bucket unless it exists. */
  ensureBucket(): Promise<{ created: boolean }>;
  /**
   * Writes an object. Buffers above the threshold, and streams as soon as they exceed it, go up as a
   * multipart upload; a failed multipart upload is aborted so no parts linger. Same key → overwrite.
   */
  put(key: string, body: PutBody, options?: PutOptions): Promise<PutResult>;
  /** The whole object. */
  get(key: string, options?: GetOptions): Promise<Buffer>;
  /** Bytes `start`..`endInclusive` (HTTP Range semantics; the end is clamped to the object's size). */
  getRange(key: string, start: number, endInclusive: number): Promise<Buffer>;
  /** The object (or a range of it) as a stream, for large reads. */
  getStream(key: string, range?: { start: number; endInclusive: number }): Promise<Readable>;
  /** Object metadata, or undefined when there is no such key. */
  head(key: string): Promise<HeadInfo | undefined>;
  /** Every object under `prefix`, in key order, fetched page by page (ListObjectsV2). */
  list(prefix: string, options?: { startAfter?: string; pageSize?: number }): AsyncIterable<ObjectInfo>;
  /** Deletes a key (no error when it does not exist, as in S3). */
  delete(key: string): Promise<void>;
  close(): void;
}

export function createS3(config: S3Config): S3Port {
  return new S3Adapter(config);
}

class S3Adapter implements S3Port {
  readonly bucket: string;
  private readonly client: S3Client;
  private readonly threshold: number;
  private readonly partSize: number;
  private readonly concurrency: number;

  constructor(cfg: S3Config) {
    if (!cfg.bucket) throw new S3AdapterError('S3_CONFIG_INVALID', 's3: bucket is required');
    this.partSize = cfg.partSizeBytes ?? 8 * MiB;
    if (this.partSize < MIN_PART_BYTES) throw new S3AdapterError('S3_CONFIG_INVALID', `s3: partSizeBytes must be at least ${MIN_PART_BYTES}`);
    this.threshold = cfg.multipartThresholdBytes ?? 16 * MiB;
    this.concurrency = Math.max(1, cfg.partConcurrency ?? 4);
    if ((cfg.accessKeyId === undefined) !== (cfg.secretAccessKey === undefined)) {
      throw new S3AdapterError('S3_CONFIG_INVALID', 's3: give both accessKeyId and secretAccessKey, or neither');
    }
    this.bucket = cfg.bucket;
    this.client = new S3Client({
      region: cfg.region ?? 'us-east-1',
      ...(cfg.endpoint ? { endpoint: cfg.endpoint } : {}),
      forcePathStyle: cfg.forcePathStyle ?? cfg.endpoint !== undefined,
      ...(cfg.accessKeyId && cfg.secretAccessKey ? { credentials: { accessKeyId: cfg.accessKeyId, secretAccessKey: cfg.secretAccessKey } } : {}),
      // SDK ≥ 3.729 adds CRC32 trailers to every upload by default; S3-compatible servers vary in support
      // (gaul/s3proxy #942, #1041). Checksums only where the API requires them; our manifests carry sha256.
      requestChecksumCalculation: 'WHEN_REQUIRED',
      responseChecksumValidation: 'WHEN_REQUIRED',
      maxAttempts: cfg.maxAttempts ?? 3,
      requestHandler: { requestTimeout: cfg.requestTimeoutMs ?? 60_000, connectionTimeout: cfg.connectionTimeoutMs ?? 5_000 },
    });
  }

  async ensureBucket(): Promise<{ created: boolean }> {
    try {
      await this.client.send(new HeadBucketCommand({ Bucket: this.bucket }));
      return { created: false };
    } catch (e) {
      const mapped = mapS3Error(e, `head bucket ${this.bucket}`);
      if (mapped.code !== 'S3_NOT_FOUND' && mapped.code !== 'S3_NO_BUCKET') throw mapped;
    }
    try {
      await this.client.send(new CreateBucketCommand({ Bucket: this.bucket }));
      return { created: true };
    } catch (e) {
      // Another instance created it in between.
      const name = (e as { name?: string }).name;
      if (name === 'BucketAlreadyOwnedByYou' || name === 'BucketAlreadyExists') return { created: false };
      throw mapS3Error(e, `create bucket ${this.bucket}`);
    }
  }

  async put(key: string, body: PutBody, options: PutOptions = {}): Promise<PutResult> {
    if (Buffer.isBuffer(body) || body instanceof Uint8Array) {
      const buf = Buffer.isBuffer(body) ? body : Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (buf.length <= this.threshold) return this.putOne(key, buf, options);
      return this.putMultipart(key, sliceBuffer(buf, this.partSizeFor(buf.length)), options);
    }
    return this.putStream(key, body, options);
  }

  async get(key: string, options: GetOptions = {}): Promise<Buffer> {
    const max = options.maxBytes ?? 256 * MiB;
    const res = await this.send(`get ${key}`, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key })));
    const len = res.ContentLength;
    if (len !== undefined && len > max) {
      (res.Body as Readable | undefined)?.destroy?.();
      throw new S3AdapterError('S3_TOO_LARGE', `get ${key}: ${len} bytes exceed the ${max}-byte cap`);
    }
    const buf = await this.readBody(`get ${key}`, res.Body, max);
    if (len !== undefined && buf.length !== len) throw new S3AdapterError('S3_INTEGRITY', `get ${key}: got ${buf.length} of ${len} bytes`);
    return buf;
  }

  async getRange(key: string, start: number, endInclusive: number): Promise<Buffer> {
    checkRange(start, endInclusive);
    const what = `get ${key} bytes=${start}-${endInclusive}`;
    const res = await this.send(what, () => this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, Range: `bytes=${start}-${endInclusive}` })));
    const buf = await this.readBody(what, res.Body, endInclusive - start + 1);
    if (res.ContentLength !== undefined && buf.length !== res.ContentLength) {
      throw new S3AdapterError('S3_INTEGRITY', `${what}: got ${buf.length} of ${res.ContentLength} bytes`);
    }
    return buf;
  }

  async getStream(key: string, range?: { start: number; endInclusive: number }): Promise<Readable> {
    if (range) checkRange(range.start, range.endInclusive);
    const res = await this.send(`get ${key}`, () =>
      this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: key, ...(range ? { Range: `bytes=${range.start}-${range.endInclusive}` } : {}) })),
    );
    if (!(res.Body instanceof Readable)) throw new S3AdapterError('S3_UNKNOWN', `get ${key}: no body stream`);
    return res.Body;
  }

  async head(key: string): Promise<HeadInfo | undefined> {
    try {
      const r = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }));
      return {
        key,
        size: r.ContentLength ?? 0,
        etag: r.ETag,
        lastModified: r.LastModified,
        contentType: r.ContentType,
        metadata: r.Metadata ?? {},
      };
    } catch (e) {
      const mapped = mapS3Error(e, `head ${key}`);
      if (mapped.code === 'S3_NOT_FOUND') return undefined;
      throw mapped;
    }
  }

  async *list(prefix: string, options: { startAfter?: string; pageSize?: number } = {}): AsyncIterable<ObjectInfo> {
    let token: string | undefined;
    let first = true;
    do {
      const page = await this.send(`list ${prefix}`, () =>
        this.client.send(
          new ListObjectsV2Command({
            Bucket: this.bucket,
            Prefix: prefix,
            MaxKeys: options.pageSize ?? 1000,
            ...(token ? { ContinuationToken: token } : {}),
            ...(first && options.startAfter ? { StartAfter: options.startAfter } : {}),
          }),
        ),
      );
      first = false;
      for (const o of page.Contents ?? []) {
        if (o.Key === undefined) continue;
        yield { key: o.Key, size: o.Size ?? 0, etag: o.ETag, lastModified: o.LastModified };
      }
      token = page.IsTruncated ? page.NextContinuationToken : undefined;
    } while (token);
  }

  async delete(key: string): Promise<void> {
    await this.send(`delete ${key}`, () => this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: key })));
  }

  close(): void {
    this.client.destroy();
  }

  // ---- internals ----

  private async send<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      throw mapS3Error(e, what);
    }
  }

  /** Grows the part size for very large buffers so the upload stays within 10,000 parts. */
  private partSizeFor(total: number): number {
    return Math.max(this.partSize, Math.ceil(total / MAX_PARTS));
  }

  private async putOne(key: string, buf: Buffer, options: PutOptions): Promise<PutResult> {
    const res = await this.send(`put ${key}`, () =>
      this.client.send(
        new PutObjectCommand({
          Bucket: this.bucket,
          Key: key,
          Body: buf,
          ContentLength: buf.length,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(options.metadata ? { Metadata: options.metadata } : {}),
        }),
      ),
    );
    return { key, etag: res.ETag, size: buf.length, parts: 1 };
  }

  /**
   * Reads a stream into parts. Stays a single PUT while the total is ≤ threshold; past it, starts a
   * multipart upload and hands off full parts as they fill, keeping at most `partConcurrency` part
   * uploads in flight (the stream is not read further while they are all busy: backpressure).
   */
  private async putStream(key: string, body: Readable | AsyncIterable<Uint8Array>, options: PutOptions): Promise<PutResult> {
    const chunks: Buffer[] = [];
    let buffered = 0;
    let upload: MultipartUpload | undefined;
    try {
      for await (const chunk of body as AsyncIterable<Uint8Array | string>) {
        const b = typeof chunk === 'string' ? Buffer.from(chunk) : Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
        chunks.push(b);
        buffered += b.length;
        if (!upload && buffered > this.threshold) upload = await this.startMultipart(key, options);
        while (upload && buffered >= this.partSize) {
          const all = Buffer.concat(chunks, buffered);
          const part = all.subarray(0, this.partSize);
          const rest = all.subarray(this.partSize);
          chunks.length = 0;
          if (rest.length) chunks.push(rest);
          buffered = rest.length;
          await upload.add(part);
        }
      }
      const tail = Buffer.concat(chunks, buffered);
      if (!upload) return await this.putOne(key, tail, options);
      if (tail.length) await upload.add(tail);
      return await upload.complete();
    } catch (e) {
      if (upload) await upload.abort();
      // S3 calls throw S3AdapterError already; anything else came from the caller's stream: rethrow it as is.
      throw e;
    }
  }

  private async putMultipart(key: string, parts: Iterable<Buffer>, options: PutOptions): Promise<PutResult> {
    const upload = await this.startMultipart(key, options);
    try {
      for (const p of parts) await upload.add(p);
      return await upload.complete();
    } catch (e) {
      await upload.abort();
      throw e instanceof S3AdapterError ? e : mapS3Error(e, `put ${key}`);
    }
  }

  private async startMultipart(key: string, options: PutOptions): Promise<MultipartUpload> {
    const res = await this.send(`create multipart upload ${key}`, () =>
      this.client.send(
        new CreateMultipartUploadCommand({
          Bucket: this.bucket,
          Key: key,
          ...(options.contentType ? { ContentType: options.contentType } : {}),
          ...(options.metadata ? { Metadata: options.metadata } : {}),
        }),
      ),
    );
    if (!res.UploadId) throw new S3AdapterError('S3_UNKNOWN', `create multipart upload ${key}: no UploadId`);
    return new MultipartUpload(this.client, this.bucket, key, res.UploadId, this.concurrency);
  }

  private async readBody(what: string, body: unknown, max: number): Promise<Buffer> {
    if (!body) return Buffer.alloc(0);
    const chunks: Buffer[] = [];
    let n = 0;
    try {
      for await (const c of body as AsyncIterable<Uint8Array>) {
        n += c.length;
        if (n > max) {
          (body as Readable).destroy?.();
          throw new S3AdapterError('S3_TOO_LARGE', `${what}: more than ${max} bytes`);
        }
        chunks.push(Buffer.from(c.buffer, c.byteOffset, c.byteLength));
      }
    } catch (e) {
      throw e instanceof S3AdapterError ? e : mapS3Error(e, what);
    }
    return Buffer.concat(chunks, n);
  }
}

/** One multipart upload in progress: numbered parts, bounded concurrency, complete or abort. */
class MultipartUpload {
  private readonly done: CompletedPart[] = [];
  private readonly inFlight = new Set<Promise<void>>();
  private failure: unknown;
  private next = 1;
  private size = 0;

  constructor(
    private readonly client: S3Client,
    private readonly bucket: string,
    private readonly key: string,
    private readonly uploadId: string,
    private readonly concurrency: number,
  ) {}

  /** Queues a part; waits while `concurrency` parts are already uploading. */
  async add(part: Buffer): Promise<void> {
    if (this.failure) throw this.failure;
    if (this.next > MAX_PARTS) throw new S3AdapterError('S3_CONFIG_INVALID', `put ${this.key}: more than ${MAX_PARTS} parts; raise partSizeBytes`);
    const partNumber = this.next++;
    this.size += part.length;
    const p = this.client
      .send(
        new UploadPartCommand({
          Bucket: this.bucket,
          Key: this.key,
          UploadId: this.uploadId,
          PartNumber: partNumber,
          Body: part,
          ContentLength: part.length,
        }),
      )
      .then((r) => {
        this.done.push({ PartNumber: partNumber, ETag: r.ETag });
      })
      .catch((e: unknown) => {
        this.failure ??= mapS3Error(e, `upload part ${partNumber} of ${this.key}`);
      })
      .finally(() => {
        this.inFlight.delete(p);
      });
    this.inFlight.add(p);
    while (this.inFlight.size >= this.concurrency) await Promise.race(this.inFlight);
    if (this.failure) throw this.failure;
  }

  async complete(): Promise<PutResult> {
    await Promise.all(this.inFlight);
    if (this.failure) throw this.failure;
    // S3 requires the part list in ascending part-number order; parts finish in any order.
    const parts = [...this.done].sort((a, b) => (a.PartNumber ?? 0) - (b.PartNumber ?? 0));
    try {
      const r = await this.client.send(new CompleteMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId, MultipartUpload: { Parts: parts } }));
      return { key: this.key, etag: r.ETag, size: this.size, parts: parts.length };
    } catch (e) {
      throw mapS3Error(e, `complete multipart upload ${this.key}`);
    }
  }

  /** Best effort: an abort that fails leaves parts that a bucket lifecycle rule cleans up. */
  async abort(): Promise<void> {
    await Promise.allSettled(this.inFlight);
    await this.client.send(new AbortMultipartUploadCommand({ Bucket: this.bucket, Key: this.key, UploadId: this.uploadId })).catch(() => undefined);
  }
}

function* sliceBuffer(buf: Buffer, size: number): Generator<Buffer> {
  for (let off = 0; off < buf.length; off += size) yield buf.subarray(off, Math.min(off + size, buf.length));
}

function checkRange(start: number, endInclusive: number): void {
  if (!Number.isSafeInteger(start) || !Number.isSafeInteger(endInclusive) || start < 0 || endInclusive < start) {
    throw new S3AdapterError('S3_CONFIG_INVALID', `invalid byte range ${start}-${endInclusive}`);
  }
}
