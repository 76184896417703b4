#!/usr/bin/env node
// The `backlog` command. Runs the TypeScript sources through tsx so that a fresh checkout
// needs no build step; tsx honours tsconfig.base.json's path aliases.
import { register } from 'tsx/esm/api';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { dirname, join } from 'node:path';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.env.BACKLOG_ROOT ??= root;
// We run Node.js 20 on purpose (see package.json "//"); the AWS SDK's notice about its 2027 releases
// needing Node 22 is known and would otherwise interleave with every command's output.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';
register({ tsconfig: join(root, 'tsconfig.base.json') });
const { main } = await import(pathToFileURL(join(root, 'apps/cli/src/main.ts')).href);
await main(process.argv);
