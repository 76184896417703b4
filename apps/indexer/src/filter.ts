/**
 * The history filter now lives in @backlog/core-codec (src/filter.ts), shared with
 * `backlog archive export|replay`. This re-export keeps `./filter` imports working; import from
 * @backlog/core-codec in new code.
 */
export { type EventFilter as HistoryFilter, eventMatcher } from '@backlog/core-codec';
