// "Each commit builds": the whole workspace typechecks (strict), lints clean, including the import
// boundaries, and is formatted. Part of `npm test`, so CI gates on it.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { repoRoot } from '@backlog/platform-stack';

const root = repoRoot();
/** The code prettier owns (.prettierrc.json, .prettierignore); docs and data files are written by hand. */
const FORMATTED = '**/*.{ts,mts,mjs,js}';
const bin = (name: string) => `${root}/node_modules/.bin/${name}`;
const run = (cmd: string, args: string[]) => {
  const r = spawnSync(cmd, args, { cwd: root, encoding: 'utf8', env: { ...process.env, NX_DAEMON: 'false' }, maxBuffer: 64 * 1024 * 1024 });
  return { status: r.status, out: `${r.stdout}${r.stderr}`.trim() };
};

describe('workspace', () => {
  it('typechecks with tsc --noEmit (strict)', () => {
    const r = run(bin('tsc'), ['-p', 'tsconfig.json', '--noEmit']);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);

  it('lints clean (errors fail; warnings are reported by `npm run lint`)', () => {
    run(bin('nx'), ['show', 'projects']);
    const r = run(bin('eslint'), ['--quiet', '.']);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);

  it('is formatted as prettier writes it (`npm run format` fixes it)', () => {
    const r = run(bin('prettier'), ['--check', '--log-level', 'warn', FORMATTED]);
    expect(r.out).toBe('');
    expect(r.status).toBe(0);
  }, 300_000);
});
