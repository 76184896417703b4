// A directory whose writes can be made to fail with a real errno, for full-disk tests (no injected fakes).
//
//   tmpfs  a small tmpfs mounted on the directory (needs CAP_SYS_ADMIN: root in a container that allows
//          mounts). `fill` writes a filler file until the file system is full: writes fail with ENOSPC.
//   fsize  the fallback where mounting is refused: `fill` lowers the soft RLIMIT_FSIZE of the process
//          that writes (util-linux `prlimit --pid`), so a write past the limit is cut short and the next
//          one fails with EFBIG. Node ignores SIGXFSZ, so the process sees the errno rather than a signal.
//
// The code under test treats ENOSPC, EDQUOT and EFBIG alike ("no space"), so a test passes in either mode.
// BACKLOG_TEST_DISK=fsize forces the fallback (to exercise it on a machine that allows mounts).
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, fstatSync, mkdtempSync, openSync, readdirSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export type SmallDiskMode = 'tmpfs' | 'fsize';

export interface SmallDisk {
  /** The directory to put the component's spool / scratch directory in. */
  readonly dir: string;
  readonly mode: SmallDiskMode;
  /**
   * Makes writes under `dir` by process `pid` fail, leaving about `roomBytes` still writable: in tmpfs
   * mode, that much free space in the file system; in fsize mode, files may grow to the largest file now
   * under `dir` plus that much. Default 0.
   */
  fill(pid: number, roomBytes?: number): void;
  /** Lets writes succeed again ("space returns"). */
  free(pid: number): void;
  /** Unmounts (tmpfs) and removes the directory; safe to call twice. */
  close(): void;
}

const FILLER = '.filler';

/** A directory of `bytes` (tmpfs mode) whose writes `fill` makes fail and `free` lets through again. */
export function smallDisk(opts: { bytes?: number; mode?: SmallDiskMode } = {}): SmallDisk {
  const bytes = opts.bytes ?? 8 * 1024 * 1024;
  const dir = mkdtempSync(join(tmpdir(), 'small-disk-'));
  const want = opts.mode ?? (process.env.BACKLOG_TEST_DISK === 'fsize' ? 'fsize' : 'tmpfs');
  if (want === 'tmpfs') {
    try {
      execFileSync('mount', ['-t', 'tmpfs', '-o', `size=${bytes},mode=0755`, 'tmpfs', dir], { stdio: 'pipe' });
      return tmpfsDisk(dir);
    } catch {
      // Mounting is refused here (no CAP_SYS_ADMIN): fall back to the file-size limit.
    }
  }
  try {
    execFileSync('prlimit', ['--version'], { stdio: 'pipe' });
  } catch {
    rmSync(dir, { recursive: true, force: true });
    throw new Error('smallDisk: cannot mount a tmpfs here and util-linux prlimit is missing: no way to make a real full disk');
  }
  return fsizeDisk(dir);
}

function tmpfsDisk(dir: string): SmallDisk {
  let closed = false;
  return {
    dir,
    mode: 'tmpfs',
    fill(_pid, roomBytes = 0) {
      const fd = openSync(join(dir, FILLER), 'a');
      const chunk = Buffer.alloc(64 * 1024, 0x78);
      try {
        // Until the kernel refuses: the last write may be short, the one after it fails with ENOSPC.
        for (;;) {
          try {
            if (writeSync(fd, chunk) === 0) break;
          } catch (err) {
            if ((err as NodeJS.ErrnoException).code === 'ENOSPC') break;
            throw err;
          }
        }
        if (roomBytes > 0) ftruncateSync(fd, Math.max(0, fstatSync(fd).size - roomBytes));
      } finally {
        closeSync(fd);
      }
    },
    free() {
      rmSync(join(dir, FILLER), { force: true });
    },
    close() {
      if (closed) return;
      closed = true;
      try {
        execFileSync('umount', [dir], { stdio: 'pipe' });
      } catch {
        // Busy (a process under test still has a file open): detach it now, the kernel frees it later.
        execFileSync('umount', ['-l', dir], { stdio: 'pipe' });
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function fsizeDisk(dir: string): SmallDisk {
  return {
    dir,
    mode: 'fsize',
    fill(pid, roomBytes = 0) {
      execFileSync('prlimit', ['--pid', String(pid), `--fsize=${largestFile(dir) + roomBytes}:`], { stdio: 'pipe' });
    },
    free(pid) {
      // Raising the soft limit back up to the (unlimited) hard limit needs no privilege.
      execFileSync('prlimit', ['--pid', String(pid), '--fsize=unlimited:'], { stdio: 'pipe' });
    },
    close() {
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

function largestFile(dir: string): number {
  let max = 0;
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) max = Math.max(max, largestFile(p));
    else if (e.isFile()) max = Math.max(max, statSync(p).size);
  }
  return max;
}
