// Lint for backlog. The import arrows of ../ARCHITECTURE.md are enforced with Nx project tags:
//   apps ──► adapters ──► core     apps ──► platform ◄── adapters
//   apps never import an I/O client (kafkajs, ioredis, the AWS SDK, the search clients, prom-client)
//   testing ──► core, platform, adapters (only tests and benchmarks import it; the CLI's specs too)
//   the stack launcher is platform (platform-stack), so the CLI reaches it without the test kit
//   never: app → app, adapter → adapter, core → anything with I/O
import nx from '@nx/eslint-plugin';

const ioClients = ['kafkajs', '@elastic/*', '@opensearch-project/*', '@aws-sdk/*', 'ioredis', '@nestjs/*', 'pino', 'prom-client', 'fastify', 'ws'];

// Apps (and the CLI) reach Kafka, the search engines, S3, Redis and the metrics registry through the
// adapters and platform-telemetry only, so that each client is configured, mapped to coded errors and
// instrumented in one place.
const appIoClients = ['kafkajs', 'ioredis', '@aws-sdk/*', '@elastic/*', '@opensearch-project/*', 'prom-client'];

// Node's built-in I/O modules are not npm packages, so Nx cannot ban them; ESLint's own rule does, for
// core sources (their specs may read fixtures).
const nodeIo = ['net', 'dgram', 'http', 'https', 'http2', 'child_process', 'fs', 'fs/promises', 'cluster', 'tls'];

export const depConstraints = [
  { sourceTag: 'type:core', onlyDependOnLibsWithTags: ['type:core'], bannedExternalImports: ioClients },
  { sourceTag: 'type:platform', onlyDependOnLibsWithTags: ['type:core', 'type:platform'] },
  { sourceTag: 'type:adapter', onlyDependOnLibsWithTags: ['type:core', 'type:platform'] },
  { sourceTag: 'type:testing', onlyDependOnLibsWithTags: ['type:core', 'type:platform', 'type:adapter', 'type:testing'] },
  { sourceTag: 'type:app', onlyDependOnLibsWithTags: ['type:core', 'type:platform', 'type:adapter'], bannedExternalImports: appIoClients },
  { sourceTag: 'type:cli', onlyDependOnLibsWithTags: ['type:core', 'type:platform', 'type:adapter'], bannedExternalImports: appIoClients },
];

export default [
  ...nx.configs['flat/base'],
  ...nx.configs['flat/typescript'],
  { ignores: ['**/node_modules/**', '**/dist/**', '.backlog/**', '.nx/**', '**/testdata/**', 'deploy/**'] },
  {
    files: ['**/*.ts', '**/*.mts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          banTransitiveDependencies: false,
          depConstraints,
        },
      ],
      '@typescript-eslint/no-explicit-any': 'warn',
      '@typescript-eslint/no-unused-vars': ['error', { argsIgnorePattern: '^_', varsIgnorePattern: '^_' }],
    },
  },
  {
    // Tests of any project may use the test kit (stack details, namespaces); production code may not.
    files: ['**/*.spec.ts'],
    rules: {
      '@nx/enforce-module-boundaries': [
        'error',
        {
          enforceBuildableLibDependency: false,
          allowCircularSelfDependency: false,
          banTransitiveDependencies: false,
          depConstraints: depConstraints.map((c) => ({ ...c, onlyDependOnLibsWithTags: [...c.onlyDependOnLibsWithTags, 'type:testing'] })),
        },
      ],
    },
  },
  {
    files: ['libs/core/**/*.ts'],
    ignores: ['**/*.spec.ts'],
    rules: {
      'no-restricted-imports': [
        'error',
        {
          paths: nodeIo.flatMap((m) => [m, `node:${m}`]).map((name) => ({ name, message: 'core does no I/O: receive data through a port instead' })),
        },
      ],
    },
  },
];
