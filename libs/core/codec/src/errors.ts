/** Coded errors of the codec: callers branch on `code`, never on the message. */
export type CodecErrorCode = 'BATCH_TOO_LARGE' | 'BATCH_NOT_GZIP' | 'BATCH_CORRUPT' | 'BATCH_EMPTY' | 'HEADER_INVALID';

export class CodecError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: CodecErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'CodecError';
  }
}
