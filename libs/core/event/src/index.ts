export { SCHEMA_VERSION, LogEventSchema, SyslogSchema, assertLogEvent, type LogEvent, type SyslogFields } from './schema';
export { EventError, EVENT_ERRORS, type EventErrorCode } from './errors';
export {
  EventIdGenerator,
  COUNTER_BITS,
  newEventId,
  defaultIdGenerator,
  isUuidV7,
  uuidV7Timestamp,
  offsetEventId,
  keyedEventId,
  idStreamTag,
  MAX_ID_OFFSET,
  sourceEventId,
  sourceIdentity,
  isUuidV8,
  type EventIdGeneratorOptions,
} from './ids';
export { DEFAULT_MAX_FUTURE_SKEW_MS, TIMESTAMP_REPLACED_REASONS, timestampProblem, checkRecordedTime, replaceTimestamp, type TimestampReplaced, type TimestampVerdict } from './event-time';
export { EventLine, eventObject, eventJson, jsonString, type AnyEvent } from './line';
export { normalize, normalizedPid, createdIso, DEFAULT_NORMALIZE_LIMITS, type NormalizeContext, type NormalizeLimits, type PartialEvent } from './normalize';
export { FieldBudget, DEFAULT_FIELD_LIMITS, checkFieldLimits, extractKeyValues, extractJsonObject, keyValuesJson, safeKey, type FieldLimits } from './extract';
export { truncateUtf8, utf8Length } from './truncate';
export {
  scanRfc3339,
  timeErrorColumn,
  toEpochMs,
  epochToMs,
  isoFromMs,
  exactTime,
  utcDayMs,
  zonedToEpochMs,
  zoneOffsetAt,
  yearInZone,
  checkTimeZone,
  daysInMonth,
  isLeapYear,
  type ScannedTime,
} from './time';
export { FACILITY_NAMES, SEVERITY_NAMES, SEVERITY_LEVELS, MAX_PRI, canonicalLevel } from './syslog-names';
