export * from './decoder';
export * from './spool';
export * from './io';
