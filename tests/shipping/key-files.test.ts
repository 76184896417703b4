// Private key files are refused when others can read them, as ssh refuses ~/.ssh/id_* (issue 17 §7):
// the real nacl-gateway and the real harvester (sealed shipping), each with a key file written by
// `backlog keys generate`'s format, first group/world-readable, then 0600.
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeKey, generateKeyPair, keyFileOf } from '@backlog/core-sealed';
import { stackInfo, testNamespace } from '@backlog/testing';
import { freePort, spawnHarvester, spawnTs } from './helpers';

const env = testNamespace('keyfiles');
const dir = mkdtempSync(join(tmpdir(), 'key-files-'));

function keyFile(name: string, role: 'gateway' | 'harvester', mode: number): { path: string; publicKey: string } {
  const path = join(dir, `${name}.key`);
  const kp = generateKeyPair();
  writeFileSync(path, JSON.stringify(keyFileOf(kp, role, name)));
  chmodSync(path, mode);
  return { path, publicKey: encodeKey(kp.publicKey) };
}

describe('private key files', () => {
  it('the nacl-gateway refuses a key file others can read (exit 78, ssh-style reason), and starts with 0600', async () => {
    const key = keyFile('gateway', 'gateway', 0o644);
    const config = join(dir, 'gateway.json');
    const write = async () =>
      writeFileSync(
        config,
        JSON.stringify({
          env,
          kafka: { brokers: stackInfo().kafka.brokers },
          apps: { 'nacl-gateway': { listen: { host: '127.0.0.1', port: await freePort() }, metrics: { host: '127.0.0.1', port: await freePort() }, keys: { secretKeyFile: key.path }, allow: [] } },
        }),
      );
    await write();
    const refused = await spawnTs('apps/nacl-gateway/src/main.ts', [`--config=${config}`], {}, 30_000).then(
      (p) => p.term().then(() => 'started'),
      (e: Error) => e.message,
    );
    expect(refused).toContain('exited (78)');
    expect(refused).toContain(`keys.secretKeyFile: permissions 0644 for '${key.path}' are too open`);
    expect(refused).toContain(`chmod 600 '${key.path}'`);

    chmodSync(key.path, 0o600);
    const gw = await spawnTs('apps/nacl-gateway/src/main.ts', [`--config=${config}`], {}, 30_000);
    expect(gw.ready.ready).toBe(true);
    await gw.term();
  });

  it('the harvester refuses a sealed-shipping key file others can read, and starts with 0600', async () => {
    const gateway = keyFile('gw-public', 'gateway', 0o600);
    const key = keyFile('harvester-1', 'harvester', 0o640);
    const metricsPort = await freePort();
    const config = join(dir, 'harvester.json');
    writeFileSync(
      config,
      JSON.stringify({
        env,
        apps: {
          harvester: {
            stateDir: join(dir, 'state'),
            metrics: { host: '127.0.0.1', port: metricsPort },
            inputs: [{ type: 'syslog_udp', host: '127.0.0.1', port: 0 }],
            shipping: {
              startupDrainMs: 0,
              spool: { dir: join(dir, 'spool'), fsync: false },
              sealed: { enabled: true, gateway: `127.0.0.1:${await freePort()}`, keyFile: key.path, gatewayPublicKey: gateway.publicKey },
            },
          },
        },
      }),
    );
    const refused = await spawnHarvester(config, metricsPort, {}, 30_000).then(
      (p) => p.term().then(() => 'started'),
      (e: Error) => e.message,
    );
    expect(refused).toMatch(/exited \(\d+\) before it started/);
    expect(refused).not.toContain('exited (0)');
    expect(refused).toContain(`shipping.sealed.keyFile: permissions 0640 for '${key.path}' are too open`);

    chmodSync(key.path, 0o600);
    const h = await spawnHarvester(config, metricsPort, {}, 30_000);
    await h.term();
  });
});
