// The bz2 pool's process starter (apps/compressor/src/bz2-pool.ts, docs/adr/0005, "Revision 5").
//
// Plain JavaScript run by `node` itself (no tsx, no build): a small long-lived process that the
// compressor starts once, while it is still small, and that starts every encoder for it. Starting a
// process from the compressor would fork a process of several hundred MiB each time (~11 ms of CPU at
// 450 MiB, measured); from here it forks ~50 MiB (~1 ms). It replaces a `sh -c` loop: every encoder
// is started with an argument array (execve, no shell), so no file name or directory is ever parsed
// as shell words, and a machine without /bin/sh (a distroless image) runs the compressor too.
//
// Protocol, one JSON object per line:
//   stdin   {"id":1,"cwd":"/dir","file":"lbzip2","args":["-n1","-9","-f","--","j1-0"],"stderr":"j1.err"}
//           {"kill":1}                          SIGKILL the job's process group
//   stdout  {"id":1,"code":0}                    exit status (128 + signal number when killed)
//           {"id":1,"code":127,"error":"ENOENT"} the encoder could not be started
// Each job runs in its own process group, so a kill reaches whatever the encoder started. When stdin
// closes (the pool closed, or the compressor died), running jobs are killed and the process exits.
import { spawn } from 'node:child_process';
import { closeSync, openSync } from 'node:fs';
import { constants } from 'node:os';
import { join } from 'node:path';
import { createInterface } from 'node:readline';

/** @type {Map<number, import('node:child_process').ChildProcess>} */
const jobs = new Map();
const answer = (o) => process.stdout.write(`${JSON.stringify(o)}\n`);

function killGroup(child) {
  try {
    process.kill(-child.pid, 'SIGKILL');
  } catch {
    child.kill('SIGKILL');
  }
}

function start(job) {
  const { id, cwd, file, args, stderr } = job;
  if (typeof id !== 'number' || typeof cwd !== 'string' || typeof file !== 'string' || !Array.isArray(args) || typeof stderr !== 'string') return;
  let fd;
  try {
    // The encoder's messages go to a file of the job (read by the pool when the exit status is not 0).
    fd = openSync(join(cwd, stderr), 'w', 0o600);
  } catch (err) {
    answer({ id, code: 126, error: err.code ?? String(err) });
    return;
  }
  let child;
  try {
    child = spawn(file, args.map(String), { cwd, stdio: ['ignore', 'ignore', fd], detached: true });
  } catch (err) {
    answer({ id, code: 127, error: err.code ?? String(err) });
    return;
  } finally {
    closeSync(fd);
  }
  jobs.set(id, child);
  child.once('error', (err) => {
    if (jobs.delete(id)) answer({ id, code: 127, error: err.code ?? err.message });
  });
  child.once('exit', (code, signal) => {
    if (jobs.delete(id)) answer({ id, code: code ?? 128 + (constants.signals[signal] ?? 0) });
  });
}

const lines = createInterface({ input: process.stdin });
lines.on('line', (line) => {
  let msg;
  try {
    msg = JSON.parse(line);
  } catch {
    return;
  }
  if (msg && typeof msg.kill === 'number') {
    const child = jobs.get(msg.kill);
    if (child) killGroup(child);
  } else if (msg) start(msg);
});
lines.on('close', () => {
  for (const child of jobs.values()) killGroup(child);
  process.exit(0);
});
