// Kafka with TLS and SASL (issue 17 §3): a private broker whose clients' listeners are SASL_SSL only
// (certificates made here with openssl; SCRAM users written by Kafka's own StorageTool at format
// time, PLAIN users in the listener's JAAS config), and every app that talks to Kafka run as the
// real process against it, its config pointing at a SASL_SSL listener and nothing else:
//
//   curl ─► harvester (SCRAM-SHA-512, client cert, password file) ────────────────► h-<env>
//   curl ─► harvester (sealed) ─► nacl-gateway (PLAIN, CA only) ────────────────────► h-<env>
//   a spool segment ─► `backlog spool drain` (SCRAM-SHA-512, CA only) ──────────────► h-<env>
//   h-<env> ─► es-consumer (SCRAM-SHA-512, client cert, password variable) ─► logs-<env>-recent-*
//   h-<env> ─► compressor (SCRAM-SHA-256, encrypted client key) ─► S3 parts + c-<env>
//   S3 ─► `backlog archive replay` (PLAIN, client cert) ─► r-<env>
//   c-<env> ─► `backlog history load` (indexer; SCRAM-SHA-256, CA only; S3 parts removed first) ─► history index
//
// Then the refusals: a wrong password (SCRAM and PLAIN), an untrusted CA, a missing client
// certificate — each a clear error at start naming the broker, exit 1 — and unreadable TLS/SASL
// files, listed before any socket opens (exit 78). No password ever appears in any output.
import { randomUUID } from 'node:crypto';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { createKafka, type KafkaClient } from '@backlog/adapter-kafka';
import { createS3, partStoreOf, type S3Port } from '@backlog/adapter-s3';
import { WINDOW_SECONDS, compressedTopic, listArchiveParts, decodeBatch, encodeBatch, encodeSegment, harvestTopic, segmentFileName } from '@backlog/core-codec';
import { encodeKey, generateKeyPair, keyFileOf } from '@backlog/core-sealed';
import { type PrivateKafka, type StackInfo, type TestPki, makeTestPki, stackInfo, startPrivateKafka, testNamespace } from '@backlog/testing';
import { type App, ROOT, freePort, run, searchAll, stackEnv, startApp, stopApp, waitFor } from '../e2e/helpers';

const env = testNamespace('ktls');
const WINDOW_MS = WINDOW_SECONDS * 1000;
const TAG = `ktls${Date.now().toString(36)}`;
// PLAIN users live in the listener's JAAS config; SCRAM users in the cluster metadata.
const USERS = {
  alice: { mechanism: 'plain', password: 'alice-Plain-pw-8f3k' },
  bob: { mechanism: 'scram-sha-256', password: 'bob-Scram256-pw-2m9q' },
  carol: { mechanism: 'scram-sha-512', password: 'carol-Scram512-pw-7x1z' },
} as const;
const WRONG = 'not-the-password-5r2w';
const SECRETS = [...Object.values(USERS).map((u) => u.password), WRONG];

let info: StackInfo;
let dir: string;
let pki: TestPki;
let broker: PrivateKafka | undefined;
let plain: KafkaClient; // the test's own view, through the broker's PLAINTEXT listener (the apps never get it)
let s3: S3Port;
let sealedKeys: { gw: ReturnType<typeof keyFileOf>; hv: ReturnType<typeof keyFileOf> };
const apps: App[] = [];
const outputs: string[] = [];
const port: Record<string, number> = {};
let mtls = '';
let tlsOnly = '';
// Events lie 20 minutes back: their window is closed (the compressor seals it at once) and recent
// enough that the indexer reads c-<env> for it.
const eventMs = Date.now() - 20 * 60_000;
const fromS = Math.floor((Math.floor(eventMs / WINDOW_MS) * WINDOW_MS) / 1000);
const toS = fromS + WINDOW_SECONDS;
const sent: string[] = [];

/** The shared kafka settings of one client: only a SASL_SSL listener, a user, and how it finds its secrets. */
function kafkaEnv(o: {
  listener: string;
  user: keyof typeof USERS;
  clientCert?: 'plain' | 'encrypted';
  password: 'file' | 'default-env' | 'named-env';
  wrongPassword?: boolean;
  ca?: string;
}): Record<string, string> {
  const u = USERS[o.user];
  const pw = o.wrongPassword ? WRONG : u.password;
  const out: Record<string, string> = {
    BACKLOG_KAFKA_BROKERS: o.listener,
    BACKLOG_KAFKA_SSL_ENABLED: 'true',
    BACKLOG_KAFKA_SSL_CA_FILE: o.ca ?? pki.caCert,
    BACKLOG_KAFKA_SASL_MECHANISM: u.mechanism,
    BACKLOG_KAFKA_SASL_USERNAME: o.user,
  };
  if (o.clientCert) {
    out.BACKLOG_KAFKA_SSL_CERT_FILE = pki.clientCert;
    out.BACKLOG_KAFKA_SSL_KEY_FILE = o.clientCert === 'plain' ? pki.clientKey : pki.clientKeyEncrypted;
    if (o.clientCert === 'encrypted') {
      out.BACKLOG_KAFKA_SSL_KEY_PASSPHRASE_ENV = 'TEST_KAFKA_KEY_PASSPHRASE';
      out.TEST_KAFKA_KEY_PASSPHRASE = pki.clientKeyPassphrase;
    }
  }
  if (o.password === 'file') {
    const f = join(dir, `pw-${o.user}-${o.wrongPassword ? 'wrong' : 'ok'}`);
    writeFileSync(f, `${pw}\n`, { mode: 0o600 });
    out.BACKLOG_KAFKA_SASL_PASSWORD_FILE = f;
  } else if (o.password === 'default-env') out.BACKLOG_KAFKA_SASL_PASSWORD = pw;
  else {
    out.BACKLOG_KAFKA_SASL_PASSWORD_ENV = 'TEST_KAFKA_PASSWORD';
    out.TEST_KAFKA_PASSWORD = pw;
  }
  return out;
}

/** Everything but Kafka points at the shared stack; Kafka only at the private broker's SASL_SSL listener. */
function appEnv(kafka: Record<string, string>, extra: Record<string, string> = {}): Record<string, string> {
  const base = stackEnv(info, env);
  delete base.BACKLOG_KAFKA_BROKERS;
  return { ...base, ...kafka, ...extra };
}

const template = () => ({ BACKLOG_ES_CONSUMER_TEMPLATE_NAME: `backlog-logs-${env}`, BACKLOG_ES_CONSUMER_TEMPLATE_PATTERNS: `logs-${env}-*`, BACKLOG_ES_CONSUMER_TEMPLATE_PRIORITY: '420' });

async function start(name: string, entry: string, healthPort: number, e: Record<string, string>): Promise<App> {
  const a = await startApp(name, entry, e, healthPort);
  apps.push(a);
  return a;
}

/** Runs an app or the CLI to its exit; its output is kept for the password check. */
async function runToExit(args: string[], e: Record<string, string>, timeoutMs = 60_000) {
  const r = await run(process.execPath, args, { env: e, timeoutMs });
  outputs.push(r.stdout, r.stderr);
  return { ...r, all: `${r.stdout}\n${r.stderr}` };
}

function appOutputs(): string {
  return apps.map((a) => `--- ${a.name} ---\n${a.output().slice(-3000)}`).join('\n');
}

async function postNdjson(httpPort: number, lines: object[]): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${httpPort}/logs`, { method: 'POST', headers: { 'content-type': 'application/x-ndjson' }, body: `${lines.map((l) => JSON.stringify(l)).join('\n')}\n` });
  expect(res.status, await res.text()).toBeLessThan(300);
}

beforeAll(async () => {
  info = stackInfo();
  dir = mkdtempSync(join(tmpdir(), 'backlog-kafka-tls-'));
  pki = makeTestPki(join(dir, 'pki'), { clientName: 'backlog-apps' });
  // Each test stands on its own: the gateway's key exists whichever test runs first.
  sealedKeys = { gw: keyFileOf(generateKeyPair(), 'gateway', 'gw'), hv: keyFileOf(generateKeyPair(), 'harvester', 'ktls-sealed') };
  writeFileSync(join(dir, 'gw.key'), JSON.stringify(sealedKeys.gw), { mode: 0o600 });
  writeFileSync(join(dir, 'hv.key'), JSON.stringify(sealedKeys.hv), { mode: 0o600 });
  for (const k of [
    'kafka',
    'controller',
    'mtls',
    'tls',
    'es',
    'compressor',
    'gateway',
    'gatewayIn',
    'harvester',
    'harvesterHttp',
    'sealed',
    'sealedHttp',
    'indexer',
    'indexerApi',
    'probe',
    'probeHttp',
  ])
    port[k] = await freePort();
  mtls = `127.0.0.1:${port.mtls}`;
  tlsOnly = `127.0.0.1:${port.tls}`;
  const jaasPlain = `org.apache.kafka.common.security.plain.PlainLoginModule required user_alice="${USERS.alice.password}";`;
  const jaasScram = 'org.apache.kafka.common.security.scram.ScramLoginModule required;';
  const props: Record<string, string> = {
    'sasl.enabled.mechanisms': 'PLAIN,SCRAM-SHA-256,SCRAM-SHA-512',
    // Kafka 3.9 reads PEM key stores and trust stores directly (KIP-651): no keytool needed.
    'ssl.keystore.type': 'PEM',
    'ssl.keystore.location': pki.serverKeystore,
    'ssl.truststore.type': 'PEM',
    'ssl.truststore.location': pki.caCert,
    // MTLS also wants a client certificate signed by the CA; TLS wants none.
    'listener.name.mtls.ssl.client.auth': 'required',
    'listener.name.tls.ssl.client.auth': 'none',
  };
  for (const l of ['mtls', 'tls']) {
    props[`listener.name.${l}.plain.sasl.jaas.config`] = jaasPlain;
    props[`listener.name.${l}.scram-sha-256.sasl.jaas.config`] = jaasScram;
    props[`listener.name.${l}.scram-sha-512.sasl.jaas.config`] = jaasScram;
  }
  broker = await startPrivateKafka({
    dir: join(dir, 'kafka'),
    port: port.kafka as number,
    controllerPort: port.controller as number,
    heapMb: 384,
    extras: {
      listeners: [
        { name: 'MTLS', port: port.mtls as number, protocol: 'SASL_SSL' },
        { name: 'TLS', port: port.tls as number, protocol: 'SASL_SSL' },
      ],
      properties: props,
      scramUsers: [
        { mechanism: 'SCRAM-SHA-256', name: 'bob', password: USERS.bob.password },
        { mechanism: 'SCRAM-SHA-512', name: 'carol', password: USERS.carol.password },
      ],
    },
  });
  plain = createKafka({ brokers: broker.brokers, clientId: `test-${env}`, logLevel: 'nothing' });
  s3 = createS3({ endpoint: info.s3.endpoint, region: info.s3.region, bucket: info.s3.bucket, accessKeyId: info.s3.accessKeyId, secretAccessKey: info.s3.secretAccessKey, forcePathStyle: true });
}, 180_000);

afterAll(async () => {
  for (const a of [...apps].reverse()) {
    await stopApp(a);
    outputs.push(a.output());
  }
  await broker?.destroy();
  rmSync(dir, { recursive: true, force: true });
  await fetch(`${info.search.url}/logs-${env}-*`, { method: 'DELETE' }).catch(() => undefined);
  await fetch(`${info.search.url}/_index_template/backlog-logs-${env}`, { method: 'DELETE' }).catch(() => undefined);
  if (s3) {
    for await (const o of s3.list(`${env}/`)) await s3.delete(o.key).catch(() => undefined);
    s3.close();
  }
}, 120_000);

describe('Kafka over SASL_SSL', () => {
  it('every app works through a SASL_SSL listener only, with PLAIN, SCRAM-SHA-256 and SCRAM-SHA-512', async () => {
    if (!broker) throw new Error('setup failed');
    // Consumers first: they create h-<env> and c-<env> (through SASL_SSL: their admin requests too).
    await start(
      'es-consumer',
      'apps/es-consumer/src/main.ts',
      port.es as number,
      appEnv(kafkaEnv({ listener: mtls, user: 'carol', clientCert: 'plain', password: 'default-env' }), {
        ...template(),
        BACKLOG_ES_CONSUMER_METRICS_PORT: String(port.es),
        BACKLOG_ES_CONSUMER_PRUNE_ENABLED: 'false',
      }),
    );
    await start(
      'compressor',
      'apps/compressor/src/main.ts',
      port.compressor as number,
      appEnv(kafkaEnv({ listener: mtls, user: 'bob', clientCert: 'encrypted', password: 'named-env' }), {
        BACKLOG_COMPRESSOR_METRICS_PORT: String(port.compressor),
        BACKLOG_COMPRESSOR_GRACE_SECONDS: '0',
        BACKLOG_COMPRESSOR_IDLE_SECONDS: '1',
        BACKLOG_COMPRESSOR_COMMIT_INTERVAL_MS: '200',
      }),
    );
    const { gw, hv } = sealedKeys;
    await start(
      'nacl-gateway',
      'apps/nacl-gateway/src/main.ts',
      port.gateway as number,
      appEnv(kafkaEnv({ listener: tlsOnly, user: 'alice', password: 'file' }), {
        BACKLOG_NACL_GATEWAY_LISTEN_PORT: String(port.gatewayIn),
        BACKLOG_NACL_GATEWAY_METRICS_PORT: String(port.gateway),
        BACKLOG_NACL_GATEWAY_KEYS_SECRET_KEY_FILE: join(dir, 'gw.key'),
        BACKLOG_NACL_GATEWAY_ALLOW: JSON.stringify([{ name: 'ktls-sealed', publicKey: hv.publicKey }]),
      }),
    );
    const harvester = (name: string, healthPort: number, httpPort: number, kafka: Record<string, string>, extra: Record<string, string> = {}) =>
      start(
        name,
        'apps/harvester/src/main.ts',
        healthPort,
        appEnv(kafka, {
          BACKLOG_HARVESTER_METRICS_PORT: String(healthPort),
          BACKLOG_HARVESTER_HOST_NAME: name,
          BACKLOG_HARVESTER_STATE_DIR: join(dir, name, 'state'),
          BACKLOG_HARVESTER_SHIPPING_SPOOL_DIR: join(dir, name, 'spool'),
          BACKLOG_HARVESTER_SHIPPING_FLUSH_INTERVAL_MS: '500',
          BACKLOG_HARVESTER_INPUTS: JSON.stringify([{ type: 'http', port: httpPort }]),
          ...extra,
        }),
      );
    await harvester('ktls-direct', port.harvester as number, port.harvesterHttp as number, kafkaEnv({ listener: mtls, user: 'carol', clientCert: 'plain', password: 'file' }));
    // The sealed harvester holds no Kafka credentials at all: it never talks to Kafka.
    await harvester(
      'ktls-sealed',
      port.sealed as number,
      port.sealedHttp as number,
      { BACKLOG_KAFKA_BROKERS: mtls },
      {
        BACKLOG_HARVESTER_SHIPPING_SEALED_ENABLED: 'true',
        BACKLOG_HARVESTER_SHIPPING_SEALED_GATEWAY: `127.0.0.1:${port.gatewayIn}`,
        BACKLOG_HARVESTER_SHIPPING_SEALED_KEY_FILE: join(dir, 'hv.key'),
        BACKLOG_HARVESTER_SHIPPING_SEALED_GATEWAY_PUBLIC_KEY: encodeKey(Buffer.from(gw.publicKey, 'base64')),
      },
    );

    const ts = (i: number) => new Date(eventMs + i * 10).toISOString();
    const lines = (via: string, n: number) => Array.from({ length: n }, (_, i) => ({ '@timestamp': ts(i), message: `${TAG} ${via} ${i}`, service: { name: via } }));
    const direct = lines('direct', 6);
    const sealed = lines('sealed', 5);
    await postNdjson(port.harvesterHttp as number, direct);
    await postNdjson(port.sealedHttp as number, sealed);
    sent.push(...direct.map((l) => l.message), ...sealed.map((l) => l.message));

    // A stopped harvester's spool, drained by the CLI: one segment of 4 events.
    const spoolDir = join(dir, 'spool-to-drain');
    mkdirSync(join(spoolDir, 'seg'), { recursive: true });
    const spooled = Array.from({ length: 4 }, (_, i) => ({ '@timestamp': ts(100 + i), event: { id: randomUUID() }, host: { name: 'ktls-spool' }, message: `${TAG} spool ${i}`, labels: { env } }));
    const batch = encodeBatch(spooled, { host: 'ktls-spool' });
    writeFileSync(
      join(spoolDir, 'seg', segmentFileName(1)),
      encodeSegment(
        { batchId: batch.headers['batch-id'], key: batch.key, headers: { ...batch.headers }, count: spooled.length, rawBytes: batch.rawBytes, createdAtMs: Date.now(), positions: [] },
        batch.value,
      ),
    );
    const drain = await runToExit([join(ROOT, 'bin/backlog.mjs'), 'spool', 'drain', '--dir', spoolDir], appEnv(kafkaEnv({ listener: tlsOnly, user: 'carol', password: 'named-env' })));
    expect(drain.code, drain.all).toBe(0);
    expect(JSON.parse(drain.stdout.trim().split('\n').pop() as string)).toMatchObject({ segments: 1, events: 4, topic: harvestTopic(env) });
    sent.push(...spooled.map((l) => l.message));

    // es-consumer: every event, once, in the recent index.
    const recent = await waitFor(
      'every event in the recent index',
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
    expect(recent.map((d) => d.message).sort()).toEqual([...sent].sort());

    // compressor: the closed window's events in S3 parts (and on c-<env>).
    await waitFor(
      'sealed parts holding every event',
      async () => {
        const listing = await listArchiveParts(partStoreOf(s3), env, fromS * 1000, toS * 1000);
        return listing.parts.reduce((n, p) => n + p.manifest.count, 0) >= sent.length || undefined;
      },
      120_000,
      1000,
    ).catch((err: Error) => {
      throw new Error(`${err.message}\n${appOutputs()}`);
    });
    const cOffsets = await waitFor(
      'c-<env> records',
      async () => {
        const admin = plain.admin();
        await admin.connect();
        try {
          const o = await admin.topicOffsets(compressedTopic(env));
          return o.some((p) => BigInt(p.high) > 0n) ? o : undefined;
        } finally {
          await admin.disconnect();
        }
      },
      30_000,
    );
    expect(cOffsets.length).toBeGreaterThan(0);

    // `backlog archive replay` (PLAIN with a client certificate) into r-<env>.
    const replayTopic = `r-${env}`;
    const replay = await runToExit(
      [join(ROOT, 'bin/backlog.mjs'), 'archive', 'replay', '--env', env, '--from', String(fromS), '--to', String(toS), '--topic', replayTopic],
      appEnv(kafkaEnv({ listener: mtls, user: 'alice', clientCert: 'plain', password: 'default-env' })),
      120_000,
    );
    expect(replay.code, replay.all).toBe(0);
    const replayed = await topicMessages(replayTopic, sent.length);
    expect(replayed.sort()).toEqual([...sent].sort());

    // `backlog history load` with the S3 parts removed: only c-<env> (read by the indexer through SASL_SSL) has them.
    for await (const o of s3.list(`${env}/`)) await s3.delete(o.key);
    expect((await listArchiveParts(partStoreOf(s3), env, fromS * 1000, toS * 1000)).parts).toEqual([]);
    const history = await runToExit(
      [join(ROOT, 'bin/backlog.mjs'), 'history', 'load', '--env', env, '--from', String(fromS), '--to', String(toS)],
      appEnv(kafkaEnv({ listener: tlsOnly, user: 'bob', password: 'file' }), {
        BACKLOG_INDEXER_METRICS_PORT: String(port.indexer),
        BACKLOG_INDEXER_API_PORT: String(port.indexerApi),
        BACKLOG_INDEXER_TEMPLATE_NAME: `backlog-logs-${env}`,
        BACKLOG_INDEXER_TEMPLATE_PATTERNS: `logs-${env}-*`,
        BACKLOG_INDEXER_TEMPLATE_PRIORITY: '420',
        BACKLOG_INDEXER_STATE_KEY_PREFIX: `backlog:${env}:indexer:`,
      }),
      180_000,
    );
    expect(history.code, history.all).toBe(0);
    const index = `logs-${env}-history-${fromS.toString(36)}-${toS.toString(36)}`;
    await fetch(`${info.search.url}/${index}/_refresh`, { method: 'POST' });
    const loaded = await searchAll(info.search.url, index, { match_all: {} });
    expect(loaded.map((d) => d.message).sort()).toEqual([...sent].sort());
    const ids = (docs: Record<string, unknown>[]) => docs.map((d) => (d.event as { id: string }).id).sort();
    expect(ids(loaded)).toEqual(ids(recent));
  }, 600_000);

  it('a wrong password is a clear error at start naming the broker, for SCRAM and PLAIN, and the app exits 1', async () => {
    const harvester = await runToExit(
      ['--import', 'tsx', join(ROOT, 'apps/harvester/src/main.ts')],
      appEnv(kafkaEnv({ listener: mtls, user: 'carol', clientCert: 'plain', password: 'file', wrongPassword: true }), {
        BACKLOG_HARVESTER_METRICS_PORT: String(port.probe),
        BACKLOG_HARVESTER_STATE_DIR: join(dir, 'wrong', 'state'),
        BACKLOG_HARVESTER_SHIPPING_SPOOL_DIR: join(dir, 'wrong', 'spool'),
        BACKLOG_HARVESTER_INPUTS: JSON.stringify([{ type: 'http', port: port.probeHttp }]),
      }),
    );
    expect(harvester.code, harvester.all).toBe(1);
    expect(harvester.all).toContain(`broker ${mtls}`);
    expect(harvester.all).toMatch(/SASL SCRAM SHA512 authentication failed/);
    expect(harvester.all).toContain('KAFKA_AUTH');

    const gateway = await runToExit(
      ['--import', 'tsx', join(ROOT, 'apps/nacl-gateway/src/main.ts')],
      appEnv(kafkaEnv({ listener: tlsOnly, user: 'alice', password: 'default-env', wrongPassword: true }), {
        BACKLOG_NACL_GATEWAY_LISTEN_PORT: String(port.probeHttp),
        BACKLOG_NACL_GATEWAY_METRICS_PORT: String(port.probe),
        BACKLOG_NACL_GATEWAY_KEYS_SECRET_KEY_FILE: join(dir, 'gw.key'),
      }),
    );
    expect(gateway.code, gateway.all).toBe(1);
    expect(gateway.all).toContain(`broker ${tlsOnly}`);
    expect(gateway.all).toMatch(/SASL PLAIN authentication failed/);
  }, 120_000);

  it('an untrusted CA and a missing client certificate are clear TLS errors at start naming the broker', async () => {
    const compressor = await runToExit(
      ['--import', 'tsx', join(ROOT, 'apps/compressor/src/main.ts')],
      appEnv(kafkaEnv({ listener: tlsOnly, user: 'bob', password: 'default-env', ca: pki.otherCaCert }), {
        BACKLOG_COMPRESSOR_METRICS_PORT: String(port.probe),
      }),
    );
    expect(compressor.code, compressor.all).toBe(1);
    expect(compressor.all).toContain(`broker ${tlsOnly}`);
    expect(compressor.all).toMatch(/TLS handshake failed \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|SELF_SIGNED_CERT_IN_CHAIN|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)\)/);

    // The MTLS listener requires a client certificate: without one the broker refuses the handshake.
    const replay = await runToExit(
      [join(ROOT, 'bin/backlog.mjs'), 'archive', 'replay', '--env', env, '--from', String(fromS), '--to', String(toS), '--topic', `r2-${env}`],
      appEnv(kafkaEnv({ listener: mtls, user: 'alice', password: 'default-env' })),
    );
    expect(replay.code, replay.all).toBe(1);
    expect(replay.stderr).toMatch(new RegExp(`backlog: start check: broker ${mtls.replace(/\./g, '\\.')}: TLS handshake failed \\(ERR_SSL_`));
  }, 120_000);

  it('unreadable TLS/SASL material is refused before any socket opens, every problem listed (exit 78)', async () => {
    const openKey = join(dir, 'open-client.key');
    writeFileSync(openKey, '-----BEGIN PRIVATE KEY-----\nnot really\n-----END PRIVATE KEY-----\n', { mode: 0o644 });
    const r = await runToExit(
      ['--import', 'tsx', join(ROOT, 'apps/es-consumer/src/main.ts')],
      appEnv(
        {
          BACKLOG_KAFKA_BROKERS: mtls,
          BACKLOG_KAFKA_SSL_ENABLED: 'true',
          BACKLOG_KAFKA_SSL_CA_FILE: join(dir, 'no-such-ca.pem'),
          BACKLOG_KAFKA_SSL_CERT_FILE: pki.clientCert,
          BACKLOG_KAFKA_SSL_KEY_FILE: openKey,
          BACKLOG_KAFKA_SASL_MECHANISM: 'scram-sha-512',
          BACKLOG_KAFKA_SASL_USERNAME: 'carol',
          BACKLOG_KAFKA_SASL_PASSWORD_ENV: 'TEST_UNSET_KAFKA_PASSWORD',
        },
        { BACKLOG_ES_CONSUMER_METRICS_PORT: String(port.probe) },
      ),
    );
    expect(r.code, r.all).toBe(78);
    expect(r.stderr).toContain('invalid configuration for es-consumer (3 problems)');
    expect(r.stderr).toContain('kafka.ssl.caFile: cannot read');
    expect(r.stderr).toContain('kafka.ssl.keyFile:');
    expect(r.stderr).toContain("permissions 0644 for '" + openKey + "' are too open");
    expect(r.stderr).toContain('kafka.sasl.passwordEnv: the environment variable TEST_UNSET_KAFKA_PASSWORD');
  }, 60_000);

  it('an unreachable cluster is not a refusal: the harvester starts anyway (its spool holds the batches)', async () => {
    const closed = `127.0.0.1:${await freePort()}`;
    const a = await start(
      'harvester-unreachable',
      'apps/harvester/src/main.ts',
      port.probe as number,
      appEnv(kafkaEnv({ listener: closed, user: 'carol', clientCert: 'plain', password: 'file' }), {
        BACKLOG_HARVESTER_METRICS_PORT: String(port.probe),
        BACKLOG_HARVESTER_STATE_DIR: join(dir, 'unreachable', 'state'),
        BACKLOG_HARVESTER_SHIPPING_SPOOL_DIR: join(dir, 'unreachable', 'spool'),
        BACKLOG_HARVESTER_INPUTS: JSON.stringify([{ type: 'http', port: port.probeHttp }]),
      }),
    );
    await waitFor("the start check's warning", async () => a.output().includes('Kafka not reachable at start'), 10_000, 200);
    expect(a.output(), a.output()).toContain(`broker ${closed}`);
    await stopApp(a);
  }, 60_000);

  it('no password appears in any output', () => {
    for (const a of apps) outputs.push(a.output());
    const all = outputs.join('\n');
    expect(all.length).toBeGreaterThan(0);
    for (const s of SECRETS) expect(all, s).not.toContain(s);
    expect(all).not.toContain(pki.clientKeyPassphrase);
  });
});

/** The messages of every event in an h-<env>-shaped topic, read through the broker's PLAINTEXT listener. */
async function topicMessages(topic: string, atLeast: number): Promise<string[]> {
  const consumer = plain.consumer({ groupId: `test-read-${topic}-${Date.now()}` });
  const got: string[] = [];
  await consumer.connect();
  try {
    await consumer.subscribe([topic], { fromBeginning: true });
    await consumer.run(async (b) => {
      for (const r of b.records) for (const e of decodeBatch(r.value as Buffer).events) got.push(String(e.message));
    });
    await waitFor(`${atLeast} events in ${topic}`, async () => got.length >= atLeast, 60_000, 300);
  } finally {
    await consumer.disconnect();
  }
  return got;
}
