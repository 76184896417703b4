export * from './port';
export * from './errors';
export { searchConfigSchema, type SearchConfig, type SearchConfigInput } from './config';
export { createSearch, SearchAdapter } from './adapter';
export { detectEngine, classify as classifyServer, type DetectedServer } from './detect';
export { freeFormObjectMapping } from './mapping';
export { isAlreadyIndexed, bulkLines, parseBulkResponse } from './bulk';
