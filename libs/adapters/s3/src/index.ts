export * from './s3';
export * from './errors';
export * from './archive-reader';
