// indexer: rehydration speed — events/s from bz2 parts in S3 into a history index — beside a raw
// `_bulk` of the same documents in the same run (ARCHITECTURE.md habit 9; target ratio ≥ 0.8), and
// the time from a request to the first searchable document of a one-window load (target < 5 s).
//
//   npm run bench -- indexer
//   BACKLOG_BENCH_INDEXER_EVENTS=500000 npm run bench -- indexer
//
// The parts are made like the compressor makes them (core-codec: sorted NDJSON cut into streams,
// `bzip2 -9` per stream, assemblePart → object + manifest under the window prefixes). The indexer runs
// in process through its framework-free HistoryLoader (plan, verified part reads: sha256 + count
// before anything is indexed, filter, bulk with per-item checks, Redis checkpoints and leases). The
// baseline POSTs the already-parsed documents with `create` + `_id` into an index from the same template,
// with as many requests in flight as the loader may have (parts × bulks per part).
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { loadavg } from 'node:os';
import { z } from 'zod';
import { createRedis } from '@backlog/adapter-redis';
import { findLbzip2 } from '@backlog/adapter-bz2';
import { createS3 } from '@backlog/adapter-s3';
import { createSearch } from '@backlog/adapter-search';
import { PartStats, assemblePart, cutStreams, facetsOf, historyIndexName, manifestKey, partKey, serializeManifest, windowOf } from '@backlog/core-codec';
import { silentLogger } from '@backlog/core-pipeline';
import { appConfigSchema } from '@backlog/platform-config';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { installTemplate } from '../apps/indexer/src/app';
import { indexerConfigSchema } from '../apps/indexer/src/config';
import { JobStore } from '../apps/indexer/src/jobs';
import { HistoryLoader } from '../apps/indexer/src/loader';
import { indexerMetrics } from '../apps/indexer/src/metrics';
import { rawBulk } from './lib/bulk';
import { loadBenchConfig } from './lib/config';
import { sleep } from '@backlog/testing';

const schema = appConfigSchema({
  /** Events in the archive range. Default 200,000. */
  events: z.number().int().min(1000).max(10_000_000).default(200_000),
  /** Windows (5 min each) they spread over. Default 12 (one hour). */
  windows: z.number().int().min(1).max(288).default(12),
  /** Parts loaded at the same time. Default 4. */
  partConcurrency: z.number().int().min(1).max(32).default(4),
  /** `_bulk` documents (both cases). Default 2,000. */
  bulkDocs: z.number().int().min(100).max(20_000).default(2_000),
  /** `_bulk` requests in flight, as a share per part of the job's pool (partConcurrency × this). Default 2. */
  bulkConcurrency: z.number().int().min(1).max(16).default(2),
  /**
   * Timed pairs, run baseline, indexer, indexer, baseline, … (ABBA: a load that drifts during the run
   * weighs on both sides alike); each case into a fresh index, dropped afterwards. Default 2.
   */
  rounds: z.number().int().min(1).max(5).default(2),
  /** bz2 decoder of the indexer's part reads (`auto`: lbzip2 when installed). Default auto. */
  decoder: z.enum(['auto', 'lbzip2', 'unbzip2-stream']).default('auto'),
});

const cfg = loadBenchConfig('bench-indexer', schema);
const log = (line: string) => process.stderr.write(`${line}\n`);
const env = `benchix${randomBytes(3).toString('hex')}`;
const LEVELS = ['info', 'info', 'info', 'warn', 'error', 'debug'];
const runBits = randomBytes(6).toString('hex');

async function main() {
  const start = windowOf(Date.parse('2026-11-20T10:00:00Z')) * 300_000;
  const perWindow = Math.ceil(cfg.events / cfg.windows);
  const ic = indexerConfigSchema.parse({
    env,
    template: { name: `backlog-logs-${env}`, patterns: [`logs-${env}-*`], priority: 420 },
    load: { partConcurrency: cfg.partConcurrency, bulkDocs: cfg.bulkDocs, bulkConcurrency: cfg.bulkConcurrency },
    compressedTopic: { enabled: false },
  });
  const search = await createSearch({ node: cfg.search.url, engine: cfg.search.engine });
  const s3 = createS3({ ...cfg.s3 });
  const redis = createRedis({ url: cfg.redis.url, keyPrefix: `${env}:indexer:` });
  await installTemplate(search, { ...ic, search: cfg.search } as never);
  try {
    // ── the archive: one part per window, streams of ≤ 900 KiB raw, bzip2 -9 ───────────────────
    log(`indexer bench: env ${env}, ${cfg.events} events in ${cfg.windows} windows, ${cfg.partConcurrency} parts × ${cfg.bulkConcurrency} bulks of ${cfg.bulkDocs}, engine ${search.engine}`);
    const docs: Record<string, unknown>[] = [];
    let compressed = 0;
    let n = 0;
    for (let w = 0; w < cfg.windows; w++) {
      const wStart = start + w * 300_000;
      const lines = [];
      const stats = new PartStats();
      for (let i = 0; i < perWindow && n < cfg.events; i++, n++) {
        const ts = wStart + Math.floor((i * 299_000) / perWindow);
        const ev = {
          '@timestamp': new Date(ts).toISOString(),
          event: { id: `0193${runBits}${n.toString(16).padStart(10, '0')}`, created: new Date(ts + 40).toISOString() },
          host: { name: `web-${String(n % 12).padStart(2, '0')}` },
          service: { name: ['nginx', 'api', 'worker'][n % 3] },
          log: {
            level: LEVELS[n % LEVELS.length],
            syslog: { priority: 14, facility: { code: 1, name: 'user' }, severity: { code: 6, name: 'info' }, appname: 'nginx', procid: String(1000 + (n % 50)) },
          },
          message: `GET /api/v1/orders/${n % 5000} HTTP/1.1 200 ${n % 9000} "-" "Mozilla/5.0 (X11; Linux x86_64)" rt=0.${n % 999} upstream=10.0.${n % 255}.${n % 17}:8080`,
          labels: { env: 'bench', input: 'syslog_udp' },
          fields: { status: 200, bytes: (n * 37) % 100_000, path: `/api/v1/orders/${n % 5000}`, user: { id: n % 777 } },
        };
        docs.push(ev);
        const line = { ts, id: ev.event.id, line: JSON.stringify(ev) };
        stats.add(line, facetsOf(ev));
        lines.push(line);
      }
      const streams = [...cutStreams(lines, 900 * 1024)].map((c) => ({
        bytes: execFileSync('bzip2', ['-9', '-c'], { input: c.lines.map((l) => `${l.line}\n`).join(''), maxBuffer: 1 << 28 }),
        count: c.count,
        minTs: c.minTs,
        maxTs: c.maxTs,
        rawBytes: c.rawBytes,
      }));
      const win = windowOf(wStart);
      const { object, manifest } = assemblePart({
        encoder: 'bzip2 -9',
        env,
        topic: `h-${env}`,
        window: win,
        partition: 0,
        firstOffset: String(w * 1000),
        lastOffset: String(w * 1000 + 999),
        late: false,
        stats,
        streams,
      });
      await s3.put(partKey(env, win, 0, w * 1000), object);
      await s3.put(manifestKey(env, win, 0, w * 1000), serializeManifest(manifest));
      compressed += object.length;
    }
    log(`archive: ${docs.length} events, ${(compressed / 1048576).toFixed(1)} MiB bz2`);
    const decoderName = cfg.decoder === 'unbzip2-stream' || !(await findLbzip2()) ? 'unbzip2-stream' : 'lbzip2 -d';

    // ── baseline: raw _bulk of the same documents ──────────────────────────────────────────────
    const baseline = async (rawIndex: string): Promise<number> => {
      const s = await rawBulk(cfg.search.url, docs, { index: () => rawIndex, bulkDocs: cfg.bulkDocs, workers: cfg.partConcurrency * cfg.bulkConcurrency });
      await search.refresh(rawIndex);
      const count = await search.count(rawIndex);
      if (count !== docs.length) throw new Error(`baseline indexed ${count} of ${docs.length}`);
      log(`raw _bulk: ${docs.length} docs in ${s.toFixed(1)} s = ${Math.round(docs.length / s)} docs/s`);
      return s;
    };

    // ── the indexer: a whole-range load ─────────────────────────────────────────────────────────
    const metrics = indexerMetrics(new MetricsRegistry());
    const store = new JobStore(redis);
    const l = ic.load;
    const loader = new HistoryLoader(
      { s3, search, store, metrics, logger: silentLogger },
      {
        owner: `bench-${process.pid}`,
        partConcurrency: l.partConcurrency,
        leaseMs: l.leaseMs,
        partAttempts: l.partAttempts,
        memoryBytes: l.memoryBytes,
        decoder: cfg.decoder,
        bulk: {
          maxDocs: l.bulkDocs,
          maxBytes: l.bulkBytes,
          concurrency: l.bulkConcurrency,
          attempts: l.bulkAttempts,
          initialBackoffMs: l.initialBackoffMs,
          maxBackoffMs: l.maxBackoffMs,
          maxConflictRounds: l.maxConflictRounds,
        },
        planner: { compressedTopic: { ...ic.compressedTopic } },
      },
    );
    const job = (fromMs: number, toMs: number) => {
      const now = Date.now();
      return { v: 1 as const, index: historyIndexName(env, fromMs / 1000, toMs / 1000), env, fromMs, toMs, filter: '', createdAt: now, requestedAt: now, expiresAt: now + 3_600_000 };
    };
    const indexer = async (round: number): Promise<number> => {
      // A range ending `round` seconds later than the last window: the same events, a fresh index.
      const all = job(start, start + cfg.windows * 300_000 + round * 1000);
      await store.putJob(all);
      const t1 = performance.now();
      const view = await loader.run(all.index);
      const s = (performance.now() - t1) / 1000;
      await search.refresh(all.index);
      const count = await search.count(all.index);
      if (view.status !== 'done' || count !== docs.length || view.progress.events.indexed !== docs.length)
        throw new Error(`indexer loaded ${count} of ${docs.length} (status ${view.status}, indexed ${view.progress.events.indexed})`);
      log(`indexer: ${docs.length} docs in ${s.toFixed(1)} s = ${Math.round(docs.length / s)} docs/s`);
      await search.deleteIndices(all.index);
      return s;
    };

    let baselineS = 0;
    let loadS = 0;
    for (let r = 0; r < cfg.rounds; r++) {
      const order = r % 2 === 0 ? ['baseline', 'indexer'] : ['indexer', 'baseline'];
      for (const side of order) {
        if (side === 'baseline') {
          baselineS += await baseline(`logs-${env}-raw${r}`);
          await search.deleteIndices(`logs-${env}-raw${r}`);
        } else loadS += await indexer(r);
      }
    }
    const baselineRate = (docs.length * cfg.rounds) / baselineS;
    const rate = (docs.length * cfg.rounds) / loadS;
    log(`over ${cfg.rounds} round(s): raw _bulk ${Math.round(baselineRate)} docs/s, indexer ${Math.round(rate)} docs/s (ratio ${(rate / baselineRate).toFixed(2)})`);

    // ── time to first searchable document, one window (a fresh index; refresh interval 1 s) ───────
    const firsts: number[] = [];
    for (let k = 0; k < 3; k++) {
      const w = start + k * 300_000;
      const one = job(w + 1000, w + 300_000);
      const t2 = performance.now();
      await store.putJob(one);
      const running = loader.run(one.index);
      for (;;) {
        const c = await search.count(one.index).catch(() => 0);
        if (c > 0) break;
        await sleep(20);
      }
      firsts.push((performance.now() - t2) / 1000);
      await running;
    }
    const firstS = firsts.sort((a, b) => a - b)[1] as number;
    log(`first searchable document of a one-window load: ${firsts.map((s) => s.toFixed(2)).join(' / ')} s (median ${firstS.toFixed(2)} s)`);

    const load = loadavg().map((x) => Math.round(x * 100) / 100);
    const summary = {
      name: 'indexer',
      target: 'docs/s ≥ 0.8 × raw _bulk; first searchable document < 5 s',
      results: [
        {
          case: `S3 bz2 parts → ${search.engine}, ${docs.length} events in ${cfg.windows} windows, ${cfg.rounds} round(s)`,
          docs_per_s: Math.round(rate),
          baseline: 'raw _bulk',
          baseline_docs_per_s: Math.round(baselineRate),
          ratio: Math.round((rate / baselineRate) * 100) / 100,
          target: '≥ 0.8',
        },
        { case: 'request → first searchable document, one window (median of 3)', seconds: Math.round(firstS * 100) / 100, baseline: 'self', ratio: null, target: '< 5 s' },
      ],
      notes: [
        `Same documents, template, bulk size and requests in flight, each case into a fresh index (dropped after it); rounds run baseline, indexer, indexer, baseline (ABBA) and the figures are totals over them. The indexer plans from the window prefixes, downloads and sha256-checks each part, decompresses it (${decoderName}), checks the count, reads each event id from the start of its line (no filter here; a filtered load parses each line), sends the lines as stored to _bulk with per-item checks and checkpoints in Redis; the baseline serializes the parsed documents and posts them.`,
        `Load average at the end of the run: ${load.join(' ')} (the integrator reruns final figures on a quiet machine).`,
      ],
      params: {
        events: docs.length,
        windows: cfg.windows,
        rounds: cfg.rounds,
        decoder: decoderName,
        partConcurrency: cfg.partConcurrency,
        bulkDocs: cfg.bulkDocs,
        bulkConcurrency: cfg.bulkConcurrency,
        compressedMiB: Math.round((compressed / 1048576) * 10) / 10,
        engine: search.engine,
        loadavg: load,
      },
    };
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await search.deleteIndices(`logs-${env}-*`).catch(() => undefined);
    await search.deleteIndexTemplate(`backlog-logs-${env}`).catch(() => undefined);
    for await (const o of s3.list(`${env}/`)) await s3.delete(o.key).catch(() => undefined);
    await redis.quit();
    s3.close();
    await search.close();
  }
}

main().then(
  () => process.exit(0),
  (err: unknown) => {
    log(`indexer bench failed: ${(err as Error).stack ?? String(err)}`);
    process.exit(1);
  },
);
