export * from './s3';
export * from './errors';
export * from './part-store';
