export * from './batch';
export * from './errors';
export * from './window';
export * from './spool-format';
export * from './part';
export * from './time';
export * from './part-read';
