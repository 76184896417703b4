// Structure of the repository's docker-compose.yml. Docker cannot run on the machines that run our
// tests, so this checks what a reader would check: every service can start (image/build), ports are
// DESIGN.md's "Default ports", dependencies exist, servers have healthchecks, the `opensearch` profile
// exists, and the apps' environment is valid backlog config. Where `docker compose` is installed, the
// file also goes through `docker compose config` (Compose's own validation).
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { parse } from 'yaml';
import { connectionSettingsSchema, loadConfig, tokenProblems } from '@backlog/platform-config';
import { repoRoot } from '@backlog/platform-stack';

const root = repoRoot();
const file = join(root, 'docker-compose.yml');

interface Service {
  image?: string;
  build?: unknown;
  command?: string[] | string;
  ports?: (string | { published: string | number; target: number; protocol?: string })[];
  depends_on?: string[] | Record<string, { condition?: string }>;
  healthcheck?: { test?: unknown; disable?: boolean };
  profiles?: string[];
  restart?: string;
  environment?: Record<string, string | number | boolean> | string[];
}
// `merge: true`: the file shares one app definition through YAML merge keys (`<<: *backlog-app`).
const compose = parse(readFileSync(file, 'utf8'), { merge: true }) as { services: Record<string, Service>; volumes?: Record<string, unknown> };
const services = compose.services;

// DESIGN.md "Default ports": host port = container port for each of these; `/udp` where the protocol is UDP.
const DESIGN_PORTS: Record<string, string[]> = {
  kafka: ['9092/tcp'],
  elasticsearch: ['9200/tcp'],
  minio: ['9000/tcp', '9001/tcp'], // 9000 = the S3 server; 9001 = MinIO's console
  redis: ['6379/tcp'],
  harvester: ['5514/udp', '5514/tcp', '5170/tcp', '8080/tcp', '9101/tcp'],
  'nacl-gateway': ['5516/tcp', '9102/tcp'],
  'es-consumer': ['9103/tcp'],
  compressor: ['9104/tcp'],
  indexer: ['8081/tcp', '9105/tcp'],
  'live-receiver': ['5515/udp', '8082/tcp', '9106/tcp'],
};
const APPS = ['harvester', 'nacl-gateway', 'es-consumer', 'compressor', 'indexer', 'live-receiver'];
const ONE_SHOTS = ['minio-init', 'deps'];

/**
 * `"9092:9092"`, `"5514:5514/udp"`, `"127.0.0.1:9200:9200"` or the long form → {ip, host, container, proto};
 * `ip` is the host address the port is published on, undefined when none is given (= every interface).
 */
function portsOf(s: Service): { ip: string | undefined; host: number; container: number; proto: string }[] {
  return (s.ports ?? []).map((p) => {
    if (typeof p === 'object') return { ip: (p as { host_ip?: string }).host_ip, host: Number(p.published), container: p.target, proto: p.protocol ?? 'tcp' };
    const [spec, proto = 'tcp'] = String(p).split('/');
    const parts = (spec ?? '').split(':');
    return { ip: parts.length > 2 ? parts.slice(0, -2).join(':') : undefined, host: Number(parts[parts.length - 2]), container: Number(parts[parts.length - 1]), proto };
  });
}
const dependsOn = (s: Service): string[] => (Array.isArray(s.depends_on) ? s.depends_on : Object.keys(s.depends_on ?? {}));

/** The environment as Compose would pass it, with `${VAR:-default}` taken at its default. */
function envOf(s: Service): Record<string, string> {
  const entries = Array.isArray(s.environment) ? s.environment.map((e) => e.split(/=(.*)/s).slice(0, 2) as [string, string]) : Object.entries(s.environment ?? {});
  return Object.fromEntries(entries.map(([k, v]) => [k, String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1')]));
}

describe('docker-compose.yml', () => {
  it('names the servers and the apps', () => {
    for (const name of ['kafka', 'elasticsearch', 'kibana', 'opensearch', 'opensearch-dashboards', 'minio', 'minio-init', 'redis', ...APPS]) {
      expect(services, name).toHaveProperty([name]);
    }
  });

  it('gives every service an image or a build', () => {
    for (const [name, s] of Object.entries(services)) expect(Boolean(s.image || s.build), name).toBe(true);
  });

  it('runs the pinned versions: Kafka 3.9 (apache/kafka), Elasticsearch and Kibana 8, OpenSearch 2.19', () => {
    expect(services.kafka?.image).toMatch(/^apache\/kafka:3\.9\.\d+$/);
    expect(services.elasticsearch?.image).toMatch(/elasticsearch\/elasticsearch:8\.\d+\.\d+$/);
    expect(services.kibana?.image?.split(':')[1]).toBe(services.elasticsearch?.image?.split(':')[1]);
    expect(services.opensearch?.image).toMatch(/^opensearchproject\/opensearch:2\.19\.\d+$/);
    expect(services['opensearch-dashboards']?.image?.split(':')[1]).toBe(services.opensearch?.image?.split(':')[1]);
    for (const [name, s] of Object.entries(services)) expect(s.image, name).not.toMatch(/:latest$|^[^:]+$/);
  });

  it('publishes DESIGN.md default ports, host port = container port', () => {
    for (const [name, expected] of Object.entries(DESIGN_PORTS)) {
      const ports = portsOf(services[name] as Service);
      expect(ports.map((p) => `${p.container}/${p.proto}`).sort(), name).toEqual([...expected].sort());
      for (const p of ports) expect(p.host, `${name} ${p.container}`).toBe(p.container);
    }
    // No two services claim one host port (OpenSearch and its Dashboards move aside so they can run beside ES/Kibana).
    const claimed = Object.entries(services).flatMap(([name, s]) => portsOf(s).map((p) => ({ key: `${p.host}/${p.proto}`, name })));
    const seen = new Map<string, string>();
    for (const c of claimed) {
      expect(seen.get(c.key), `${c.key} claimed by ${seen.get(c.key)} and ${c.name}`).toBeUndefined();
      seen.set(c.key, c.name);
    }
  });

  it('publishes every port on 127.0.0.1 only: a development stack (security off) is never reachable from other machines', () => {
    const all = Object.entries(services).flatMap(([name, s]) => portsOf(s).map((p) => ({ name, ...p })));
    expect(all.length).toBeGreaterThan(20);
    for (const p of all) expect(p.ip, `${p.name} ${p.host}/${p.proto} must be published as "127.0.0.1:${p.host}:${p.container}"`).toBe('127.0.0.1');
  });

  it('says in the file which of its defaults are for development only', () => {
    const text = readFileSync(file, 'utf8');
    const header = text.slice(0, text.indexOf('\nname:'));
    expect(header).toMatch(/DEVELOPMENT ONLY/);
    for (const what of [/127\.0\.0\.1 only/, /Elasticsearch runs with security off/, /Redis has no password/, /MinIO/, /Grafana/]) expect(header).toMatch(what);
    // And beside each such setting.
    for (const line of [
      /DEV ONLY: plain HTTP without users[\s\S]{0,200}xpack\.security\.enabled: "false"/,
      /DEV ONLY: no password[\s\S]{0,200}\n {2}redis:/,
      /DEV ONLY: fixed credentials[\s\S]{0,120}MINIO_ROOT_PASSWORD/,
    ])
      expect(text).toMatch(line);
  });

  it('carries no token: the apps read random ones that the deps one-shot writes (0600), never a placeholder', () => {
    for (const app of APPS) {
      const env = envOf(services[app] as Service);
      for (const [k, v] of Object.entries(env)) {
        if (/TOKEN$/.test(k)) expect(tokenProblems(v), `${app} ${k}`).toEqual([]);
      }
    }
    expect(envOf(services.indexer as Service).BACKLOG_INDEXER_API_TOKEN_FILE).toBe('/app/.backlog/compose/indexer.token');
    expect(envOf(services['live-receiver'] as Service).BACKLOG_LIVE_RECEIVER_AUTH_TOKEN_FILE).toBe('/app/.backlog/compose/live-receiver.token');
    const deps = JSON.stringify(services.deps?.command);
    expect(deps).toContain('backlog.mjs keys token --out .backlog/compose/$$t.token');
    expect(deps).toContain('for t in indexer live-receiver');
    // Nothing token-like with a fixed value anywhere in the file.
    expect(readFileSync(file, 'utf8')).not.toMatch(/change-?me|REPLACE_ME/i);
  });

  it('names only defined services in depends_on, and no default service depends on a profiled one', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const dep of dependsOn(s)) {
        expect(services, `${name} depends on ${dep}`).toHaveProperty([dep]);
        if (!s.profiles?.length) expect(services[dep]?.profiles ?? [], `${name} → ${dep}`).toEqual([]);
      }
    }
    // The apps wait for healthy servers and for the bucket to exist.
    for (const app of APPS) {
      const deps = services[app]?.depends_on as Record<string, { condition?: string }>;
      expect(deps.kafka?.condition, app).toBe('service_healthy');
      expect(deps['minio-init']?.condition, app).toBe('service_completed_successfully');
    }
  });

  it('has a healthcheck for every long-running service (servers and apps), none for the one-shots', () => {
    for (const [name, s] of Object.entries(services)) {
      if (ONE_SHOTS.includes(name)) {
        expect(s.restart, name).toBe('no');
        continue;
      }
      expect(s.healthcheck?.test, name).toBeDefined();
      expect(s.healthcheck?.disable, name).not.toBe(true);
    }
    // Each app's healthcheck asks its own DESIGN.md health port.
    APPS.forEach((app, i) => expect(JSON.stringify(services[app]?.healthcheck?.test), app).toContain(`127.0.0.1:${9101 + i}/healthz`));
  });

  it('has the opensearch profile with OpenSearch and its Dashboards', () => {
    const profiled = Object.entries(services)
      .filter(([, s]) => s.profiles?.includes('opensearch'))
      .map(([n]) => n)
      .sort();
    expect(profiled).toEqual(['opensearch', 'opensearch-dashboards']);
  });

  it('runs each app as `node bin/backlog.mjs start <app>` on node:20 with the repo mounted', () => {
    for (const app of APPS) {
      const s = services[app] as Service & { volumes?: string[] };
      expect(s.image, app).toMatch(/^node:20(\b|-)/);
      expect(s.command, app).toEqual(['node', 'bin/backlog.mjs', 'start', app]);
      expect(s.volumes, app).toContain('.:/app');
    }
  });

  it('gives the apps valid backlog connection settings (checked by @backlog/platform-config)', () => {
    for (const app of APPS) {
      const env = envOf(services[app] as Service);
      const cfg = loadConfig({ app: 'cli', schema: connectionSettingsSchema, env });
      expect(cfg.kafka.brokers, app).toEqual(['kafka:19092']);
      expect(cfg.search.url, app).toBe('http://elasticsearch:9200');
      expect(cfg.s3, app).toMatchObject({ endpoint: 'http://minio:9000', bucket: 'backlog', forcePathStyle: true });
      expect(cfg.redis.url, app).toBe('redis://redis:6379');
      // The S3 credentials match MinIO's root user, and the bucket is the one minio-init creates.
      const minio = envOf(services.minio as Service);
      expect([cfg.s3.accessKeyId, cfg.s3.secretAccessKey]).toEqual([minio.MINIO_ROOT_USER, minio.MINIO_ROOT_PASSWORD]);
      expect(String(services['minio-init']?.command)).toContain(`local/${cfg.s3.bucket}`);
    }
  });

  it("sets an app's own variables only under its own prefix (BACKLOG_<APP>_…), e.g. its listen hosts", () => {
    const prefixes = APPS.map((a) => `BACKLOG_${a.toUpperCase().replace(/-/g, '_')}_`);
    APPS.forEach((app, i) => {
      for (const name of Object.keys(envOf(services[app] as Service))) {
        const other = prefixes.find((p, j) => j !== i && name.startsWith(p));
        expect(other, `${app} sets ${name}`).toBeUndefined();
      }
    });
    expect(envOf(services['live-receiver'] as Service).BACKLOG_LIVE_RECEIVER_HTTP_HOST).toBe('0.0.0.0');
  });

  it('declares every named volume it mounts', () => {
    for (const [name, s] of Object.entries(services)) {
      for (const v of (s as { volumes?: string[] }).volumes ?? []) {
        const src = v.split(':')[0] ?? '';
        if (!src.startsWith('.') && !src.startsWith('/')) expect(compose.volumes ?? {}, `${name}: ${v}`).toHaveProperty([src]);
      }
    }
  });

  // Compose's own validation, where the plugin exists (it needs no daemon for `config`).
  const composeCheck = (() => {
    try {
      execFileSync('docker', ['compose', 'version'], { stdio: 'ignore', timeout: 10_000 });
      return { ok: true, why: '' };
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      return { ok: false, why: code === 'ENOENT' ? 'no docker CLI on this machine' : 'the docker CLI has no compose plugin on this machine' };
    }
  })();
  it.skipIf(!composeCheck.ok)(`passes \`docker compose config\`${composeCheck.ok ? '' : ` (skipped: ${composeCheck.why})`}`, () => {
    for (const profile of [[], ['--profile', 'opensearch']]) {
      const out = execFileSync('docker', ['compose', '-f', file, ...profile, 'config', '--quiet'], { cwd: root, encoding: 'utf8', timeout: 60_000 });
      expect(out).toBe('');
    }
  });
});
