export * from './s3';
export * from './errors';
