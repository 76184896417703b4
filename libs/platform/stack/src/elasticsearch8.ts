import { mkdirSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { basename, join } from 'node:path';
import type { StackConfig } from './config';
import { resolveClasspath } from './maven';
import { StackError, spawnDetached } from './proc';
import { type LocalServer, base, jvmFlags, requireJava } from './servers';

/**
 * The Elasticsearch 8 node of the local stack (ADR 0017): the server jars and the modules that Maven
 * Central serves, assembled into a home that we write, started by deploy/local/elasticsearch8/
 * BacklogElasticsearch.java. Security is off because there is no security module at all (x-pack is not
 * loaded), the node binds to loopback only, and its heap is bounded.
 */

/** A module of the node: its jars come from deploy/local/elasticsearch8/modules/<name>/pom.xml. */
export interface Es8Module {
  name: string;
  /** The plugin class (what the distribution's own descriptor names). */
  classname: string;
  description: string;
}

/**
 * The modules the node loads. Only transport-netty4 (HTTP and the transport port): the other modules
 * of the distribution are not on Central, and x-pack-core, which is, gives backlog nothing (ADR 0017,
 * "What is missing").
 */
export const ES8_MODULES: readonly Es8Module[] = [{ name: 'transport-netty4', classname: 'org.elasticsearch.transport.netty4.Netty4Plugin', description: 'Netty 4 based transport implementation' }];

const SERVER = 'elasticsearch8';

/** The version of a resolved artifact from its path in the Maven repository (…/<artifact>/<v>/<artifact>-<v>.jar). */
export function artifactVersion(classpath: string[], artifact: string): string | undefined {
  for (const jar of classpath) {
    const m = new RegExp(`/${artifact}/([^/]+)/${artifact}-\\1\\.jar$`).exec(jar);
    if (m) return m[1];
  }
  return undefined;
}

/**
 * What the distribution's build would write as the module's plugin-descriptor.properties. No
 * `modulename`: the server runs from the class path here (not as a Java module), so every module is
 * loaded as a plain bundle with its own class loader.
 */
export function pluginDescriptor(m: Es8Module, version: string): string {
  return [
    '# Written by backlog (libs/platform/stack/src/elasticsearch8.ts) for the local Elasticsearch 8 node.',
    `description=${m.description}`,
    `version=${version}`,
    `name=${m.name}`,
    `classname=${m.classname}`,
    'java.version=17',
    `elasticsearch.version=${version}`,
    '',
  ].join('\n');
}

/** config/elasticsearch.yml: one node, loopback only, the stack's ports. */
export function nodeSettings(cfg: StackConfig, home: string, logs: string): string {
  const settings: Record<string, string> = {
    'cluster.name': 'backlog-local-es8',
    'node.name': 'backlog-es8',
    'node.roles': '[master, data, ingest]',
    'path.data': join(home, 'data'),
    'path.logs': logs,
    'network.host': cfg.host,
    'http.port': String(cfg.es8.port),
    'transport.port': String(cfg.es8.transportPort),
    // One node that elects itself; no discovery of other nodes.
    'discovery.type': 'single-node',
    // A developer's nearly full disk must not turn every index read-only.
    'cluster.routing.allocation.disk.threshold_enabled': 'false',
  };
  return `${Object.entries(settings)
    .map(([k, v]) => `${k}: ${/^[\w.[\], -]+$/.test(v) ? v : JSON.stringify(v)}`)
    .join('\n')}\n`;
}

/** config/log4j2.properties: everything to the console, which is the server's log file in the stack dir. */
const LOG4J2 = [
  'status = error',
  'appender.console.type = Console',
  'appender.console.name = console',
  'appender.console.layout.type = PatternLayout',
  'appender.console.layout.pattern = [%d{ISO8601}][%-5p][%-25c{1.}] [%node_name]%marker %m%n',
  'rootLogger.level = info',
  'rootLogger.appenderRef.console.ref = console',
  '',
].join('\n');

/**
 * JVM flags the distribution's launcher sets that matter to what a request sees (date and number
 * parsing by locale, UTF-8 file names, no log4j lookups) or to memory (Netty without Unsafe and without
 * per-thread recyclers), as its server CLI does (distribution/tools/server-cli, SystemJvmOptions).
 */
const ES_JVM_FLAGS = [
  '-Xss1m',
  '-Dfile.encoding=UTF-8',
  '-Djava.locale.providers=CLDR',
  '-Dlog4j2.formatMsgNoLookups=true',
  '-Dlog4j.shutdownHookEnabled=false',
  '-Dlog4j2.disable.jmx=true',
  '-Dio.netty.noUnsafe=true',
  '-Dio.netty.noKeySetOptimization=true',
  '-Dio.netty.recycler.maxCapacityPerThread=0',
  '-XX:-OmitStackTraceInFastThrow',
];

function link(jars: string[], dir: string): void {
  mkdirSync(dir, { recursive: true });
  const seen = new Set<string>();
  for (const jar of jars) {
    const name = basename(jar);
    if (seen.has(name)) throw new StackError('START_FAILED', SERVER, `two jars named ${name} on the class path; cannot lay out ${dir}`);
    seen.add(name);
    symlinkSync(jar, join(dir, name));
  }
}

/**
 * Writes the node's home from the resolved class paths: lib/ (links to the server jars in ~/.m2),
 * modules/<name>/ (links to the module's own jars, minus any the server already has, plus its
 * descriptor) and config/. lib/ and modules/ are rebuilt on every start; data/ is kept.
 */
export function assembleHome(cfg: StackConfig, home: string, logs: string, serverCp: string[], moduleCps: Map<string, string[]>): string {
  const version = artifactVersion(serverCp, 'elasticsearch');
  if (!version) throw new StackError('START_FAILED', SERVER, 'no org.elasticsearch:elasticsearch jar on the resolved class path (deploy/local/elasticsearch8/pom.xml)');
  rmSync(join(home, 'lib'), { recursive: true, force: true });
  rmSync(join(home, 'modules'), { recursive: true, force: true });
  link(serverCp, join(home, 'lib'));
  const onServer = new Set(serverCp);
  for (const m of ES8_MODULES) {
    const cp = moduleCps.get(m.name) ?? [];
    const v = artifactVersion(cp, m.name);
    if (v !== version) {
      // The server refuses a module built for another version; say which pom to fix instead.
      throw new StackError(
        'START_FAILED',
        SERVER,
        `module ${m.name} resolved as ${v ?? 'nothing'} but the server is ${version}: keep deploy/local/elasticsearch8/modules/${m.name}/pom.xml at ${version}`,
      );
    }
    const dir = join(home, 'modules', m.name);
    link(
      cp.filter((jar) => !onServer.has(jar)),
      dir,
    );
    writeFileSync(join(dir, 'plugin-descriptor.properties'), pluginDescriptor(m, version));
  }
  mkdirSync(join(home, 'plugins'), { recursive: true });
  mkdirSync(join(home, 'data'), { recursive: true });
  mkdirSync(join(home, 'config'), { recursive: true });
  writeFileSync(join(home, 'config', 'elasticsearch.yml'), nodeSettings(cfg, home, logs));
  writeFileSync(join(home, 'config', 'log4j2.properties'), LOG4J2);
  return version;
}

export function elasticsearch8Server(cfg: StackConfig): LocalServer {
  const b = base(cfg, SERVER, cfg.es8.port);
  const url = `http://${cfg.host}:${cfg.es8.port}`;
  return {
    ...b,
    endpoint: url,
    stopTimeoutS: 30,
    async healthy() {
      try {
        const res = await fetch(`${url}/_cluster/health`, { signal: AbortSignal.timeout(2000) });
        const body = (await res.json()) as { status?: string };
        // Elasticsearch sends this header on every answer; OpenSearch (or anything else) on this port never does.
        if (res.headers.get('x-elastic-product') !== 'Elasticsearch') return false;
        return res.ok && (body.status === 'green' || body.status === 'yellow');
      } catch {
        return false;
      }
    },
    async start(say) {
      const java = requireJava(SERVER);
      const serverCp = (await resolveClasspath(cfg.root, cfg.dir, SERVER, say)).split(':');
      const moduleCps = new Map<string, string[]>();
      for (const m of ES8_MODULES) {
        moduleCps.set(m.name, (await resolveClasspath(cfg.root, cfg.dir, `${SERVER}/modules/${m.name}`, say)).split(':'));
      }
      const home = join(b.dir, 'home');
      const tmp = join(b.dir, 'tmp');
      const logs = join(b.dir, 'logs');
      mkdirSync(tmp, { recursive: true });
      mkdirSync(logs, { recursive: true });
      const version = assembleHome(cfg, home, logs, serverCp, moduleCps);
      say(`${SERVER}: Elasticsearch ${version}, modules ${ES8_MODULES.map((m) => m.name).join(', ')}`);
      const launcher = join(cfg.root, 'deploy', 'local', SERVER, 'BacklogElasticsearch.java');
      // Java 21+ warns when a class-path library (Lucene, the server's native access) calls native code
      // without this; the distribution grants it to its own modules by name.
      const nativeAccess = java !== undefined && java >= 21 ? ['--enable-native-access=ALL-UNNAMED'] : [];
      return spawnDetached('java', [...jvmFlags(cfg.es8.heapMb, tmp), ...ES_JVM_FLAGS, ...nativeAccess, '-cp', `${join(home, 'lib')}/*`, launcher, home], {
        cwd: b.dir,
        logFile: b.logFile,
        pidFile: b.pidFile,
      });
    },
  };
}
