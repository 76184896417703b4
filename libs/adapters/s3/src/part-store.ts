import type { PartStore } from '@backlog/core-codec';
import { isS3AdapterError } from './errors';
import type { S3Port } from './s3';

/** The archive's object store (`PartStore` of core-codec's read path) in S3: list, get, ranged get. */
export function partStoreOf(s3: S3Port): PartStore {
  return {
    list: (prefix) => s3.list(prefix),
    get: (key, options) => s3.get(key, options),
    getStream: (key, range) => s3.getStream(key, range),
    failureOf: (e) => (isS3AdapterError(e) ? (e.code === 'S3_NOT_FOUND' ? 'not_found' : e.code === 'S3_TOO_LARGE' ? 'too_large' : undefined) : undefined),
  };
}
