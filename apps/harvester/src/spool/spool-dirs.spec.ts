// Where the spool keeps other people's log lines: directories of the user alone (issue 17 §7).
import { chmodSync, mkdirSync, mkdtempSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Spool } from './spool';

const mode = (p: string) => statSync(p).mode & 0o777;

describe('spool directories', () => {
  it('are created 0700 (the spool dir and wal/, seg/, tmp/, quarantine/), whatever the umask', () => {
    const root = mkdtempSync(join(tmpdir(), 'spool-dirs-'));
    const dir = join(root, 'harvester', 'spool');
    const old = process.umask(0o022);
    try {
      new Spool({ dir, fsync: false }).open();
    } finally {
      process.umask(old);
    }
    expect(mode(dir)).toBe(0o700);
    expect(mode(join(root, 'harvester'))).toBe(0o700);
    for (const d of ['wal', 'seg', 'tmp', 'quarantine']) expect(mode(join(dir, d)), d).toBe(0o700);
  });

  it("closes the spool's own subdirectories left open by an earlier version; refuses a spool dir others may write to", () => {
    const root = mkdtempSync(join(tmpdir(), 'spool-dirs-'));
    const dir = join(root, 'spool');
    mkdirSync(join(dir, 'seg'), { recursive: true });
    chmodSync(dir, 0o755);
    chmodSync(join(dir, 'seg'), 0o755);
    new Spool({ dir, fsync: false }).open();
    expect(mode(join(dir, 'seg'))).toBe(0o700);
    expect(mode(dir)).toBe(0o755); // a configured directory's mode is the operator's

    const shared = join(root, 'shared');
    mkdirSync(shared);
    chmodSync(shared, 0o777);
    expect(() => new Spool({ dir: shared, fsync: false }).open()).toThrow(/writable by others/);
  });
});
