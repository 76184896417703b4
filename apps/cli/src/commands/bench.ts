import { spawn, execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { cpus, totalmem, release, platform, arch } from 'node:os';
import { join } from 'node:path';
import type { Command } from 'commander';
import { z } from 'zod';
import { repoRoot } from '@backlog/platform-stack';

/**
 * `backlog bench <name>|all`: runs `benchmarks/<name>.bench.ts` in a child process, streams its
 * output, keeps the last stdout line (the script's JSON summary), stores it with the machine's
 * facts in `benchmarks/results/<name>.json`, and regenerates `benchmarks/RESULTS.md` from all of
 * them. Benchmarks are scripts, not timed tests (ARCHITECTURE.md, habit 9): each one measures a
 * hot path against a baseline run in the same process and prints the ratio.
 */

const figure = z.union([z.number(), z.string(), z.null()]);

/** One row of a summary: the case, its figures (any `name: number` pairs), the baseline and the ratio. */
const resultSchema = z
  .object({
    case: z.string().min(1),
    /** The baseline's figures (same names), a sentence such as "self", or null. */
    baseline: z.union([z.record(z.string(), figure), z.string(), z.null()]).optional(),
    /** figure / baseline figure, for the row's headline metric. */
    ratio: z.number().nullable().optional(),
    /** What the case should reach, as the script states it (e.g. "≥ 0.9 × baseline"). */
    target: z.string().optional(),
  })
  .catchall(figure);

export const summarySchema = z.object({
  name: z.string().regex(/^[a-z0-9][a-z0-9-]*$/),
  results: z.array(resultSchema).min(1),
  /** Benchmark-wide target, when the script states one. */
  target: z.string().optional(),
  /** Anything the reader needs to interpret the figures (what is measured, sizes, caveats). */
  notes: z.union([z.string(), z.array(z.string())]).optional(),
  /** Parameters the run used (sizes, counts, server versions). */
  params: z.record(z.string(), z.unknown()).optional(),
});
export type BenchSummary = z.infer<typeof summarySchema>;
export type BenchResult = BenchSummary['results'][number];

export interface MachineFacts {
  cpu: string;
  cores: number;
  memoryGiB: number;
  os: string;
  node: string;
  date: string;
  commit: string;
}

export interface StoredResult {
  name: string;
  command: string;
  machine: MachineFacts;
  summary: BenchSummary;
}

const RESERVED = new Set(['case', 'baseline', 'ratio', 'target']);

/** The last non-empty line of a script's stdout, parsed and checked; an Error says what is wrong. */
export function parseSummary(stdout: string): BenchSummary | Error {
  const last = stdout
    .split('\n')
    .map((l) => l.trim())
    .filter(Boolean)
    .pop();
  if (!last) return new Error('the benchmark printed nothing on stdout (its last line must be the JSON summary)');
  let data: unknown;
  try {
    data = JSON.parse(last);
  } catch {
    return new Error(`the last stdout line is not JSON: ${last.slice(0, 200)}`);
  }
  const parsed = summarySchema.safeParse(data);
  if (!parsed.success)
    return new Error(`the summary does not match {name, results:[{case, …figures, baseline, ratio}]}: ${parsed.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ')}`);
  return parsed.data;
}

function fmtNumber(n: number): string {
  if (!Number.isFinite(n)) return String(n);
  const abs = Math.abs(n);
  const digits = abs >= 100 ? 0 : abs >= 10 ? 1 : abs >= 1 ? 2 : 3;
  return n.toLocaleString('en-US', { maximumFractionDigits: digits, minimumFractionDigits: 0 });
}

function fmtFigures(entries: [string, unknown][]): string {
  const parts = entries.filter(([, v]) => v !== null && v !== undefined).map(([k, v]) => `${typeof v === 'number' ? fmtNumber(v) : String(v)} ${k}`);
  return parts.length ? parts.join(' · ') : '—';
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');

/** The figures of a row: every key that is not case/baseline/ratio/target, in the script's order. */
export function figuresOf(r: BenchResult): [string, unknown][] {
  return Object.entries(r).filter(([k]) => !RESERVED.has(k));
}

/** Markdown for one stored result: facts, a table, notes, and the command that reproduces it. */
export function renderBenchmark(s: StoredResult): string {
  const { summary, machine } = s;
  const anyTarget = summary.results.some((r) => r.target !== undefined);
  const head = ['case', 'figures', 'baseline', 'ratio', ...(anyTarget ? ['target'] : [])];
  const rows = summary.results.map((r) => {
    const baseline = r.baseline === undefined || r.baseline === null ? '—' : typeof r.baseline === 'string' ? r.baseline : fmtFigures(Object.entries(r.baseline));
    const ratio = r.ratio === undefined || r.ratio === null ? '—' : r.ratio.toFixed(2);
    return [r.case, fmtFigures(figuresOf(r)), baseline, ratio, ...(anyTarget ? [r.target ?? '—'] : [])];
  });
  const lines = [
    `## ${summary.name}`,
    '',
    `${machine.date.slice(0, 10)} · commit \`${machine.commit}\` · ${machine.cpu}, ${machine.cores} cores, ${machine.memoryGiB} GiB · ${machine.os} · Node.js ${machine.node}`,
    '',
    `| ${head.join(' | ')} |`,
    `|${head.map((h) => (h === 'case' ? '---' : '---:')).join('|')}|`,
    ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`),
    '',
  ];
  if (summary.target) lines.push(`Target: ${summary.target}`, '');
  const notes = summary.notes === undefined ? [] : Array.isArray(summary.notes) ? summary.notes : [summary.notes];
  for (const n of notes) lines.push(`- ${n}`);
  if (summary.params)
    lines.push(
      `- Parameters: ${Object.entries(summary.params)
        .map(([k, v]) => `${k}=${typeof v === 'string' ? v : JSON.stringify(v)}`)
        .join(', ')}`,
    );
  if (notes.length || summary.params) lines.push('');
  lines.push('Reproduce:', '', '```sh', s.command, '```', '');
  return lines.join('\n');
}

/** The figure a target speaks of, when the target says which (by its unit); undefined otherwise. */
function targetFigure(r: BenchResult): [string, number] | undefined {
  const t = r.target ?? '';
  const figures = figuresOf(r).filter((e): e is [string, number] => typeof e[1] === 'number');
  const named = (test: (k: string) => boolean) => figures.find(([k]) => test(k));
  if (/×|baseline/.test(t) || /^[<>≤≥]\s*[\d.]+\s*$/.test(t)) return typeof r.ratio === 'number' ? ['ratio', r.ratio] : undefined;
  if (/:1\b/.test(t)) return named((k) => k.includes('compression_ratio'));
  if (/events\/s/.test(t)) return named((k) => k === 'events_per_s');
  if (/\bms\b/.test(t)) return named((k) => (/p95/.test(t) ? k === 'p95_ms' || k === 'p95Ms' : k.endsWith('_ms') || k.endsWith('Ms')));
  if (/\bs\b/.test(t)) return named((k) => (/p95/.test(t) ? k === 'p95_s' : k === 'seconds'));
  return undefined;
}

/** Whether `value` meets a target such as "≥ 0.9 × baseline", "< 5 s", "≥ 100,000 events/s", "≥ 12:1". */
export function meetsTarget(target: string, value: number): boolean | undefined {
  const m = /([<>≤≥])\s*([\d.,]+)/.exec(target);
  if (!m) return undefined;
  const n = Number((m[2] as string).replace(/,/g, ''));
  if (!Number.isFinite(n)) return undefined;
  switch (m[1]) {
    case '≥':
      return value >= n;
    case '>':
      return value > n;
    case '≤':
      return value <= n;
    default:
      return value < n;
  }
}

/**
 * One row per case that states a target (else the benchmark's first case): path, its figure, the
 * baseline, the ratio, the target, whether the figure meets it, and the commit measured — all read
 * from the stored results, nothing added.
 */
export function renderHeadline(stored: StoredResult[]): string[] {
  const rows: string[][] = [];
  for (const s of [...stored].sort((a, b) => a.name.localeCompare(b.name))) {
    const targeted = s.summary.results.filter((r) => r.target !== undefined && !/^—/.test(r.target));
    for (const r of targeted.length ? targeted : s.summary.results.slice(0, 1)) {
      // A target of several parts ("p95 < 100 ms, ≤ 1.10 × raw") is met when every part is.
      const parts = r.target && !/^—/.test(r.target) ? r.target.split(/,\s+/).map((target) => ({ target, tf: targetFigure({ ...r, target } as BenchResult) })) : [];
      const tf = parts.find((p) => p.tf)?.tf;
      const shown = tf && tf[0] !== 'ratio' ? tf : (figuresOf(r).find((e): e is [string, number] => typeof e[1] === 'number') ?? undefined);
      const figure = shown ? `${fmtNumber(shown[1])} ${shown[0]}` : '—';
      const baseline = r.baseline === undefined || r.baseline === null ? '—' : typeof r.baseline === 'string' ? r.baseline : fmtFigures(Object.entries(r.baseline));
      const ratio = r.ratio === undefined || r.ratio === null ? '—' : r.ratio.toFixed(2);
      const verdicts = parts.map((p) => (p.tf ? meetsTarget(p.target, p.tf[1]) : undefined)).filter((v): v is boolean => v !== undefined);
      const met = verdicts.length ? verdicts.every(Boolean) : undefined;
      rows.push([`${s.name}: ${r.case}`, figure, baseline, ratio, r.target ?? '—', met === undefined ? '—' : met ? 'met' : 'not met', `\`${s.machine.commit}\``]);
    }
  }
  return ['| path | figure | baseline | ratio | target | met | commit |', '|---|---:|---|---:|---|---|---|', ...rows.map((r) => `| ${r.map(cell).join(' | ')} |`), ''];
}

/** The whole RESULTS.md, from every stored result (sorted by name so the file diffs cleanly). */
export function renderResults(stored: StoredResult[]): string {
  const sorted = [...stored].sort((a, b) => a.name.localeCompare(b.name));
  return [
    '# Benchmark results',
    '',
    '<!-- Generated by `npm run bench -- <name>` (apps/cli/src/commands/bench.ts) from benchmarks/results/*.json. Do not edit by hand. -->',
    '',
    'Each table is the last run of one script in `benchmarks/`; figures are measured on the machine named',
    'under its title against the local stack (`npx backlog stack up`) unless its notes say otherwise.',
    "`ratio` is the case's headline figure divided by the baseline's, measured in the same run. How to run",
    'them and what each measures: [README.md](README.md).',
    '',
    ...(sorted.length
      ? [
          '## Headline',
          '',
          "Each benchmark's targeted cases (else its first case), from the sections below: the figure the target speaks of, whether it meets it, and the commit measured.",
          '',
          ...renderHeadline(sorted),
          ...sorted.map(renderBenchmark),
        ]
      : ['_No results yet._', '']),
  ].join('\n');
}

export function machineFacts(root: string, now = new Date()): MachineFacts {
  let commit = 'unknown';
  try {
    commit = execFileSync('git', ['rev-parse', '--short=12', 'HEAD'], { cwd: root, encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] }).trim();
    // Tracked changes outside the results themselves make the commit an approximation: say so.
    const dirty = execFileSync('git', ['status', '--porcelain', '--untracked-files=no', '--', '.', ':!benchmarks/results', ':!benchmarks/RESULTS.md'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
    }).trim();
    if (dirty) commit += '+dirty';
  } catch {
    /* not a git checkout: keep 'unknown' */
  }
  const c = cpus();
  return {
    cpu: c[0]?.model.trim() ?? 'unknown',
    cores: c.length,
    memoryGiB: Math.round(totalmem() / 2 ** 30),
    os: `${platform()} ${release()} ${arch()}`,
    node: process.version,
    date: now.toISOString(),
    commit,
  };
}

export function listBenchmarks(root: string): string[] {
  const dir = join(root, 'benchmarks');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.bench.ts'))
    .map((f) => f.slice(0, -'.bench.ts'.length))
    .sort();
}

export function readStored(root: string): StoredResult[] {
  const dir = join(root, 'benchmarks', 'results');
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((f) => f.endsWith('.json'))
    .map((f) => JSON.parse(readFileSync(join(dir, f), 'utf8')) as StoredResult);
}

const say = (line: string) => process.stdout.write(`${line}\n`);

/** Runs one script, teeing its output; resolves with its stdout and exit status. */
function runScript(root: string, name: string, timeoutS: number): Promise<{ stdout: string; code: number | null; timedOut: boolean }> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, ['--import', 'tsx', join('benchmarks', `${name}.bench.ts`)], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'inherit'],
      env: { ...process.env, BACKLOG_ROOT: root },
    });
    let stdout = '';
    child.stdout.setEncoding('utf8');
    child.stdout.on('data', (chunk: string) => {
      stdout += chunk;
      // Only the tail matters for the summary; keep memory bounded for chatty scripts.
      if (stdout.length > 4 << 20) stdout = stdout.slice(-(1 << 20));
      process.stdout.write(chunk);
    });
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.exitCode === null && child.kill('SIGKILL'), 10_000).unref();
    }, timeoutS * 1000);
    child.on('error', reject);
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ stdout, code, timedOut });
    });
  });
}

/** Runs, stores and renders one benchmark; returns false (after saying why) when it failed. */
async function benchOne(root: string, name: string, opts: { timeout: number; save: boolean }): Promise<boolean> {
  say(`── bench ${name} ──`);
  const t0 = Date.now();
  const { stdout, code, timedOut } = await runScript(root, name, opts.timeout);
  if (timedOut) {
    say(`bench ${name}: stopped after ${opts.timeout}s (--timeout)`);
    return false;
  }
  if (code !== 0) {
    say(`bench ${name}: the script exited with ${code}; nothing stored`);
    return false;
  }
  const summary = parseSummary(stdout);
  if (summary instanceof Error) {
    say(`bench ${name}: ${summary.message}`);
    return false;
  }
  if (summary.name !== name) say(`bench ${name}: note: the summary calls itself "${summary.name}"; stored as ${name}`);
  const stored: StoredResult = { name, command: `npm run bench -- ${name}`, machine: machineFacts(root), summary: { ...summary, name } };
  say(`bench ${name}: done in ${((Date.now() - t0) / 1000).toFixed(1)}s`);
  if (!opts.save) return true;
  const dir = join(root, 'benchmarks', 'results');
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, `${name}.json`), `${JSON.stringify(stored, null, 2)}\n`);
  writeFileSync(join(root, 'benchmarks', 'RESULTS.md'), renderResults(readStored(root)));
  say(`bench ${name}: stored benchmarks/results/${name}.json, regenerated benchmarks/RESULTS.md`);
  return true;
}

export function registerBench(program: Command): void {
  program
    .command('bench')
    .argument('[name]', 'a script benchmarks/<name>.bench.ts, or "all"')
    .option('--timeout <seconds>', 'stop a script that runs longer than this', (v) => Number(v), 900)
    .option('--no-save', 'print the figures only; leave benchmarks/results and RESULTS.md alone')
    .option('--render', 'only regenerate benchmarks/RESULTS.md from benchmarks/results/*.json')
    .option('--list', 'list the benchmarks')
    .description('run a benchmark script, store its summary with the machine facts, regenerate benchmarks/RESULTS.md')
    .action(async (name: string | undefined, opts: { timeout: number; save: boolean; render?: boolean; list?: boolean }) => {
      const root = repoRoot();
      const known = listBenchmarks(root);
      if (opts.list) {
        for (const n of known) say(n);
        return;
      }
      if (opts.render) {
        writeFileSync(join(root, 'benchmarks', 'RESULTS.md'), renderResults(readStored(root)));
        say('regenerated benchmarks/RESULTS.md');
        return;
      }
      if (!Number.isFinite(opts.timeout) || opts.timeout <= 0) throw new Error('--timeout must be a positive number of seconds');
      if (!name) throw new Error(`name a benchmark or "all"; known: ${known.join(', ') || '(none)'}`);
      const names = name === 'all' ? known : [name];
      if (name !== 'all' && !known.includes(name)) throw new Error(`no benchmarks/${name}.bench.ts; known: ${known.join(', ') || '(none)'}`);
      const failed: string[] = [];
      for (const n of names) if (!(await benchOne(root, n, opts))) failed.push(n);
      if (names.length > 1) say(`bench: ${names.length - failed.length} of ${names.length} succeeded${failed.length ? `; failed: ${failed.join(', ')}` : ''}`);
      if (failed.length) process.exitCode = 1;
    });
}
