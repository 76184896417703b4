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
