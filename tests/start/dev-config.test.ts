// The local run's generated configs (`backlog start` → apps/cli/src/commands/dev-config.ts) must be
// accepted by the apps' own schemas, pair the keys correctly, and stay stable across runs.
import { mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { decodeKey, encodeKey, parseKeyFile } from '@backlog/core-sealed';
import { loadConfig } from '@backlog/platform-config';
import { ensureDevConfig, SEALED_HARVESTER_PORTS } from '../../apps/cli/src/commands/dev-config';
import { harvesterConfigSchema } from '../../apps/harvester/src/config';
import { gatewayConfigSchema } from '../../apps/nacl-gateway/src/config';

const root = mkdtempSync(join(tmpdir(), 'backlog-devcfg-'));
afterAll(() => rmSync(root, { recursive: true, force: true }));

describe('backlog start: the sealed path configuration', () => {
  it('writes configs the gateway and harvester schemas accept, with matching key pairs', () => {
    const dev = ensureDevConfig(root, 'dev', { liveTargets: '127.0.0.1:5515' });
    expect(dev.created).toBe(true);
    const gw = loadConfig({ app: 'nacl-gateway', schema: gatewayConfigSchema, file: dev.gatewayConfig, env: {} });
    const hv = loadConfig({ app: 'harvester', schema: harvesterConfigSchema, file: dev.sealedHarvesterConfig, env: {} });

    const gwKey = parseKeyFile(readFileSync(gw.keys.secretKeyFile as string, 'utf8'));
    const hvKey = parseKeyFile(readFileSync(hv.shipping.sealed.keyFile as string, 'utf8'));
    expect(hv.shipping.sealed.enabled).toBe(true);
    expect(hv.shipping.sealed.gatewayPublicKey).toBe(encodeKey(gwKey.publicKey));
    expect(gw.allow.map((a) => a.publicKey)).toEqual([encodeKey(hvKey.publicKey)]);
    expect(gw.allow[0]?.name).toBe(hv.host.name);
    expect(decodeKey(gw.allow[0]?.publicKey as string)).toHaveLength(32);
    expect(statSync(gw.keys.secretKeyFile as string).mode & 0o777).toBe(0o600);

    // Its own ports and directories, so it runs beside the plain harvester.
    expect(hv.metrics.port).toBe(SEALED_HARVESTER_PORTS.metrics);
    expect(hv.inputs.map((i) => i.type).sort()).toEqual(['file', 'http', 'json_tcp', 'syslog_tcp', 'syslog_udp']);
    expect(hv.shipping.spool.dir).toContain(join('.backlog', 'dev'));
    expect(hv.live.enabled).toBe(true);
  });

  it('keeps the same keys on the next run', () => {
    const before = readFileSync(join(root, '.backlog/dev/keys/gateway.key'), 'utf8');
    const again = ensureDevConfig(root, 'dev');
    expect(again.created).toBe(false);
    expect(readFileSync(join(root, '.backlog/dev/keys/gateway.key'), 'utf8')).toBe(before);
    const hv = loadConfig({ app: 'harvester', schema: harvesterConfigSchema, file: again.sealedHarvesterConfig, env: {} });
    expect(hv.live.enabled).toBe(false);
  });
});
