import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { StackInfo } from './stack/config';

declare module 'vitest' {
  export interface ProvidedContext {
    backlogStack: StackInfo;
  }
}

/** Connection details of the stack the global setup brought up (or found running). */
export function stackInfo(): StackInfo {
  const info = inject('backlogStack');
  if (!info) throw new Error('no local stack: this test must run in the vitest "integration" project (global setup)');
  return info;
}

/**
 * A name unique to one test file (and run), used as the env: topics `h-<ns>`/`c-<ns>`, indices
 * `logs-<ns>-…`, S3 prefix `<ns>/`, Redis keys `<ns>:`. Lowercase letters and digits only, so it is
 * valid everywhere (index names, topic names, S3 keys).
 */
export function testNamespace(label = 't'): string {
  const clean = label.toLowerCase().replace(/[^a-z0-9]/g, '').slice(0, 12) || 't';
  return `${clean}${randomBytes(4).toString('hex')}`;
}
