import { spawn } from 'node:child_process';
import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { type S3Port, createS3, isS3AdapterError, listArchiveParts } from '@backlog/adapter-s3';
import { type PartProblem, checkPart } from '@backlog/core-codec';
import { appConfigSchema, loadConfig } from '@backlog/platform-config';

/**
 * `backlog archive verify --env E --from T --to T`: recomputes every part's sha256 and event counts
 * against its manifest (docs/specs/archive.md), lists windows without any part, parts without a
 * manifest (and the reverse) and corrupt parts, and exits non-zero on any problem.
 */

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** RFC 3339, epoch seconds, or relative to now (`-2h`, `-30m`, `now`). Returns epoch ms. */
export function parseTimeArg(text: string, nowMs = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  const rel = /^-(\d+(?:\.\d+)?)([smhdw])$/.exec(t);
  if (rel) return nowMs - Number(rel[1]) * (UNITS[rel[2] as string] as number) * 1000;
  if (/^\d{1,12}(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/i.test(t)) {
    const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new Error(`not a time: ${JSON.stringify(text)} (use RFC 3339, epoch seconds, or relative like -2h)`);
}

export interface VerifyProblem {
  code: PartProblem['code'] | 'MISSING_WINDOW' | 'MISSING_MANIFEST' | 'MISSING_PART' | 'BAD_MANIFEST';
  key: string;
  message: string;
}

export interface VerifyReport {
  env: string;
  from: string;
  to: string;
  windows: number;
  parts: number;
  events: number;
  compressedBytes: number;
  missingWindows: string[];
  problems: VerifyProblem[];
  ok: boolean;
}

function bunzip(stream: Uint8Array): Promise<string | Error> {
  return new Promise((resolve) => {
    const child = spawn('bzip2', ['-d', '-c'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    let err = '';
    child.stdout.on('data', (d: Buffer) => out.push(d));
    child.stderr.on('data', (d: Buffer) => (err += d.toString()));
    child.stdin.on('error', () => undefined);
    child.once('error', (e) => resolve(e));
    child.once('close', (code) => resolve(code === 0 ? Buffer.concat(out).toString('utf8') : new Error(`bzip2 -d: ${err.trim() || `exit ${code}`}`)));
    child.stdin.end(stream);
  });
}

/** Runs `fn` over `items` with at most `n` at a time. */
async function pool<T>(items: readonly T[], n: number, fn: (t: T) => Promise<void>): Promise<void> {
  let i = 0;
  await Promise.all(Array.from({ length: Math.min(n, items.length) }, async () => {
    while (i < items.length) await fn(items[i++] as T);
  }));
}

export async function verifyArchive(s3: S3Port, opts: { env: string; fromMs: number; toMs: number; allowEmpty?: boolean; onProgress?: (done: number, total: number) => void }): Promise<VerifyReport> {
  // Every part of the range's windows, also those whose events all lie outside [from, to): a check covers whole windows.
  const listing = await listArchiveParts(s3, opts.env, opts.fromMs, opts.toMs, { includeOutOfRange: true });
  const problems: VerifyProblem[] = listing.problems.map((p) => ({ ...p }));
  const missingWindows = listing.windowsWithoutParts;
  const toCheck = listing.parts;
  let events = 0;
  let bytes = 0;
  let done = 0;
  await pool(toCheck, Math.max(1, Math.min(4, availableParallelism())), async ({ key, manifest: m }) => {
    let object: Buffer;
    try {
      object = await s3.get(key, { maxBytes: Math.max(m.compressedBytes, 1) + 1024 * 1024 });
    } catch (e) {
      if (!isS3AdapterError(e) || (e.code !== 'S3_NOT_FOUND' && e.code !== 'S3_TOO_LARGE')) throw e;
      problems.push({ code: e.code === 'S3_NOT_FOUND' ? 'MISSING_PART' : 'SIZE_MISMATCH', key, message: e.message });
      return;
    }
    const texts = await Promise.all(m.streams.map((s) => (s.offset + s.length <= object.length ? bunzip(object.subarray(s.offset, s.offset + s.length)) : Promise.resolve(new Error('stream beyond the object\'s end')))));
    for (const p of checkPart(m, object, texts)) problems.push({ code: p.code, key, message: p.message });
    events += m.count;
    bytes += object.length;
    opts.onProgress?.(++done, toCheck.length);
  });
  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const ok = problems.length === 0 && (opts.allowEmpty || missingWindows.length === 0);
  return {
    env: opts.env,
    from: new Date(opts.fromMs).toISOString(),
    to: new Date(opts.toMs).toISOString(),
    windows: listing.windows.length,
    parts: toCheck.length,
    events,
    compressedBytes: bytes,
    missingWindows,
    problems,
    ok,
  };
}

export function registerArchive(program: Command): void {
  const archive = program.command('archive').description('check and read the bz2 archive in S3 (docs/specs/archive.md)');
  archive
    .command('verify')
    .description('recompute counts and sha256 of every part against its manifest; list missing windows and corrupt parts; exit 1 on any problem')
    .requiredOption('--env <env>', 'environment name', process.env.BACKLOG_ENV)
    .requiredOption('--from <time>', 'start: RFC 3339, epoch seconds, or relative (-2h)')
    .option('--to <time>', 'end (exclusive): RFC 3339, epoch seconds, or relative', 'now')
    .option('--allow-empty', 'windows without any part are not a problem (a quiet environment)')
    .option('--json', 'print the report as JSON (the default when stdout is not a TTY)')
    .action(async (opts: { env: string; from: string; to: string; allowEmpty?: boolean; json?: boolean }) => {
      const now = Date.now();
      const fromMs = parseTimeArg(opts.from, now);
      const toMs = parseTimeArg(opts.to, now);
      if (!(toMs > fromMs)) throw new Error('--to must be after --from');
      const cfg = loadConfig({ app: 'cli', schema: appConfigSchema({}) });
      const s3 = createS3({ ...cfg.s3 });
      const tty = process.stdout.isTTY && !opts.json;
      try {
        const report = await verifyArchive(s3, {
          env: opts.env,
          fromMs,
          toMs,
          allowEmpty: opts.allowEmpty,
          onProgress: tty ? (d, t) => process.stderr.write(`\rverified ${d}/${t} parts`) : undefined,
        });
        if (tty) {
          process.stderr.write('\n');
          const say = (l: string) => process.stdout.write(`${l}\n`);
          say(`${report.env} ${report.from} .. ${report.to}: ${report.windows} windows, ${report.parts} parts, ${report.events} events, ${report.compressedBytes} bytes`);
          if (report.missingWindows.length) say(`windows without any part${opts.allowEmpty ? ' (allowed)' : ''}: ${report.missingWindows.join(' ')}`);
          for (const p of report.problems) say(`${p.code.padEnd(18)} ${p.key}  ${p.message}`);
          say(report.ok ? 'OK' : 'PROBLEMS FOUND');
        } else process.stdout.write(`${JSON.stringify(report)}\n`);
        if (!report.ok) process.exitCode = 1;
      } finally {
        s3.close();
      }
    });
}
