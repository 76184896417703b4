// Baseline: a raw `_bulk` load of prepared NDJSON into a fresh index, with plain fetch.
//
// This IS the baseline (ratio 1.0 against itself) for everything that writes to the search engine:
// the es-consumer's sink and the indexer's history loads divide their docs/s by this figure, measured on
// the same machine, to show what decoding, batching, item checks and retries cost on top of `_bulk`.
//
// Bodies (action line + ECS-like event, `_id` = event.id as DESIGN.md requires) are built before the
// clock starts, so only the engine's indexing and the HTTP round trips are measured.
//
//   npm run bench -- search-bulk-baseline
//   BACKLOG_SEARCH_URL=https://es:9200 BACKLOG_SEARCH_API_KEY=… npm run bench -- search-bulk-baseline
import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { appConfigSchema } from '@backlog/platform-config';
import { loadBenchConfig } from './lib/config';

const schema = appConfigSchema({
  /** Events to load per case. Default 200,000. */
  docs: z.number().int().min(1000).max(5_000_000).default(200_000),
  /** Events per `_bulk` request. Default 5,000. */
  batch: z.number().int().min(100).max(50_000).default(5_000),
  /** Requests in flight in the second case. Default 2 (one per core on the 2-core reference machine). */
  concurrency: z.number().int().min(2).max(16).default(2),
  /** Stop a case after this many seconds (it then reports what it did). Default 120. */
  maxSeconds: z.number().positive().max(1800).default(120),
});

const cfg = loadBenchConfig('bench-search', schema);

const log = (line: string) => process.stderr.write(`${line}\n`);
const base = cfg.search.url.replace(/\/+$/, '');

const headers: Record<string, string> = {};
if (cfg.search.apiKey) headers.authorization = `ApiKey ${cfg.search.apiKey}`;
else if (cfg.search.username) headers.authorization = `Basic ${Buffer.from(`${cfg.search.username}:${cfg.search.password ?? ''}`).toString('base64')}`;
if (base.startsWith('https:') && (!cfg.search.tls.rejectUnauthorized || cfg.search.tls.caFile)) {
  // Plain fetch (undici) cannot take a CA per request without an extra package; for a benchmark the
  // process-wide switches are acceptable. NODE_EXTRA_CA_CERTS must be set before start to take effect.
  if (!cfg.search.tls.rejectUnauthorized) process.env.NODE_TLS_REJECT_UNAUTHORIZED = '0';
  if (cfg.search.tls.caFile && !process.env.NODE_EXTRA_CA_CERTS) log(`note: set NODE_EXTRA_CA_CERTS=${cfg.search.tls.caFile} for fetch to trust that CA`);
}

async function call(method: string, path: string, body?: string | Buffer, contentType = 'application/json'): Promise<{ status: number; json: unknown }> {
  const res = await fetch(`${base}${path}`, {
    method,
    headers: { ...headers, ...(body !== undefined ? { 'content-type': contentType } : {}) },
    body,
    signal: AbortSignal.timeout(120_000),
  });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* keep text */
  }
  return { status: res.status, json };
}

// ── realistic ECS events (same shape as the kafka baseline's; seeded so runs are comparable) ─────
function prng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (s + 0x6d2b79f5) >>> 0;
    let t = s;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}
const rnd = prng(0x5ea4c4);
const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)] as T;
const HOSTS = Array.from({ length: 12 }, (_, i) => `web-${String(i + 1).padStart(2, '0')}`);
const SERVICES = ['nginx', 'checkout', 'inventory', 'auth', 'search'];
const MSGS = [
  'GET /api/v1/orders/%n HTTP/1.1 200',
  'upstream timed out (110: Connection timed out) while reading response header from upstream',
  'user %n login succeeded',
  'cache miss for key session:%h',
  'payment authorised for order %n',
  'retrying request to inventory-service (attempt 2/5)',
  'GC pause %nms',
];
const LEVELS = ['info', 'info', 'info', 'warn', 'error', 'debug'];
const runBits = randomBytes(8).toString('hex');
let counter = 0;
function uuidv7(ms: number): string {
  const t = ms.toString(16).padStart(12, '0');
  const c = (counter++ & 0xffffffff).toString(16).padStart(8, '0');
  return `${t.slice(0, 8)}-${t.slice(8)}-7${runBits.slice(0, 3)}-a${runBits.slice(3, 6)}-${runBits.slice(6, 10)}${c}`;
}

function eventLine(ms: number): { id: string; json: string } {
  const id = uuidv7(ms);
  const host = pick(HOSTS);
  const service = pick(SERVICES);
  const level = pick(LEVELS);
  const doc = {
    '@timestamp': new Date(ms).toISOString(),
    event: { id, created: new Date(ms + 30).toISOString() },
    host: { name: host },
    service: { name: service },
    process: { pid: 1000 + Math.floor(rnd() * 500) },
    log: { level, syslog: { facility: { code: 1, name: 'user' }, severity: { code: 6, name: 'info' }, hostname: host, appname: service, procid: String(1000 + Math.floor(rnd() * 500)) } },
    message: pick(MSGS)
      .replace('%n', String(Math.floor(rnd() * 100000)))
      .replace('%h', randomBytes(4).toString('hex')),
    labels: { env: 'bench', input: 'syslog_udp' },
    fields: { duration_ms: Math.round(rnd() * 2000) / 10, user_id: Math.floor(rnd() * 5000) },
  };
  return { id, json: JSON.stringify(doc) };
}

/** `_bulk` bodies of `batch` events each; the index is named in the URL so bodies are reusable. */
function prepare(docs: number, batch: number, startMs: number): Buffer[] {
  const bodies: Buffer[] = [];
  for (let done = 0; done < docs; done += batch) {
    const n = Math.min(batch, docs - done);
    const lines: string[] = [];
    for (let i = 0; i < n; i++) {
      const e = eventLine(startMs + (done + i) * 5);
      lines.push(`{"index":{"_id":"${e.id}"}}`, e.json);
    }
    bodies.push(Buffer.from(`${lines.join('\n')}\n`));
  }
  return bodies;
}

interface CaseResult {
  docs: number;
  failed: number;
  seconds: number;
  bytes: number;
  /** Sum of the engine's own `took` per request: server time, without HTTP and client. */
  tookMs: number;
}

async function load(index: string, bodies: Buffer[], concurrency: number): Promise<CaseResult> {
  let next = 0;
  let docs = 0;
  let failed = 0;
  let bytes = 0;
  let tookMs = 0;
  const t0 = performance.now();
  const until = t0 + cfg.maxSeconds * 1000;
  const worker = async () => {
    while (next < bodies.length && performance.now() < until) {
      const body = bodies[next++] as Buffer;
      // refresh stays at the index default (1s): the baseline is "what a plain client gets".
      const { status, json } = await call('POST', `/${index}/_bulk?filter_path=took,errors,items.*.status,items.*.error.type`, body, 'application/x-ndjson');
      if (status !== 200) throw new Error(`_bulk answered ${status}: ${JSON.stringify(json).slice(0, 300)}`);
      const res = json as { took?: number; errors: boolean; items?: Record<string, { status: number; error?: { type: string } }>[] };
      const items = res.items ?? [];
      // Item statuses are checked one by one (a 200 bulk may still hold failed items).
      let bad = 0;
      for (const it of items) {
        const r = Object.values(it)[0];
        if (!r || r.status >= 300) bad++;
      }
      docs += items.length - bad;
      failed += bad;
      bytes += body.length;
      tookMs += res.took ?? 0;
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return { docs, failed, seconds: (performance.now() - t0) / 1000, bytes, tookMs };
}

async function main(): Promise<void> {
  const root = await call('GET', '/');
  if (root.status !== 200) throw new Error(`GET ${base}/ answered ${root.status}`);
  const info = root.json as { version?: { number?: string; distribution?: string } };
  const engine = `${info.version?.distribution ?? 'elasticsearch'} ${info.version?.number ?? '?'}`;

  const tPrep = performance.now();
  const startMs = Date.parse('2026-11-22T10:00:00Z');
  const bodies = prepare(cfg.docs, cfg.batch, startMs);
  const totalBytes = bodies.reduce((a, b) => a + b.length, 0);
  log(
    `prepared ${cfg.docs} events in ${bodies.length} bodies of ${cfg.batch} (${(totalBytes / 1e6).toFixed(1)} MB) in ${((performance.now() - tPrep) / 1000).toFixed(1)}s; engine ${engine} at ${base}`,
  );

  const suffix = `${Date.now().toString(36)}-${randomBytes(3).toString('hex')}`;
  const created: string[] = [];
  const cleanup = async () => {
    for (const index of created.splice(0)) await call('DELETE', `/${index}`).catch((e: Error) => log(`could not delete ${index}: ${e.message}`));
  };
  const hardS = cfg.maxSeconds * 2 + 180;
  const hard = setTimeout(() => {
    log(`hard deadline of ${hardS}s reached`);
    void cleanup().finally(() => process.exit(2));
  }, hardS * 1000);
  hard.unref();

  try {
    const results: Record<string, unknown>[] = [];
    for (const concurrency of [1, cfg.concurrency]) {
      const index = `bench-bulk-${suffix}-c${concurrency}`;
      // A fresh index per case; one shard, no replica (a single node cannot place replicas anyway),
      // dynamic mapping: the engine's defaults, which is what "raw _bulk" means.
      const mk = await call('PUT', `/${index}`, JSON.stringify({ settings: { number_of_shards: 1, number_of_replicas: 0 } }));
      if (mk.status !== 200) throw new Error(`creating ${index}: ${mk.status} ${JSON.stringify(mk.json).slice(0, 300)}`);
      created.push(index);
      const r = await load(index, bodies, concurrency);
      await call('POST', `/${index}/_refresh`);
      const count = ((await call('GET', `/${index}/_count`)).json as { count?: number }).count ?? -1;
      if (count !== r.docs) throw new Error(`${index}: _count says ${count}, bulk items said ${r.docs} indexed`);
      const row = {
        case: `_bulk ${cfg.batch}/request, ${concurrency} in flight`,
        'docs/s': r.docs / r.seconds,
        'MB/s': r.bytes / 1e6 / r.seconds,
        docs: r.docs,
        failed: r.failed,
        'server s': r.tookMs / 1000,
        'wall s': r.seconds,
        baseline: 'self',
        ratio: 1,
      };
      log(
        `${row.case}: ${r.docs} docs (${r.failed} failed) in ${r.seconds.toFixed(1)}s → ${row['docs/s'].toFixed(0)} docs/s${r.docs + r.failed < cfg.docs ? ` (stopped at maxSeconds=${cfg.maxSeconds})` : ''}`,
      );
      results.push(row);
      await cleanup();
    }
    const round = (v: unknown) => (typeof v === 'number' ? Math.round(v * 100) / 100 : v);
    const summary = {
      name: 'search-bulk-baseline',
      results: results.map((r) => Object.fromEntries(Object.entries(r).map(([k, v]) => [k, round(v)]))),
      notes: [
        'This IS the baseline (ratio 1.0 against itself): the es-consumer sink and the indexer divide their docs/s by these.',
        'Bodies prepared before timing: ECS-like events (~500 B each), `_id` = UUIDv7 event id; plain fetch, one fresh index per case (1 shard, 0 replicas, dynamic mapping, default refresh), every item status checked, `_count` verified after.',
        'MB/s counts request body bytes (action lines included). Search node: the local stack (one JVM, heap 1 GiB) on the same machine as the client.',
      ],
      params: { engine, url: base, docs: cfg.docs, batch: cfg.batch, bytesPerDocWithAction: Math.round(totalBytes / cfg.docs) },
    };
    clearTimeout(hard);
    process.stdout.write(`${JSON.stringify(summary)}\n`);
  } finally {
    await cleanup();
  }
}

main().catch((err: Error) => {
  log(`search-bulk-baseline failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
