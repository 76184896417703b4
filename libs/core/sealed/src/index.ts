export * from './errors';
export * from './frame';
export * from './keys';
export * from './replay';
export * from './seal';
