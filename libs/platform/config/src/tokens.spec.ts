import { randomBytes } from 'node:crypto';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { z } from 'zod';
import { generateToken, loadConfig, readTokenFile, tokenBits, tokenProblems, tokenSchema } from './index';

describe('tokenProblems', () => {
  it('refuses the placeholders that shipped in our own manifests and tests', () => {
    for (const t of [
      'REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN',
      'dev-only-token-change-me',
      'changeme',
      'CHANGE_ME_PLEASE_0123456789',
      'example-token-for-docs-only',
      'live-test-token-0123456789',
      'secret-token-0123456789',
      'my-password-is-very-long-indeed',
      'xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx',
    ]) {
      const p = tokenProblems(t);
      expect(p.length, t).toBeGreaterThan(0);
      if (t.length > 12) expect(p.join(' '), t).not.toContain(t); // never quotes the token (a bare word like "changeme" is named as the word)
    }
    expect(tokenProblems('REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN')[0]).toMatch(/placeholder.*"replaceme"/);
  });

  it('refuses short, repeated, counting, one-class and low-entropy values', () => {
    expect(tokenProblems('k3J9x')[0]).toMatch(/too short/);
    expect(tokenProblems('abababababababababababab').join()).toMatch(/repeated/);
    expect(tokenProblems('Abc1Abc1Abc1Abc1Abc1Abc1Abc1').join()).toMatch(/repeated/);
    expect(tokenProblems('aaaaaaaaaaaaaaaaaaaaaaaaaaab').join()).toMatch(/repeats a few characters/);
    expect(tokenProblems('correcthorsebatterystaplecorrecthorse').join()).toMatch(/one case/);
    expect(tokenProblems('12345678901234567890123456789012345678901').join()).toMatch(/only digits|randomness/);
    // Counting runs add nothing: the whole alphabet and digits in order hold no randomness.
    expect(tokenProblems('Abcdefghijklmnopqrstuvwxyz0123456789').join()).toMatch(/bits of randomness/);
    // 24 hex characters: 96 bits.
    expect(tokenProblems(randomBytes(12).toString('hex')).join()).toMatch(/about 96 bits/);
    expect(tokenProblems('has a space in it 0123456789abcdef')[0]).toMatch(/spaces/);
    expect(tokenProblems('')).toEqual(['is empty']);
  });

  it('accepts what random generators of 128 bits and more print, every time', () => {
    for (let i = 0; i < 2000; i++) {
      for (const t of [randomBytes(16).toString('hex'), randomBytes(32).toString('hex'), randomBytes(16).toString('base64'), randomBytes(32).toString('base64url')]) {
        expect(tokenProblems(t), t).toEqual([]);
      }
    }
    expect(tokenBits(randomBytes(16).toString('hex'))).toBe(128);
    const g = generateToken();
    expect(g).toMatch(/^[0-9a-f]{64}$/);
    expect(tokenProblems(g)).toEqual([]);
  });

  it('a random token that happens to contain a word still passes when the rest is random enough', () => {
    expect(tokenProblems(`${randomBytes(24).toString('base64url')}token`)).toEqual([]);
  });

  it('as a config schema: names the setting and its source, says how to make one, never echoes the value', () => {
    const schema = z.object({ api: z.object({ token: tokenSchema.optional() }).strict().prefault({}) }).strict();
    let message = '';
    try {
      loadConfig({ app: 'indexer', schema, env: { BACKLOG_INDEXER_API_TOKEN: 'dev-only-token-change-me' } });
    } catch (err) {
      message = (err as Error).message;
    }
    expect(message).toContain('api.token: the token looks like a placeholder');
    expect(message).toContain('openssl rand -hex 32');
    expect(message).toContain('[env BACKLOG_INDEXER_API_TOKEN]');
    expect(message).not.toContain('dev-only-token-change-me');
    const ok = generateToken();
    expect(loadConfig({ app: 'indexer', schema, env: { BACKLOG_INDEXER_API_TOKEN: ok } }).api.token).toBe(ok);
  });
});

describe('readTokenFile', () => {
  const where = { app: 'indexer', setting: 'api.tokenFile' };
  const dir = mkdtempSync(join(tmpdir(), 'token-file-'));
  const file = (name: string, text: string, mode: number) => {
    const p = join(dir, name);
    writeFileSync(p, text);
    chmodSync(p, mode);
    return p;
  };
  it('reads a 0600 file (trailing newline trimmed)', () => {
    const t = generateToken();
    expect(readTokenFile(file('ok', `${t}\n`, 0o600), where)).toBe(t);
  });
  it('refuses one others may read, and a placeholder inside one, naming the setting', () => {
    expect(() => readTokenFile(file('open', `${generateToken()}\n`, 0o644), where)).toThrow(/api\.tokenFile: permissions 0644 .* are too open/);
    expect(() => readTokenFile(file('placeholder', 'REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN\n', 0o600), where)).toThrow(/api\.tokenFile: the token in .* looks like a placeholder/);
  });
});
