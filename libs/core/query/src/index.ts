export * from './ast';
export { QueryError, QUERY_ERRORS, formatQueryError, type QueryErrorCode, type QueryErrorDetails } from './errors';
export { parseQuery, parseFilter, escapeWildcard, canonicalMetricName, COMMANDS, DEFAULT_PERCENTS, MAX_QUERY_LENGTH, MAX_DEPTH, MAX_CLAUSES } from './parse';
export {
  createCatalogue,
  resolveField,
  isAggregatable,
  DEFAULT_ALIASES,
  type FieldCatalogue,
  type FieldInfo,
  type FieldType,
  type ResolvedField,
  type Resolution,
  type CatalogueOptions,
} from './catalogue';
export { planQuery, checkQuery, simplify, PLAN_DEFAULTS, type PlanOptions, type CheckResult } from './check';
export type { Predicate, QueryPlan, StatsPlan, HitsPlan, MetricPlan, GroupPlan, BucketOrder, RangeBounds, Scalar, QueryWarning } from './plan';
export { parseTimeExpr, parseTimeRange, resolveTime, resolveRange, requireTime, parseDuration, fixedInterval, TIME_FORMS, type TimeExpr, type TimeRange, type TimeRangeInput } from './time';
export { analyze, forEachToken, lowerCase, MAX_TOKEN_LENGTH } from './analyze';
export { compileFilter, compilePredicate, wildcardMatcher, type EventFilter, type CompileOptions } from './evaluate';
export { Aggregator, evaluateQuery, collectHits, filterSource, percentile, orderGroups, type GroupRow } from './aggregate';
export type { Cell, Column, Hit, HitsResult, StatsResult, QueryResult } from './result';
export { parseIp, parseCidr, compareIp, formatIp } from './ip';
export { suggest, editDistance } from './suggest';
export { compareCodePoints } from './values';
export { printQuery, printFilter } from './print';
export { exampleCatalogue } from './testing';
export { parseRequest, requestText, queryRequestSchema, type QueryRequest, type ParsedRequest } from './request';
export { parseCondition, planCondition, evaluateCondition, type Condition, type ConditionExpr, type Comparison, type ConditionPlan, type ConditionOptions, type ConditionResult } from './condition';
export { archiveFilter, filterArgsText, legacyFilterText, mayMatchValues, type ArchiveFilter, type LegacyFilter, type PartFacets } from './archive-filter';
