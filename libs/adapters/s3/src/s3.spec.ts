import { describe, expect, it } from 'vitest';
import { createS3, mapS3Error } from './index';

const sdkError = (name: string, status?: number) => Object.assign(new Error(`${name} happened`), { name, ...(status ? { $metadata: { httpStatusCode: status } } : {}) });

describe('mapS3Error', () => {
  it.each([
    [sdkError('NoSuchKey', 404), 'S3_NOT_FOUND', false],
    [sdkError('NotFound', 404), 'S3_NOT_FOUND', false],
    [sdkError('NoSuchBucket', 404), 'S3_NO_BUCKET', false],
    [sdkError('InvalidRange', 416), 'S3_INVALID_RANGE', false],
    [sdkError('SlowDown', 503), 'S3_THROTTLED', true],
    [sdkError('InternalError', 500), 'S3_SERVER_ERROR', true],
    [sdkError('SignatureDoesNotMatch', 403), 'S3_ACCESS_DENIED', false],
    [sdkError('InvalidArgument', 400), 'S3_BAD_REQUEST', false],
    [Object.assign(new Error('connect ECONNREFUSED 127.0.0.1:1'), { code: 'ECONNREFUSED' }), 'S3_UNAVAILABLE', true],
    [sdkError('TimeoutError'), 'S3_TIMEOUT', true],
    [new Error('weird'), 'S3_UNKNOWN', false],
  ] as const)('%s → %s', (err, code, retriable) => {
    expect(mapS3Error(err, 'op')).toMatchObject({ code, retriable });
  });
});

describe('createS3', () => {
  it('refuses parts below the S3 minimum and half-given credentials', () => {
    expect(() => createS3({ bucket: 'b', partSizeBytes: 1024 })).toThrow(expect.objectContaining({ code: 'S3_CONFIG_INVALID' }));
    expect(() => createS3({ bucket: 'b', accessKeyId: 'x' })).toThrow(expect.objectContaining({ code: 'S3_CONFIG_INVALID' }));
  });
});
