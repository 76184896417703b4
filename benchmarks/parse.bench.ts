/**
 * parse + normalize throughput on one core: `npx tsx benchmarks/parse.bench.ts [--seconds N]`.
 *
 * Cases:
 *   rfc5424  synthetic RFC 5424 lines (half with STRUCTURED-DATA, key=value and plain messages)
 *   rfc3164  the syslog-style loghub samples (Linux, Mac, OpenSSH) sent as RFC 3164 wire messages (<PRI> prepended)
 *   loghub   all 16 loghub samples as read from files, format auto (most are plain text)
 * Rates are per CPU-second of this process (one core), see timeLoop. Baseline, in the same process: JSON.parse of the NDJSON of the very same normalized events (what an
 * NDJSON consumer pays per event). ratio = our lines/s ÷ baseline lines/s.
 *
 * The loghub data is research-licensed: it is read at run time from ../shared/corpora/loghub beside the
 * repository and never copied into it (see that folder's README and LICENSE).
 * The last line printed is the machine-readable summary consumed by the bench harness.
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { EventIdGenerator, type NormalizeContext, normalize } from '@backlog/core-event';
import { type ParseOptions, parseLine } from '@backlog/core-parse';

const root = fileURLToPath(new URL('..', import.meta.url));
const LOGHUB = join(root, '../shared/corpora/loghub');
const argSeconds = process.argv.indexOf('--seconds');
const SECONDS = argSeconds > 0 ? Number(process.argv[argSeconds + 1]) : 2;

function synthetic5424(n: number): string[] {
  const apps = ['nginx', 'sshd', 'api', 'worker', 'cron'];
  const msgs = [
    'upstream timed out (110: Connection timed out) while reading response header from upstream',
    'request completed method=GET path=/api/v1/items status=200 duration_ms=12 user=alice',
    'Accepted publickey for deploy from 10.1.2.3 port 52344 ssh2: RSA SHA256:abcdef',
    'job finished',
  ];
  const out: string[] = [];
  const t0 = Date.parse('2026-11-22T10:00:00Z');
  for (let i = 0; i < n; i++) {
    const ts = new Date(t0 + i * 7).toISOString();
    const app = apps[i % apps.length];
    const sd = i % 2 === 0 ? `[exampleSDID@32473 iut="${i % 9}" eventSource="Application" eventID="${1000 + (i % 50)}"]` : '-';
    out.push(`<${(16 + (i % 8)) * 8 + (i % 8)}>1 ${ts} web-${String(i % 20).padStart(2, '0')} ${app} ${1000 + (i % 300)} ID${i % 60} ${sd} ${msgs[i % msgs.length]}`);
  }
  return out;
}

function readLines(file: string): string[] {
  return readFileSync(file, 'utf8')
    .split(/\r?\n/)
    .filter((l) => l.length > 0);
}

function loghubSyslog(): string[] {
  const out: string[] = [];
  for (const sys of ['Linux', 'Mac', 'OpenSSH']) for (const l of readLines(join(LOGHUB, sys, `${sys}_2k.log`))) out.push(`<38>${l}`);
  return out;
}

function loghubAll(): string[] {
  const out: string[] = [];
  for (const sys of readdirSync(LOGHUB).sort()) {
    const f = join(LOGHUB, sys, `${sys}_2k.log`);
    if (existsSync(f)) out.push(...readLines(f));
  }
  return out;
}

interface Result {
  case: string;
  lines: number;
  lines_per_s: number;
  mb_per_s: number;
  baseline: 'JSON.parse';
  baseline_lines_per_s: number;
  ratio: number;
  wall_lines_per_s: number;
  parse_errors: number;
}

/**
 * Runs `body` for `seconds` of wall time. Rates are per second of this process's CPU time (user + system,
 * from process.cpuUsage): on a shared, busy machine wall time measures the neighbours, CPU time measures
 * us on one core. `wallPerSec` is reported beside it.
 */
function timeLoop(seconds: number, body: () => number): { perSec: number; wallPerSec: number } {
  body(); // warm-up pass (JIT)
  let units = 0;
  const c0 = process.cpuUsage();
  const t0 = performance.now();
  let t = t0;
  while (t - t0 < seconds * 1000) {
    units += body();
    t = performance.now();
  }
  const c = process.cpuUsage(c0);
  const cpuMs = (c.user + c.system) / 1000;
  return { perSec: (units * 1000) / cpuMs, wallPerSec: (units * 1000) / (t - t0) };
}

function bench(name: string, lines: string[], opts: ParseOptions): Result {
  const ids = new EventIdGenerator();
  const receivedAt = Date.now();
  const ctx: NormalizeContext = { receivedAt, hostname: 'bench-host', env: 'dev', input: 'bench', ids };
  const bytes = lines.reduce((a, l) => a + Buffer.byteLength(l) + 1, 0);
  let errors = 0;
  const ndjson = lines.map((l) => {
    const e = normalize(parseLine(l, opts), ctx);
    if (e.labels.parse_error) errors++;
    return JSON.stringify(e);
  });
  let sink = 0;
  const ours = timeLoop(SECONDS, () => {
    for (const l of lines) sink += normalize(parseLine(l, opts), ctx).message.length;
    return lines.length;
  });
  const base = timeLoop(SECONDS, () => {
    for (const j of ndjson) sink += (JSON.parse(j) as { message: string }).message.length;
    return ndjson.length;
  });
  if (sink === -1) console.log('unreachable');
  const linesPerS = ours.perSec;
  return {
    case: name,
    lines: lines.length,
    lines_per_s: Math.round(linesPerS),
    mb_per_s: Math.round(((linesPerS * bytes) / lines.length / 1e6) * 100) / 100,
    baseline: 'JSON.parse',
    baseline_lines_per_s: Math.round(base.perSec),
    ratio: Math.round((linesPerS / base.perSec) * 100) / 100,
    wall_lines_per_s: Math.round(ours.wallPerSec),
    parse_errors: errors,
  };
}

const now = Date.now();
const results: Result[] = [];
results.push(bench('rfc5424', synthetic5424(50_000), { format: 'auto', now }));
if (existsSync(LOGHUB)) {
  results.push(bench('rfc3164', loghubSyslog(), { format: 'auto', now }));
  results.push(bench('loghub', loghubAll(), { format: 'auto', now }));
} else {
  console.error(`loghub corpus not found at ${LOGHUB}: rfc3164 and loghub cases skipped`);
}
for (const r of results) {
  console.log(
    `${r.case.padEnd(8)} ${String(r.lines).padStart(6)} lines  ${String(r.lines_per_s).padStart(9)} lines/cpu-s (wall ${r.wall_lines_per_s})  ${r.mb_per_s.toFixed(1).padStart(6)} MB/s   JSON.parse ${String(r.baseline_lines_per_s).padStart(9)} lines/s  ratio ${r.ratio}`,
  );
}
console.log(JSON.stringify({ name: 'parse', node: process.version, seconds_per_case: SECONDS, results }));
