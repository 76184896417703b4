// One vitest run for the whole workspace, in two projects:
//   unit         *.spec.ts beside the code: pure logic, no servers.
//   integration  *.int.spec.ts and tests/**: real Kafka, OpenSearch, S3 server and Redis, brought up
//                once per run by libs/testing's global setup (or reused when already up).
// `npm test` runs both; the JSON report feeds .ci/run's "N passed, N failed" line.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Node 20 is our pinned runtime; silence the AWS SDK's notice about its 2027 releases (see bin/backlog.mjs).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = fileURLToPath(new URL('.', import.meta.url));
const tsPaths: Record<string, string[]> = JSON.parse(readFileSync(`${root}tsconfig.base.json`, 'utf8')).compilerOptions.paths;
const alias = Object.fromEntries(Object.entries(tsPaths).map(([name, [target]]) => [name, `${root}${target}`]));

const common = { alias, root };

export default defineConfig({
  resolve: { alias },
  test: {
    reporters: ['default', 'json'],
    outputFile: { json: '.backlog/reports/vitest.json' },
    projects: [
      {
        resolve: { alias },
        test: {
          ...common,
          name: 'unit',
          include: ['apps/**/*.spec.ts', 'libs/**/*.spec.ts', 'benchmarks/**/*.spec.ts'],
          exclude: ['**/node_modules/**', '**/*.int.spec.ts'],
          testTimeout: 30_000,
        },
      },
      {
        resolve: { alias },
        test: {
          ...common,
          name: 'integration',
          include: ['apps/**/*.int.spec.ts', 'libs/**/*.int.spec.ts', 'tests/**/*.test.ts'],
          globalSetup: ['libs/testing/src/vitest-global-setup.ts'],
          testTimeout: 120_000,
          hookTimeout: 300_000,
          // Integration files share one broker, one search node and one S3 server on 2 cores.
          fileParallelism: false,
        },
      },
    ],
  },
});
