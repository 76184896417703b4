export * from './port';
export * from './errors';
export { searchConfigSchema, type SearchConfig, type SearchConfigInput } from './config';
export { createSearch, SearchAdapter } from './adapter';
export { detectEngine, classify as classifyServer, type DetectedServer } from './detect';
export { freeFormObjectMapping } from './mapping';
export { isAlreadyIndexed, bulkLines, parseBulkResponse } from './bulk';
export { logsTemplate, logsProperties, fieldMapping, TEMPLATE_VERSION, KEYWORD_IGNORE_ABOVE, type TemplateOptions } from './logs-template';
export { isMappingError, conflictField, takeField, resolveConflict, moveToConflicts } from './conflict';
