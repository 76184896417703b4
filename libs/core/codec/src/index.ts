export * from './batch';
export * from './errors';
export * from './window';
export * from './names';
export * from './live-datagram';
export * from './spool-format';
export * from './part';
export * from './time';
