/** Coded errors of the pipeline core (ARCHITECTURE.md habit 7): callers branch on `code`, never on text. */
export type PipelineErrorCode = 'PIPELINE_CONFIG' | 'PIPELINE_START' | 'PIPELINE_STOPPED' | 'PIPELINE_UNKNOWN_COMPONENT';

export class PipelineError extends Error {
  override readonly name = 'PipelineError';
  constructor(
    readonly code: PipelineErrorCode,
    message: string,
    readonly retriable = false,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

/**
 * Error codes (errno names) that mean "the disk has no room for this write": the file system is full
 * (ENOSPC), the user's quota is used up (EDQUOT), or the process's file-size limit is reached (EFBIG,
 * RLIMIT_FSIZE). A component treats them alike: it pauses and retries when space returns, never exits.
 */
export const NO_SPACE_CODES: ReadonlySet<string> = new Set(['ENOSPC', 'EDQUOT', 'EFBIG']);

/** Whether `err` (a Node.js system error, or anything with an errno `code`) says the disk is full. */
export function isNoSpaceError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && NO_SPACE_CODES.has(code);
}

/**
 * Whether `err` is a system call's error (an errno code such as ENOSPC, EIO, EROFS): the disk's or the
 * kernel's doing, which waiting may cure, rather than a bug of ours.
 */
export function isSystemError(err: unknown): boolean {
  const code = (err as { code?: unknown } | null | undefined)?.code;
  return typeof code === 'string' && /^E[A-Z0-9]+$/.test(code);
}
