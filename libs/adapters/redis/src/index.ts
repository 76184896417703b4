export * from './redis';
export * from './errors';
