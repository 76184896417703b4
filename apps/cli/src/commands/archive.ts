import { availableParallelism } from 'node:os';
import type { Command } from 'commander';
import { createBz2Decoder } from '@backlog/adapter-bz2';
import { type S3Port, createS3, partStoreOf } from '@backlog/adapter-s3';
import { logsCatalogue } from '@backlog/adapter-search';
import { type StoredPartProblem, checkStoredPart, compressedRecordKey, listArchiveParts, parseTimeArg, pool } from '@backlog/core-codec';
import { type ArchiveFilter, QueryError, archiveFilter, filterArgsText, formatQueryError } from '@backlog/core-query';
import { appConfigSchema, loadConfig } from '@backlog/platform-config';
import { exportArchive } from './archive-export';
import { cliKafka } from './kafka';
import { replayArchive, replayTargetRefusal } from './archive-replay';
import { type RunOptions, type RunSummary, exitCodeOf } from './archive-run';
import { type CompressorEvidence, type WindowReport, type WindowState, WINDOW_STATES, classifyWindows, compressorEvidence } from './archive-windows';

/**
 * `backlog archive verify|export|replay --env E --from T --to T` (docs/specs/archive.md).
 * verify recomputes every part's sha256 and event counts against its manifest, says of each window
 * whether it is present, idle, missing, open or unknown (archive-windows.ts), lists parts without a
 * manifest (and the reverse) and corrupt parts, and exits non-zero on a lost or corrupt part. export (archive-export.ts) writes the events as NDJSON; replay (archive-replay.ts) produces
 * them into a Kafka topic as h-<env> batches. Both are resumable part by part.
 */

export interface VerifyProblem {
  code: StoredPartProblem['code'] | 'MISSING_WINDOW' | 'MISSING_MANIFEST' | 'MISSING_PART' | 'BAD_MANIFEST';
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
  /** Windows by state (present, idle, missing, open, unknown). */
  counts: Record<WindowState, number>;
  /** Windows with a lost part (state `missing`). */
  missingWindows: string[];
  /** Every window of the range and what verify found for it. */
  windowStates: WindowReport[];
  /** How far the compressor got: windows ending at or before `closedBefore` are sealed (absent without Kafka). */
  compressor?: { closedBefore: string | null; compressedSince: string | null; partitions: CompressorEvidence['partitions'] };
  problems: VerifyProblem[];
  ok: boolean;
}

export interface VerifyOptions {
  env: string;
  fromMs: number;
  toMs: number;
  /** Windows in state `unknown` are not a problem. */
  allowEmpty?: boolean;
  /** The compressor's evidence (compressorEvidence); without it windows without parts are `unknown`. */
  evidence?: CompressorEvidence;
  /** Why there is no evidence (shown with `unknown` windows). */
  evidenceError?: string;
  onProgress?: (done: number, total: number) => void;
}

export async function verifyArchive(s3: S3Port, opts: VerifyOptions): Promise<VerifyReport> {
  // Every part of the range's windows, also those whose events all lie outside [from, to): a check covers whole windows.
  const store = partStoreOf(s3);
  const listing = await listArchiveParts(store, opts.env, opts.fromMs, opts.toMs, { includeOutOfRange: true });
  const problems: VerifyProblem[] = listing.problems.map((p) => ({ ...p }));
  const s3Parts = new Map<string, Set<string>>();
  for (const { manifest: m } of listing.parts) {
    let set = s3Parts.get(m.window);
    if (!set) s3Parts.set(m.window, (set = new Set()));
    set.add(compressedRecordKey(m.window, m.partition, m.firstOffset));
  }
  const ev = opts.evidence;
  const { reports, lostPartKeys } = classifyWindows(opts.env, listing.windows, s3Parts, ev, opts.evidenceError);
  for (const key of lostPartKeys) {
    // An object without its manifest is already reported by the listing.
    if (!problems.some((p) => p.key === key)) problems.push({ code: 'MISSING_PART', key, message: `written by the compressor (its c-${opts.env} records exist) but not in S3` });
  }
  const counts = Object.fromEntries(WINDOW_STATES.map((s) => [s, 0])) as Record<WindowState, number>;
  for (const r of reports) counts[r.state]++;
  const missingWindows = reports.filter((r) => r.state === 'missing').map((r) => r.window);
  const toCheck = listing.parts;
  let events = 0;
  let bytes = 0;
  let done = 0;
  // One stream a process (as many at once as the parts in flight have streams): one thread each.
  const io = { store, decoder: createBz2Decoder({ threads: 1 }) };
  await pool(toCheck, Math.max(1, Math.min(4, availableParallelism())), async (part) => {
    const checked = await checkStoredPart(io, part);
    for (const p of checked.problems) problems.push({ code: p.code, key: part.key, message: p.message });
    if (checked.bytes === undefined) return;
    events += part.manifest.count;
    bytes += checked.bytes;
    opts.onProgress?.(++done, toCheck.length);
  });
  problems.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  const iso = (ms: number) => (Number.isFinite(ms) ? new Date(ms).toISOString() : null);
  const ok = problems.length === 0 && counts.missing === 0 && (opts.allowEmpty || counts.unknown === 0);
  return {
    env: opts.env,
    from: new Date(opts.fromMs).toISOString(),
    to: new Date(opts.toMs).toISOString(),
    windows: listing.windows.length,
    parts: toCheck.length,
    events,
    compressedBytes: bytes,
    counts,
    missingWindows,
    windowStates: reports,
    ...(ev ? { compressor: { closedBefore: iso(ev.closedBeforeMs), compressedSince: iso(ev.compressedSinceMs), partitions: ev.partitions } } : {}),
    problems,
    ok,
  };
}

export function registerArchive(program: Command): void {
  const archive = program.command('archive').description('check and read the bz2 archive in S3 (docs/specs/archive.md)');
  archive
    .command('verify')
    .description(
      'recompute counts and sha256 of every part against its manifest; say of each window whether it is present, idle (no events), missing (a part the compressor wrote is gone), open (not sealed yet) or unknown; exit 1 on a lost or corrupt part',
    )
    .requiredOption('--env <env>', 'environment name', process.env.BACKLOG_ENV)
    .requiredOption('--from <time>', 'start: RFC 3339, epoch seconds, or relative (-2h)')
    .option('--to <time>', 'end (exclusive): RFC 3339, epoch seconds, or relative', 'now')
    .option('--allow-empty', 'windows verify cannot tell idle from lost (unknown) are not a problem')
    .option('--grace <seconds>', "the compressor's graceSeconds: how long after its end a window may still get its part", '60')
    .option('--kafka-timeout <seconds>', 'reading c-<env> gives up after this long', '60')
    .option('--json', 'print the report as JSON (the default when stdout is not a TTY)')
    .action(async (opts: { env: string; from: string; to: string; allowEmpty?: boolean; grace: string; kafkaTimeout: string; json?: boolean }) => {
      const now = Date.now();
      const fromMs = parseTimeArg(opts.from, now);
      const toMs = parseTimeArg(opts.to, now);
      if (!(toMs > fromMs)) throw new Error('--to must be after --from');
      const grace = Number(opts.grace);
      if (!Number.isFinite(grace) || grace < 0) throw new Error(`--grace ${JSON.stringify(opts.grace)}: expected seconds (>= 0)`);
      const timeout = Number(opts.kafkaTimeout);
      if (!Number.isFinite(timeout) || timeout <= 0) throw new Error(`--kafka-timeout ${JSON.stringify(opts.kafkaTimeout)}: expected seconds (> 0)`);
      const cfg = loadConfig({ app: 'cli', schema: appConfigSchema({}) });
      const s3 = createS3({ ...cfg.s3 });
      const tty = process.stdout.isTTY && !opts.json;
      try {
        let evidence: CompressorEvidence | undefined;
        let evidenceError: string | undefined;
        try {
          const kafka = await cliKafka(cfg.kafka, `backlog-archive-verify-${opts.env}`);
          evidence = await compressorEvidence(kafka, s3, { env: opts.env, fromMs, nowMs: now, graceMs: grace * 1000, timeoutMs: timeout * 1000 });
        } catch (e) {
          evidenceError = `Kafka could not be read (${(e as Error).message}): windows without parts cannot be told idle or lost`;
          process.stderr.write(`backlog: warning: ${evidenceError}\n`);
        }
        const report = await verifyArchive(s3, {
          env: opts.env,
          fromMs,
          toMs,
          allowEmpty: opts.allowEmpty,
          evidence,
          evidenceError,
          onProgress: tty ? (d, t) => process.stderr.write(`\rverified ${d}/${t} parts`) : undefined,
        });
        if (tty) {
          process.stderr.write('\n');
          const say = (l: string) => process.stdout.write(`${l}\n`);
          say(`${report.env} ${report.from} .. ${report.to}: ${report.windows} windows, ${report.parts} parts, ${report.events} events, ${report.compressedBytes} bytes`);
          say(WINDOW_STATES.map((st) => `${st} ${report.counts[st]}`).join(', '));
          for (const w of report.windowStates) {
            if (w.state === 'present') continue;
            say(`  ${w.window} ${w.start} ${w.state}${w.state === 'unknown' && opts.allowEmpty ? ' (allowed)' : ''}${w.lost ? `: lost ${w.lost.join(' ')}` : w.reason ? `: ${w.reason}` : ''}`);
          }
          for (const p of report.problems) say(`${p.code.padEnd(18)} ${p.key}  ${p.message}`);
          say(report.ok ? 'OK' : 'PROBLEMS FOUND');
        } else process.stdout.write(`${JSON.stringify(report)}\n`);
        if (!report.ok) process.exitCode = 1;
      } finally {
        s3.close();
      }
    });

  registerExport(archive);
  registerReplay(archive);
}

const collect = (v: string, prev: string[]) => [...prev, v];

interface RunCliOptions {
  env: string;
  from: string;
  to: string;
  filter: string[];
  state?: string;
  restart?: boolean;
  skipCorrupt?: boolean;
  ahead: string;
}

function timesOf(opts: { from: string; to: string }): { fromMs: number; toMs: number } {
  const now = Date.now();
  const fromMs = parseTimeArg(opts.from, now);
  const toMs = parseTimeArg(opts.to, now);
  if (!(toMs > fromMs)) throw new Error('--to must be after --from');
  return { fromMs, toMs };
}

function aheadOf(text: string): number {
  const n = Number(text);
  if (!Number.isInteger(n) || n < 0 || n > 16) throw new Error(`--ahead ${JSON.stringify(text)}: expected an integer 0..16`);
  return n;
}

/** First Ctrl-C: finish the part in progress, checkpoint, stop. Second: leave at once (the checkpoint is consistent either way). */
function stopOnSignal(): { stopping: { requested: boolean }; dispose: () => void } {
  const stopping = { requested: false };
  const onSig = () => {
    if (stopping.requested) process.exit(130);
    stopping.requested = true;
    process.stderr.write('\nstopping after the part in progress (Ctrl-C again to leave now; a rerun resumes)\n');
  };
  process.on('SIGINT', onSig);
  process.on('SIGTERM', onSig);
  return { stopping, dispose: () => (process.off('SIGINT', onSig), process.off('SIGTERM', onSig)) };
}

function commonRunOptions(cmd: Command): Command {
  return cmd
    .requiredOption('--env <env>', 'environment name', process.env.BACKLOG_ENV)
    .requiredOption('--from <time>', 'start: RFC 3339, epoch seconds, or relative (-2h)')
    .option('--to <time>', 'end (exclusive): RFC 3339, epoch seconds, or relative', 'now')
    .option(
      '--filter <filter>',
      "keep matching events only: the query language without | commands ('level:error AND NOT host:web-*', docs/specs/query.md), or host=a,b  service=x  level=error  message~text; repeatable (all must match)",
      collect,
      [],
    )
    .option('--state <file>', 'checkpoint file (default .backlog/archive/<op>-<env>-<from36>-<to36>[-<topic>].json)')
    .option('--restart', 'ignore an existing checkpoint and start from the first part')
    .option('--skip-corrupt', 'accept corrupt parts as lost: record them as skipped (not retried on resume) and exit 0')
    .option('--ahead <n>', 'parts downloaded and verified ahead of the one being written', '2');
}

/**
 * `--filter` → the filter, as `backlog history load` reads it: the query language checked against the
 * `logs-*` template's fields (its filters mean the same on both engines), the older forms translated.
 * A filter that does not parse or check is a usage error (exit 64): printed with a caret under its
 * column; undefined then.
 */
function filterOf(args: readonly string[]): ArchiveFilter | undefined {
  let text = '';
  try {
    text = filterArgsText(args);
    const f = archiveFilter(text, logsCatalogue('elasticsearch'));
    for (const w of f.warnings) process.stderr.write(`note: --filter: ${w.message}\n`);
    return f;
  } catch (e) {
    if (!(e instanceof QueryError)) throw e;
    process.stderr.write(`backlog: invalid --filter:\n${formatQueryError(e.column > 0 ? text : '', e)}\n`);
    process.exitCode = 64;
    return undefined;
  }
}

/** The options export and replay take alike, from their command lines. */
function runOptionsOf(opts: RunCliOptions, range: { fromMs: number; toMs: number }, filter: ArchiveFilter, stopping: { requested: boolean }): RunOptions {
  return {
    env: opts.env,
    fromMs: range.fromMs,
    toMs: range.toMs,
    filter,
    statePath: opts.state,
    root: process.cwd(),
    restart: opts.restart,
    skipCorrupt: opts.skipCorrupt,
    ahead: aheadOf(opts.ahead),
    progress: process.stderr.isTTY ? process.stderr : undefined,
    stopping,
  };
}

function finish(summary: RunSummary, to: NodeJS.WriteStream): void {
  to.write(`${JSON.stringify(summary)}\n`);
  process.exitCode = exitCodeOf(summary);
}

function registerExport(archive: Command): void {
  commonRunOptions(
    archive
      .command('export')
      .description('write the events of [from, to) as NDJSON, window by window, to a file or stdout; resumable; exit 3 when corrupt parts were left out')
      .option('--out <file>', 'output file, or - for stdout', '-'),
  ).action(async (opts: RunCliOptions & { out: string }) => {
    const range = timesOf(opts);
    const filter = filterOf(opts.filter);
    if (!filter) return;
    const cfg = loadConfig({ app: 'cli', schema: appConfigSchema({}) });
    const s3 = createS3({ ...cfg.s3 });
    const sig = stopOnSignal();
    try {
      const summary = await exportArchive(s3, { ...runOptionsOf(opts, range, filter, sig.stopping), out: opts.out });
      finish(summary, process.stderr);
    } finally {
      sig.dispose();
      s3.close();
    }
  });
}

function registerReplay(archive: Command): void {
  commonRunOptions(
    archive
      .command('replay')
      .description('produce the events of [from, to) into a Kafka topic as h-<env> batches (gzip NDJSON), window by window; resumable; exit 3 when corrupt parts were left out')
      .requiredOption('--topic <topic>', 'target topic (created when missing)')
      .option('--partitions <n>', 'partitions of the topic when it has to be created (default: as many as h-<env>, else 1)')
      .option('--force', 'allow h-<env> of the same env or a c-* topic as the target'),
  ).action(async (opts: RunCliOptions & { topic: string; partitions?: string; force?: boolean }) => {
    const range = timesOf(opts);
    const filter = filterOf(opts.filter);
    if (!filter) return;
    const refusal = replayTargetRefusal(opts.env, opts.topic);
    if (refusal && !opts.force) throw new Error(`--topic ${opts.topic}: ${refusal} (--force to do it anyway)`);
    const cfg = loadConfig({ app: 'cli', schema: appConfigSchema({}) });
    const kafka = await cliKafka(cfg.kafka, `backlog-archive-replay-${opts.env}`);
    const s3 = createS3({ ...cfg.s3 });
    const admin = kafka.admin();
    const producer = kafka.producer();
    const sig = stopOnSignal();
    try {
      await admin.connect();
      const topics = await admin.listTopics();
      if (!topics.includes(opts.topic)) {
        let partitions = opts.partitions === undefined ? undefined : Number(opts.partitions);
        if (partitions !== undefined && (!Number.isInteger(partitions) || partitions < 1)) throw new Error(`--partitions ${JSON.stringify(opts.partitions)}: expected a positive integer`);
        const h = `h-${opts.env}`;
        partitions ??= topics.includes(h) ? (await admin.topicOffsets(h)).length : 1;
        await admin.ensureTopics([{ topic: opts.topic, partitions }]);
      }
      await producer.connect();
      const summary = await replayArchive(s3, producer, { ...runOptionsOf(opts, range, filter, sig.stopping), topic: opts.topic });
      finish(summary, process.stdout);
    } finally {
      sig.dispose();
      await producer.disconnect().catch(() => undefined);
      await admin.disconnect().catch(() => undefined);
      s3.close();
    }
  });
}
