import { chmodSync, mkdtempSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseKeyFile } from '@backlog/core-sealed';
import { tokenProblems } from '@backlog/platform-config';
import { registerKeys } from './keys';

async function run(args: string[]): Promise<string> {
  const program = new Command().exitOverride();
  registerKeys(program);
  const out: string[] = [];
  const write = process.stdout.write;
  process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
  try {
    await program.parseAsync(['node', 'backlog', 'keys', ...args]);
  } finally {
    process.stdout.write = write;
  }
  return out.join('');
}

describe('backlog keys generate', () => {
  it('writes a 0600 key file whose keys match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const out = await run(['generate', '--role', 'gateway', '--name', 'gw1', '--out', dir, '--json']);
    const file = join(dir, 'gw1.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const kp = parseKeyFile(readFileSync(file, 'utf8'));
    expect(kp.role).toBe('gateway');
    expect(JSON.parse(out).publicKey).toBe(Buffer.from(kp.publicKey).toString('base64'));
  });

  it('0600 even under a permissive umask, and --force replaces a world-readable file with a 0600 one', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const file = join(dir, 'h1.key');
    writeFileSync(file, 'old');
    chmodSync(file, 0o644);
    await expect(run(['generate', '--name', 'h1', '--out', dir])).rejects.toThrow(/exists; use --force/);
    const old = process.umask(0);
    try {
      await run(['generate', '--name', 'h1', '--out', dir, '--force']);
    } finally {
      process.umask(old);
    }
    expect(statSync(file).mode & 0o777).toBe(0o600);
    expect(parseKeyFile(readFileSync(file, 'utf8')).role).toBe('harvester');
  });
});

describe('backlog keys token', () => {
  it('prints a token the token check accepts, a new one each time', async () => {
    const a = (await run(['token'])).trim();
    const b = (await run(['token'])).trim();
    expect(a).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenProblems(a)).toEqual([]);
    expect(a).not.toBe(b);
  });

  it('--out writes it 0600 and prints only where it went', async () => {
    const file = join(mkdtempSync(join(tmpdir(), 'keys-')), 'indexer.token');
    const out = await run(['token', '--out', file]);
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const token = readFileSync(file, 'utf8').trim();
    expect(tokenProblems(token)).toEqual([]);
    expect(out).not.toContain(token);
  });
});
