import { randomBytes } from 'node:crypto';
import type { Command } from 'commander';
import { connectionSettingsSchema, loadConfig } from '@backlog/platform-config';
import { CorpusSource } from '../demo/corpus';
import { DemoGenerator, type DemoRecord, type RecordSource } from '../demo/generator';
import { DemoWire, PROTOCOLS, type Protocol, type ProtocolStats } from '../demo/wire';

/**
 * `backlog demo`: feeds a running harvester realistic traffic over all four of its default listeners
 * (syslog UDP and TCP on 5514, JSON lines on 5170, HTTP /logs/batch on 8080) at a steady rate, then
 * prints where to look: the live page, the recent index, the archive and the history command.
 * Records come from our own generator (demo/generator.ts), or from a corpus the user names at run time
 * (`--corpus DIR`, e.g. a loghub checkout), always stamped with the current time.
 */

const WINDOW_S = 300;
const UNIT_S: Record<string, number> = { ms: 0.001, s: 1, m: 60, h: 3600 };

/** `90`, `90s`, `1.5m`, `2h`, `500ms` → milliseconds. */
export function parseDuration(text: string): number {
  const m = /^(\d+(?:\.\d+)?)(ms|s|m|h)?$/.exec(text.trim());
  if (!m) throw new Error(`--duration: not a duration: ${JSON.stringify(text)} (e.g. 30s, 5m, 1h, or seconds)`);
  const ms = Number(m[1]) * (UNIT_S[m[2] ?? 's'] as number) * 1000;
  if (!(ms > 0)) throw new Error('--duration must be more than 0');
  if (ms > 7 * 86_400_000) throw new Error('--duration: at most 7 days');
  return Math.round(ms);
}

export function parseProtocols(text: string): Protocol[] {
  const list = text
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  const bad = list.filter((p) => !(PROTOCOLS as readonly string[]).includes(p));
  if (bad.length || !list.length) throw new Error(`--protocols: unknown ${bad.join(', ') || '(empty)'}; choose from ${PROTOCOLS.join(', ')}`);
  return [...new Set(list)] as Protocol[];
}

const intOption = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new Error(`${name}: expected an integer ${min}..${max}, got ${JSON.stringify(v)}`);
  return n;
};

export interface DemoOptions {
  rate: number;
  durationMs: number;
  env: string;
  host: string;
  udpPort: number;
  tcpPort: number;
  jsonPort: number;
  httpPort: number;
  protocols: Protocol[];
  corpus?: string;
  seed?: number;
  /** Progress on stderr (a TTY). */
  progress?: boolean;
  /** Stops early (Ctrl-C). */
  signal?: AbortSignal;
}

export interface DemoResult {
  run: string;
  source: string;
  startedAt: string;
  endedAt: string;
  seconds: number;
  generated: number;
  sent: number;
  protocols: Partial<Record<Protocol, ProtocolStats>>;
  errors: Record<string, string | undefined>;
}

const sleep = (ms: number, signal?: AbortSignal) =>
  new Promise<void>((resolve) => {
    const onAbort = () => {
      clearTimeout(t);
      resolve();
    };
    const t = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });

/** Runs the demo: generates `rate` records per second for the duration, spread evenly over the protocols. */
export async function runDemo(o: DemoOptions): Promise<DemoResult> {
  const run = randomBytes(4).toString('hex');
  const source: RecordSource = o.corpus ? new CorpusSource(o.corpus) : new DemoGenerator(o.seed);
  const wire = new DemoWire({ host: o.host, udpPort: o.udpPort, tcpPort: o.tcpPort, jsonPort: o.jsonPort, httpPort: o.httpPort }, run);
  const t0 = Date.now();
  const end = t0 + o.durationMs;
  const tickMs = 100;
  let generated = 0;
  let turn = 0;
  let lastProgress = 0;
  while (!o.signal?.aborted) {
    const now = Date.now();
    const elapsed = Math.min(now, end) - t0;
    // Catch up after a slow tick, but never by more than one second's worth at once.
    const due = Math.min(Math.floor((o.rate * elapsed) / 1000) - generated, Math.max(1, o.rate));
    if (due > 0) {
      const per: Record<Protocol, DemoRecord[]> = { syslog_udp: [], syslog_tcp: [], json_tcp: [], http: [] };
      const at = new Date(now);
      for (let i = 0; i < due; i++) {
        const proto = o.protocols[turn++ % o.protocols.length] as Protocol;
        per[proto].push(source.next(proto === 'syslog_udp' || proto === 'syslog_tcp' ? 'text' : 'json', at));
      }
      generated += due;
      await Promise.all(o.protocols.map((p) => wire.send(p, per[p])));
    }
    if (o.progress && now - lastProgress >= 1000) {
      lastProgress = now;
      const sent = o.protocols.reduce((n, p) => n + wire.stats[p].sent, 0);
      process.stderr.write(`\rdemo: ${sent} sent, ${generated} generated, ${Math.max(0, Math.ceil((end - now) / 1000))} s left   `);
    }
    if (now >= end) break;
    await sleep(Math.max(0, Math.min(tickMs - (Date.now() - now), end - Date.now())), o.signal);
  }
  await wire.close();
  if (o.progress) process.stderr.write('\n');
  const t1 = Date.now();
  const protocols = Object.fromEntries(o.protocols.map((p) => [p, wire.stats[p]])) as Partial<Record<Protocol, ProtocolStats>>;
  return {
    run,
    source: source.description,
    startedAt: new Date(t0).toISOString(),
    endedAt: new Date(t1).toISOString(),
    seconds: (t1 - t0) / 1000,
    generated,
    sent: o.protocols.reduce((n, p) => n + wire.stats[p].sent, 0),
    protocols,
    errors: Object.fromEntries(Object.entries(wire.errors()).filter(([p, e]) => e && o.protocols.includes(p as Protocol))),
  };
}

const LABEL: Record<Protocol, string> = { syslog_udp: 'syslog UDP', syslog_tcp: 'syslog TCP', json_tcp: 'JSON lines TCP', http: 'HTTP /logs/batch' };

/** The human summary: what went where, and what to look at next. */
export function describeDemo(r: DemoResult, o: Pick<DemoOptions, 'env' | 'host' | 'udpPort' | 'tcpPort' | 'jsonPort' | 'httpPort'>, searchUrl: string): string {
  const port: Record<Protocol, number> = { syslog_udp: o.udpPort, syslog_tcp: o.tcpPort, json_tcp: o.jsonPort, http: o.httpPort };
  const lines = [`demo ${r.run}: ${r.sent} of ${r.generated} events sent in ${r.seconds.toFixed(1)} s from the ${r.source}`];
  for (const [p, s] of Object.entries(r.protocols) as [Protocol, ProtocolStats][]) {
    const failed = Object.entries(s.failed).map(([why, n]) => `${n} failed: ${why}`);
    if (s.throttled) failed.push(`${s.throttled} requests throttled (429/503) and retried`);
    lines.push(`  ${LABEL[p].padEnd(17)} ${o.host}:${port[p]}  ${String(s.sent).padStart(8)} sent${failed.length ? `  (${failed.join('; ')})` : ''}`);
  }
  for (const [p, e] of Object.entries(r.errors)) lines.push(`  ${p}: last error: ${e}`);
  const from = new Date(Math.floor(Date.parse(r.startedAt) / 1000 / WINDOW_S) * WINDOW_S * 1000).toISOString();
  const to = new Date(Math.ceil(Date.parse(r.endedAt) / 1000 / WINDOW_S) * WINDOW_S * 1000).toISOString();
  const search = searchUrl.replace(/\/+$/, '');
  lines.push(
    '',
    'where to look:',
    '  live view      http://127.0.0.1:8082/  (sign in with the one-time code `backlog start` printed, or a new one from `backlog live code`; new events only)',
    `  recent index   logs-${o.env}-recent-*  (Kibana / OpenSearch Dashboards data view; deploy/kibana, deploy/opensearch-dashboards)`,
    `                 curl -s '${search}/logs-${o.env}-recent-*/_count?q=labels.demo:${r.run}'   (JSON and HTTP events carry labels.demo)`,
    `                 curl -s '${search}/logs-${o.env}-recent-*/_search?q=labels.input:syslog_tcp&size=3&sort=@timestamp:desc'`,
    `  archive        each 5-minute window is sealed to S3 about a minute after it ends (compressor graceSeconds, default 60):`,
    `                 backlog archive verify --env ${o.env} --from ${from} --to ${to}`,
    `  history        backlog history load --env ${o.env} --from ${from} --to ${to}   (the indexer loads the archive into logs-${o.env}-history-…)`,
    '  metrics        http://127.0.0.1:9101/metrics (harvester) … :9106 (live-receiver); Grafana: deploy/grafana',
  );
  return `${lines.join('\n')}\n`;
}

/** The search engine's URL from the shared connection settings (BACKLOG_SEARCH_URL, BACKLOG_CONFIG), else the local stack's. */
function searchUrl(): string {
  try {
    return loadConfig({ app: 'cli', schema: connectionSettingsSchema }).search.url;
  } catch {
    return 'http://127.0.0.1:9200';
  }
}

export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('send realistic log traffic to a running harvester over syslog UDP/TCP, JSON lines TCP and HTTP, then print where to look')
    .option('--rate <n>', 'events per second, over all protocols together', intOption('--rate', 1, 200_000), 100)
    .option('--duration <d>', 'how long to send: 30s, 5m, 1h, or seconds', '60s')
    .option('--env <env>', 'environment the harvester ships to (for the names printed at the end)', process.env.BACKLOG_ENV ?? 'dev')
    .option('--corpus <dir>', 'replay the lines of these samples instead of generated ones (loghub layout: */*_structured.csv, or *.log files)')
    .option('--protocols <list>', `comma-separated subset of ${PROTOCOLS.join(',')}`, PROTOCOLS.join(','))
    .option('--host <addr>', "the harvester's address", '127.0.0.1')
    .option('--udp-port <n>', 'syslog UDP port', intOption('--udp-port', 1, 65_535), 5514)
    .option('--tcp-port <n>', 'syslog TCP port', intOption('--tcp-port', 1, 65_535), 5514)
    .option('--json-port <n>', 'JSON lines TCP port', intOption('--json-port', 1, 65_535), 5170)
    .option('--http-port <n>', 'HTTP port (POST /logs/batch)', intOption('--http-port', 1, 65_535), 8080)
    .option('--seed <n>', 'seed of the generator (the same seed sends the same lines)', intOption('--seed', 0, 2 ** 32 - 1))
    .option('--json', 'print the result as one JSON object (the default when stdout is not a TTY)')
    .action(
      async (opts: {
        rate: number;
        duration: string;
        env: string;
        corpus?: string;
        protocols: string;
        host: string;
        udpPort: number;
        tcpPort: number;
        jsonPort: number;
        httpPort: number;
        seed?: number;
        json?: boolean;
      }) => {
        if (!/^[a-z0-9][a-z0-9_-]{0,31}$/.test(opts.env)) throw new Error(`--env: expected 1-32 chars of a-z 0-9 _ -, got ${JSON.stringify(opts.env)}`);
        const ac = new AbortController();
        const onSig = () => ac.abort();
        process.once('SIGINT', onSig);
        process.once('SIGTERM', onSig);
        const o: DemoOptions = {
          rate: opts.rate,
          durationMs: parseDuration(opts.duration),
          env: opts.env,
          host: opts.host,
          udpPort: opts.udpPort,
          tcpPort: opts.tcpPort,
          jsonPort: opts.jsonPort,
          httpPort: opts.httpPort,
          protocols: parseProtocols(opts.protocols),
          ...(opts.corpus ? { corpus: opts.corpus } : {}),
          ...(opts.seed !== undefined ? { seed: opts.seed } : {}),
          progress: Boolean(process.stderr.isTTY) && !opts.json,
          signal: ac.signal,
        };
        const json = opts.json ?? !process.stdout.isTTY;
        if (!json) process.stdout.write(`demo: ${o.rate} events/s for ${opts.duration} to ${o.host} (${o.protocols.map((p) => LABEL[p]).join(', ')}); Ctrl-C stops early\n`);
        try {
          const result = await runDemo(o);
          process.stdout.write(json ? `${JSON.stringify(result)}\n` : describeDemo(result, o, searchUrl()));
          if (result.sent === 0) process.exitCode = 1;
        } finally {
          process.off('SIGINT', onSig);
          process.off('SIGTERM', onSig);
        }
      },
    );
}
