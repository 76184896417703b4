/**
 * Coded parse errors (ARCHITECTURE habit 7). Parsers never throw on input: they return a failure with
 * one of these codes, and parseLine() turns it into `labels.parse_error = "<format>:<code in lower case>"`
 * on an event that keeps the raw line as its message. None is retriable: the same bytes fail the same way.
 */
export type ParseErrorCode =
  | 'EMPTY'
  | 'PRI_MISSING'
  | 'PRI_INVALID'
  | 'PRI_OUT_OF_RANGE'
  | 'VERSION_INVALID'
  | 'TIMESTAMP_INVALID'
  | 'HOSTNAME_INVALID'
  | 'APPNAME_INVALID'
  | 'PROCID_INVALID'
  | 'MSGID_INVALID'
  | 'SD_INVALID'
  | 'SD_DUPLICATE_ID'
  | 'SD_ESCAPE'
  | 'SP_EXPECTED'
  | 'HEADER_TRUNCATED'
  | 'NOT_SYSLOG'
  | 'JSON_INVALID'
  | 'JSON_NOT_OBJECT'
  | 'INVALID_UTF8'
  | 'NUL_BYTE'
  | 'NOT_RECOGNIZED'
  // RFC 6587 framing
  | 'FRAME_TOO_LONG'
  | 'FRAME_MSG_LEN_INVALID'
  | 'FRAME_SP_EXPECTED'
  | 'FRAME_EOF';

export const PARSE_ERRORS: Readonly<Record<ParseErrorCode, { retriable: boolean; what: string }>> = {
  EMPTY: { retriable: false, what: 'empty input' },
  PRI_MISSING: { retriable: false, what: 'no <PRI> at the start (RFC 5424 6.2.1, RFC 3164 4.1.1)' },
  PRI_INVALID: { retriable: false, what: 'PRI is not 1-3 digits between < and >' },
  PRI_OUT_OF_RANGE: { retriable: false, what: 'PRI above 191' },
  VERSION_INVALID: { retriable: false, what: 'VERSION is not NONZERO-DIGIT 0*2DIGIT (RFC 5424 6.2.2)' },
  TIMESTAMP_INVALID: { retriable: false, what: 'TIMESTAMP is not a valid date-time (RFC 5424 6.2.3, RFC 3164 4.1.2)' },
  HOSTNAME_INVALID: { retriable: false, what: 'HOSTNAME is not 1*255PRINTUSASCII (RFC 5424 6.2.4)' },
  APPNAME_INVALID: { retriable: false, what: 'APP-NAME is not 1*48PRINTUSASCII (RFC 5424 6.2.5)' },
  PROCID_INVALID: { retriable: false, what: 'PROCID is not 1*128PRINTUSASCII (RFC 5424 6.2.6)' },
  MSGID_INVALID: { retriable: false, what: 'MSGID is not 1*32PRINTUSASCII (RFC 5424 6.2.7)' },
  SD_INVALID: { retriable: false, what: 'STRUCTURED-DATA does not follow RFC 5424 6.3' },
  SD_DUPLICATE_ID: { retriable: false, what: 'an SD-ID appears twice (RFC 5424 6.3.2)' },
  SD_ESCAPE: { retriable: false, what: 'unescaped ] in a PARAM-VALUE (RFC 5424 6.3.3)' },
  SP_EXPECTED: { retriable: false, what: 'a header field is not followed by a single SP' },
  HEADER_TRUNCATED: { retriable: false, what: 'the line ends inside the header' },
  NOT_SYSLOG: { retriable: false, what: 'no syslog header (neither PRI nor timestamp)' },
  JSON_INVALID: { retriable: false, what: 'not valid JSON' },
  JSON_NOT_OBJECT: { retriable: false, what: 'JSON value is not an object' },
  INVALID_UTF8: { retriable: false, what: 'bytes are not valid UTF-8 and no syslog header explains them' },
  NUL_BYTE: { retriable: false, what: 'NUL byte in a line that no parser accepted (binary data)' },
  NOT_RECOGNIZED: { retriable: false, what: 'strict auto mode: neither syslog nor JSON' },
  FRAME_TOO_LONG: { retriable: false, what: 'frame longer than the maximum: cut, rest discarded (RFC 6587 3.4.1)' },
  FRAME_MSG_LEN_INVALID: { retriable: false, what: 'octet-counting frame does not start with MSG-LEN digits (RFC 6587 3.4.1)' },
  FRAME_SP_EXPECTED: { retriable: false, what: 'MSG-LEN not followed by SP (RFC 6587 3.4.1)' },
  FRAME_EOF: { retriable: false, what: 'stream ended inside an octet-counted frame' },
};

/** A parser's answer when it does not accept the input; `column` is a 0-based index into the line. */
export interface ParseFailure {
  ok: false;
  code: ParseErrorCode;
  column: number;
}

export function fail(code: ParseErrorCode, column: number): ParseFailure {
  return { ok: false, code, column };
}

/** Thrown only by APIs that validate configuration (never by parsers on input). */
export class ParseError extends Error {
  readonly retriable: boolean;
  constructor(
    readonly code: ParseErrorCode | 'OPTIONS_INVALID',
    message: string,
  ) {
    super(message);
    this.name = 'ParseError';
    this.retriable = false;
  }
}
