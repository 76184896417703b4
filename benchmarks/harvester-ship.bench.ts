// Harvester shipping and the nacl-gateway, against baselines run in the same process.
//
//   harvester-ship     syslog TCP in → acknowledged by Kafka, one harvester process (the tests' harness:
//                      real syslog_tcp input + real shipping, fsync on, default gzip level, heap caps of SHIPPING.md)
//   baseline           a bare kafkajs produce loop (idempotent, acks=all) of the very records the
//                      harvester produced (read back from the topic), so both sides ship the same bytes
//   gateway-sealed     the same records sealed by SealedSender → in-process Gateway → Kafka (MB/s of
//                      record values), beside the same bare produce loop in MB/s
//   rsyslog omkafka    the peer: rsyslogd (foreground, private config/pid/work dir, loopback port) with imtcp →
//                      omkafka (librdkafka, gzip, idempotent, acks=all) into a private topic, fed the same lines the
//                      same way; done when the topic holds N records. Skipped, and said so, when omkafka is missing.
//
//   Both the harvester and rsyslogd run pinned to one core (`taskset`, the last CPU; the sender and the bench on
//   the others) when taskset exists: "one process on one core" of the issue. Rates are sustained rates: events
//   acknowledged between 10 % and 90 % of the run, so the last batch's flush interval (1 s here) does not count
//   as throughput; the whole-run rate (first byte sent → last event acked) is printed beside it.
//
//   The harvester is a long-running agent: it first ships BACKLOG_BENCH_SHIP_WARMUP events (default 300000)
//   untimed, so V8 has compiled the hot code (its compiler threads otherwise add ~1 µs per event to a
//   short run), then the measured N; the rsyslog peer gets the same warm-up.
//
//   Then BACKLOG_BENCH_SHIP_ROUNDS (default 3) rounds of N, each timed on its own; the median is reported.
//
//   npm run bench -- harvester-ship            (BACKLOG_BENCH_SHIP_EVENTS, default 500000)
import { spawn, spawnSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { cpus, loadavg, tmpdir } from 'node:os';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { createKafka } from '@backlog/adapter-kafka';
import { createRedis } from '@backlog/adapter-redis';
import { generateKeyPair } from '@backlog/core-sealed';
import { MetricsRegistry, createJsonLogger } from '@backlog/platform-telemetry';
import { SealedSender } from '../apps/harvester/src/shipping/sealed-sender';
import { SeqStore } from '../apps/harvester/src/shipping/seq-store';
import { defaultGatewayOptions } from '../apps/nacl-gateway/src/config';
import { Gateway } from '../apps/nacl-gateway/src/gateway';
import { gatewayMetrics } from '../apps/nacl-gateway/src/metrics';
import { RedisReplayStore } from '../apps/nacl-gateway/src/replay-store';
import { HARVESTER_NODE_ARGS, HARVESTER_NODE_OPTIONS, ensureTopic, freePort, metricValue, scrape, sleep, spawnTs } from '../tests/shipping/helpers';

const { Kafka, logLevel } = kafkajs;
const N = Number(process.env.BACKLOG_BENCH_SHIP_EVENTS ?? 500_000);
const WARMUP = Number(process.env.BACKLOG_BENCH_SHIP_WARMUP ?? 300_000);
const ROUNDS = Math.max(1, Number(process.env.BACKLOG_BENCH_SHIP_ROUNDS ?? 3));

function median(xs: number[]): number {
  const v = [...xs].sort((a, b) => a - b);
  return v.length % 2 ? v[v.length >> 1]! : (v[v.length / 2 - 1]! + v[v.length / 2]!) / 2;
}
const brokers = (process.env.BACKLOG_KAFKA_BROKERS ?? '127.0.0.1:9092').split(',');
const log = (s: string) => process.stderr.write(`${s}\n`);
const env = `bench${randomBytes(3).toString('hex')}`;
const dir = mkdtempSync(join(tmpdir(), 'bench-ship-'));
const hardDeadline = setTimeout(() => {
  log('harvester-ship: hard deadline (10 min) reached');
  process.exit(2);
}, 600_000);

const apps = ['nginx', 'sshd', 'kernel', 'cron', 'api'];
function line(i: number): string {
  const ts = new Date(Date.now()).toISOString();
  return `<${(i % 8) + 128}>1 ${ts} web-${i % 4} ${apps[i % 5]} ${1000 + (i % 97)} ID${i % 13} - request ${i} took ${(i * 7) % 1000} ms path=/api/v1/items/${i % 5000} status=${i % 11 === 0 ? 500 : 200}`;
}

/** The core the measured process runs on (the last one), or undefined without taskset or with one CPU. */
const CORE = cpus().length > 1 && spawnSync('taskset', ['-V']).status === 0 ? cpus().length - 1 : undefined;

/** Pins every thread of `pid` to `cores` (a taskset list); false when it could not. */
function pin(pid: number, cores: string): boolean {
  return spawnSync('taskset', ['-a', '-p', '-c', cores, String(pid)], { stdio: 'ignore' }).status === 0;
}

interface Sample {
  t: number;
  n: number;
}

/** Events/s between the samples where 10 % and 90 % of `total` were acknowledged (the steady state). */
function sustainedRate(samples: Sample[], total: number): number {
  const a = samples.find((s) => s.n >= total * 0.1);
  const b = samples.find((s) => s.n >= total * 0.9);
  if (!a || !b || b.t <= a.t) return Number.NaN;
  return ((b.n - a.n) * 1000) / (b.t - a.t);
}

async function readRecords(topic: string): Promise<{ key: Buffer | null; value: Buffer; headers: Record<string, string> }[]> {
  const kafka = new Kafka({ clientId: 'bench-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const high = Number((await admin.fetchTopicOffsets(topic))[0]!.high);
  await admin.disconnect();
  const out: { key: Buffer | null; value: Buffer; headers: Record<string, string> }[] = [];
  const c = kafka.consumer({ groupId: `bench-${randomBytes(4).toString('hex')}`, maxBytesPerPartition: 8 * 1024 * 1024 });
  await c.connect();
  await c.subscribe({ topic, fromBeginning: true });
  await new Promise<void>((resolve) => {
    void c.run({
      eachMessage: async ({ message }) => {
        const h: Record<string, string> = {};
        for (const [k, v] of Object.entries(message.headers ?? {})) if (v !== undefined) h[k] = String(v);
        out.push({ key: message.key, value: message.value!, headers: h });
        if (out.length >= high) resolve();
      },
    });
  });
  await c.disconnect();
  return out;
}

/** CPU time (user + system) of a process so far, ms (Linux /proc). */
function cpuMs(pid: number): number {
  const f = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(f[11]) + Number(f[12])) * 1000) / 100;
}

async function topicHigh(topic: string): Promise<number> {
  const admin = new Kafka({ clientId: 'bench-offsets', brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    return (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
  } finally {
    await admin.disconnect();
  }
}

async function sendLines(port: number, lines: string[]): Promise<void> {
  const sock: Socket = await new Promise((r) => {
    const s = connect({ host: '127.0.0.1', port }, () => r(s));
  });
  for (let i = 0; i < lines.length; i += 2000) {
    if (!sock.write(lines.slice(i, i + 2000).join(''))) await new Promise((r) => sock.once('drain', r));
  }
  sock.end();
}

const OMKAFKA = ['/usr/lib/x86_64-linux-gnu/rsyslog/omkafka.so', '/usr/lib/rsyslog/omkafka.so'].find((f) => existsSync(f));

/** rsyslogd with imtcp → omkafka, in the foreground with its own files, on a loopback port. */
async function runRsyslog(topic: string, lines: string[], warmLines: string[]): Promise<{ s: number; acked: number; cpuUsPerEvent: number; sustained: number } | string> {
  if (!OMKAFKA || !existsSync('/usr/sbin/rsyslogd')) return 'rsyslogd or omkafka not installed (Debian: apt-get install rsyslog-kafka)';
  const rdir = join(dir, 'rsyslog');
  mkdirSync(join(rdir, 'work'), { recursive: true });
  const port = await freePort();
  const conf = join(rdir, 'rsyslog.conf');
  writeFileSync(
    conf,
    [
      `global(workDirectory="${join(rdir, 'work')}")`,
      'module(load="imtcp")',
      'module(load="omkafka")',
      `input(type="imtcp" port="${port}" address="127.0.0.1")`,
      'template(name="raw" type="string" string="%rawmsg%")',
      `action(type="omkafka" broker=["${brokers.join('","')}"] topic="${topic}" template="raw" partitions.auto="on"`,
      '       confParam=["compression.codec=gzip", "enable.idempotence=true", "acks=all", "linger.ms=50", "batch.num.messages=10000"])',
      '',
    ].join('\n'),
  );
  const rs = spawn('/usr/sbin/rsyslogd', ['-n', '-f', conf, '-i', join(rdir, 'rsyslogd.pid')], { stdio: ['ignore', 'ignore', 'pipe'] });
  if (CORE !== undefined) pin(rs.pid!, String(CORE));
  let err = '';
  rs.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const exited = new Promise<void>((r) => rs.once('exit', () => r()));
  try {
    const ready = Date.now();
    while (Date.now() - ready < 10_000) {
      const up = await new Promise<boolean>((r) => {
        const s = connect({ host: '127.0.0.1', port }, () => (s.destroy(), r(true)));
        s.once('error', () => r(false));
      });
      if (up) break;
      if (rs.exitCode !== null) return `rsyslogd exited at start: ${err}`;
      await sleep(100);
    }
    if (warmLines.length) {
      await sendLines(port, warmLines);
      const w0 = Date.now();
      // Until all are in, or the count stood still for 3 s (rsyslog may lose a few at a connection's end).
      let seen = -1;
      let still = Date.now();
      for (let n = await topicHigh(topic); n < warmLines.length && Date.now() - still < 3_000 && Date.now() - w0 < 60_000; n = await topicHigh(topic)) {
        if (n !== seen) {
          seen = n;
          still = Date.now();
        }
        await sleep(100);
      }
    }
    const base = await topicHigh(topic);
    const c0 = cpuMs(rs.pid!);
    const t0 = Date.now();
    const samples: Sample[] = [];
    let sending = true;
    const early = (async () => {
      while (sending) {
        await sleep(50);
        samples.push({ t: Date.now(), n: (await topicHigh(topic)) - base });
      }
    })();
    await sendLines(port, lines);
    sending = false;
    await early;
    // Done when every line is in Kafka, or when the count stood still for 15 s (then the rate is taken up to
    // the last record that arrived, and the shortfall is reported, not hidden).
    let acked = 0;
    let lastChange = Date.now();
    let cpuAtLastChange = c0;
    while (acked < lines.length && Date.now() - lastChange < 15_000 && Date.now() - t0 < 300_000) {
      await sleep(50);
      const now = (await topicHigh(topic)) - base;
      samples.push({ t: Date.now(), n: now });
      if (now !== acked) {
        acked = now;
        lastChange = Date.now();
        cpuAtLastChange = cpuMs(rs.pid!);
      }
    }
    const s = (lastChange - t0) / 1000;
    return { s, acked, cpuUsPerEvent: ((cpuAtLastChange - c0) * 1000) / Math.max(1, acked), sustained: sustainedRate(samples, lines.length) };
  } finally {
    rs.kill('SIGTERM');
    await Promise.race([exited, sleep(5000)]);
    if (rs.exitCode === null && rs.signalCode === null) rs.kill('SIGKILL');
  }
}

async function main() {
  const topic = `h-${env}`;
  for (const t of [topic, `${topic}b`, `${topic}g`, `${topic}r`]) await ensureTopic(brokers, t, 1);
  const lines = Array.from({ length: N }, (_, i) => `${line(i)}\n`);
  const warmLines = Array.from({ length: WARMUP }, (_, i) => `${line(N + i)}\n`);
  const rawBytes = lines.reduce((s, l) => s + l.length, 0);

  // ── harvester process: syslog TCP in → acked by Kafka ──
  const tcpPort = await freePort();
  const cfgFile = join(dir, 'h.json');
  writeFileSync(
    cfgFile,
    JSON.stringify({
      host: 'bench',
      env,
      brokers,
      stateDir: join(dir, 'state'),
      metricsPort: await freePort(),
      shipping: { flushIntervalMs: 1000, spool: { dir: join(dir, 'spool') } },
      inputs: [{ type: 'syslog_tcp', port: tcpPort, framing: 'lf' }],
    }),
  );
  const h = await spawnTs('tests/shipping/harness/harvester.ts', [cfgFile], { NODE_OPTIONS: HARVESTER_NODE_OPTIONS }, 60_000, HARVESTER_NODE_ARGS);
  const hPid = h.ready.pid as number;
  const pinned = CORE !== undefined && pin(hPid, String(CORE)) && pin(process.pid, `0-${CORE - 1}`);
  log(pinned ? `harvester and rsyslogd pinned to CPU ${CORE}, the sender to CPU 0-${CORE! - 1}` : 'not pinned (no taskset or one CPU): the harvester may use every core');
  const metricsPort = h.ready.metricsPort as number;
  const ackedNow = async () => metricValue(await scrape(metricsPort), 'harvester_shipping_acked_events_total');
  if (WARMUP > 0) {
    await sendLines(tcpPort, warmLines);
    const w0 = Date.now();
    while ((await ackedNow()) < WARMUP && Date.now() - w0 < 300_000) await sleep(100);
    await sleep(1500);
  }
  // ROUNDS measured rounds of N events each, one after another on the warm process: the median is the figure.
  const hRounds: { sustained: number; whole: number; cpuUs: number; acked: number; s: number }[] = [];
  for (let round = 0; round < ROUNDS; round++) {
    const base = await ackedNow();
    const hc0 = cpuMs(hPid);
    const t0 = Date.now();
    let acked = 0;
    const samples: Sample[] = [];
    // Sampled while the lines are still being sent: the sender finishes only when the harvester has read nearly all.
    const sampling = (async () => {
      while (acked < N && Date.now() - t0 < 300_000) {
        await sleep(50);
        acked = (await ackedNow()) - base;
        samples.push({ t: Date.now(), n: acked });
      }
    })();
    await sendLines(tcpPort, lines);
    await sampling;
    const s = (Date.now() - t0) / 1000;
    const r = { sustained: sustainedRate(samples, N), whole: acked / s, cpuUs: ((cpuMs(hPid) - hc0) * 1000) / Math.max(1, acked), acked, s };
    hRounds.push(r);
    log(
      `harvester round ${round + 1}: ${acked}/${N} events acked in ${s.toFixed(2)} s (${Math.round(r.whole)}/s whole run), sustained ${Math.round(r.sustained)}/s, ${r.cpuUs.toFixed(1)} µs CPU/event`,
    );
    await sleep(1500);
  }
  await h.term();
  const mid = median(hRounds.map((r) => r.sustained));
  const acked = hRounds.reduce((n, r) => n + r.acked, 0);
  const harvesterS = hRounds.reduce((n, r) => n + r.s, 0);
  const harvesterCpuUs = median(hRounds.map((r) => r.cpuUs));
  const sustained = mid;
  log(
    `harvester: median sustained ${Math.round(sustained)}/s of ${ROUNDS} rounds (${hRounds.map((r) => Math.round(r.sustained)).join(', ')}), median ${harvesterCpuUs.toFixed(1)} µs CPU/event (${(rawBytes / 1e6).toFixed(1)} MB of syslog per round)`,
  );

  // ── peer: rsyslog imtcp → omkafka, same lines, same way in ──
  const peer = await runRsyslog(`${topic}r`, lines, warmLines);
  if (typeof peer === 'string') log(`rsyslog omkafka: not measured: ${peer}`);
  else
    log(
      `rsyslog omkafka: ${peer.acked}/${N} lines in Kafka in ${peer.s.toFixed(2)} s (${Math.round(peer.acked / peer.s)}/s whole run), sustained ${Math.round(peer.sustained)}/s, ${peer.cpuUsPerEvent.toFixed(1)} µs CPU/event`,
    );

  // ── baseline: bare kafkajs produce loop of the same records ──
  // The baselines and the gateway run in this process, on every core again (as before the pinned part).
  if (pinned) pin(process.pid, `0-${CORE}`);
  const records = await readRecords(topic);
  // Warm-up and measured batches alike: events counted from the records' own headers.
  const recordEvents = records.reduce((n, r) => n + Number(r.headers.count ?? 0), 0);
  const valueBytes = records.reduce((s, r) => s + r.value.length, 0);
  const kafka = new Kafka({ clientId: 'bench-bare', brokers, logLevel: logLevel.NOTHING });
  const p = kafka.producer({ idempotent: true, maxInFlightRequests: 1, allowAutoTopicCreation: false });
  await p.connect();
  const b0 = Date.now();
  for (const r of records) await p.send({ topic: `${topic}b`, acks: -1, messages: [{ key: r.key, value: r.value, headers: r.headers }] });
  const bareS = (Date.now() - b0) / 1000;
  await p.disconnect();
  log(`bare produce: ${records.length} records (${(valueBytes / 1e6).toFixed(2)} MB gzip) in ${bareS.toFixed(2)} s`);

  // ── gateway: sealed → open → Kafka, vs the same bare loop in MB/s ──
  const gwKeys = generateKeyPair();
  const hv = generateKeyPair();
  const gwPort = await freePort();
  const producer = createKafka({ brokers, clientId: 'bench-gw' }).producer();
  // The shared replay record is part of the gateway's per-frame work (one SET NX), so the bench keeps it.
  const redis = createRedis({ url: process.env.BACKLOG_REDIS_URL ?? 'redis://127.0.0.1:6379', keyPrefix: 'backlog:bench:nacl-gateway:' });
  const gw = new Gateway(
    { ...defaultGatewayOptions, port: gwPort, env, topic: `${topic}g`, keys: gwKeys, allow: [{ name: 'bench', publicKey: hv.publicKey }] },
    { producer, metrics: gatewayMetrics(new MetricsRegistry()), log: createJsonLogger({ level: 'error' }), replay: new RedisReplayStore(redis) },
  );
  await gw.start();
  const sender = new SealedSender({ host: '127.0.0.1', port: gwPort, env, keys: hv, gatewayPublicKey: gwKeys.publicKey, seq: new SeqStore(dir) });
  const rounds = Math.max(1, Math.ceil(50 / records.length));
  const g0 = Date.now();
  let next = 0;
  const total = records.length * rounds;
  await Promise.all(
    Array.from({ length: 4 }, async () => {
      while (next < total) {
        const r = records[next++ % records.length]!;
        await sender.send({ key: String(r.key), value: r.value, headers: r.headers });
      }
    }),
  );
  const gwS = (Date.now() - g0) / 1000;
  await sender.close();
  await gw.stop();
  await producer.disconnect();
  await redis.quit();
  const gwMBs = (valueBytes * rounds) / 1e6 / gwS;
  const bareMBs = valueBytes / 1e6 / bareS;
  log(`gateway: ${total} sealed batches in ${gwS.toFixed(2)} s = ${gwMBs.toFixed(1)} MB/s, ${(total / gwS).toFixed(1)} batches/s; bare ${bareMBs.toFixed(1)} MB/s`);

  const admin = createKafka({ brokers, clientId: 'bench-clean' }).admin();
  await admin.connect();
  await admin.deleteTopics([topic, `${topic}b`, `${topic}g`, `${topic}r`]);
  await admin.disconnect();
  rmSync(dir, { recursive: true, force: true });
  clearTimeout(hardDeadline);

  const evs = sustained;
  const bareEvs = recordEvents / bareS;
  const peerEvs = typeof peer === 'string' ? undefined : peer.sustained;
  const result = {
    name: 'harvester-ship',
    load_average_1m: Number(loadavg()[0]!.toFixed(1)),
    notes: [
      `events_per_s is the sustained rate: the median over ${ROUNDS} rounds of ${N} events of the events acknowledged between 10 % and 90 % of a round, on a harvester warmed up with ${WARMUP} events; whole_run_events_per_s also counts each round's ramp and its last batch's 1 s flush interval.`,
      pinned
        ? `The harvester (all threads) and rsyslogd were pinned to CPU ${CORE}; the sender, the Kafka broker and the rest shared the machine. cpu_us_per_event is the harvester's CPU (every thread) per acknowledged event; per_core_cpu_events_per_s = 1e6 / that.`
        : 'Not pinned (no taskset or one CPU).',
      'The gateway case runs sealing sender, gateway and producer in this one process; its baseline is the bare produce loop of the same records without sealing.',
      `Load average (1 min) at the end: ${loadavg()[0]!.toFixed(2)}.`,
    ],
    peer:
      typeof peer === 'string'
        ? `rsyslog omkafka: not measured (${peer})`
        : 'rsyslog 8 imtcp → omkafka (librdkafka, gzip, idempotent, acks=all), one Kafka record per line, same lines over one TCP connection',
    results: [
      {
        case: `syslog_tcp→kafka acked (1 harvester process${pinned ? ' pinned to one core' : ''}, fsync on, gzip level 3, heap caps, single-threaded GC, after ${WARMUP} events of warm-up)`,
        events_per_s: Math.round(evs),
        whole_run_events_per_s: Math.round(acked / harvesterS),
        rounds_events_per_s: hRounds.map((r) => Math.round(r.sustained)).join(' / '),
        cpu_us_per_event: Number(harvesterCpuUs.toFixed(1)),
        per_core_cpu_events_per_s: Math.round(1e6 / harvesterCpuUs),
        target: '≥ 100,000 events/s',
        baseline: 'bare kafkajs produce loop of the same records',
        baseline_events_per_s: Math.round(bareEvs),
        ratio: Number((evs / bareEvs).toFixed(3)),
        ...(peerEvs === undefined || typeof peer === 'string'
          ? {}
          : {
              peer_events_per_s: Math.round(peerEvs),
              peer_lines_in_kafka: peer.acked,
              peer_lines_sent: N,
              peer_cpu_us_per_event: Number(peer.cpuUsPerEvent.toFixed(1)),
              peer_ratio: Number((evs / peerEvs).toFixed(3)),
            }),
      },
      {
        case: 'gateway sealed MB/s (SealedSender → Gateway → Kafka, 4 in flight)',
        events_per_s: Math.round((recordEvents * rounds) / gwS),
        mb_per_s: Number(gwMBs.toFixed(2)),
        batches_per_s: Number((total / gwS).toFixed(1)),
        baseline: 'bare kafkajs produce loop, MB/s',
        baseline_events_per_s: Math.round(bareEvs),
        baseline_mb_per_s: Number(bareMBs.toFixed(2)),
        ratio: Number((gwMBs / bareMBs).toFixed(3)),
      },
    ],
  };
  process.stdout.write(`${JSON.stringify(result)}\n`);
  process.exit(0);
}

main().catch((err: Error) => {
  log(`harvester-ship failed: ${err.stack ?? err.message}`);
  process.exit(1);
});
