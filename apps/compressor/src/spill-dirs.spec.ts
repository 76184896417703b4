// Spill files hold log lines: they live in a private directory of the process, which the next
// compressor removes when the process died (issue 17 §7).
import { existsSync, mkdirSync, mkdtempSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Bz2Pool } from './bz2-pool';
import { compressorSettingsSchema } from './config';
import { SpillFile } from './spill';

describe('spill and scratch directories', () => {
  it('a spill file is made in a 0700 directory, whatever the umask', () => {
    const dir = join(mkdtempSync(join(tmpdir(), 'spill-')), 'spill-123');
    const old = process.umask(0o022);
    let f: SpillFile;
    try {
      f = SpillFile.create(dir, 'a.spill');
    } finally {
      process.umask(old);
    }
    f.appendRun([{ ts: 1, id: 'x', line: '{"a":1}' }]);
    expect(statSync(dir).mode & 0o777).toBe(0o700);
    f.delete();
  });

  it('the default location is private to the user, not a shared /tmp name', () => {
    const s = compressorSettingsSchema.parse({});
    expect(s.spillDir).toBe(join(tmpdir(), `backlog-${process.getuid?.()}`, 'compressor'));
  });

  it("a new pool removes a dead compressor's spill-<pid>/ and bz2-<pid>/, and leaves a live one's", async () => {
    const parent = mkdtempSync(join(tmpdir(), 'scratch-'));
    // A pid that cannot be running (above the kernel's pid_max), and our parent's, which is.
    const dead = 4_194_305;
    for (const n of [`spill-${dead}`, `bz2-${dead}`, `spill-${process.ppid}`]) {
      mkdirSync(join(parent, n));
      writeFileSync(join(parent, n, 'x'), 'log lines');
    }
    const pool = new Bz2Pool({ tool: 'lbzip2', workers: 1, tmpDir: parent });
    await pool.close();
    expect(existsSync(join(parent, `spill-${dead}`))).toBe(false);
    expect(existsSync(join(parent, `bz2-${dead}`))).toBe(false);
    expect(existsSync(join(parent, `spill-${process.ppid}`))).toBe(true);
  });
});
