// One vitest run for the whole workspace, in three projects:
//   unit         *.spec.ts beside the code: pure logic, no servers.
//   integration  *.int.spec.ts and tests/**: real Kafka, OpenSearch, S3 server and Redis, brought up
//                once per run by libs/testing's global setup (or reused when already up).
//   serial       the integration files that must have the machine to themselves (see SERIAL below).
// The first two run together, two files at a time (integration files share the stack's servers but each
// works in its own env/namespace, so two at once do not meet); then the serial files one by one.
// `npm test` runs all; the JSON report feeds .ci/run's "N passed, N failed" line.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { defineConfig } from 'vitest/config';

// Node 20 is our pinned runtime; silence the AWS SDK's notice about its 2027 releases (see bin/backlog.mjs).
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

const root = fileURLToPath(new URL('.', import.meta.url));
const tsPaths: Record<string, string[]> = JSON.parse(readFileSync(`${root}tsconfig.base.json`, 'utf8')).compilerOptions.paths;
const alias = Object.fromEntries(Object.entries(tsPaths).map(([name, [target]]) => [name, `${root}${target}`]));

const common = { alias, root };

// Integration files that run alone, after the others: each starts its own JVM (a private Kafka) or drives
// a load with faults (kill -9, a stopped broker or engine) where a neighbour's CPU would only stretch the
// run, or asserts a latency the newcomer is promised (live: logger → page within a second).
const SERIAL = [
  'tests/live/live.test.ts',
  'tests/security/kafka-tls-sasl.test.ts',
  'tests/shipping/kafka-outage.test.ts',
  'tests/shipping/harvester-kill.test.ts',
  'tests/shipping/gateway-kill.test.ts',
  'tests/shipping/backpressure.test.ts',
  'tests/es-consumer/outage.test.ts',
  'tests/es-consumer/kill.test.ts',
];
const integration = { globalSetup: ['libs/testing/src/vitest-global-setup.ts'], testTimeout: 120_000, hookTimeout: 300_000 };
// Two workers: CI's machine has 2 cores (and so do ours).
const WORKERS = 2;

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
          maxWorkers: WORKERS,
        },
      },
      {
        resolve: { alias },
        test: {
          ...common,
          ...integration,
          name: 'integration',
          include: ['apps/**/*.int.spec.ts', 'libs/**/*.int.spec.ts', 'tests/**/*.test.ts'],
          exclude: ['**/node_modules/**', ...SERIAL],
          maxWorkers: WORKERS,
        },
      },
      {
        resolve: { alias },
        test: {
          ...common,
          ...integration,
          name: 'serial',
          include: SERIAL,
          maxWorkers: 1,
          sequence: { groupOrder: 1 },
        },
      },
    ],
  },
});
