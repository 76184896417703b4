// Small helpers the integration tests share: waiting, free ports, and the environment that points
// an app (a real child process) at the test stack.
import { createServer } from 'node:net';
import type { StackInfo } from '@backlog/platform-stack';

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** A free TCP port on 127.0.0.1 (asked from the kernel, then released for the app to bind). */
export function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.once('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const { port } = srv.address() as { port: number };
      srv.close(() => resolve(port));
    });
  });
}

/**
 * Calls `fn` (sync or async) every `everyMs` until it returns something other than `undefined` or
 * `false`, and returns that; after `timeoutMs` throws naming `what` and the last result or error.
 * The one polling helper of the tests: a condition on in-process state polls every 10-50 ms, one that
 * asks a server (a search, a scrape) every 500 ms.
 */
export async function waitFor<T>(what: string, fn: () => T | undefined | false | Promise<T | undefined | false>, timeoutMs: number, everyMs = 500): Promise<T> {
  const until = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v !== undefined && v !== false) return v;
      last = v;
    } catch (err) {
      last = err;
    }
    if (Date.now() > until) throw new Error(`timed out after ${timeoutMs} ms waiting for ${what} (last: ${last instanceof Error ? last.message : String(last)})`);
    await sleep(everyMs);
  }
}

/**
 * The shared connection settings every app reads (platform-config), pointing at the test stack;
 * with `env`, also BACKLOG_ENV.
 */
export function stackEnv(info: StackInfo, env?: string): Record<string, string> {
  return {
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    ...(env === undefined ? {} : { BACKLOG_ENV: env }),
    BACKLOG_KAFKA_BROKERS: info.kafka.brokers.join(','),
    BACKLOG_SEARCH_URL: info.search.url,
    BACKLOG_S3_ENDPOINT: info.s3.endpoint,
    BACKLOG_S3_BUCKET: info.s3.bucket,
    BACKLOG_S3_ACCESS_KEY_ID: info.s3.accessKeyId,
    BACKLOG_S3_SECRET_ACCESS_KEY: info.s3.secretAccessKey,
    BACKLOG_REDIS_URL: info.redis.url,
  };
}
