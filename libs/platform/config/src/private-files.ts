import { randomBytes } from 'node:crypto';
import { chmodSync, closeSync, fstatSync, lstatSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, statSync, writeSync, type Stats } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { ConfigError } from './errors';

/**
 * Files and directories that hold secrets or other people's log lines: private key files, spools,
 * spill and scratch files. One place decides what "private" means, so every app (and the Kafka
 * adapter's TLS key, the sealed transport's key files) refuses the same things with the same words.
 *
 * - A **private key file** (NaCl key pair, TLS key) may be read by its owner only, as ssh demands of
 *   `~/.ssh/id_*`: when the file is ours, `mode & 0o077` must be 0. A file owned by root may also be
 *   readable by its group (PostgreSQL's rule for `ssl_key_file`): that is how Kubernetes mounts a
 *   Secret for a non-root pod (`fsGroup`, mode 0440). Any other owner, or more access, is refused.
 * - A **private directory** (a spool's, spill or scratch files') is created with mode 0700. One that
 *   backlog names itself and finds already there must be a real directory of ours; if others could
 *   use it, it is closed (chmod 0700) and the caller is told, so it can log it. A directory an
 *   operator configured is never chmod'ed: it must be ours (or root's) and not writable by others.
 *
 * Where the platform has no uids (Windows), nothing is checked.
 */

const myUid = (): number | undefined => (typeof process.getuid === 'function' ? process.getuid() : undefined);
const octal = (mode: number) => `0${(mode & 0o777).toString(8).padStart(3, '0')}`;

/** Why `st` (the stat of a private key file at `path`) may not be used, or undefined when it may. */
function keyFileStatProblem(path: string, st: Stats): string | undefined {
  const uid = myUid();
  if (uid === undefined) return undefined;
  if (!st.isFile()) return `'${path}' is not a regular file`;
  if (st.uid !== uid && st.uid !== 0) return `'${path}' is owned by uid ${st.uid}, not by this process's user (uid ${uid}) or root: a private key file must belong to the user that reads it`;
  const allowed = st.uid === uid ? 0o600 : 0o640;
  if ((st.mode & 0o777 & ~allowed) !== 0) {
    return `permissions ${octal(st.mode)} for '${path}' are too open: it is required that private key files are not accessible by others (chmod 600 '${path}'${st.uid === 0 && uid !== 0 ? `, or 640 when it is root's with this user's group` : ''}); this key is refused`;
  }
  return undefined;
}

/** Why the private key file at `path` may not be used (missing, unreadable, too open, foreign owner), or undefined. */
export function privateKeyFileProblem(path: string): string | undefined {
  let st: Stats;
  try {
    st = statSync(path);
  } catch (err) {
    return `cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`;
  }
  return keyFileStatProblem(path, st);
}

/**
 * Reads a private key file after checking it on the open descriptor (no window between the check
 * and the read). Throws `ConfigError('CONFIG_INVALID')` naming `setting` (e.g. `keys.secretKeyFile`)
 * when the file is missing, unreadable, too open or owned by someone else; `main.ts` prints it and
 * exits 78 like any other configuration problem.
 */
export function readPrivateKeyFile(path: string, where: { app: string; setting: string }): Buffer {
  const fail = (message: string): never => {
    throw new ConfigError('CONFIG_INVALID', where.app, [{ path: where.setting, message }]);
  };
  let fd: number | undefined;
  try {
    fd = openSync(path, 'r');
  } catch (err) {
    return fail(`cannot read '${path}': ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`);
  }
  try {
    const problem = keyFileStatProblem(path, fstatSync(fd));
    if (problem) return fail(problem);
    return readFileSync(fd);
  } finally {
    closeSync(fd);
  }
}

/**
 * Writes a secret (a key pair, a token) to `path` readable by its owner only: the bytes go to a new
 * file created 0600 (O_EXCL, so never through a file or link someone else made) beside it, which is
 * then renamed over `path`. A file that existed is replaced only with `overwrite`, and never holds
 * the secret under its old, possibly wider, mode.
 */
export function writePrivateFile(path: string, data: string | Uint8Array, opts: { overwrite?: boolean } = {}): void {
  const abs = resolve(path);
  let exists = true;
  try {
    lstatSync(abs);
  } catch {
    exists = false;
  }
  if (exists && !opts.overwrite) throw Object.assign(new Error(`${abs} exists`), { code: 'EEXIST' });
  const tmp = join(dirname(abs), `.${randomBytes(6).toString('hex')}.tmp`);
  const fd = openSync(tmp, 'wx', 0o600);
  try {
    // The umask may have narrowed 0600 further; it cannot have widened it, but say exactly what we mean.
    chmodSync(tmp, 0o600);
    const bytes = typeof data === 'string' ? Buffer.from(data) : data;
    let done = 0;
    while (done < bytes.length) done += writeSync(fd, bytes, done, bytes.length - done);
  } catch (err) {
    closeSync(fd);
    rmSync(tmp, { force: true });
    throw err;
  }
  closeSync(fd);
  renameSync(tmp, abs);
}

/** What `ensurePrivateDir` / `ensureDataDir` did: the absolute path, and what they changed. */
export interface PrivateDir {
  path: string;
  created: boolean;
  /** The previous mode when the directory existed, was ours, and was open to others (now 0700). */
  tightenedFrom?: string;
}

/** Thrown when a directory cannot be used for private files (another user's, a planted symlink, writable by others, not a directory). */
export class PrivateDirError extends Error {
  readonly code = 'PRIVATE_DIR_REFUSED';
  readonly retriable = false;
  constructor(
    readonly path: string,
    message: string,
  ) {
    super(message);
    this.name = 'PrivateDirError';
  }
}

const errCode = (err: unknown) => (err as NodeJS.ErrnoException).code ?? (err as Error).message;

/** mkdir -p with mode 0700 for whatever is missing; true when `abs` itself was made. */
function makeDirs(abs: string): boolean {
  try {
    // Returns the first directory it made (parents included, each 0700), undefined when all existed.
    return mkdirSync(abs, { recursive: true, mode: 0o700 }) !== undefined;
  } catch (err) {
    // Something that is not a directory is there: the checks below say what.
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') return false;
    throw new PrivateDirError(abs, `cannot create the directory '${abs}': ${errCode(err)}`);
  }
}

/**
 * A directory that backlog names and owns outright — a spool's `wal/`, the compressor's `bz2-<pid>/`,
 * `<tmp>/backlog-<uid>/` — made private: created with mode 0700, or, when it exists, required to be a
 * real directory (never a symlink: in a shared parent such as /tmp a link may have been planted)
 * owned by this user, and set to 0700 when others could use it. Throws `PrivateDirError` otherwise.
 *
 * Only ever give it paths backlog chose the last component of: it changes the mode of what it finds.
 * For a directory an operator configured, use `ensureDataDir`, which never changes a mode.
 */
export function ensurePrivateDir(path: string): PrivateDir {
  const abs = resolve(path);
  const created = makeDirs(abs);
  const uid = myUid();
  let st: Stats;
  try {
    st = lstatSync(abs);
  } catch (err) {
    throw new PrivateDirError(abs, `cannot inspect '${abs}': ${errCode(err)}`);
  }
  if (uid === undefined) return { path: abs, created };
  if (st.isSymbolicLink())
    throw new PrivateDirError(abs, `'${abs}' is a symbolic link (owned by uid ${st.uid}); backlog keeps private files only in a directory it made itself there — remove the link`);
  if (!st.isDirectory()) throw new PrivateDirError(abs, `'${abs}' exists and is not a directory`);
  if (st.uid !== uid)
    throw new PrivateDirError(abs, `'${abs}' is owned by uid ${st.uid}, not by this user (uid ${uid}): private files must not go into another user's directory; remove it or choose another path`);
  if ((st.mode & 0o077) !== 0) {
    chmodSync(abs, 0o700);
    // A fresh one only differs by the umask, which is not news.
    return created ? { path: abs, created } : { path: abs, created, tightenedFrom: octal(st.mode) };
  }
  return { path: abs, created };
}

/**
 * A directory an operator may configure (a spool's or spill files' location), under which backlog
 * then makes its own private directories (ensurePrivateDir). Missing: created with mode 0700 (parents
 * included). Existing (symlinks followed: the operator's choice): it must be a directory owned by this
 * user or by root, and not writable by others unless it has the sticky bit (like /tmp, where no one
 * can rename or delete another user's entries) — else someone else could swap what backlog puts in
 * it. Its mode is never changed: it may be shared with other software. Throws `PrivateDirError`.
 */
export function ensureDataDir(path: string): PrivateDir {
  const abs = resolve(path);
  const created = makeDirs(abs);
  const uid = myUid();
  let st: Stats;
  try {
    st = statSync(abs);
  } catch (err) {
    throw new PrivateDirError(abs, `cannot inspect '${abs}': ${errCode(err)}`);
  }
  if (!st.isDirectory()) throw new PrivateDirError(abs, `'${abs}' exists and is not a directory`);
  if (uid === undefined) return { path: abs, created };
  if (st.uid !== uid && st.uid !== 0) throw new PrivateDirError(abs, `'${abs}' is owned by uid ${st.uid}, not by this user (uid ${uid}) or root: choose a directory of this user's`);
  if ((st.mode & 0o022) !== 0 && (st.mode & 0o1000) === 0) {
    throw new PrivateDirError(
      abs,
      `'${abs}' is writable by others (mode ${octal(st.mode)}, no sticky bit): another user could replace what backlog keeps there; chmod go-w '${abs}' or choose another directory`,
    );
  }
  return { path: abs, created };
}

/**
 * The default root of an app's scratch files on this machine: `<tmpdir>/backlog-<uid>/<app>`. A fixed
 * name (like tmux's `/tmp/tmux-<uid>`) rather than a fresh mkdtemp per run, so that the next run finds
 * and removes what a killed one left (spill files can be large); `ensureScratchDir` checks its owner
 * and mode instead, which a name planted by another user fails.
 */
export function defaultScratchDir(app: string): string {
  return join(tmpdir(), `backlog-${myUid() ?? 'user'}`, app);
}

/**
 * Prepares a scratch location: the default one (`<tmpdir>/backlog-<uid>/…`, every level backlog's
 * own, so ensurePrivateDir) or a configured one (ensureDataDir). The app then keeps its files in
 * private subdirectories of it.
 */
export function ensureScratchDir(dir: string): PrivateDir {
  const abs = resolve(dir);
  const root = join(tmpdir(), `backlog-${myUid() ?? 'user'}`);
  if (abs === root || abs.startsWith(`${root}/`)) {
    ensurePrivateDir(root);
    let at = root;
    let last: PrivateDir = { path: root, created: false };
    for (const seg of abs.slice(root.length).split('/').filter(Boolean)) {
      at = join(at, seg);
      last = ensurePrivateDir(at);
    }
    return last;
  }
  return ensureDataDir(abs);
}
