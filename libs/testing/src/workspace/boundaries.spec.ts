// The import arrows of ARCHITECTURE.md are enforced by lint (Nx tags + @nx/enforce-module-boundaries).
// These cases lint small snippets as if they were files of real projects, so a rule that is switched
// off or mis-tagged makes this test fail.
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { ESLint } from 'eslint';
import { beforeAll, describe, expect, it } from 'vitest';
import { repoRoot } from '@backlog/platform-stack';

const root = repoRoot();
let eslint: ESLint;

async function boundaryErrors(file: string, code: string): Promise<string[]> {
  const [result] = await eslint.lintText(code, { filePath: join(root, file) });
  return (result?.messages ?? []).filter((m) => m.ruleId === '@nx/enforce-module-boundaries').map((m) => m.message);
}

beforeAll(() => {
  // The rule reads Nx's cached project graph; compute it first (no daemon in tests or CI).
  execFileSync(join(root, 'node_modules/.bin/nx'), ['show', 'projects'], { cwd: root, env: { ...process.env, NX_DAEMON: 'false' }, stdio: 'ignore' });
  eslint = new ESLint({ cwd: root });
}, 120_000);

describe('import boundaries', () => {
  it('forbids core → kafkajs (core never does I/O)', async () => {
    const errs = await boundaryErrors('libs/core/event/src/probe.ts', "import { Kafka } from 'kafkajs';\nexport const k = Kafka;\n");
    expect(errs.join('\n')).toMatch(/type:core.*not allowed to import "kafkajs"/);
  });

  it('forbids core → node:net', async () => {
    const [result] = await eslint.lintText("import { createServer } from 'node:net';\nexport const s = createServer;\n", { filePath: join(root, 'libs/core/codec/src/probe.ts') });
    const errs = (result?.messages ?? []).filter((m) => m.ruleId === 'no-restricted-imports');
    expect(errs.length).toBeGreaterThan(0);
  });

  it('forbids app → app', async () => {
    const errs = await boundaryErrors('apps/harvester/src/probe.ts', "import { main } from '../../cli/src/main';\nexport const m = main;\n");
    expect(errs.length).toBeGreaterThan(0);
  });

  it('forbids adapter → adapter', async () => {
    const errs = await boundaryErrors('libs/adapters/kafka/src/probe.ts', "import * as s3 from '@backlog/adapter-s3';\nexport const x = s3;\n");
    expect(errs.join('\n')).toMatch(/type:adapter.*can only depend on libs tagged with "type:core", "type:platform"/);
  });

  it('forbids core → platform', async () => {
    const errs = await boundaryErrors('libs/core/pipeline/src/probe.ts', "import * as t from '@backlog/platform-telemetry';\nexport const x = t;\n");
    expect(errs.length).toBeGreaterThan(0);
  });

  it('forbids an app importing libs/testing', async () => {
    const errs = await boundaryErrors('apps/harvester/src/probe.ts', "import * as t from '@backlog/testing';\nexport const x = t;\n");
    expect(errs.length).toBeGreaterThan(0);
  });

  it('forbids the CLI importing libs/testing; it reaches the stack launcher through platform-stack', async () => {
    const errs = await boundaryErrors('apps/cli/src/commands/probe.ts', "import * as t from '@backlog/testing';\nexport const x = t;\n");
    expect(errs.join('\n')).toMatch(/type:cli.*can only depend on libs tagged with "type:core", "type:platform", "type:adapter"/);
    expect(await boundaryErrors('apps/cli/src/commands/probe.ts', "import { stackUp } from '@backlog/platform-stack';\nexport const x = stackUp;\n")).toEqual([]);
  });

  it('forbids an app or the CLI importing an I/O client (adapters and platform-telemetry wrap them)', async () => {
    for (const [file, mod] of [
      ['apps/live-receiver/src/probe.ts', 'ioredis'],
      ['apps/harvester/src/probe.ts', 'prom-client'],
      ['apps/es-consumer/src/probe.ts', 'kafkajs'],
      ['apps/indexer/src/probe.ts', '@opensearch-project/opensearch'],
      ['apps/compressor/src/probe.ts', '@aws-sdk/client-s3'],
      ['apps/cli/src/probe.ts', '@elastic/elasticsearch'],
    ] as const) {
      const errs = await boundaryErrors(file, `import * as m from '${mod}';\nexport const x = m;\n`);
      expect(errs.join('\n'), `${file} → ${mod}`).toContain(`not allowed to import "${mod}"`);
    }
  });

  it('allows app → core and adapter → core', async () => {
    expect(await boundaryErrors('apps/harvester/src/probe.ts', "import * as e from '@backlog/core-event';\nexport const x = e;\n")).toEqual([]);
    expect(await boundaryErrors('libs/adapters/kafka/src/probe.ts', "import * as e from '@backlog/core-codec';\nexport const x = e;\n")).toEqual([]);
  });
});

describe('tests may use the test kit', () => {
  it('allows an adapter spec to import libs/testing', async () => {
    await expect(boundaryErrors('libs/adapters/kafka/src/probe.int.spec.ts', "import { stackInfo } from '@backlog/testing';\nexport const x = stackInfo;\n")).resolves.toEqual([]);
  });

  it('allows a CLI spec to import libs/testing', async () => {
    await expect(boundaryErrors('apps/cli/src/commands/probe.spec.ts', "import { stackInfo } from '@backlog/testing';\nexport const x = stackInfo;\n")).resolves.toEqual([]);
  });
});
