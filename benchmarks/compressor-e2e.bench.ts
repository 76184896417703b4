// The compressor app end to end: gzip batches in h-<env> (real Kafka) → the compressor as it is
// deployed (`node --initial-old-space-size=128 --import tsx apps/compressor/src/main.ts`, as `backlog start` runs it: its own process, default settings but a
// 1 s idle rule) → parts acknowledged by the S3 server and c-<env>, offsets committed. Beside it, in
// the same round, `lbzip2 -n1 -9` on the NDJSON those parts hold.
//
// benchmarks/compressor measures the compressor's own hot path with Kafka and S3 left out; this one
// adds what a deployment pays on top: kafkajs fetching and decoding record batches, the checkpoint and
// commit traffic, S3 puts (part + manifest) and the produce of every stream to c-<env>. The brokers'
// and the S3 server's CPU is theirs, not the compressor's, and is not counted.
//
// Each round uses a fresh env. The app first compresses older warm-up events (a compressor is a
// long-running process: the figure is its steady state, not V8 compiling its hot code); then the
// measured events are produced while it runs, as a live h-<env> fills. CPU is read from /proc: the
// compressor process (all its threads) and its encoder runners (each a long-lived `sh`, whose reaped
// `lbzip2` children are in its cutime), from the warm-up's last commit to the measured events' last
// commit. That span holds the 1 s idle seal of the last windows (the events are hours old) and the
// commit interval: little CPU, some wall time, so the throughput figure is per CPU-second.
//
//   npm run bench -- compressor-e2e
//   BACKLOG_BENCH_COMPRESSOR_E2E_MIB=128 npm run bench -- compressor-e2e
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { availableParallelism, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { createKafka } from '@backlog/adapter-kafka';
import { createS3 } from '@backlog/adapter-s3';
import { WINDOW_SECONDS, compressedTopic, harvestTopic, parseManifest, windowStartMs, windowOf } from '@backlog/core-codec';
import { appConfigSchema } from '@backlog/platform-config';
import { repoRoot, sleep } from '@backlog/testing';
import { z } from 'zod';
import { COMPRESSOR_NODE_FLAGS } from '../apps/cli/src/commands/start';
import { loadBenchConfig } from './lib/config';
import { timeTool } from './lib/cpu';
import { type BenchBatch, buildBatches, loadLoghub } from './lib/loghub-batches';
import { spawnApp } from './lib/process';

const schema = appConfigSchema({
  /** NDJSON MiB per round. Default 48 (as benchmarks/compressor). */
  mib: z.number().positive().max(2048).default(48),
  /** Rounds, each a fresh env (topics, group, S3 prefix), then `lbzip2 -n1` right after it. Default 3. */
  rounds: z.number().int().min(1).max(9).default(3),
  /**
   * MiB of older events the app compresses first, untimed, in the same round: a compressor is a
   * long-running process, and this is its steady state, not V8 compiling the hot code. 0 = none. Default 8.
   */
  warmupMib: z.number().min(0).max(1024).default(8),
  /** Partitions of h-<env>. Default 2. */
  partitions: z.number().int().min(1).max(64).default(2),
  /** bz2 processes of the compressor. Default: the number of cores. */
  workers: z.number().int().min(1).default(availableParallelism()),
  /** Give up on a round after this many seconds. Default 300. */
  timeoutS: z.number().positive().default(300),
  /** Where the loghub corpus is. Default `<repo>/../shared/corpora/loghub`. */
  loghubDir: z.string().optional(),
});

const cfg = loadBenchConfig('bench-compressor-e2e', schema);
const log = (line: string) => process.stderr.write(`${line}\n`);
const MiB = 1024 * 1024;
const TICK = 100; // USER_HZ on Linux
const round = (x: number, d = 2) => Number(x.toFixed(d));

/** Fields of /proc/<pid>/stat (or of a task's stat file) after "(comm) ": utime=11 stime=12 cutime=13 cstime=14, ppid=1. */
function statOf(pid: number, file = `/proc/${pid}/stat`): string[] | undefined {
  try {
    const s = readFileSync(file, 'utf8');
    return s.slice(s.lastIndexOf(') ') + 2).split(' ');
  } catch {
    return undefined;
  }
}

/** CPU seconds of the compressor (its own threads) and of its encoder runners with their reaped children. */
function appCpu(pid: number): { main: number; encoders: number } {
  const f = statOf(pid);
  if (!f) throw new Error(`compressor ${pid} is gone`);
  const main = (Number(f[11]) + Number(f[12])) / TICK;
  let encoders = 0;
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue;
    const c = statOf(Number(name));
    if (!c || Number(c[1]) !== pid) continue;
    encoders += (Number(c[11]) + Number(c[12]) + Number(c[13]) + Number(c[14])) / TICK;
  }
  return { main, encoders };
}

/** CPU seconds of a process's threads: the main thread and the others (V8's GC and compiler helpers, libuv's pool), user and system. */
function threadCpu(pid: number): { mainUser: number; mainSys: number; otherUser: number; otherSys: number } {
  const out = { mainUser: 0, mainSys: 0, otherUser: 0, otherSys: 0 };
  for (const tid of readdirSync(`/proc/${pid}/task`)) {
    const f = statOf(pid, `/proc/${pid}/task/${tid}/stat`);
    if (!f) continue;
    const main = Number(tid) === pid;
    out[main ? 'mainUser' : 'otherUser'] += Number(f[11]) / TICK;
    out[main ? 'mainSys' : 'otherSys'] += Number(f[12]) / TICK;
  }
  return out;
}

/** Peak resident set of a process, bytes (VmHWM). */
function peakRss(pid: number): number {
  const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
  return m ? Number(m[1]) * 1024 : 0;
}

interface RoundResult {
  mb: number;
  events: number;
  main: number;
  encoders: number;
  wallS: number;
  parts: number;
  compressedBytes: number;
  rssPeak: number;
  lbCpu: number;
  ratio: number;
  /** Of `main`: the JS thread (user + system) and the process's other threads. */
  mainThread: number;
  otherThreads: number;
  /** Seconds the producer took to put the measured records into h-<env>. */
  produceS: number;
}

async function oneRound(r: number, warmup: BenchBatch[], batches: BenchBatch[], events: number, since: number, tmp: string): Promise<RoundResult> {
  const env = `benchc${randomBytes(3).toString('hex')}`;
  const kafka = createKafka({ brokers: [...cfg.kafka.brokers], clientId: `bench-${env}`, logLevel: 'nothing' });
  const s3 = createS3({ ...cfg.s3, maxAttempts: 3 });
  const admin = kafka.admin();
  await admin.connect();
  let app: ReturnType<typeof spawnApp> | undefined;
  try {
    await admin.ensureTopics([{ topic: harvestTopic(env), partitions: cfg.partitions }]);
    const producer = kafka.producer();
    await producer.connect();
    const produce = async (list: BenchBatch[]) => {
      for (let i = 0; i < list.length; i += 20) await producer.send(harvestTopic(env), list.slice(i, i + 20));
      return admin.topicOffsets(harvestTopic(env));
    };
    // Done = every partition's committed offset at its end: all below acknowledged by S3 and c-<env>.
    // Polled from the broker, so the compressor does no work for it.
    const committed = async (ends: { partition: number; high: string }[]) => {
      const got = new Map((await admin.groupOffsets(`compressor-${env}`, harvestTopic(env))).map((o) => [o.partition, o.offset]));
      return ends.every((e) => e.high === '0' || got.get(e.partition) === e.high);
    };
    const warmEnds = await produce(warmup);

    app = spawnApp(
      repoRoot(),
      'compressor',
      'apps/compressor/src/main.ts',
      {
        AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
        BACKLOG_ENV: env,
        BACKLOG_KAFKA_BROKERS: cfg.kafka.brokers.join(','),
        BACKLOG_S3_ENDPOINT: cfg.s3.endpoint,
        BACKLOG_S3_REGION: cfg.s3.region,
        BACKLOG_S3_BUCKET: cfg.s3.bucket,
        BACKLOG_S3_ACCESS_KEY_ID: cfg.s3.accessKeyId,
        BACKLOG_S3_SECRET_ACCESS_KEY: cfg.s3.secretAccessKey,
        BACKLOG_COMPRESSOR_METRICS_PORT: '0',
        BACKLOG_COMPRESSOR_IDLE_SECONDS: '1',
        BACKLOG_COMPRESSOR_WORKERS: String(cfg.workers),
        BACKLOG_COMPRESSOR_PARTITIONS_CONSUMED_CONCURRENTLY: String(cfg.partitions),
        BACKLOG_COMPRESSOR_SPILL_DIR: join(tmp, 'spill'),
      },
      COMPRESSOR_NODE_FLAGS,
    );
    const pid = app.child.pid as number;
    const deadline = Date.now() + cfg.timeoutS * 1000;
    while (!app.tail(200).includes('"ready":true')) {
      if (app.exited() || Date.now() > deadline) throw new Error(`compressor did not start:\n${app.tail()}`);
      await sleep(10);
    }
    const waitCommitted = async (ends: { partition: number; high: string }[]) => {
      while (!(await committed(ends))) {
        if (app?.exited() || Date.now() > deadline) throw new Error(`round ${r + 1}: offsets not committed to the end in ${cfg.timeoutS} s:\n${app?.tail()}`);
        await sleep(50);
      }
    };
    // Warm-up: the older events, compressed and committed before the clock starts.
    await waitCommitted(warmEnds);
    const cpu0 = appCpu(pid);
    const th0 = threadCpu(pid);
    const t0 = performance.now();
    // The measured events arrive while the compressor runs, as a live h-<env> does (the producer's pace
    // is part of the wall time, not of the compressor's CPU).
    const ends = await produce(batches);
    const produceS = (performance.now() - t0) / 1000;
    await producer.disconnect();
    await waitCommitted(ends);
    const wallS = (performance.now() - t0) / 1000;
    const cpu1 = appCpu(pid);
    const th1 = threadCpu(pid);
    const rssPeak = peakRss(pid);
    const code = await app.stop(30_000);
    if (code !== '0') throw new Error(`compressor exited ${code}:\n${app.tail()}`);

    // What the archive holds: every event once, in parts whose NDJSON is the baseline's input.
    const keys: string[] = [];
    for await (const o of s3.list(`${env}/`)) if (/\/p\d+-\d+\.json$/.test(o.key) && !o.key.includes('/_state/') && !o.key.includes('/dead-letter/')) keys.push(o.key);
    keys.sort();
    let count = 0;
    let warmCount = 0;
    let compressedBytes = 0;
    const ndjson: Buffer[] = [];
    let parts = 0;
    for (const key of keys) {
      const m = parseManifest(await s3.get(key));
      // Warm-up windows are older than the measured ones: their parts are counted, not compared.
      if (m.windowStart < since) {
        warmCount += m.count;
        continue;
      }
      parts++;
      const obj = await s3.get(key.replace(/\.json$/, '.log.bz2'));
      count += m.count;
      compressedBytes += obj.length;
      ndjson.push(execFileSync('bzip2', ['-d', '-c'], { input: obj, maxBuffer: 1 << 30 }));
    }
    const all = Buffer.concat(ndjson);
    let lines = 0;
    for (let i = all.indexOf(0x0a); i >= 0; i = all.indexOf(0x0a, i + 1)) lines++;
    if (count !== events || lines !== events) throw new Error(`round ${r + 1}: parts hold ${count} events (${lines} lines) of ${events}`);
    const warmEvents = warmup.reduce((n, b) => n + Number(b.headers.count), 0);
    if (warmCount !== warmEvents) throw new Error(`round ${r + 1}: warm-up parts hold ${warmCount} events of ${warmEvents}`);
    const file = join(tmp, 'parts.ndjson');
    writeFileSync(file, all);

    // The baseline, right after: lbzip2 -n1 on the same NDJSON, one process, from a file.
    const lb = timeTool('lbzip2', ['-n1', '-9', '-c'], file, join(tmp, 'lb.bz2'));
    if (lb.bytes === 0) throw new Error('lbzip2 wrote nothing');
    const lbCpu = lb.cpuSeconds;

    const main = cpu1.main - cpu0.main;
    const encoders = cpu1.encoders - cpu0.encoders;
    const ratio = lbCpu / (main + encoders);
    log(
      `round ${r + 1}: per-core ratio ${ratio.toFixed(3)} = lbzip2 -n1 ${lbCpu.toFixed(2)} CPU-s ÷ compressor ${(main + encoders).toFixed(2)} (encoders ${encoders.toFixed(2)} + main ${main.toFixed(2)}); ${parts} parts, ${count} events; wall ${wallS.toFixed(2)} s from the first record produced to the last commit`,
    );
    const d = (k: keyof typeof th0) => (th1[k] - th0[k]).toFixed(2);
    log(`         compressor threads: main ${d('mainUser')} user + ${d('mainSys')} system; others ${d('otherUser')} user + ${d('otherSys')} system`);
    const mainThread = th1.mainUser + th1.mainSys - th0.mainUser - th0.mainSys;
    const otherThreads = th1.otherUser + th1.otherSys - th0.otherUser - th0.otherSys;
    return { mb: all.length / 1e6, events, main, encoders, wallS, parts, compressedBytes, rssPeak, lbCpu, ratio, mainThread, otherThreads, produceS };
  } finally {
    await app?.stop(5_000).catch(() => undefined);
    await admin.deleteTopics([harvestTopic(env), compressedTopic(env)]).catch(() => undefined);
    await admin.disconnect().catch(() => undefined);
    for await (const o of s3.list(`${env}/`)) await s3.delete(o.key).catch(() => undefined);
    s3.close();
  }
}

async function main() {
  const corpus = loadLoghub(cfg.loghubDir);
  // Events three hours old: every window is over by the wall clock, so the idle rule seals the last ones.
  const start = windowStartMs(windowOf(Date.now() - 3 * 3600_000));
  const { batches, events, bytes } = buildBatches(cfg.mib * MiB, corpus, start);
  // Warm-up events an hour before those: their windows are sealed before the measured ones begin.
  const warmup = cfg.warmupMib > 0 ? buildBatches(cfg.warmupMib * MiB, corpus, start - 3600_000).batches : [];
  const gz = batches.reduce((n, b) => n + b.value.length, 0);
  log(
    `compressor-e2e: ${batches.length} batches, ${events} events, ${(bytes / 1e6).toFixed(1)} MB NDJSON (${(gz / 1e6).toFixed(1)} MB gzip), ${cfg.partitions} partitions, ${cfg.workers} encoders, ${cfg.rounds} rounds`,
  );
  const tmp = mkdtempSync(join(tmpdir(), 'bench-compressor-e2e-'));
  const loadBefore = loadavg();
  try {
    const rounds: RoundResult[] = [];
    for (let r = 0; r < cfg.rounds; r++) rounds.push(await oneRound(r, warmup, batches, events, start, tmp));
    const med = [...rounds].sort((a, b) => a.ratio - b.ratio)[(rounds.length - 1) >> 1] as RoundResult;
    const loadAfter = loadavg();
    const cpu = med.main + med.encoders;
    const la = (l: number[]) => l.map((x) => x.toFixed(2)).join(' ');
    log(
      `median: ${(med.mb / cpu).toFixed(2)} MB per CPU-second (lbzip2 -n1 ${(med.mb / med.lbCpu).toFixed(2)}), ratio ${med.ratio.toFixed(3)} = 1 / (encoders ${(med.encoders / med.lbCpu).toFixed(3)} + main ${(med.main / med.lbCpu).toFixed(3)}); compression ${(med.mb / (med.compressedBytes / 1e6)).toFixed(2)}:1; peak RSS ${(med.rssPeak / MiB).toFixed(0)} MiB`,
    );
    const summary = {
      name: 'compressor-e2e',
      target: '— (context for compressor: what Kafka, S3 and c-<env> add)',
      notes: [
        `h-<env> (real Kafka) → the compressor app as deployed (its own process, node ${COMPRESSOR_NODE_FLAGS.join(' ')} as backlog start runs it, default settings, idle rule 1 s) → parts in the S3 server and c-<env>, offsets committed to the end. Every round uses a fresh env: the app first compresses ${cfg.warmupMib} MiB of older events (warm-up, untimed), then the measured events are produced while it runs. The parts are read back and must hold every event once.`,
        "per core = MB per CPU-second of the compressor process (all threads) + its encoder runners and their lbzip2 children (from /proc), from the warm-up's last commit to the measured events' last commit; the broker and the S3 server are other processes and not counted. Baseline: lbzip2 -n1 -9 on the NDJSON the measured parts hold, right after each round; the round with the median ratio is reported.",
        'wall = first measured record produced → every partition committed to its end (polled every 50 ms from the broker). The producer (one kafkajs producer, 20 records per send, acks=all) needs well under a second; the rest is the tail after the last record: the idle rule (1 s, checked every 0.5 s) that seals the last windows, their seal, and the commit interval (1 s). So it tells how soon the last events are archived and committed once records stop, not the throughput; the CPU row is the throughput figure.',
        `events: the loghub mixture as in benchmarks/compressor (${corpus.length} datasets, 8 hosts, UUIDv7-style ids, ms timestamps), three hours old.`,
        "main_cpu_s = the compressor process, split into its JS thread (gunzip, scan, sort, kafkajs, the AWS SDK, syscalls) and its other threads (V8 garbage collection and compilation, libuv's pool).",
        `load average before/after: ${la(loadBefore)} / ${la(loadAfter)}.`,
      ],
      params: { mib: cfg.mib, rounds: cfg.rounds, partitions: cfg.partitions, workers: cfg.workers, events, batches: batches.length, gzipMB: round(gz / 1e6, 1), windowSeconds: WINDOW_SECONDS },
      results: [
        {
          case: 'h-<env> → parts in S3 + c-<env>, per core (CPU)',
          mb_per_s: round(med.mb / cpu),
          events_per_s: Math.round(med.events / cpu),
          cpu_s: round(cpu),
          encoder_cpu_s: round(med.encoders),
          main_cpu_s: round(med.main),
          main_thread_cpu_s: round(med.mainThread),
          other_threads_cpu_s: round(med.otherThreads),
          main_share: round(med.main / med.lbCpu, 3),
          encoder_share: round(med.encoders / med.lbCpu, 3),
          rounds_ratio: rounds.map((x) => x.ratio.toFixed(3)).join(' / '),
          rounds_main_share: rounds.map((x) => (x.main / x.lbCpu).toFixed(3)).join(' / '),
          baseline: 'lbzip2 -n1',
          baseline_mb_per_s: round(med.mb / med.lbCpu),
          ratio: round(med.ratio, 3),
          target: '—',
        },
        {
          case: 'h-<env> → parts in S3 + c-<env>, wall',
          wall_s: round(med.wallS),
          produce_s: round(med.produceS),
          last_record_to_last_commit_s: round(med.wallS - med.produceS),
          cores_busy: round(cpu / med.wallS),
          parts: med.parts,
          compression_ratio: round(med.mb / (med.compressedBytes / 1e6)),
          peak_rss_mib: Math.round(med.rssPeak / MiB),
          baseline: null,
          ratio: null,
          target: '—',
        },
      ],
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    rmSync(tmp, { recursive: true, force: true });
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`compressor-e2e bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
