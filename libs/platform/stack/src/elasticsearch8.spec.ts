import { existsSync, lstatSync, mkdtempSync, readFileSync, readdirSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadStackConfig, repoRoot } from './config';
import { ES8_MODULES, artifactVersion, assembleHome, nodeSettings, pluginDescriptor } from './elasticsearch8';
import { StackError } from './proc';

const m2 = '/home/u/.m2/repository';
const serverCp = [
  `${m2}/org/elasticsearch/elasticsearch/8.19.21/elasticsearch-8.19.21.jar`,
  `${m2}/org/elasticsearch/elasticsearch-core/8.19.21/elasticsearch-core-8.19.21.jar`,
  `${m2}/org/apache/lucene/lucene-core/9.12.2/lucene-core-9.12.2.jar`,
];
const nettyCp = (v: string) => [
  `${m2}/org/elasticsearch/plugin/transport-netty4/${v}/transport-netty4-${v}.jar`,
  `${m2}/io/netty/netty-common/4.1.135.Final/netty-common-4.1.135.Final.jar`,
  // Also on the server's class path: must not be laid into the module (the server's jar-hell check refuses duplicates).
  `${m2}/org/elasticsearch/elasticsearch-core/8.19.21/elasticsearch-core-8.19.21.jar`,
];

describe('elasticsearch8 home', () => {
  const made: string[] = [];
  const tempHome = () => {
    const dir = mkdtempSync(join(tmpdir(), 'backlog-es8-home-'));
    made.push(dir);
    return join(dir, 'home');
  };
  afterAll(() => made.forEach((d) => rmSync(d, { recursive: true, force: true })));

  it('reads versions from Maven repository paths, never from a look-alike artifact', () => {
    expect(artifactVersion(serverCp, 'elasticsearch')).toBe('8.19.21');
    expect(artifactVersion(nettyCp('8.19.21'), 'transport-netty4')).toBe('8.19.21');
    expect(artifactVersion(serverCp.slice(1), 'elasticsearch')).toBeUndefined();
  });

  it('the poms pin one version for the server and every module', () => {
    const pin = (pom: string) => /<artifactId>(?:elasticsearch|transport-netty4|x-pack-core)<\/artifactId><version>([^<]+)<\/version>/.exec(readFileSync(pom, 'utf8'))?.[1];
    const dir = join(repoRoot(), 'deploy', 'local', 'elasticsearch8');
    const server = pin(join(dir, 'pom.xml'));
    expect(server).toMatch(/^8\.\d+\.\d+$/);
    for (const m of ES8_MODULES) expect(pin(join(dir, 'modules', m.name, 'pom.xml'))).toBe(server);
  });

  it('writes a plugin descriptor without modulename (modules load as plain bundles) and with the server version', () => {
    const text = pluginDescriptor({ name: 'transport-netty4', classname: 'org.elasticsearch.transport.netty4.Netty4Plugin', description: 'Netty' }, '8.19.21');
    const props = Object.fromEntries(
      text
        .split('\n')
        .filter((l) => l && !l.startsWith('#'))
        .map((l) => l.split('=', 2) as [string, string]),
    );
    expect(props).toEqual({
      description: 'Netty',
      version: '8.19.21',
      name: 'transport-netty4',
      classname: 'org.elasticsearch.transport.netty4.Netty4Plugin',
      'java.version': '17',
      'elasticsearch.version': '8.19.21',
    });
  });

  it('settings: loopback only, its own ports, one node', () => {
    const cfg = { ...loadStackConfig(), es8: { enabled: true, port: 19201, transportPort: 19301, heapMb: 512 } };
    const yml = nodeSettings(cfg, '/s/elasticsearch8/home', '/s/elasticsearch8/logs');
    expect(yml).toContain('network.host: 127.0.0.1\n');
    expect(yml).toContain('http.port: 19201\n');
    expect(yml).toContain('transport.port: 19301\n');
    expect(yml).toContain('discovery.type: single-node\n');
    expect(yml).toContain('path.data: "/s/elasticsearch8/home/data"\n');
  });

  it('lays out lib/ and modules/<name>/ as links to the resolved jars, each jar in one place only', () => {
    const home = tempHome();
    const cfg = loadStackConfig();
    const version = assembleHome(cfg, home, join(home, '..', 'logs'), serverCp, new Map([['transport-netty4', nettyCp('8.19.21')]]));
    expect(version).toBe('8.19.21');
    expect(readdirSync(join(home, 'lib')).sort()).toEqual(['elasticsearch-8.19.21.jar', 'elasticsearch-core-8.19.21.jar', 'lucene-core-9.12.2.jar']);
    expect(readdirSync(join(home, 'modules', 'transport-netty4')).sort()).toEqual(['netty-common-4.1.135.Final.jar', 'plugin-descriptor.properties', 'transport-netty4-8.19.21.jar']);
    const jar = join(home, 'modules', 'transport-netty4', 'transport-netty4-8.19.21.jar');
    expect(lstatSync(jar).isSymbolicLink()).toBe(true);
    expect(readlinkSync(jar)).toBe(nettyCp('8.19.21')[0]);
    expect(existsSync(join(home, 'config', 'elasticsearch.yml'))).toBe(true);
    expect(readFileSync(join(home, 'config', 'log4j2.properties'), 'utf8')).toContain('rootLogger.appenderRef.console.ref = console');
    // A second start rebuilds lib/ and modules/ in place.
    expect(assembleHome(cfg, home, join(home, '..', 'logs'), serverCp, new Map([['transport-netty4', nettyCp('8.19.21')]]))).toBe('8.19.21');
  });

  it('refuses a module resolved at another version than the server, naming the pom to fix', () => {
    const home = tempHome();
    let err: unknown;
    try {
      assembleHome(loadStackConfig(), home, home, serverCp, new Map([['transport-netty4', nettyCp('8.19.20')]]));
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(StackError);
    expect(err).toMatchObject({ code: 'START_FAILED', server: 'elasticsearch8' });
    expect((err as Error).message).toContain('modules/transport-netty4/pom.xml at 8.19.21');
  });
});
