// The compressor's hot path — h-<env> gzip batches → decode → per-window assembly → k-way merge →
// bz2 streams on all cores → sealed parts — beside `lbzip2 -n1 -9` and `bzip2 -9` run on the same
// NDJSON in the same process run. Kafka and S3 are left out on purpose (benchmarks/kafka-baseline
// measures Kafka); this measures what the compressor itself costs on top of bz2.
//
// Events are ECS NDJSON built from the loghub mixture in ../shared/corpora/loghub (read at runtime,
// never copied into the repo), with UUIDv7-style ids (per-run random + counter, as the harvester
// makes them) and millisecond timestamps, so the compression ratio is the archive's real one.
//
//   npm run bench -- compressor
//   BACKLOG_BENCH_COMPRESSOR_MIB=128 npm run bench -- compressor
import { spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { type BatchEvent, type PartManifest, decodeBatch, encodeBatch, facetsOf, partLineOf, windowOf } from '@backlog/core-codec';
import { appConfigSchema, ConfigError, loadConfig } from '@backlog/platform-config';
import { repoRoot } from '@backlog/testing';
import { z } from 'zod';
import { type LineIn, PartitionAssembler } from '../apps/compressor/src/assembler';
import { Bz2Pool } from '../apps/compressor/src/bz2-pool';
import { sealPart } from '../apps/compressor/src/sealer';

const schema = appConfigSchema({
  /** NDJSON MiB pushed through the pipeline and the baselines. Default 48. */
  mib: z.number().positive().max(4096).default(48),
  /** MiB given to `bzip2 -9` (slow; a subset is enough for its MB/s). Default 16. */
  bzip2Mib: z.number().positive().default(16),
  /** bz2 processes of the pipeline. Default: the number of cores. */
  workers: z.number().int().min(1).default(availableParallelism()),
  /** Where the loghub corpus is. Default `<repo>/../shared/corpora/loghub`. */
  loghubDir: z.string().optional(),
});

let cfg: ReturnType<typeof loadConfig<typeof schema>>;
try {
  cfg = loadConfig({ app: 'bench-compressor', schema });
} catch (err) {
  if (err instanceof ConfigError) {
    process.stderr.write(`${err.message}\n`);
    process.exit(78);
  }
  throw err;
}

const log = (line: string) => process.stderr.write(`${line}\n`);
const MiB = 1024 * 1024;

/** Loghub lines by dataset: the mixture every dataset contributes to in equal turns. */
function loadLoghub(dir: string): { service: string; lines: string[] }[] {
  if (!existsSync(dir)) throw new Error(`loghub corpus not found at ${dir} (set BACKLOG_BENCH_COMPRESSOR_LOGHUB_DIR)`);
  const out: { service: string; lines: string[] }[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, `${name}_2k.log`);
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8').split('\n').filter((l) => l.trim() !== '');
    if (lines.length) out.push({ service: name.toLowerCase(), lines });
  }
  if (!out.length) throw new Error(`no <name>/<name>_2k.log files under ${dir}`);
  return out;
}

const levelOf = (line: string) => (/\b(FATAL|ERROR|error|SEVERE)\b/.test(line) ? 'error' : /\b(WARN|WARNING|warn)\b/.test(line) ? 'warn' : /\bDEBUG\b/.test(line) ? 'debug' : 'info');

/** h-<env> batches (gzip NDJSON, one host, one window, ≤ 2,000 events) and the NDJSON they hold. */
function buildBatches(targetBytes: number, corpus: { service: string; lines: string[] }[]) {
  // UUIDv7 (RFC 9562): 48-bit ms time, version 7, then per-run random bits with a monotonic counter.
  const runBits = randomBytes(6).toString('hex');
  let counter = 0;
  const id = (ts: number) => {
    const t = ts.toString(16).padStart(12, '0');
    const c = (counter++).toString(16).padStart(10, '0');
    return `${t.slice(0, 8)}-${t.slice(8)}-7${runBits.slice(0, 3)}-${(0x8 | (parseInt(runBits[3] as string, 16) & 3)).toString(16)}${runBits.slice(4, 7)}-${runBits.slice(7, 12)}${c.slice(3)}`;
  };
  const hosts = Array.from({ length: 8 }, (_, i) => `host-${String(i).padStart(2, '0')}`);
  const cursors = corpus.map(() => 0);
  const batches: { value: Buffer; timestamp: number }[] = [];
  let bytes = 0;
  let events = 0;
  let t = Date.parse('2026-11-22T00:00:00Z');
  let turn = 0;
  while (bytes < targetBytes) {
    // One 30-s flush: each host sends what it logged meanwhile (a few datasets per host).
    for (const [h, host] of hosts.entries()) {
      const evs: BatchEvent[] = [];
      for (let i = 0; i < 250; i++) {
        const d = (h + turn + i) % corpus.length;
        const src = corpus[d] as { service: string; lines: string[] };
        const line = src.lines[(cursors[d] as number) % src.lines.length] as string;
        cursors[d] = (cursors[d] as number) + 1;
        const ts = t + Math.floor((i * 30_000) / 250) + h;
        if (windowOf(ts) !== windowOf(t)) break;
        const iso = new Date(ts).toISOString();
        const ev = {
          '@timestamp': iso,
          event: { id: id(ts), created: new Date(ts + 40).toISOString() },
          host: { name: host },
          service: { name: src.service },
          log: { level: levelOf(line) },
          message: line,
          labels: { env: 'bench', input: 'file' },
        };
        bytes += Buffer.byteLength(JSON.stringify(ev)) + 1;
        evs.push(ev);
      }
      events += evs.length;
      if (evs.length) batches.push({ value: encodeBatch(evs, { host, level: 6 }).value, timestamp: t + 30_000 });
    }
    t += 30_000;
    turn++;
  }
  return { batches, bytes, events };
}

async function pipeline(batches: { value: Buffer; timestamp: number }[], workers: number) {
  const pool = new Bz2Pool({ tool: 'lbzip2', workers });
  const asm = new PartitionAssembler({ partition: 0, graceMs: 60_000, maxFutureSkewMs: 300_000, lateLingerOffsets: 200, maxPartRawBytes: 1 << 30 }, { offset: 0n });
  const pending: Promise<{ manifest: PartManifest; object: Buffer }>[] = [];
  const seal = (bufs: ReturnType<typeof asm.sealIdle>) => {
    for (const b of bufs) {
      const p = sealPart(b, pool, { env: 'bench', topic: 'h-bench', partition: 0, streamRawBytes: 4 * MiB, maxRecordBytes: 900 * 1024 });
      p.catch(() => undefined);
      pending.push(p);
    }
  };
  const done: { manifest: PartManifest; object: Buffer }[] = [];
  const cpu0 = process.cpuUsage();
  const t0 = performance.now();
  let off = 0n;
  for (const b of batches) {
    const { events } = decodeBatch<Record<string, unknown>>(b.value);
    const lines: LineIn[] = [];
    for (const ev of events) {
      const pl = partLineOf(ev, JSON.stringify(ev));
      if (pl) lines.push({ line: pl, facets: facetsOf(ev) });
    }
    seal(asm.addRecord(off++, b.timestamp, lines).seal);
    // The app bounds parts in flight the same way (backpressure): never more than the pool can take.
    while (pending.length > workers * 2) done.push(await (pending.shift() as Promise<{ manifest: PartManifest; object: Buffer }>));
  }
  seal(asm.sealIdle(Number.MAX_SAFE_INTEGER));
  const parts = [...done, ...(await Promise.all(pending.splice(0)))];
  const seconds = (performance.now() - t0) / 1000;
  const cpu = process.cpuUsage(cpu0);
  return { seconds, parts, encoder: pool.encoder, mainCpuSeconds: (cpu.user + cpu.system) / 1e6 };
}

function timeTool(cmd: string, args: string[], file: string): { seconds: number; bytes: number } {
  const t0 = performance.now();
  const r = spawnSync('sh', ['-c', `${cmd} ${args.join(' ')} < "${file}" | wc -c`], { encoding: 'utf8' });
  const seconds = (performance.now() - t0) / 1000;
  if (r.status !== 0) throw new Error(`${cmd} failed: ${r.stderr}`);
  return { seconds, bytes: Number(r.stdout.trim()) };
}

async function main() {
  const dir = cfg.loghubDir ?? join(repoRoot(), '..', 'shared', 'corpora', 'loghub');
  const corpus = loadLoghub(dir);
  log(`building ${cfg.mib} MiB of ECS NDJSON from ${corpus.length} loghub datasets…`);
  const { batches, events } = buildBatches(cfg.mib * MiB, corpus);
  const workers = cfg.workers;
  log(`pipeline: ${batches.length} batches, ${events} events, ${workers} lbzip2 -n1 workers`);
  const run = await pipeline(batches, workers);
  const raw = run.parts.reduce((n, p) => n + p.manifest.rawBytes, 0);
  const compressed = run.parts.reduce((n, p) => n + p.manifest.compressedBytes, 0);
  const count = run.parts.reduce((n, p) => n + p.manifest.count, 0);
  if (count !== events) throw new Error(`pipeline lost events: ${count} of ${events}`);
  const rssPeak = process.resourceUsage().maxRSS * 1024;

  // The baselines get the very NDJSON the parts hold (sorted), from a file, one process each.
  const tmp = mkdtempSync(join(tmpdir(), 'bench-compressor-'));
  try {
    const ndjsonFile = join(tmp, 'events.ndjson');
    const { execFileSync } = await import('node:child_process');
    const all = Buffer.concat(run.parts.map((p) => execFileSync('bzip2', ['-d', '-c'], { input: p.object, maxBuffer: 1 << 30 })));
    writeFileSync(ndjsonFile, all);
    const lb = timeTool('lbzip2', ['-n1', '-9', '-c'], ndjsonFile);
    const subFile = join(tmp, 'sub.ndjson');
    const sub = all.subarray(0, Math.min(all.length, cfg.bzip2Mib * MiB));
    writeFileSync(subFile, sub);
    const bz = timeTool('bzip2', ['-9', '-c'], subFile);
    const mb = raw / 1e6;
    const pipeMbps = mb / run.seconds;
    const perCore = pipeMbps / workers;
    const lbMbps = mb / lb.seconds;
    const bzMbps = sub.length / 1e6 / bz.seconds;
    const ratio = raw / compressed;
    log(`pipeline   ${pipeMbps.toFixed(1)} MB/s on ${workers} cores = ${perCore.toFixed(1)} MB/s per core, ${(events / run.seconds / workers).toFixed(0)} events/s per core; main thread CPU ${run.mainCpuSeconds.toFixed(1)} s of ${run.seconds.toFixed(1)} s`);
    log(`lbzip2 -n1 ${lbMbps.toFixed(1)} MB/s   bzip2 -9 ${bzMbps.toFixed(1)} MB/s   ratio ${ratio.toFixed(2)}:1 (lbzip2 alone ${(all.length / lb.bytes).toFixed(2)}:1)   peak RSS ${(rssPeak / MiB).toFixed(0)} MiB`);
    const summary = {
      name: 'compressor',
      target: 'per core ≥ 0.9 × lbzip2 -n1; compression ratio ≥ 12:1',
      notes: [
        'h-<env> gzip batches → decode → assemble per window → k-way merge → 4 MiB streams → lbzip2 -n1 -9 processes (one per core) → sealed parts; Kafka and S3 excluded.',
        'per core = pipeline MB/s ÷ workers; the decode/merge work runs on the main thread, which shares the same cores.',
        `events: ECS NDJSON from the loghub mixture (${corpus.length} datasets), UUIDv7-style ids, ms timestamps, 8 hosts.`,
      ],
      params: { mib: cfg.mib, workers, events, parts: run.parts.length, encoder: run.encoder, bzip2Mib: sub.length / MiB },
      results: [
        {
          case: 'sealed parts per core',
          mb_per_s: Number(perCore.toFixed(2)),
          events_per_s: Math.round(events / run.seconds / workers),
          baseline: 'lbzip2 -n1',
          baseline_mb_per_s: Number(lbMbps.toFixed(2)),
          ratio: Number((perCore / lbMbps).toFixed(3)),
          target: '≥ 0.9 × baseline',
          compression_ratio: Number(ratio.toFixed(2)),
          peak_rss_mib: Math.round(rssPeak / MiB),
        },
        {
          case: 'sealed parts, all cores',
          mb_per_s: Number(pipeMbps.toFixed(2)),
          events_per_s: Math.round(events / run.seconds),
          baseline: 'bzip2 -9',
          baseline_mb_per_s: Number(bzMbps.toFixed(2)),
          ratio: Number((pipeMbps / bzMbps).toFixed(3)),
        },
        {
          case: 'compression ratio',
          compression_ratio: Number(ratio.toFixed(2)),
          raw_bytes: raw,
          compressed_bytes: compressed,
          baseline: 'lbzip2 -n1 whole file',
          baseline_ratio: Number((all.length / lb.bytes).toFixed(2)),
          ratio: Number((ratio / (all.length / lb.bytes)).toFixed(3)),
          target: '≥ 12:1',
        },
      ],
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().catch((err: Error) => {
  process.stderr.write(`compressor bench failed: ${err.stack ?? err.message}\n`);
  process.exit(1);
});
