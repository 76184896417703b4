// The whole pipeline as a user runs it, every app a real process against the real stack:
//
//   logger (syslog UDP + TCP), curl (HTTP) ─► harvester ───────────────► h-<env>
//   a file appended to ──────────────────────► harvester (sealed) ─► nacl-gateway ─► h-<env>
//   both harvesters' live copies ─► live-receiver ─► a page in headless Chromium
//   h-<env> ─► es-consumer ─► logs-<env>-recent-*      h-<env> ─► compressor ─► S3 parts + c-<env>
//   `backlog history load` ─► indexer ─► logs-<env>-history-…
//
// A known set of events goes in; the test asserts that each one shows on the live page, is searchable
// in the recent index with the right ECS fields, lies in a sealed S3 part (and its c-<env> records)
// once its window has closed, and that loading that range back yields exactly the recent index's
// events — same ids, same fields — with 0 lost and 0 duplicated.
import { appendFileSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { hostname, tmpdir } from 'node:os';
import { join } from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka } from '@backlog/adapter-kafka';
import { partReaderIo } from '@backlog/adapter-bz2';
import { createS3, partStoreOf, type S3Port } from '@backlog/adapter-s3';
import { compressedTopic, harvestTopic, listArchiveParts, readPartEvents, WINDOW_SECONDS } from '@backlog/core-codec';
import { encodeKey, generateKeyPair, keyFileOf } from '@backlog/core-sealed';
import { generateToken } from '@backlog/platform-config';
import { stackInfo, testNamespace, type StackInfo } from '@backlog/testing';
import { type App, ROOT, freePort, run, searchAll, sleep, stackEnv, startApp, stopApp, waitFor } from './helpers';

const env = testNamespace('e2e');
/** A real random token (placeholders and made-up values are refused at start). */
const TOKEN = generateToken();
const TAG = `e2e${Date.now().toString(36)}`;
const WINDOW_MS = WINDOW_SECONDS * 1000;
const ARTIFACTS = join(ROOT, '.backlog', 'artifacts');
let info: StackInfo;
let s3: S3Port;
let dir: string;
let browser: Browser | undefined;
const apps: App[] = [];
const ports: Record<string, number> = {};

interface PageGlobals {
  __live: { state: string; items(): unknown[] };
  document: { body: { textContent: string } };
}

/** What went in: message text → how it was sent and what the recent index must say about it. */
interface Sent {
  message: string;
  via: 'syslog_udp' | 'syslog_tcp' | 'http' | 'file';
  host: string;
  service: string;
  level: string;
}
const sent: Sent[] = [];
let firstSendMs = 0;
let lastSendMs = 0;

beforeAll(async () => {
  info = stackInfo();
  s3 = createS3({ endpoint: info.s3.endpoint, region: info.s3.region, bucket: info.s3.bucket, accessKeyId: info.s3.accessKeyId, secretAccessKey: info.s3.secretAccessKey, forcePathStyle: true });
  dir = mkdtempSync(join(tmpdir(), 'backlog-e2e-'));
  for (const k of ['harvester', 'hsyslog', 'hjson', 'hhttp', 'sealed', 'sealedHttp', 'gateway', 'gatewayIn', 'es', 'compressor', 'indexer', 'indexerApi', 'live', 'liveUdp', 'liveHttp'])
    ports[k] = await freePort();
  const base = stackEnv(info, env);
  // Tests never touch the shared logs-* template: ours covers this env's indices only.
  const template = { BACKLOG_ES_CONSUMER_TEMPLATE_NAME: `backlog-logs-${env}`, BACKLOG_ES_CONSUMER_TEMPLATE_PATTERNS: `logs-${env}-*`, BACKLOG_ES_CONSUMER_TEMPLATE_PRIORITY: '420' };

  // Key pairs for the sealed path, as `backlog keys generate` writes them.
  const gw = keyFileOf(generateKeyPair(), 'gateway', 'gw');
  const hv = keyFileOf(generateKeyPair(), 'harvester', 'e2e-sealed');
  writeFileSync(join(dir, 'gw.key'), JSON.stringify(gw), { mode: 0o600 });
  writeFileSync(join(dir, 'hv.key'), JSON.stringify(hv), { mode: 0o600 });
  mkdirSync(join(dir, 'logs'));

  const start = (name: string, entry: string, healthPort: number, extra: Record<string, string>) => startApp(name, entry, { ...base, ...extra }, healthPort).then((a) => (apps.push(a), a));
  // Consumers first: they create h-<env> and c-<env>.
  await start('es-consumer', 'apps/es-consumer/src/main.ts', ports.es as number, { ...template, BACKLOG_ES_CONSUMER_METRICS_PORT: String(ports.es), BACKLOG_ES_CONSUMER_PRUNE_ENABLED: 'false' });
  await start('compressor', 'apps/compressor/src/main.ts', ports.compressor as number, {
    BACKLOG_COMPRESSOR_METRICS_PORT: String(ports.compressor),
    BACKLOG_COMPRESSOR_GRACE_SECONDS: '0',
    BACKLOG_COMPRESSOR_IDLE_SECONDS: '1',
    BACKLOG_COMPRESSOR_COMMIT_INTERVAL_MS: '200',
  });
  await start('live-receiver', 'apps/live-receiver/src/main.ts', ports.live as number, {
    BACKLOG_LIVE_RECEIVER_UDP_PORT: String(ports.liveUdp),
    BACKLOG_LIVE_RECEIVER_HTTP_PORT: String(ports.liveHttp),
    BACKLOG_LIVE_RECEIVER_METRICS_PORT: String(ports.live),
    BACKLOG_LIVE_RECEIVER_AUTH_TOKEN: TOKEN,
  });
  await start('nacl-gateway', 'apps/nacl-gateway/src/main.ts', ports.gateway as number, {
    BACKLOG_NACL_GATEWAY_LISTEN_PORT: String(ports.gatewayIn),
    BACKLOG_NACL_GATEWAY_METRICS_PORT: String(ports.gateway),
    BACKLOG_NACL_GATEWAY_KEYS_SECRET_KEY_FILE: join(dir, 'gw.key'),
    BACKLOG_NACL_GATEWAY_ALLOW: JSON.stringify([{ name: 'e2e-sealed', publicKey: hv.publicKey }]),
  });
  const harvester = (name: string, healthPort: number, extra: Record<string, string>) =>
    start(name, 'apps/harvester/src/main.ts', healthPort, {
      BACKLOG_HARVESTER_METRICS_PORT: String(healthPort),
      BACKLOG_HARVESTER_STATE_DIR: join(dir, name, 'state'),
      BACKLOG_HARVESTER_SHIPPING_SPOOL_DIR: join(dir, name, 'spool'),
      BACKLOG_HARVESTER_SHIPPING_FLUSH_INTERVAL_MS: '1000',
      BACKLOG_HARVESTER_LIVE_ENABLED: 'true',
      BACKLOG_HARVESTER_LIVE_TARGETS: `127.0.0.1:${ports.liveUdp}`,
      ...extra,
    });
  await harvester('harvester', ports.harvester as number, {
    BACKLOG_HARVESTER_HOST_NAME: 'e2e-plain',
    BACKLOG_HARVESTER_INPUTS: JSON.stringify([
      { type: 'syslog_udp', port: ports.hsyslog },
      { type: 'syslog_tcp', port: ports.hsyslog },
      { type: 'http', port: ports.hhttp },
    ]),
  });
  await harvester('harvester-sealed', ports.sealed as number, {
    BACKLOG_HARVESTER_HOST_NAME: 'e2e-sealed',
    BACKLOG_HARVESTER_INPUTS: JSON.stringify([{ type: 'file', paths: [join(dir, 'logs', '*.log')], startAt: 'beginning', pollIntervalMs: 100, globIntervalMs: 200 }]),
    BACKLOG_HARVESTER_SHIPPING_SEALED_ENABLED: 'true',
    BACKLOG_HARVESTER_SHIPPING_SEALED_GATEWAY: `127.0.0.1:${ports.gatewayIn}`,
    BACKLOG_HARVESTER_SHIPPING_SEALED_KEY_FILE: join(dir, 'hv.key'),
    BACKLOG_HARVESTER_SHIPPING_SEALED_GATEWAY_PUBLIC_KEY: encodeKey(Buffer.from(gw.publicKey, 'base64')),
  });

  browser = await chromium.launch({
    executablePath: '/usr/bin/chromium',
    args: ['--headless', '--no-sandbox', '--disable-gpu', '--no-first-run', '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
}, 240_000);

afterAll(async () => {
  await browser?.close().catch(() => undefined);
  for (const a of [...apps].reverse()) await stopApp(a);
  rmSync(dir, { recursive: true, force: true });
  // Clean up what this env left in the shared stack.
  await fetch(`${info.search.url}/logs-${env}-*`, { method: 'DELETE' }).catch(() => undefined);
  await fetch(`${info.search.url}/_index_template/backlog-logs-${env}`, { method: 'DELETE' }).catch(() => undefined);
  const kafka = createKafka({ brokers: info.kafka.brokers, clientId: `e2e-clean-${env}`, logLevel: 'nothing' });
  const admin = kafka.admin();
  await admin.connect().catch(() => undefined);
  await admin.deleteTopics([harvestTopic(env), compressedTopic(env)]).catch(() => undefined);
  await admin.disconnect().catch(() => undefined);
}, 120_000);

function appOutputs(): string {
  return apps.map((a) => `--- ${a.name} ---\n${a.output().slice(-3000)}`).join('\n');
}

describe('the whole pipeline', () => {
  it('every event sent with logger, curl and a file shows on the live page', async () => {
    if (!browser) throw new Error('setup failed');
    const page = await browser.newPage({ viewport: { width: 1280, height: 700 } });
    // Signed in the way a person does: the page's form, the token posted once for a session cookie.
    await page.goto(`http://127.0.0.1:${ports.liveHttp}/?env=${env}`);
    await page.waitForSelector('#signin:not([hidden])', { timeout: 15_000 });
    await page.fill('#secret', TOKEN);
    await page.click('#signin-submit');
    await page.waitForFunction(() => (globalThis as unknown as PageGlobals).__live.state === 'connected', undefined, { timeout: 15_000 });

    firstSendMs = Date.now();
    const levels = ['err', 'warning', 'info'] as const;
    const ecsLevel: Record<string, string> = { err: 'error', warning: 'warn', info: 'info' };
    for (let i = 0; i < 6; i++) {
      const message = `${TAG} syslog ${i} user login failed for uid ${1000 + i}`;
      const tcp = i % 2 === 1;
      const p = levels[i % 3] as string;
      const r = await run('logger', [...(tcp ? ['-T'] : ['-d']), '-n', '127.0.0.1', '-P', String(ports.hsyslog), '--rfc5424', '-t', 'sshd', '-p', `auth.${p}`, message]);
      expect(r.code, r.stderr).toBe(0);
      // A syslog message names its origin host (logger sends this machine's name); host.name keeps it.
      sent.push({ message, via: tcp ? 'syslog_tcp' : 'syslog_udp', host: hostname(), service: 'sshd', level: ecsLevel[p] as string });
    }
    const httpLines = Array.from({ length: 5 }, (_, i) => ({ message: `${TAG} http ${i} GET /api/orders/${i} 200`, level: i === 4 ? 'error' : 'info', service: { name: 'orders' } }));
    const curl = await run(
      'curl',
      ['-sS', '-o', '/dev/null', '-w', '%{http_code}', '-X', 'POST', '-H', 'content-type: application/x-ndjson', '--data-binary', '@-', `http://127.0.0.1:${ports.hhttp}/logs`],
      {
        input: `${httpLines.map((l) => JSON.stringify(l)).join('\n')}\n`,
      },
    );
    expect(curl.stdout, curl.stderr).toMatch(/^20[02]$/);
    for (const l of httpLines) sent.push({ message: l.message, via: 'http', host: 'e2e-plain', service: 'orders', level: l.level });
    for (let i = 0; i < 5; i++) {
      const line = { message: `${TAG} file ${i} job ${i} finished`, level: i === 0 ? 'warning' : 'info', service: { name: 'batch' } };
      appendFileSync(join(dir, 'logs', 'app.log'), `${JSON.stringify(line)}\n`);
      sent.push({ message: line.message, via: 'file', host: 'e2e-sealed', service: 'batch', level: line.level === 'warning' ? 'warn' : line.level }); // normalize() names levels as syslog-names.ts does
    }
    lastSendMs = Date.now();

    // Every event reached the page (its ring of received events; the DOM holds only the rows in view),
    // and the newest is drawn.
    const texts = sent.map((s) => s.message);
    const ringText = () => page.evaluate(() => JSON.stringify((globalThis as unknown as PageGlobals).__live.items()));
    await page
      .waitForFunction(
        (want) => {
          const t = JSON.stringify((globalThis as unknown as PageGlobals).__live.items());
          return want.every((w) => t.includes(w));
        },
        texts,
        { timeout: 15_000, polling: 100 },
      )
      .catch(async (err: Error) => {
        const ring = await ringText();
        throw new Error(`${err.message}\nmissing on the page: ${texts.filter((t) => !ring.includes(t)).join(' | ')}\n${appOutputs()}`);
      });
    const last = texts[texts.length - 1] as string;
    await page.waitForFunction((t) => (globalThis as unknown as PageGlobals).document.body.textContent.includes(t), last, { timeout: 5_000, polling: 100 });
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: join(ARTIFACTS, 'e2e-live.png') });
    await page.close();
  }, 60_000);

  let recent: Record<string, unknown>[] = [];
  it('every event is searchable once in the recent index, with the ECS fields its input implies', async () => {
    expect(sent.length).toBe(16);
    recent = await waitFor(
      'all events in the recent index',
      async () => {
        await fetch(`${info.search.url}/logs-${env}-recent-*/_refresh`, { method: 'POST' });
        const docs = await searchAll(info.search.url, `logs-${env}-recent-*`, { match: { message: TAG } });
        return docs.length >= sent.length ? docs : undefined;
      },
      90_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${appOutputs()}`);
    });
    expect(recent).toHaveLength(sent.length);
    const ids = recent.map((d) => (d.event as { id: string }).id);
    expect(new Set(ids).size).toBe(sent.length);
    for (const s of sent) {
      const doc = recent.find((d) => d.message === s.message) as Record<string, any> | undefined;
      expect(doc, s.message).toBeDefined();
      expect(doc?.host?.name, s.message).toBe(s.host);
      expect(doc?.service?.name, s.message).toBe(s.service);
      expect(doc?.log?.level, s.message).toBe(s.level);
      expect(doc?.labels?.env, s.message).toBe(env);
      expect(doc?.labels?.input, s.message).toBe(s.via);
      const ts = Date.parse(doc?.['@timestamp'] as string);
      expect(ts).toBeGreaterThanOrEqual(firstSendMs - 2000);
      expect(ts).toBeLessThanOrEqual(lastSendMs + 2000);
    }
  }, 120_000);

  it('once the window closes, every event lies in a sealed S3 part and its c-<env> records', async () => {
    const fromMs = Math.floor(firstSendMs / WINDOW_MS) * WINDOW_MS;
    const toMs = (Math.floor(lastSendMs / WINDOW_MS) + 1) * WINDOW_MS;
    // The compressor seals a window once the wall clock passed its end (grace 0, idle 1 s here).
    await sleep(Math.max(0, toMs - Date.now()));
    const parts = await waitFor(
      'sealed parts holding every event',
      async () => {
        const listing = await listArchiveParts(partStoreOf(s3), env, fromMs, toMs);
        const count = listing.parts.reduce((n, p) => n + p.manifest.count, 0);
        return count >= sent.length ? listing.parts : undefined;
      },
      90_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${appOutputs()}`);
    });
    const lines: string[] = [];
    for (const part of parts) for await (const batch of readPartEvents(partReaderIo(partStoreOf(s3)), part)) lines.push(...batch);
    const inParts = lines.map((l) => JSON.parse(l) as Record<string, any>);
    expect(inParts.map((e) => e.event.id).sort()).toEqual(recent.map((d) => (d.event as { id: string }).id).sort());

    // The same parts on c-<env>: one record per bz2 stream, the last one carrying the manifest.
    const kafka = createKafka({ brokers: info.kafka.brokers, clientId: `e2e-c-${env}`, logLevel: 'nothing' });
    const lastRecords = new Map<string, string>();
    const consumer = kafka.consumer({ groupId: `e2e-c-reader-${env}` });
    await consumer.connect();
    try {
      await consumer.subscribe([compressedTopic(env)], { fromBeginning: true });
      await consumer.run(async (batch) => {
        for (const r of batch.records) if (r.headers.last?.toString() === '1') lastRecords.set(r.key?.toString() ?? '', r.headers.manifest?.toString() ?? '');
      });
      await waitFor(
        'c-<env> holds the parts',
        async () =>
          parts.every((p) =>
            lastRecords.has(
              p.key
                .split('/')
                .slice(-2)
                .join('/')
                .replace(/\.log\.bz2$/, ''),
            ),
          ),
        60_000,
        500,
      );
    } finally {
      await consumer.disconnect();
    }
    for (const p of parts) {
      const manifest = JSON.parse(
        lastRecords.get(
          p.key
            .split('/')
            .slice(-2)
            .join('/')
            .replace(/\.log\.bz2$/, ''),
        ) as string,
      ) as { sha256: string };
      expect(manifest.sha256).toBe(p.manifest.sha256);
    }
  }, 480_000);

  it('`backlog history load` of that range yields exactly the recent index events', async () => {
    const fromS = Math.floor((Math.floor(firstSendMs / WINDOW_MS) * WINDOW_MS) / 1000);
    const toS = Math.floor(((Math.floor(lastSendMs / WINDOW_MS) + 1) * WINDOW_MS) / 1000);
    const res = await run(process.execPath, [join(ROOT, 'bin/backlog.mjs'), 'history', 'load', '--env', env, '--from', String(fromS), '--to', String(toS)], {
      env: { ...stackEnv(info, env), ...indexerEnv() },
      timeoutMs: 180_000,
    });
    expect(res.code, `${res.stdout}\n${res.stderr}`).toBe(0);
    const index = `logs-${env}-history-${fromS.toString(36)}-${toS.toString(36)}`;
    expect(res.stdout).toContain(index);
    await fetch(`${info.search.url}/${index}/_refresh`, { method: 'POST' });
    const history = await searchAll(info.search.url, index, { match_all: {} });
    expect(history).toHaveLength(recent.length);
    const byId = new Map(recent.map((d) => [(d.event as { id: string }).id, d]));
    for (const h of history) expect(h, JSON.stringify(h)).toEqual(byId.get((h.event as { id: string }).id));
  }, 240_000);
});

/** The indexer's settings for this env (its template scoped like the es-consumer's). */
function indexerEnv(): Record<string, string> {
  return {
    BACKLOG_INDEXER_METRICS_PORT: String(ports.indexer),
    BACKLOG_INDEXER_API_PORT: String(ports.indexerApi),
    BACKLOG_INDEXER_TEMPLATE_NAME: `backlog-logs-${env}`,
    BACKLOG_INDEXER_TEMPLATE_PATTERNS: `logs-${env}-*`,
    BACKLOG_INDEXER_TEMPLATE_PRIORITY: '420',
    BACKLOG_INDEXER_STATE_KEY_PREFIX: `backlog:${env}:indexer:`,
  };
}
