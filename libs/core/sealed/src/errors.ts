/**
 * Coded errors of the sealed transport. The gateway and the harvester count rejects by `code` (mapped
 * to a metric reason), never by message text. None is retriable: a frame that failed once fails again.
 */
export type SealedErrorCode =
  | 'KEY_INVALID'
  | 'FRAME_TOO_LARGE'
  | 'FRAME_TRUNCATED'
  | 'FRAME_MALFORMED'
  /** A frame version this code does not speak (v1 frames since v2: no silent downgrade). */
  | 'VERSION_UNSUPPORTED'
  | 'UNKNOWN_SENDER'
  | 'TAMPERED'
  /** A frame of the other direction: an ack sent to a gateway, a batch (reflected) to a harvester. */
  | 'WRONG_DIRECTION'
  /** Authenticated, but sealed for another env than the reader serves. */
  | 'WRONG_ENV'
  /** An authenticated ack whose batch binding (seq + batch nonce) is not the batch it is read for. */
  | 'WRONG_BATCH'
  | 'REPLAY'
  | 'STALE';

export class SealedError extends Error {
  readonly retriable = false;
  constructor(
    readonly code: SealedErrorCode,
    message: string,
  ) {
    super(message);
    this.name = 'SealedError';
  }
}

/** Metric reason label (`…_rejected_total{reason}`, `…_rejected_acks_total{reason}`) of each code. */
export function rejectReason(code: SealedErrorCode): string {
  switch (code) {
    case 'FRAME_TOO_LARGE':
      return 'too_large';
    case 'FRAME_TRUNCATED':
      return 'truncated';
    case 'FRAME_MALFORMED':
      return 'malformed';
    case 'VERSION_UNSUPPORTED':
      return 'unsupported_version';
    case 'UNKNOWN_SENDER':
      return 'unknown_sender';
    case 'TAMPERED':
      return 'tampered';
    case 'WRONG_DIRECTION':
      return 'wrong_direction';
    case 'WRONG_ENV':
      return 'wrong_env';
    case 'WRONG_BATCH':
      return 'wrong_batch';
    case 'REPLAY':
      return 'replay';
    case 'STALE':
      return 'stale';
    case 'KEY_INVALID':
      return 'malformed';
  }
}
