/**
 * Coded errors of @backlog/core-event (ARCHITECTURE habit 7): callers branch on `code`, never on the
 * message text. None of them is retriable: they describe bad input or bad configuration, and trying
 * again with the same input gives the same answer.
 */
export type EventErrorCode =
  /** An object does not match the LogEvent schema (see `assertLogEvent`). */
  | 'EVENT_INVALID'
  /** A normalize/extraction limit is not a positive integer. */
  | 'LIMIT_INVALID'
  /** An IANA time zone name that Intl does not know. */
  | 'TIMEZONE_INVALID'
  /** The event id generator was given a bad run id. */
  | 'RUN_ID_INVALID';

export const EVENT_ERRORS: Readonly<Record<EventErrorCode, { retriable: boolean; what: string }>> = {
  EVENT_INVALID: { retriable: false, what: 'object does not match the LogEvent schema' },
  LIMIT_INVALID: { retriable: false, what: 'a size limit is not a positive integer' },
  TIMEZONE_INVALID: { retriable: false, what: 'unknown IANA time zone' },
  RUN_ID_INVALID: { retriable: false, what: 'run id must be 6 bytes (48 bits)' },
};

export class EventError extends Error {
  readonly retriable: boolean;
  constructor(
    readonly code: EventErrorCode,
    message: string,
    readonly details?: unknown,
  ) {
    super(message);
    this.name = 'EventError';
    this.retriable = EVENT_ERRORS[code].retriable;
  }
}
