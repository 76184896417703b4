export * from './redis';
export * from './errors';
export * from './live-bus';
