import { mkdtempSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { parseKeyFile } from '@backlog/core-sealed';
import { registerKeys } from './keys';

describe('backlog keys generate', () => {
  it('writes a 0600 key file whose keys match', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'keys-'));
    const program = new Command().exitOverride();
    registerKeys(program);
    const out: string[] = [];
    const write = process.stdout.write;
    process.stdout.write = ((s: string) => (out.push(s), true)) as typeof process.stdout.write;
    try {
      await program.parseAsync(['node', 'backlog', 'keys', 'generate', '--role', 'gateway', '--name', 'gw1', '--out', dir, '--json']);
    } finally {
      process.stdout.write = write;
    }
    const file = join(dir, 'gw1.key');
    expect(statSync(file).mode & 0o777).toBe(0o600);
    const kp = parseKeyFile(readFileSync(file, 'utf8'));
    expect(kp.role).toBe('gateway');
    expect(JSON.parse(out.join('')).publicKey).toBe(Buffer.from(kp.publicKey).toString('base64'));
  });
});
