import { existsSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * Where the local stack lives and which loopback ports it uses. Defaults follow DESIGN.md
 * ("Default ports"); every value can be overridden by an environment variable so that a
 * second stack (or a busy port) never needs a code change.
 */
export interface StackConfig {
  /** Repository root (holds deploy/local/*). */
  root: string;
  /** All state: data dirs, logs, pid files, resolved classpaths. Default `<root>/.backlog/stack`. */
  dir: string;
  host: '127.0.0.1';
  kafka: { port: number; controllerPort: number; heapMb: number };
  search: { port: number; transportPort: number; heapMb: number };
  /**
   * The Elasticsearch 8 node beside OpenSearch (ADR 0017): on by default so that every test run
   * exercises the production engine too; `BACKLOG_ES8=off` leaves it out of up/down/status.
   */
  es8: { enabled: boolean; port: number; transportPort: number; heapMb: number };
  s3: { port: number; heapMb: number; bucket: string; accessKeyId: string; secretAccessKey: string; region: string };
  redis: { port: number };
  /** Seconds to wait for one server to become healthy. */
  startTimeoutS: number;
}

export function repoRoot(): string {
  if (process.env.BACKLOG_ROOT) return resolve(process.env.BACKLOG_ROOT);
  // libs/platform/stack/src → repo root, without relying on the caller's cwd.
  let dir = dirname(fileURLToPath(import.meta.url));
  while (!existsSync(join(dir, 'nx.json'))) {
    const up = dirname(dir);
    if (up === dir) return process.cwd();
    dir = up;
  }
  return dir;
}

function onOff(name: string, fallback: boolean, problems: string[]): boolean {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  if (/^(on|1|true|yes)$/i.test(raw)) return true;
  if (/^(off|0|false|no)$/i.test(raw)) return false;
  problems.push(`${name}=${raw} must be on or off`);
  return fallback;
}

function int(name: string, fallback: number, problems: string[]): number {
  const raw = process.env[name];
  if (raw === undefined || raw === '') return fallback;
  const n = Number(raw);
  if (!Number.isInteger(n) || n < 1 || n > 65535) {
    problems.push(`${name}=${raw} is not a port/number between 1 and 65535`);
    return fallback;
  }
  return n;
}

export function loadStackConfig(): StackConfig {
  const root = repoRoot();
  const problems: string[] = [];
  const cfg: StackConfig = {
    root,
    dir: resolve(process.env.BACKLOG_STACK_DIR ?? join(root, '.backlog', 'stack')),
    host: '127.0.0.1',
    kafka: {
      port: int('BACKLOG_KAFKA_PORT', 9092, problems),
      controllerPort: int('BACKLOG_KAFKA_CONTROLLER_PORT', 9093, problems),
      heapMb: int('BACKLOG_KAFKA_HEAP_MB', 768, problems),
    },
    search: {
      port: int('BACKLOG_SEARCH_PORT', 9200, problems),
      transportPort: int('BACKLOG_SEARCH_TRANSPORT_PORT', 9300, problems),
      heapMb: int('BACKLOG_SEARCH_HEAP_MB', 1024, problems),
    },
    es8: {
      enabled: onOff('BACKLOG_ES8', true, problems),
      port: int('BACKLOG_ES8_PORT', 9201, problems),
      transportPort: int('BACKLOG_ES8_TRANSPORT_PORT', 9301, problems),
      heapMb: int('BACKLOG_ES8_HEAP_MB', 768, problems),
    },
    s3: {
      port: int('BACKLOG_S3_PORT', 9000, problems),
      heapMb: int('BACKLOG_S3_HEAP_MB', 256, problems),
      bucket: process.env.BACKLOG_S3_BUCKET ?? 'backlog',
      accessKeyId: 'backlog',
      secretAccessKey: 'backlog-secret',
      region: 'us-east-1',
    },
    redis: { port: int('BACKLOG_REDIS_PORT', 6379, problems) },
    startTimeoutS: int('BACKLOG_STACK_START_TIMEOUT_S', 180, problems),
  };
  const ports = [cfg.kafka.port, cfg.kafka.controllerPort, cfg.search.port, cfg.search.transportPort, cfg.s3.port, cfg.redis.port];
  if (cfg.es8.enabled) ports.push(cfg.es8.port, cfg.es8.transportPort);
  if (new Set(ports).size !== ports.length) problems.push(`stack ports must differ, got ${ports.join(', ')}`);
  if (problems.length) throw new Error(`invalid local stack configuration:\n  - ${problems.join('\n  - ')}`);
  return cfg;
}

/** Connection details handed to apps and tests. */
export interface StackInfo {
  kafka: { brokers: string[] };
  search: { url: string; engine: 'opensearch' | 'elasticsearch' };
  /** The Elasticsearch 8 node of the stack, when it is part of it (`BACKLOG_ES8`, default on). */
  elasticsearch?: { url: string };
  s3: { endpoint: string; region: string; bucket: string; accessKeyId: string; secretAccessKey: string; forcePathStyle: true };
  redis: { url: string };
}

export function stackInfoFromConfig(cfg: StackConfig): StackInfo {
  return {
    kafka: { brokers: [`${cfg.host}:${cfg.kafka.port}`] },
    search: { url: `http://${cfg.host}:${cfg.search.port}`, engine: 'opensearch' },
    ...(cfg.es8.enabled ? { elasticsearch: { url: `http://${cfg.host}:${cfg.es8.port}` } } : {}),
    s3: {
      endpoint: `http://${cfg.host}:${cfg.s3.port}`,
      region: cfg.s3.region,
      bucket: cfg.s3.bucket,
      accessKeyId: cfg.s3.accessKeyId,
      secretAccessKey: cfg.s3.secretAccessKey,
      forcePathStyle: true,
    },
    redis: { url: `redis://${cfg.host}:${cfg.redis.port}` },
  };
}
