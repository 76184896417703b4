export * from './port';
export * from './errors';
export { searchConfigSchema, type SearchConfig, type SearchConfigInput } from './config';
export { createSearch, SearchAdapter } from './adapter';
export { detectEngine, classify as classifyServer, type DetectedServer } from './detect';
export { freeFormObjectMapping } from './mapping';
export { isAlreadyIndexed, bulkLines, bulkBody, parseBulkResponse } from './bulk';
export { logsTemplate, logsProperties, fieldMapping, TEMPLATE_VERSION, KEYWORD_IGNORE_ABOVE, type TemplateOptions } from './logs-template';
export { logsTemplateConfigSchema, installLogsTemplate, type LogsTemplateConfig } from './template-config';
export { isMappingError, conflictField, takeField, resolveConflict, moveToConflicts } from './conflict';
export { catalogueFromMappings, fieldsOfProperties, logsCatalogue, fetchFieldCatalogue } from './query/catalogue';
export { translateQuery, translatePlan, predicateDsl, metricAggName, GROUPS_AGG, TIME_AGG, type Translation } from './query/translate';
export { readQueryResult, runQuery } from './query/read';
export {
  BulkDelivery,
  BulkExhaustedError,
  classifyItem,
  retryReason,
  itemDetail,
  isWholeRequestRefusal,
  halves,
  cutRequests,
  backoffMs,
  type BulkDeliveryConfig,
  type DeliveryItem,
  type DeliveryHooks,
  type DeliveryControl,
  type Refusal,
  type RoundProgress,
  type ItemClass,
} from './delivery';
