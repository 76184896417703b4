import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { hostname } from 'node:os';
import { join } from 'node:path';
import { stringify } from 'yaml';
import { generateKeyPair, keyFileOf, parseKeyFile, encodeKey } from '@backlog/core-sealed';
import { ensurePrivateDir, writePrivateFile } from '@backlog/platform-config';

/**
 * The default local run (`npm start`) shows both ways into Kafka: the main harvester ships plain to
 * `h-<env>`, a second one ships sealed through the nacl-gateway. This writes what that second path
 * needs under `<root>/.backlog/dev/` — a gateway key pair, a harvester key pair, the gateway's config
 * (allow list) and the sealed harvester's config — once, and reuses them on later runs so the gateway
 * keeps accepting the same sender. Nothing here is used outside a local run.
 */

/** Where the sealed harvester listens (beside DESIGN.md's defaults, which the plain harvester holds). */
export const SEALED_HARVESTER_PORTS = { syslog: 5524, json: 5171, http: 8090, metrics: 9111 } as const;

export interface DevConfig {
  dir: string;
  gatewayConfig: string;
  sealedHarvesterConfig: string;
  /** Files appended to this directory's `*.log` are tailed by the sealed harvester. */
  logDir: string;
  created: boolean;
}

function keyPairAt(path: string, role: 'gateway' | 'harvester', name: string): { publicKey: string; created: boolean } {
  if (existsSync(path)) {
    const kp = parseKeyFile(readFileSync(path, 'utf8'));
    return { publicKey: encodeKey(kp.publicKey), created: false };
  }
  const file = keyFileOf(generateKeyPair(), role, name);
  writePrivateFile(path, `${JSON.stringify(file, null, 2)}\n`);
  return { publicKey: file.publicKey, created: true };
}

/** Writes (or refreshes) the dev run's gateway and sealed-harvester configs for `env`. */
export function ensureDevConfig(root: string, env: string, opts: { liveTargets?: string } = {}): DevConfig {
  const dir = join(root, '.backlog', 'dev');
  const keys = join(dir, 'keys');
  const logDir = join(dir, 'logs');
  ensurePrivateDir(keys);
  mkdirSync(logDir, { recursive: true });
  const senderName = `${hostname()}-sealed`;
  const gw = keyPairAt(join(keys, 'gateway.key'), 'gateway', 'gateway');
  const hv = keyPairAt(join(keys, 'harvester-sealed.key'), 'harvester', senderName);

  const gatewayConfig = join(dir, 'nacl-gateway.yaml');
  writeFileSync(
    gatewayConfig,
    `# written by \`backlog start\` for the local run; edit keys with \`backlog keys generate\`\n${stringify({
      env,
      apps: { 'nacl-gateway': { keys: { secretKeyFile: join(keys, 'gateway.key') }, allow: [{ name: senderName, publicKey: hv.publicKey }] } },
    })}`,
  );

  const p = SEALED_HARVESTER_PORTS;
  const sealedHarvesterConfig = join(dir, 'harvester-sealed.yaml');
  writeFileSync(
    sealedHarvesterConfig,
    `# written by \`backlog start\`: the second local harvester, shipping sealed through the nacl-gateway\n${stringify({
      env,
      apps: {
        harvester: {
          host: { name: senderName },
          stateDir: join(dir, 'harvester-sealed', 'state'),
          metrics: { port: p.metrics },
          inputs: [
            { type: 'syslog_udp', port: p.syslog },
            { type: 'syslog_tcp', port: p.syslog },
            { type: 'json_tcp', port: p.json },
            { type: 'http', port: p.http },
            { type: 'file', paths: [join(logDir, '*.log')], startAt: 'beginning' },
          ],
          shipping: {
            spool: { dir: join(dir, 'harvester-sealed', 'spool') },
            sealed: { enabled: true, gateway: '127.0.0.1:5516', keyFile: join(keys, 'harvester-sealed.key'), gatewayPublicKey: gw.publicKey },
          },
          ...(opts.liveTargets ? { live: { enabled: true, targets: [opts.liveTargets] } } : {}),
        },
      },
    })}`,
  );
  return { dir, gatewayConfig, sealedHarvesterConfig, logDir, created: gw.created || hv.created };
}
