import { isoFromMs } from './time';

/**
 * Which event times the pipeline takes as they are (issue 17, ADR 0015). An event's `@timestamp` names
 * its daily recent index (`logs-<env>-recent-YYYY.MM.DD`), its 5-minute archive window and the S3 key of
 * its part. A time far in the future (`9999-12-31`) made an index that pruning never reached and a
 * window that never closed; a time before 1970 has no window id, no UUIDv7 time and a year-0001 index.
 * Such an event is kept, at its receive time, with the time it claimed beside it and a flag:
 *
 *   `@timestamp`                 the receive time (normalize) or `event.created` / the Kafka record's time (downstream)
 *   `labels.timestamp_original`  the claimed instant as RFC 3339 UTC (what the source said, as it was read)
 *   `labels.timestamp_replaced`  why: `future` (more than the skew ahead) or `before_epoch` (before 1970-01-01Z)
 *
 * The harvester applies this in normalize() against the receive time; the es-consumer and the compressor
 * apply the same rule again (`checkRecordedTime`) to what an older harvester or a replay wrote into
 * h-<env>, against the record itself, so that a redelivered record is indexed and archived the same way.
 */

/** How far ahead of its receive time an event's own time may lie by default: one day (ADR 0015). */
export const DEFAULT_MAX_FUTURE_SKEW_MS = 86_400_000;

/** Why an event time was replaced: the value of `labels.timestamp_replaced`, and a metric's `reason`. */
export type TimestampReplaced = 'future' | 'before_epoch';
export const TIMESTAMP_REPLACED_REASONS: readonly TimestampReplaced[] = ['future', 'before_epoch'];

/** Why `tsMs` cannot be the time of an event received at `receivedMs`; undefined when it can. */
export function timestampProblem(tsMs: number, receivedMs: number, maxFutureSkewMs: number): TimestampReplaced | undefined {
  if (tsMs < 0) return 'before_epoch';
  if (tsMs > receivedMs + maxFutureSkewMs) return 'future';
  return undefined;
}

/** A time to be replaced: why, and the instant (epoch ms) the event is kept at instead. */
export interface TimestampVerdict {
  reason: TimestampReplaced;
  atMs: number;
}

/**
 * The downstream check of an event read from an h-<env> record (es-consumer, compressor): `tsMs` is its
 * `@timestamp`, `created` its `event.created` as found, `recordTs` the Kafka record's timestamp. A time
 * more than `maxFutureSkewMs` after the record was written, or before 1970, is replaced by `event.created`
 * when that is a time within the same bounds (the harvester's receive time), else by the record's time.
 * Everything it looks at travels with the record, so a redelivery or a re-read decides the same; no clock
 * is read. Without a usable record time (≤ 0) only the lower bound is checked.
 */
export function checkRecordedTime(tsMs: number, created: unknown, recordTs: number, maxFutureSkewMs: number): TimestampVerdict | undefined {
  const hasRecord = recordTs > 0;
  const limit = hasRecord ? recordTs + maxFutureSkewMs : Infinity;
  const reason: TimestampReplaced | undefined = tsMs < 0 ? 'before_epoch' : tsMs > limit ? 'future' : undefined;
  if (reason === undefined) return undefined;
  const c = typeof created === 'string' ? Date.parse(created) : Number.NaN;
  if (c >= 0 && c <= limit) return { reason, atMs: c };
  return hasRecord ? { reason, atMs: recordTs } : undefined;
}

/** The text kept in `labels.timestamp_original`: bounded, whatever a record held. */
const ORIGINAL_MAX = 128;

/**
 * Puts a verdict on an event object: `@timestamp` becomes the replacement instant, the value it had goes
 * to `labels.timestamp_original` (its text as found when it is a string, else its JSON), and
 * `labels.timestamp_replaced` says why. A `labels` that is not an object (never from a harvester) is kept
 * as JSON text in `labels.labels_unusable` rather than lost. The es-consumer and the compressor share this,
 * so the recent document and the archived line agree.
 */
export function replaceTimestamp(ev: Record<string, unknown>, verdict: TimestampVerdict): void {
  const before = ev['@timestamp'];
  const original = typeof before === 'string' ? before : (JSON.stringify(before) ?? String(before));
  let labels = ev.labels;
  if (labels === null || typeof labels !== 'object' || Array.isArray(labels)) {
    labels = labels === undefined ? {} : { labels_unusable: (JSON.stringify(labels) ?? String(labels)).slice(0, 2048) };
    ev.labels = labels;
  }
  ev['@timestamp'] = isoFromMs(verdict.atMs);
  const l = labels as Record<string, unknown>;
  l.timestamp_original = original.slice(0, ORIGINAL_MAX);
  l.timestamp_replaced = verdict.reason;
}
