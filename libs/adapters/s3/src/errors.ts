/**
 * Coded errors of the S3 adapter. Callers branch on `code`/`retriable`, never on the message or on
 * AWS SDK error names (which differ between S3, MinIO and S3Proxy for the same condition).
 */
export type S3ErrorCode =
  /** No such key (GET/HEAD 404). */
  | 'S3_NOT_FOUND'
  /** The bucket does not exist. */
  | 'S3_NO_BUCKET'
  /** 401/403, bad credentials or signature. */
  | 'S3_ACCESS_DENIED'
  /** 416: the range starts beyond the object's end. */
  | 'S3_INVALID_RANGE'
  /** 503 SlowDown / 429. Retriable after a back-off. */
  | 'S3_THROTTLED'
  /** Other 5xx. Retriable. */
  | 'S3_SERVER_ERROR'
  /** Connection refused/reset, DNS. Retriable. */
  | 'S3_UNAVAILABLE'
  /** Request or connection timeout. Retriable. */
  | 'S3_TIMEOUT'
  /** Any other 4xx. */
  | 'S3_BAD_REQUEST'
  /** The object is larger than the caller's `maxBytes` cap. */
  | 'S3_TOO_LARGE'
  /** The bytes received do not match the announced length (short read). Retriable. */
  | 'S3_INTEGRITY'
  /** Invalid adapter configuration or arguments. */
  | 'S3_CONFIG_INVALID'
  /** The caller aborted. */
  | 'S3_ABORTED'
  /** Anything else (no HTTP status, no known network error): not retried blindly. */
  | 'S3_UNKNOWN';

const RETRIABLE: ReadonlySet<S3ErrorCode> = new Set<S3ErrorCode>(['S3_THROTTLED', 'S3_SERVER_ERROR', 'S3_UNAVAILABLE', 'S3_TIMEOUT', 'S3_INTEGRITY']);

export class S3AdapterError extends Error {
  readonly retriable: boolean;
  constructor(
    readonly code: S3ErrorCode,
    message: string,
    readonly status?: number,
    cause?: unknown,
  ) {
    super(message, cause === undefined ? undefined : { cause });
    this.name = 'S3AdapterError';
    this.retriable = RETRIABLE.has(code);
  }
}

export function isS3AdapterError(e: unknown): e is S3AdapterError {
  return e instanceof S3AdapterError;
}

interface SdkErrorLike {
  name?: unknown;
  code?: unknown;
  message?: unknown;
  $metadata?: { httpStatusCode?: unknown };
}

const NETWORK = /ECONNREFUSED|ECONNRESET|EPIPE|ENOTFOUND|EHOSTUNREACH|EAI_AGAIN|socket hang up/;

/** Maps an AWS SDK v3 (or Node network) error to our code. */
export function mapS3Error(e: unknown, what: string): S3AdapterError {
  if (e instanceof S3AdapterError) return e;
  const err = (e ?? {}) as SdkErrorLike;
  const name = typeof err.name === 'string' ? err.name : '';
  const netCode = typeof err.code === 'string' ? err.code : '';
  const msg = typeof err.message === 'string' && err.message ? err.message : name || String(e);
  const status = typeof err.$metadata?.httpStatusCode === 'number' ? err.$metadata.httpStatusCode : undefined;
  const mk = (code: S3ErrorCode) => new S3AdapterError(code, `${what}: ${name ? `${name}: ` : ''}${msg}`, status, e);

  if (name === 'AbortError') return mk('S3_ABORTED');
  if (name === 'TimeoutError' || name === 'RequestTimeout' || netCode === 'ETIMEDOUT' || /timed? ?out/i.test(netCode)) return mk('S3_TIMEOUT');
  if (name === 'NoSuchBucket') return mk('S3_NO_BUCKET');
  if (name === 'NoSuchKey' || name === 'NotFound' || name === 'NoSuchUpload') return mk('S3_NOT_FOUND');
  if (name === 'InvalidRange' || status === 416) return mk('S3_INVALID_RANGE');
  if (name === 'SlowDown' || name === 'Throttling' || status === 429) return mk('S3_THROTTLED');
  if (status !== undefined) {
    if (status === 404) return mk('S3_NOT_FOUND');
    if (status === 401 || status === 403) return mk('S3_ACCESS_DENIED');
    if (status === 503) return mk('S3_THROTTLED');
    if (status >= 500) return mk('S3_SERVER_ERROR');
    if (status >= 400) return mk('S3_BAD_REQUEST');
  }
  if (NETWORK.test(netCode) || NETWORK.test(msg)) return mk('S3_UNAVAILABLE');
  if (name === 'InvalidAccessKeyId' || name === 'SignatureDoesNotMatch' || name === 'AccessDenied') return mk('S3_ACCESS_DENIED');
  return mk('S3_UNKNOWN');
}
