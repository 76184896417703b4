/**
 * Coded errors of @backlog/core-query (ARCHITECTURE habit 7). A query that fails here never reaches
 * the engine: the query API answers 400 with `{code, message, column, expected, hint}`, the CLI prints
 * the query with a caret under `column`. None is retriable: the same text fails the same way.
 */
export type QueryErrorCode =
  // --- syntax (parse) ---
  /** Longer than `MAX_QUERY_LENGTH`. */
  | 'QUERY_TOO_LONG'
  /** Parentheses nested deeper than `MAX_DEPTH`. */
  | 'QUERY_TOO_DEEP'
  /** More than `MAX_CLAUSES` leaf conditions (the engine's boolean clause limit). */
  | 'QUERY_TOO_COMPLEX'
  /** A character or word that cannot start or continue what came before. */
  | 'UNEXPECTED_TOKEN'
  /** The query ended where something else was needed. */
  | 'UNEXPECTED_END'
  /** A `"` that is never closed. */
  | 'UNTERMINATED_STRING'
  /** A `(` that is never closed, or a `)` that closes nothing. */
  | 'UNBALANCED_PARENS'
  /** A backslash at the very end, or before nothing. */
  | 'BAD_ESCAPE'
  /** `field:` (or `field>=`) with no value after it. */
  | 'VALUE_EXPECTED'
  /** A field name that is not a name (`5>3`, `host*:x`). */
  | 'FIELD_NAME_INVALID'
  /** `| foo` where foo is not a command. */
  | 'UNKNOWN_COMMAND'
  /** `stats foo(x)` where foo is not an aggregation. */
  | 'UNKNOWN_FUNCTION'
  /** A command or function argument of the wrong shape (percentile 150, `limit -1`, missing field). */
  | 'ARGUMENT_INVALID'
  /** A duration that is not `<integer><s|m|h|d|w>`. */
  | 'DURATION_INVALID'
  /** A time that is none of RFC 3339, epoch seconds, now, now-15m, -15m, 15m, "last 15 minutes". */
  | 'TIME_INVALID'
  /** Commands in an order or number that means nothing (`stats` twice, `fields` after `stats`). */
  | 'COMMAND_CONFLICT'
  // --- meaning (check against the field catalogue) ---
  /** A field the catalogue does not know (with a did-you-mean when one is close). */
  | 'FIELD_UNKNOWN'
  /** A value or operation that the field's type cannot take (`status>=abc`, `avg(message)`). */
  | 'FIELD_TYPE'
  /** A field the engine keeps but does not index (`event.original`). */
  | 'FIELD_NOT_SEARCHABLE'
  /** The same field name maps to different types in different indices. */
  | 'FIELD_TYPE_CONFLICT'
  /** A `sort` key that is neither a column of the answer nor a field. */
  | 'SORT_KEY_UNKNOWN'
  /** A limit above the maximum, or an answer with more buckets than the engine allows. */
  | 'LIMIT_EXCEEDED'
  /** The JSON request form (DATA-001) does not match its schema. */
  | 'REQUEST_INVALID';

export const QUERY_ERRORS: Readonly<Record<QueryErrorCode, { retriable: boolean; what: string }>> = {
  QUERY_TOO_LONG: { retriable: false, what: 'the query text is longer than the maximum' },
  QUERY_TOO_DEEP: { retriable: false, what: 'parentheses are nested too deeply' },
  QUERY_TOO_COMPLEX: { retriable: false, what: 'too many conditions for the engine' },
  UNEXPECTED_TOKEN: { retriable: false, what: 'something that does not fit here' },
  UNEXPECTED_END: { retriable: false, what: 'the query ends too early' },
  UNTERMINATED_STRING: { retriable: false, what: 'a quoted string is not closed' },
  UNBALANCED_PARENS: { retriable: false, what: 'parentheses do not pair up' },
  BAD_ESCAPE: { retriable: false, what: 'a backslash escapes nothing' },
  VALUE_EXPECTED: { retriable: false, what: 'a field has no value' },
  FIELD_NAME_INVALID: { retriable: false, what: 'not a field name' },
  UNKNOWN_COMMAND: { retriable: false, what: 'no such command after |' },
  UNKNOWN_FUNCTION: { retriable: false, what: 'no such aggregation' },
  ARGUMENT_INVALID: { retriable: false, what: 'an argument of the wrong shape' },
  DURATION_INVALID: { retriable: false, what: 'not a duration' },
  TIME_INVALID: { retriable: false, what: 'not a time' },
  COMMAND_CONFLICT: { retriable: false, what: 'commands that do not combine' },
  FIELD_UNKNOWN: { retriable: false, what: 'no such field' },
  FIELD_TYPE: { retriable: false, what: 'the field type does not allow this' },
  FIELD_NOT_SEARCHABLE: { retriable: false, what: 'the field is stored but not indexed' },
  FIELD_TYPE_CONFLICT: { retriable: false, what: 'the field has different types in different indices' },
  SORT_KEY_UNKNOWN: { retriable: false, what: 'no such column to sort by' },
  LIMIT_EXCEEDED: { retriable: false, what: 'the answer would be larger than allowed' },
  REQUEST_INVALID: { retriable: false, what: 'the JSON request does not match its schema' },
};

export interface QueryErrorDetails {
  /** 1-based column (UTF-16 code units) in the query text where the problem starts; 0 when the problem is not in the text. */
  column: number;
  /** 1-based column just after the offending part (for underlining); ≥ column. */
  endColumn?: number;
  /** What would have been accepted here, in words (`a value`, `)`, `a number`). */
  expected?: string;
  /** How to fix it, in words a user can act on. */
  hint?: string;
  /** For the JSON request form: the key path of the bad value (`aggregation.field`). */
  path?: string;
}

export class QueryError extends Error {
  readonly retriable: boolean;
  readonly column: number;
  readonly endColumn: number;
  readonly expected: string | undefined;
  readonly hint: string | undefined;
  readonly path: string | undefined;
  /** Every problem the checker found (this one first); a parse stops at its first. */
  errors: QueryError[];

  constructor(
    readonly code: QueryErrorCode,
    message: string,
    d: QueryErrorDetails,
  ) {
    super(message);
    this.name = 'QueryError';
    this.retriable = QUERY_ERRORS[code].retriable;
    this.column = d.column;
    this.endColumn = Math.max(d.endColumn ?? d.column, d.column);
    this.expected = d.expected;
    this.hint = d.hint;
    this.path = d.path;
    this.errors = [this];
  }

  /** The shape the query API answers with (400). */
  toJSON(): { code: QueryErrorCode; message: string; column: number; endColumn: number; expected?: string; hint?: string; path?: string } {
    return {
      code: this.code,
      message: this.message,
      column: this.column,
      endColumn: this.endColumn,
      ...(this.expected !== undefined ? { expected: this.expected } : {}),
      ...(this.hint !== undefined ? { hint: this.hint } : {}),
      ...(this.path !== undefined ? { path: this.path } : {}),
    };
  }
}

/**
 * The query with a caret line under the error, for terminals:
 *   level:error AND sevice:api
 *                   ^^^^^^ unknown field "sevice" — did you mean "service"?
 */
export function formatQueryError(text: string, e: QueryError): string {
  if (e.column < 1 || text.includes('\n')) {
    return `${e.message}${e.column >= 1 ? ` (column ${e.column})` : ''}${e.hint ? `\n  hint: ${e.hint}` : ''}`;
  }
  const width = Math.max(1, e.endColumn - e.column);
  const caret = `${' '.repeat(e.column - 1)}${'^'.repeat(width)}`;
  return `${text}\n${caret} ${e.message}${e.hint ? `\n  hint: ${e.hint}` : ''}`;
}
