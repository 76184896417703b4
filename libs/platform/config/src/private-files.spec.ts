import { chmodSync, chownSync, mkdirSync, mkdtempSync, readFileSync, statSync, symlinkSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, defaultScratchDir, ensureDataDir, ensurePrivateDir, ensureScratchDir, PrivateDirError, privateKeyFileProblem, readPrivateKeyFile, writePrivateFile } from './index';

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'backlog-private-'));
});
const where = { app: 'nacl-gateway', setting: 'keys.secretKeyFile' };

describe('private key files', () => {
  it('reads a 0600 (and 0400) file of ours', () => {
    const f = join(dir, 'ok.key');
    writeFileSync(f, 'secret', { mode: 0o600 });
    expect(readPrivateKeyFile(f, where).toString()).toBe('secret');
    chmodSync(f, 0o400);
    expect(readPrivateKeyFile(f, where).toString()).toBe('secret');
    expect(privateKeyFileProblem(f)).toBeUndefined();
  });

  it('refuses a group- or world-readable one, as ssh does, naming the setting and the fix', () => {
    for (const mode of [0o644, 0o640, 0o604, 0o660, 0o606]) {
      const f = join(dir, `open-${mode.toString(8)}.key`);
      writeFileSync(f, 'secret');
      chmodSync(f, mode);
      let err: unknown;
      try {
        readPrivateKeyFile(f, where);
      } catch (e) {
        err = e;
      }
      expect(err, mode.toString(8)).toBeInstanceOf(ConfigError);
      const msg = (err as ConfigError).message;
      expect(msg).toContain(`keys.secretKeyFile: permissions 0${mode.toString(8)} for '${f}' are too open`);
      expect(msg).toContain(`chmod 600 '${f}'`);
      expect(msg).not.toContain('secret\n');
      expect(privateKeyFileProblem(f)).toMatch(/too open/);
    }
  });

  it('says what is wrong with a missing file or a directory', () => {
    expect(() => readPrivateKeyFile(join(dir, 'nope.key'), where)).toThrow(/keys\.secretKeyFile: cannot read .*ENOENT/);
    expect(privateKeyFileProblem(dir)).toMatch(/not a regular file/);
  });
});

describe('private directories', () => {
  // Everything below happens inside this file's own mkdtemp directory: these functions change modes.
  const uid = process.getuid?.() ?? 0;
  /** A directory owned by another user: made here and given away (only root can), else not testable on this machine. */
  const foreign = (name: string, mode: number): string | undefined => {
    if (uid !== 0) return undefined;
    const d = join(dir, name);
    mkdirSync(d);
    chmodSync(d, mode);
    chownSync(d, 65534, 65534);
    return d;
  };

  it('creates missing directories (and parents) with mode 0700', () => {
    const d = join(dir, 'a', 'b', 'spool');
    expect(ensurePrivateDir(d)).toEqual({ path: d, created: true });
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(statSync(join(dir, 'a')).mode & 0o777).toBe(0o700);
    expect(ensurePrivateDir(d)).toEqual({ path: d, created: false });
    const e = join(dir, 'c', 'data');
    expect(ensureDataDir(e)).toEqual({ path: e, created: true });
    expect(statSync(e).mode & 0o777).toBe(0o700);
  });

  it("closes an existing directory of backlog's own that others could enter, and says so", () => {
    const d = join(dir, 'open');
    mkdirSync(d);
    chmodSync(d, 0o755);
    expect(ensurePrivateDir(d)).toEqual({ path: d, created: false, tightenedFrom: '0755' });
    expect(statSync(d).mode & 0o777).toBe(0o700);
  });

  it('refuses a file, a symlink (which someone may have planted), and a directory of another user', () => {
    const f = join(dir, 'file');
    writeFileSync(f, '');
    expect(() => ensurePrivateDir(f)).toThrow(PrivateDirError);
    expect(() => ensureDataDir(f)).toThrow(/not a directory/);
    const real = join(dir, 'real');
    mkdirSync(real, { mode: 0o700 });
    const link = join(dir, 'link');
    symlinkSync(real, link);
    expect(() => ensurePrivateDir(link)).toThrow(/symbolic link/);
    // A configured location may be a link (the operator's choice); its target is checked.
    expect(ensureDataDir(link).path).toBe(link);
    const theirs = foreign('theirs', 0o700);
    if (theirs) {
      expect(() => ensurePrivateDir(theirs)).toThrow(/owned by uid 65534/);
      expect(() => ensureDataDir(theirs)).toThrow(/owned by uid 65534/);
      expect(statSync(theirs).mode & 0o777).toBe(0o700);
    }
  });

  it('a configured directory is never chmod-ed: writable by others is refused, unless sticky like /tmp', () => {
    const open = join(dir, 'shared');
    mkdirSync(open);
    chmodSync(open, 0o777);
    expect(() => ensureDataDir(open)).toThrow(/writable by others \(mode 0777, no sticky bit\)/);
    expect(statSync(open).mode & 0o777).toBe(0o777);
    const sticky = join(dir, 'sticky');
    mkdirSync(sticky);
    chmodSync(sticky, 0o1777);
    expect(ensureDataDir(sticky).created).toBe(false);
    expect(statSync(sticky).mode & 0o7777).toBe(0o1777);
    const readable = join(dir, 'readable');
    mkdirSync(readable);
    chmodSync(readable, 0o755);
    expect(ensureDataDir(readable).tightenedFrom).toBeUndefined();
    expect(statSync(readable).mode & 0o777).toBe(0o755);
  });

  it('the default scratch root is <tmp>/backlog-<uid>/<app>, every level private', () => {
    const d = defaultScratchDir('compressor');
    expect(d).toBe(join(tmpdir(), `backlog-${uid}`, 'compressor'));
    ensureScratchDir(d);
    expect(statSync(d).mode & 0o777).toBe(0o700);
    expect(statSync(join(d, '..')).mode & 0o777).toBe(0o700);
  });
});

describe('writePrivateFile', () => {
  it('writes 0600 whatever the umask, refuses to replace unless asked, and replaces without a wider window', () => {
    const f = join(dir, 'token');
    const old = process.umask(0);
    try {
      writePrivateFile(f, 'one');
    } finally {
      process.umask(old);
    }
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readFileSync(f, 'utf8')).toBe('one');
    expect(() => writePrivateFile(f, 'two')).toThrow(/exists/);
    chmodSync(f, 0o644);
    writePrivateFile(f, 'two', { overwrite: true });
    expect(statSync(f).mode & 0o777).toBe(0o600);
    expect(readFileSync(f, 'utf8')).toBe('two');
  });
});
