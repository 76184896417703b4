// Structure of deploy/k8s (no cluster here): every manifest parses, names what it must, and agrees with
// the apps it runs — each app's ConfigMap and environment load through that app's own config schema
// (@backlog/platform-config loadConfig, as main.ts does), probes and Prometheus annotations point at the
// port the config gives /healthz and /metrics, listeners bind all interfaces on the ports the container
// declares, Services select existing pods and name existing ports. docker-compose.yml's app environment
// goes through the same schemas.
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { parse, parseAllDocuments } from 'yaml';
import type { z } from 'zod';
import { loadConfig } from '@backlog/platform-config';
import { repoRoot } from '@backlog/testing';
import { compressorConfigSchema } from '../../apps/compressor/src/config';
import { esConsumerConfigSchema } from '../../apps/es-consumer/src/config';
import { harvesterConfigSchema } from '../../apps/harvester/src/config';
import { crossCheck as indexerCrossCheck, indexerConfigSchema } from '../../apps/indexer/src/config';
import { liveReceiverConfigSchema } from '../../apps/live-receiver/src/config';
import { gatewayConfigSchema } from '../../apps/nacl-gateway/src/config';

const root = repoRoot();
const dir = join(root, 'deploy', 'k8s');
const scratch = mkdtempSync(join(tmpdir(), 'k8s-test-'));
afterAll(() => rmSync(scratch, { recursive: true, force: true }));

interface Meta {
  name: string;
  namespace?: string;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
}
interface Port {
  name?: string;
  containerPort: number;
  hostPort?: number;
  protocol?: string;
}
interface Probe {
  httpGet?: { path: string; port: number | string };
}
interface EnvVar {
  name: string;
  value?: string;
  valueFrom?: unknown;
}
interface Container {
  name: string;
  image?: string;
  args?: string[];
  env?: EnvVar[];
  envFrom?: { configMapRef?: { name: string }; secretRef?: { name: string } }[];
  ports?: Port[];
  resources?: { requests?: Record<string, string>; limits?: Record<string, string> };
  readinessProbe?: Probe;
  livenessProbe?: Probe;
  startupProbe?: Probe;
  volumeMounts?: { name: string; mountPath: string; readOnly?: boolean }[];
}
interface PodSpec {
  containers: Container[];
  volumes?: { name: string; configMap?: { name: string }; secret?: { secretName: string }; hostPath?: { path: string }; emptyDir?: unknown }[];
  terminationGracePeriodSeconds?: number;
}
interface Obj {
  apiVersion: string;
  kind: string;
  metadata: Meta;
  data?: Record<string, string>;
  stringData?: Record<string, string>;
  spec?: {
    selector?: { matchLabels?: Record<string, string> } & Record<string, string>;
    template?: { metadata: Meta; spec: PodSpec };
    ports?: { name?: string; port: number; targetPort?: number | string; protocol?: string }[];
    type?: string;
  };
}

const files = readdirSync(dir)
  .filter((f) => f.endsWith('.yaml') && f !== 'kustomization.yaml')
  .sort();
const objects: (Obj & { file: string })[] = files.flatMap((f) =>
  parseAllDocuments(readFileSync(join(dir, f), 'utf8')).map((d) => {
    if (d.errors.length) throw new Error(`${f}: ${d.errors[0]?.message}`);
    return { ...(d.toJS() as Obj), file: f };
  }),
);
const byKind = (kind: string) => objects.filter((o) => o.kind === kind);
const find = (kind: string, name: string) => objects.find((o) => o.kind === kind && o.metadata.name === name);

const APPS: { app: string; kind: 'Deployment' | 'DaemonSet'; schema?: z.ZodType; metricsPort: number; stopMs: number }[] = [
  { app: 'harvester', kind: 'DaemonSet', schema: harvesterConfigSchema, metricsPort: 9101, stopMs: 10_000 },
  { app: 'nacl-gateway', kind: 'Deployment', schema: gatewayConfigSchema, metricsPort: 9102, stopMs: 10_000 },
  { app: 'es-consumer', kind: 'Deployment', schema: esConsumerConfigSchema, metricsPort: 9103, stopMs: 30_000 },
  { app: 'compressor', kind: 'Deployment', schema: compressorConfigSchema, metricsPort: 9104, stopMs: 20_000 },
  { app: 'indexer', kind: 'Deployment', metricsPort: 9105, stopMs: 15_000 },
  { app: 'live-receiver', kind: 'Deployment', schema: liveReceiverConfigSchema, metricsPort: 9106, stopMs: 5_000 },
];
/** Objects the operator creates (keys and tokens must never be in git); referenced but not shipped. */
const CREATED_BY_OPERATOR = new Set(['Secret/nacl-gateway-key', 'Secret/indexer-token', 'Secret/live-receiver-token']);

/** The indexer is newer than this test: its schema is loaded at run time when it exists. */
const workload = (app: string) => objects.find((o) => (o.kind === 'Deployment' || o.kind === 'DaemonSet') && o.metadata.name === app);
const envPrefix = (app: string) => `BACKLOG_${app.toUpperCase().replace(/-/g, '_')}_`;

/** The environment a container gets (envFrom ConfigMaps/Secrets, then env); valueFrom fields get a stand-in. */
function containerEnv(c: Container): Record<string, string> {
  const env: Record<string, string> = {};
  for (const from of c.envFrom ?? []) {
    const src = from.configMapRef ? find('ConfigMap', from.configMapRef.name) : from.secretRef ? find('Secret', from.secretRef.name) : undefined;
    Object.assign(env, src?.data ?? {}, src?.stringData ?? {});
  }
  for (const e of c.env ?? []) env[e.name] = e.value ?? 'node-1';
  return env;
}

/** Loads the app's config exactly as main.ts would inside the pod: the mounted ConfigMap file + the container env. */
function effectiveConfig(app: string, schema: z.ZodType): Record<string, unknown> & { metrics: { host: string; port: number } } {
  const w = workload(app) as Obj;
  const c = w.spec?.template?.spec.containers[0] as Container;
  const env = containerEnv(c);
  const file = env[`${envPrefix(app)}CONFIG`];
  if (!file) throw new Error(`${app}: no ${envPrefix(app)}CONFIG in the container env`);
  // The file is a key of a ConfigMap mounted at the file's directory.
  const mount = (c.volumeMounts ?? []).find((m) => file.startsWith(`${m.mountPath}/`));
  const vol = w.spec?.template?.spec.volumes?.find((v) => v.name === mount?.name);
  const cm = vol?.configMap ? find('ConfigMap', vol.configMap.name) : undefined;
  const text = cm?.data?.[file.slice((mount?.mountPath.length ?? 0) + 1)];
  if (text === undefined) throw new Error(`${app}: ${file} is not a key of a ConfigMap mounted at its directory`);
  const local = join(scratch, `${app}.yaml`);
  writeFileSync(local, text);
  return loadConfig({ app, schema, env: { ...env, [`${envPrefix(app)}CONFIG`]: local } }) as unknown as Record<string, unknown> & { metrics: { host: string; port: number } };
}

/** `100m` → 0.1, `2` → 2 (CPU); `256Mi` → bytes (memory). */
function quantity(q: string): number {
  const m = /^(\d+(?:\.\d+)?)(m|Ki|Mi|Gi|Ti|k|M|G)?$/.exec(q);
  if (!m) throw new Error(`not a quantity: ${q}`);
  const f: Record<string, number> = { m: 1e-3, Ki: 2 ** 10, Mi: 2 ** 20, Gi: 2 ** 30, Ti: 2 ** 40, k: 1e3, M: 1e6, G: 1e9 };
  return Number(m[1]) * (m[2] ? (f[m[2]] as number) : 1);
}

describe('deploy/k8s manifests', () => {
  it('parse, and every object has apiVersion, kind, a name and the backlog namespace', () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    const API: Record<string, string> = { Namespace: 'v1', ConfigMap: 'v1', Secret: 'v1', Service: 'v1', Deployment: 'apps/v1', DaemonSet: 'apps/v1' };
    for (const o of objects) {
      expect(API[o.kind], `${o.file}: kind ${o.kind}`).toBe(o.apiVersion);
      expect(o.metadata?.name, o.file).toMatch(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/);
      if (o.kind !== 'Namespace') expect(o.metadata.namespace, `${o.file} ${o.kind}/${o.metadata.name}`).toBe('backlog');
      expect(o.metadata.labels?.['app.kubernetes.io/part-of'], `${o.kind}/${o.metadata.name}`).toBe('backlog');
    }
    expect(find('Namespace', 'backlog')).toBeDefined();
    const keys = objects.map((o) => `${o.kind}/${o.metadata.name}`);
    expect(new Set(keys).size, 'duplicate objects').toBe(keys.length);
  });

  it('kustomization.yaml lists exactly the manifests of the folder', () => {
    const k = parse(readFileSync(join(dir, 'kustomization.yaml'), 'utf8')) as { resources: string[]; namespace: string; images?: { name: string }[] };
    expect([...k.resources].sort()).toEqual(files);
    expect(k.namespace).toBe('backlog');
    // The image every workload uses can be overridden in one place.
    for (const w of [...byKind('Deployment'), ...byKind('DaemonSet')])
      expect(
        k.images?.map((i) => i.name),
        w.metadata.name,
      ).toContain(w.spec?.template?.spec.containers[0]?.image?.split(':')[0]);
  });

  it('runs the harvester as a DaemonSet and the other five apps as Deployments, each with its own entry point', () => {
    for (const a of APPS) {
      const w = workload(a.app);
      expect(w?.kind, a.app).toBe(a.kind);
      const c = w?.spec?.template?.spec.containers ?? [];
      expect(c, a.app).toHaveLength(1);
      expect(c[0]?.args, a.app).toEqual([`apps/${a.app}/src/main.ts`]);
      if (a.app !== 'indexer') expect(existsSync(join(root, 'apps', a.app, 'src', 'main.ts')), a.app).toBe(true);
    }
  });

  it('selects its own pods, labels them for Prometheus discovery (deploy/prometheus/prometheus-k8s.yml), and annotates the metrics port', () => {
    for (const a of APPS) {
      const w = workload(a.app) as Obj;
      const labels = w.spec?.template?.metadata.labels ?? {};
      for (const [k, v] of Object.entries(w.spec?.selector?.matchLabels ?? {})) expect(labels[k], `${a.app} selector ${k}`).toBe(v);
      expect(labels['app.kubernetes.io/name'], a.app).toBe(a.app);
      expect(labels['app.kubernetes.io/part-of'], a.app).toBe('backlog');
      expect(labels['backlog.dev/env'], a.app).toMatch(/^[a-z0-9][a-z0-9_-]*$/);
      const ann = w.spec?.template?.metadata.annotations ?? {};
      expect(ann, a.app).toMatchObject({ 'prometheus.io/scrape': 'true', 'prometheus.io/port': String(a.metricsPort), 'prometheus.io/path': '/metrics' });
    }
  });

  it('gives every container CPU and memory requests and limits (request ≤ limit), and a grace period that covers its stop deadline', () => {
    for (const a of APPS) {
      const spec = workload(a.app)?.spec?.template?.spec as PodSpec;
      for (const c of spec.containers) {
        for (const r of ['cpu', 'memory']) {
          const req = c.resources?.requests?.[r];
          const lim = c.resources?.limits?.[r];
          expect(req && lim, `${a.app} ${r}`).toBeTruthy();
          expect(quantity(req as string), `${a.app} ${r}`).toBeLessThanOrEqual(quantity(lim as string));
        }
      }
      expect((spec.terminationGracePeriodSeconds ?? 30) * 1000, a.app).toBeGreaterThan(a.stopMs);
    }
  });

  it("probes readiness at /healthz and liveness (and start-up) at /livez, on the app's metrics port (DESIGN.md 9101-9106), which it declares", () => {
    for (const a of APPS) {
      const c = workload(a.app)?.spec?.template?.spec.containers[0] as Container;
      const resolve = (p: number | string) => (typeof p === 'number' ? p : c.ports?.find((x) => x.name === p)?.containerPort);
      expect(c.readinessProbe?.httpGet, `${a.app} readiness`).toBeDefined();
      expect(c.livenessProbe?.httpGet, `${a.app} liveness`).toBeDefined();
      // /healthz fails while a server the app needs is down (Kafka, Redis, the search engine): that takes
      // the pod out of service; restarting it would not help, so liveness asks /livez (platform-telemetry).
      expect(c.readinessProbe?.httpGet?.path, `${a.app} readiness`).toBe('/healthz');
      expect(c.livenessProbe?.httpGet?.path, `${a.app} liveness`).toBe('/livez');
      if (c.startupProbe) expect(c.startupProbe.httpGet?.path, `${a.app} start-up`).toBe('/livez');
      for (const probe of [c.readinessProbe, c.livenessProbe, c.startupProbe].filter(Boolean) as Probe[]) {
        expect(resolve(probe.httpGet?.port as number | string), a.app).toBe(a.metricsPort);
      }
    }
  });

  it('nacl-gateway: a heap cap, from which its default byte budget (maxBufferedBytes) is sized', () => {
    const c = workload('nacl-gateway')?.spec?.template?.spec.containers[0] as Container;
    expect(containerEnv(c).NODE_OPTIONS).toBe('--max-old-space-size=128');
  });

  it('mounts only defined volumes, and references ConfigMaps and Secrets that exist (or that the operator creates)', () => {
    for (const a of APPS) {
      const spec = workload(a.app)?.spec?.template?.spec as PodSpec;
      const vols = new Set((spec.volumes ?? []).map((v) => v.name));
      for (const c of spec.containers) {
        for (const m of c.volumeMounts ?? []) expect(vols.has(m.name), `${a.app} mounts ${m.name}`).toBe(true);
        for (const from of c.envFrom ?? []) {
          const ref = from.configMapRef ? `ConfigMap/${from.configMapRef.name}` : `Secret/${from.secretRef?.name}`;
          expect(Boolean(objects.find((o) => `${o.kind}/${o.metadata.name}` === ref)), `${a.app} envFrom ${ref}`).toBe(true);
        }
      }
      for (const v of spec.volumes ?? []) {
        const ref = v.configMap ? `ConfigMap/${v.configMap.name}` : v.secret ? `Secret/${v.secret.secretName}` : undefined;
        if (ref) expect(CREATED_BY_OPERATOR.has(ref) || objects.some((o) => `${o.kind}/${o.metadata.name}` === ref), `${a.app} volume ${ref}`).toBe(true);
      }
    }
  });

  for (const a of APPS.filter((x) => x.schema)) {
    it(`${a.app}: its ConfigMap and environment are valid for apps/${a.app}'s config schema; metrics and listeners bind 0.0.0.0 on the declared ports`, () => {
      const cfg = effectiveConfig(a.app, a.schema as z.ZodType);
      expect(cfg.metrics).toEqual({ host: '0.0.0.0', port: a.metricsPort });
      const c = workload(a.app)?.spec?.template?.spec.containers[0] as Container;
      const declared = (port: number, proto = 'TCP') => (c.ports ?? []).find((p) => p.containerPort === port && (p.protocol ?? 'TCP') === proto);
      expect(declared(a.metricsPort), `${a.app} declares ${a.metricsPort}`).toBeDefined();
      const listeners: { host: string; port: number; proto: string }[] = [];
      if (a.app === 'harvester') {
        const inputs = cfg.inputs as { type: string; host?: string; port?: number }[];
        for (const i of inputs) if (i.port !== undefined) listeners.push({ host: i.host as string, port: i.port, proto: i.type === 'syslog_udp' ? 'UDP' : 'TCP' });
      }
      if (a.app === 'nacl-gateway') listeners.push({ ...(cfg.listen as { host: string; port: number }), proto: 'TCP' });
      if (a.app === 'live-receiver') {
        listeners.push({ ...(cfg.udp as { host: string; port: number }), proto: 'UDP' });
        listeners.push({ ...(cfg.http as { host: string; port: number }), proto: 'TCP' });
      }
      for (const l of listeners) {
        expect(l.host, `${a.app} ${l.proto} ${l.port}`).toBe('0.0.0.0');
        expect(declared(l.port, l.proto), `${a.app} declares ${l.port}/${l.proto}`).toBeDefined();
      }
    });
  }

  it('ships no token: each app reads it from a Secret the operator creates, mounted as a file only its user may read', () => {
    for (const o of byKind('Secret')) {
      for (const k of Object.keys({ ...o.data, ...o.stringData })) expect(/TOKEN/i.test(k), `Secret/${o.metadata.name} holds ${k}`).toBe(false);
    }
    for (const [app, setting, secret] of [
      ['indexer', 'api', 'indexer-token'],
      ['live-receiver', 'auth', 'live-receiver-token'],
    ] as const) {
      const w = workload(app) as Obj;
      const spec = w.spec?.template?.spec as PodSpec & { securityContext?: { fsGroup?: number; runAsUser?: number } };
      const vol = spec.volumes?.find((v) => v.secret?.secretName === secret) as { name: string; secret: { secretName: string; defaultMode?: number } };
      expect(vol, `${app} mounts Secret/${secret}`).toBeDefined();
      // 0400 root-owned, plus read for the pod's group (fsGroup): what readTokenFile accepts for a root-owned file.
      // `defaultMode: 0400` is octal to kubectl (YAML 1.1); the yaml package reads YAML 1.2, where it is 400.
      expect([0o400, 400]).toContain(vol.secret.defaultMode);
      expect(spec.securityContext?.fsGroup).toBe(spec.securityContext?.runAsUser);
      const mount = spec.containers[0]?.volumeMounts?.find((m) => m.name === vol.name);
      expect(mount?.readOnly).toBe(true);
      const cfg = (app === 'indexer' ? effectiveConfig(app, indexerConfigSchema) : effectiveConfig(app, liveReceiverConfigSchema)) as Record<string, { tokenFile?: string; token?: string }>;
      expect(cfg[setting]?.token, app).toBeUndefined();
      expect(cfg[setting]?.tokenFile?.startsWith(`${mount?.mountPath}/`), `${app} ${setting}.tokenFile under the Secret's mount`).toBe(true);
    }
    // No placeholder token anywhere in the folder.
    for (const f of files) expect(readFileSync(join(dir, f), 'utf8'), f).not.toMatch(/REPLACE_ME_WITH|change-?me/i);
  });

  it("indexer: its ConfigMap and environment are valid for apps/indexer's config schema", async () => {
    const cfg = effectiveConfig('indexer', indexerConfigSchema);
    expect(cfg.metrics).toEqual({ host: '0.0.0.0', port: 9105 });
    // The API listens on all interfaces at the port the container (and the Service) names.
    const api = cfg.api as { host: string; port: number } | undefined;
    expect(api).toMatchObject({ host: '0.0.0.0', port: 8081 });
    const c = workload('indexer')?.spec?.template?.spec.containers[0] as Container;
    expect(c.ports?.find((p) => p.name === 'api')?.containerPort).toBe(8081);
    // The checks main.ts adds to the schema's (a token off loopback, …).
    expect(indexerCrossCheck(cfg as never)).toEqual([]);
  });

  it('harvester: hostPorts for syslog UDP+TCP 5514, JSON 5170, HTTP 8080; spool and state on a hostPath; host.name from the node', () => {
    const w = workload('harvester') as Obj;
    const c = w.spec?.template?.spec.containers[0] as Container;
    const host = (c.ports ?? [])
      .filter((p) => p.hostPort)
      .map((p) => `${p.hostPort}/${p.protocol ?? 'TCP'}`)
      .sort();
    expect(host).toEqual(['5170/TCP', '5514/TCP', '5514/UDP', '8080/TCP']);
    const cfg = effectiveConfig('harvester', harvesterConfigSchema) as unknown as { shipping: { spool: { dir: string } }; stateDir: string; host: { name: string } };
    const hostPathMounts = (c.volumeMounts ?? []).filter((m) => w.spec?.template?.spec.volumes?.find((v) => v.name === m.name)?.hostPath && !m.readOnly);
    for (const path of [cfg.shipping.spool.dir, cfg.stateDir])
      expect(
        hostPathMounts.some((m) => path.startsWith(`${m.mountPath}/`)),
        path,
      ).toBe(true);
    expect((c.env ?? []).find((e) => e.name === 'BACKLOG_HARVESTER_HOST_NAME')?.valueFrom).toEqual({ fieldRef: { fieldPath: 'spec.nodeName' } });
    // File inputs read from read-only host mounts.
    const inputs = (cfg as unknown as { inputs: { type: string; paths?: string[] }[] }).inputs;
    for (const i of inputs.filter((x) => x.type === 'file'))
      for (const p of i.paths ?? [])
        expect(
          (c.volumeMounts ?? []).some((m) => m.readOnly && p.startsWith(`${m.mountPath}/`)),
          p,
        ).toBe(true);
  });

  it('Services select the pods of an existing workload and target ports those pods declare, with the same protocol', () => {
    const services = byKind('Service');
    expect(services.map((s) => s.metadata.name).sort()).toEqual(['indexer', 'live-receiver', 'nacl-gateway']);
    for (const s of services) {
      const sel = s.spec?.selector ?? {};
      const pods = [...byKind('Deployment'), ...byKind('DaemonSet')].filter((w) => Object.entries(sel).every(([k, v]) => w.spec?.template?.metadata.labels?.[k] === v));
      expect(pods.length, `Service ${s.metadata.name} selects no pods`).toBeGreaterThan(0);
      const ports = pods.flatMap((p) => p.spec?.template?.spec.containers.flatMap((c) => c.ports ?? []) ?? []);
      for (const sp of s.spec?.ports ?? []) {
        const target = sp.targetPort ?? sp.port;
        const hit = ports.find((p) => (typeof target === 'number' ? p.containerPort === target : p.name === target));
        expect(hit, `${s.metadata.name} → ${target}`).toBeDefined();
        expect(hit?.protocol ?? 'TCP', `${s.metadata.name} ${sp.name}`).toBe(sp.protocol ?? 'TCP');
      }
    }
    // DESIGN.md ports: indexer API 8081, live page 8082 + datagrams 5515/UDP, sealed frames 5516.
    const ports = (name: string) => (find('Service', name)?.spec?.ports ?? []).map((p) => `${p.port}/${p.protocol ?? 'TCP'}`).sort();
    expect(ports('indexer')).toEqual(['8081/TCP']);
    expect(ports('live-receiver')).toEqual(['5515/UDP', '8082/TCP']);
    expect(ports('nacl-gateway')).toEqual(['5516/TCP']);
  });
});

describe('docker-compose.yml app environment', () => {
  const compose = parse(readFileSync(join(root, 'docker-compose.yml'), 'utf8'), { merge: true }) as {
    services: Record<string, { environment?: Record<string, string | number | boolean>; command?: string[] }>;
  };
  /** The service's environment as Compose passes it, `${VAR:-default}` taken at its default. */
  const composeEnv = (app: string) => Object.fromEntries(Object.entries(compose.services[app]?.environment ?? {}).map(([k, v]) => [k, String(v).replace(/\$\{[A-Z0-9_]+:-([^}]*)\}/g, '$1')]));
  it('indexer: valid for its own config schema, listening on all interfaces', () => {
    const cfg = loadConfig({ app: 'indexer', schema: indexerConfigSchema, env: composeEnv('indexer') });
    expect(cfg.metrics).toEqual({ host: '0.0.0.0', port: 9105 });
    expect(cfg.api).toMatchObject({ host: '0.0.0.0', port: 8081 });
    expect(indexerCrossCheck(cfg)).toEqual([]);
  });
  for (const a of APPS.filter((x) => x.schema)) {
    it(`${a.app}: valid for its own config schema, listening on all interfaces`, () => {
      const env = composeEnv(a.app);
      // The gateway's key is configured by the operator (dev-config or a key file): stand one in.
      if (a.app === 'nacl-gateway') env.BACKLOG_NACL_GATEWAY_KEYS_SECRET_KEY ??= `${'A'.repeat(43)}=`;
      const cfg = loadConfig({ app: a.app, schema: a.schema as z.ZodType, env }) as { metrics: { host: string; port: number } };
      expect(cfg.metrics, a.app).toEqual({ host: '0.0.0.0', port: a.metricsPort });
    });
  }
});
