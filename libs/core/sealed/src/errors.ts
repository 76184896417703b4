/**
 * Coded errors of the sealed transport. The gateway counts rejects by `code` (mapped to a metric
 * reason), never by message text. None is retriable: a frame that failed once fails again.
 */
export type SealedErrorCode =
  | 'KEY_INVALID'
  | 'FRAME_TOO_LARGE'
  | 'FRAME_TRUNCATED'
  | 'FRAME_MALFORMED'
  | 'UNKNOWN_SENDER'
  | 'TAMPERED'
  | 'REPLAY'
  | 'STALE';

export class SealedError extends Error {
  readonly retriable = false;
  constructor(readonly code: SealedErrorCode, message: string) {
    super(message);
    this.name = 'SealedError';
  }
}

/** Metric reason label (`…_rejected_total{reason}`) of each code. */
export function rejectReason(code: SealedErrorCode): string {
  switch (code) {
    case 'FRAME_TOO_LARGE': return 'too_large';
    case 'FRAME_TRUNCATED': return 'truncated';
    case 'FRAME_MALFORMED': return 'malformed';
    case 'UNKNOWN_SENDER': return 'unknown_sender';
    case 'TAMPERED': return 'tampered';
    case 'REPLAY': return 'replay';
    case 'STALE': return 'stale';
    case 'KEY_INVALID': return 'malformed';
  }
}
