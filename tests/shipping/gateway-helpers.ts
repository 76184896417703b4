import { execFile } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { FrameReader, type KeyPair, encodeKey, generateKeyPair } from '@backlog/core-sealed';
import { loadStackConfig } from '@backlog/testing';
import { type Proc, freePort, spawnTs } from './helpers';

export interface GatewayProc extends Proc {
  port: number;
  metricsPort: number;
}

/** Starts apps/nacl-gateway as a real process with a config file; `port` fixed so a restart keeps the address. */
export async function startGateway(opts: {
  env: string;
  brokers: string[];
  redisUrl?: string;
  keys: KeyPair;
  allow: { name: string; keys: KeyPair }[];
  port?: number;
  metricsPort?: number;
  extra?: Record<string, unknown>;
  nodeArgs?: string[];
}): Promise<GatewayProc> {
  const port = opts.port ?? (await freePort());
  const metricsPort = opts.metricsPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'gw-'));
  const file = join(dir, 'gateway.json');
  writeFileSync(
    file,
    JSON.stringify({
      env: opts.env,
      kafka: { brokers: opts.brokers },
      ...(opts.redisUrl ? { redis: { url: opts.redisUrl } } : {}),
      apps: {
        'nacl-gateway': {
          listen: { host: '127.0.0.1', port },
          metrics: { host: '127.0.0.1', port: metricsPort },
          keys: { secretKey: encodeKey(opts.keys.secretKey) },
          allow: opts.allow.map((a) => ({ name: a.name, publicKey: encodeKey(a.keys.publicKey) })),
          ...opts.extra,
        },
      },
    }),
  );
  const p = await spawnTs('apps/nacl-gateway/src/main.ts', [`--config=${file}`], {}, 60_000, opts.nodeArgs);
  return { ...p, port, metricsPort };
}

export { generateKeyPair };

/**
 * Sets (bytes/s) or removes (undefined) the broker's produce quota for one client id, with Kafka's own
 * ConfigCommand run from the local stack's jars. The broker then throttles that client (KIP-13, KIP-219):
 * a slow Kafka made by the real broker, for tests of what waits on it. Client ids are per test env
 * (`nacl-gateway-<env>`), so no one else's client is slowed.
 */
export async function setProduceQuota(bootstrap: string, clientId: string, bytesPerSecond: number | undefined): Promise<void> {
  const cp = join(loadStackConfig().dir, 'kafka', 'classpath.txt');
  if (!existsSync(cp)) throw new Error(`no Kafka classpath at ${cp}: the local stack's Kafka runs from Maven jars (backlog stack up)`);
  const change = bytesPerSecond === undefined ? ['--delete-config', 'producer_byte_rate'] : ['--add-config', `producer_byte_rate=${bytesPerSecond}`];
  await promisify(execFile)(
    'java',
    ['-Xmx128m', '-cp', readFileSync(cp, 'utf8').trim(), 'kafka.admin.ConfigCommand', '--bootstrap-server', bootstrap, '--alter', '--entity-type', 'clients', '--entity-name', clientId, ...change],
    { timeout: 90_000 },
  );
}

export interface Exchange {
  /** Frame bodies the gateway sent back (acks), in order. */
  frames: Uint8Array[];
  /** The gateway closed the connection (rather than our timeout ending it). */
  closedByPeer: boolean;
  /** ms from connect to the gateway closing it (or to our timeout). */
  ms: number;
}

/**
 * Opens a connection to a gateway, writes bytes, and reports what came back: ack frames, or the
 * gateway closing on us. Ends after `frames` acks, at the peer's close, or after `waitMs`.
 */
export function exchange(port: number, bytes: Uint8Array[], opts: { end?: boolean; waitMs?: number; frames?: number; localAddress?: string } = {}): Promise<Exchange> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const sock: Socket = connect({ host: '127.0.0.1', port, ...(opts.localAddress ? { localAddress: opts.localAddress } : {}) });
    const reader = new FrameReader(4096);
    const frames: Uint8Array[] = [];
    let closedByPeer = false;
    let finished = false;
    const done = () => {
      if (finished) return;
      finished = true;
      clearTimeout(timer);
      sock.destroy();
      resolve({ frames, closedByPeer, ms: Date.now() - t0 });
    };
    sock.on('data', (d: Buffer) => {
      for (const f of reader.push(d)) frames.push(f.body);
      if (opts.frames !== undefined && frames.length >= opts.frames) done();
    });
    sock.on('error', () => undefined);
    sock.on('close', () => {
      closedByPeer = !finished;
      done();
    });
    sock.on('connect', () => {
      for (const b of bytes) sock.write(b);
      if (opts.end) sock.end();
    });
    const timer = setTimeout(done, opts.waitMs ?? 3000);
  });
}
