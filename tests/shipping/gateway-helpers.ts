import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type KeyPair, encodeKey, generateKeyPair } from '@backlog/core-sealed';
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
