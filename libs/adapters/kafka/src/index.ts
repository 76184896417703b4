export * from './client';
export * from './errors';
export * from './logger';
export * from './security';
export * from './start-check';
