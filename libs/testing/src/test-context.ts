import { randomBytes } from 'node:crypto';
import { inject } from 'vitest';
import type { StackInfo } from '@backlog/platform-stack';

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
 * The Elasticsearch 8 that tests run against besides the stack's OpenSearch: `BACKLOG_TEST_ES_URL` when
 * set (an Elasticsearch of one's own), else the stack's Elasticsearch 8 node (ADR 0017); undefined only
 * when the stack runs without it (`BACKLOG_ES8=off`), and then the run says "NOT exercised".
 */
export function elasticsearchUrl(): string | undefined {
  return process.env.BACKLOG_TEST_ES_URL || stackInfo().elasticsearch?.url;
}

/**
 * A name unique to one test file (and run), used as the env: topics `h-<ns>`/`c-<ns>`, indices
 * `logs-<ns>-…`, S3 prefix `<ns>/`, Redis keys `<ns>:`. Lowercase letters and digits only, so it is
 * valid everywhere (index names, topic names, S3 keys).
 */
export function testNamespace(label = 't'): string {
  const clean =
    label
      .toLowerCase()
      .replace(/[^a-z0-9]/g, '')
      .slice(0, 12) || 't';
  return `${clean}${randomBytes(4).toString('hex')}`;
}
