import { mkdtempSync, writeFileSync } from 'node:fs';
import { type Socket, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { FrameReader, type KeyPair, encodeKey, generateKeyPair } from '@backlog/core-sealed';
import { type Proc, freePort, spawnTs } from './helpers';

export interface GatewayProc extends Proc {
  port: number;
  metricsPort: number;
}

/** Starts apps/nacl-gateway as a real process with a config file; `port` fixed so a restart keeps the address. */
export async function startGateway(opts: { env: string; brokers: string[]; redisUrl?: string; keys: KeyPair; allow: { name: string; keys: KeyPair }[]; port?: number; metricsPort?: number; extra?: Record<string, unknown> }): Promise<GatewayProc> {
  const port = opts.port ?? (await freePort());
  const metricsPort = opts.metricsPort ?? (await freePort());
  const dir = mkdtempSync(join(tmpdir(), 'gw-'));
  const file = join(dir, 'gateway.json');
  writeFileSync(file, JSON.stringify({
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
  }));
  const p = await spawnTs('apps/nacl-gateway/src/main.ts', [`--config=${file}`]);
  return { ...p, port, metricsPort };
}

export { generateKeyPair };

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
