import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { beforeAll, describe, expect, it } from 'vitest';
import { z } from 'zod';
import { ConfigError, type ConfigProblem, appConfigSchema, connectionSettingsSchema, configKeys, envSegment, loadConfig, redact } from './index';

// A small app schema in the shape real apps use: shared connection settings plus own keys.
const schema = appConfigSchema({
  http: z
    .object({
      /** TCP port. */
      port: z.number().int().min(1).max(65535).default(8080),
      host: z.string().default('127.0.0.1'),
    })
    .strict()
    .prefault({}),
  batch: z
    .object({
      flushMs: z.number().int().positive().default(30_000),
      maxKiB: z.number().int().positive().default(900),
      gzip: z.boolean().default(true),
    })
    .strict()
    .prefault({}),
  inputs: z.array(z.string()).default(['syslog_udp']),
  labels: z.record(z.string(), z.string()).default({}),
});

let dir: string;
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'backlog-config-'));
});
function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}
function problemsOf(fn: () => unknown): ConfigProblem[] {
  try {
    fn();
  } catch (err) {
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).code).toBe('CONFIG_INVALID');
    expect((err as ConfigError).retriable).toBe(false);
    return [...(err as ConfigError).problems];
  }
  throw new Error('expected a ConfigError');
}

describe('loadConfig', () => {
  it('gives the local-stack defaults with no file and no environment', () => {
    const cfg = loadConfig({ app: 'harvester', schema, env: {} });
    expect(cfg.env).toBe('dev');
    expect(cfg.kafka.brokers).toEqual(['127.0.0.1:9092']);
    expect(cfg.search).toMatchObject({ url: 'http://127.0.0.1:9200', engine: 'auto', tls: { rejectUnauthorized: true } });
    expect(cfg.s3).toEqual({ endpoint: 'http://127.0.0.1:9000', region: 'us-east-1', bucket: 'backlog', accessKeyId: 'backlog', secretAccessKey: 'backlog-secret', forcePathStyle: true });
    expect(cfg.redis.url).toBe('redis://127.0.0.1:6379');
    expect(cfg.http.port).toBe(8080);
    expect(cfg.batch).toEqual({ flushMs: 30_000, maxKiB: 900, gzip: true });
  });

  it('lists EVERY problem at once, with its path and where the value came from', () => {
    const f = file('bad.yaml', ['env: PROD', 'kafka:', '  brokers: [nohostport]', 'http:', '  port: 70000', 'search:', '  url: ftp://x', '  username: elastic'].join('\n'));
    const problems = problemsOf(() => loadConfig({ app: 'harvester', schema, file: f, env: { BACKLOG_HARVESTER_BATCH_FLUSH_MS: 'soon', BACKLOG_HARVESTER_BATCH_GZIP: 'maybe' } }));
    const paths = problems.map((p) => p.path).sort();
    expect(paths).toEqual(['batch.flushMs', 'batch.gzip', 'env', 'http.port', 'kafka.brokers.0', 'search.password', 'search.url'].sort());
    expect(problems.find((p) => p.path === 'http.port')?.source).toBe(`file ${f}`);
    expect(problems.find((p) => p.path === 'batch.flushMs')).toMatchObject({ source: 'env BACKLOG_HARVESTER_BATCH_FLUSH_MS', message: 'expected a number, got "soon"' });
    // The thrown message carries them all, one per line, for main.ts to print.
    let msg = '';
    expect(() => {
      try {
        loadConfig({ app: 'harvester', schema, file: f, env: {} });
      } catch (err) {
        msg = (err as Error).message;
        throw err;
      }
    }).toThrow(ConfigError);
    expect(msg).toMatch(/^invalid configuration for harvester \(5 problems\):/);
    for (const p of ['env', 'kafka.brokers.0', 'http.port', 'search.url', 'search.password']) expect(msg).toContain(`  - ${p}: `);
  });

  it('rejects unknown keys at every level, in the file and under the app env prefix', () => {
    const f = file('unknown.yaml', 'kafak:\n  brokers: [a:1]\nhttp:\n  port: 1\n  prot: 2\ns3:\n  bucket: logs\n  sessionToken: x\n');
    const problems = problemsOf(() => loadConfig({ app: 'es-consumer', schema, file: f, env: { BACKLOG_ES_CONSUMER_HTTP_PROT: '3', BACKLOG_KAFKA_PORT: '9092' } }));
    const unknown = problems.map((p) => `${p.path}: ${p.message}`);
    expect(unknown).toContain('kafak: unknown key');
    expect(unknown).toContain('http.prot: unknown key');
    expect(unknown).toContain('s3.sessionToken: unknown key');
    // A typo in a variable is an error too, with a suggestion; BACKLOG_KAFKA_PORT (a stack setting
    // under the shared prefix) is not ours to judge and is ignored.
    const envProblem = problems.find((p) => p.source === 'env BACKLOG_ES_CONSUMER_HTTP_PROT');
    expect(envProblem?.message).toMatch(/unknown setting; did you mean BACKLOG_ES_CONSUMER_HTTP_PORT/);
    expect(problems).toHaveLength(4);
  });

  it('layers defaults < file < shared env < app env', () => {
    const f = file('layers.yaml', 'env: staging\nkafka:\n  brokers: [file:9092]\nhttp:\n  port: 1111\n  host: 0.0.0.0\nbatch:\n  maxKiB: 500\n');
    const cfg = loadConfig({
      app: 'harvester',
      schema,
      file: f,
      defaults: { http: { port: 1, host: 'defaults' }, batch: { flushMs: 5 } },
      env: {
        BACKLOG_KAFKA_BROKERS: 'shared-1:9092, shared-2:9092',
        BACKLOG_HARVESTER_HTTP_PORT: '2222',
        BACKLOG_SEARCH_URL: 'https://search.example:9243',
        BACKLOG_HARVESTER_SEARCH_URL: 'https://mine.example:9200',
        BACKLOG_S3_FORCE_PATH_STYLE: 'false',
        BACKLOG_HARVESTER_INPUTS: 'syslog_udp,file',
        BACKLOG_HARVESTER_LABELS: '{"dc":"eu-1"}',
        BACKLOG_HARVESTER_BATCH_GZIP: '',
      },
    });
    expect(cfg.env).toBe('staging'); // file over schema default
    expect(cfg.kafka.brokers).toEqual(['shared-1:9092', 'shared-2:9092']); // shared env over file, comma list
    expect(cfg.http).toEqual({ port: 2222, host: '0.0.0.0' }); // app env over file over defaults
    expect(cfg.batch).toEqual({ flushMs: 5, maxKiB: 500, gzip: true }); // defaults kept; empty env = unset
    expect(cfg.search.url).toBe('https://mine.example:9200'); // app env over shared env
    expect(cfg.s3.forcePathStyle).toBe(false);
    expect(cfg.inputs).toEqual(['syslog_udp', 'file']);
    expect(cfg.labels).toEqual({ dc: 'eu-1' });
  });

  it('finds the file through BACKLOG_<APP>_CONFIG, then BACKLOG_CONFIG, and takes the app section of a shared file', () => {
    const shared = file('deploy.yaml', 'env: prod\nsearch:\n  url: https://es:9200\n  apiKey: abc\napps:\n  harvester:\n    http:\n      port: 9999\n  indexer:\n    whatever: 1\n');
    const own = file('own.json', '{"env":"own"}');
    expect(loadConfig({ app: 'harvester', schema, env: { BACKLOG_CONFIG: shared } })).toMatchObject({ env: 'prod', http: { port: 9999 }, search: { apiKey: 'abc' } });
    // The indexer's section is the indexer's business: the harvester does not validate it.
    expect(loadConfig({ app: 'compressor', schema, env: { BACKLOG_CONFIG: shared } }).http.port).toBe(8080);
    expect(loadConfig({ app: 'harvester', schema, env: { BACKLOG_CONFIG: shared, BACKLOG_HARVESTER_CONFIG: own } }).env).toBe('own');
    const typo = file('typo.yaml', 'apps:\n  harvestr:\n    http: {port: 1}\n');
    expect(problemsOf(() => loadConfig({ app: 'harvester', schema, file: typo, env: {} }))[0]).toMatchObject({ path: 'apps.harvestr' });
  });

  it('reports an unreadable file, YAML syntax errors and a non-mapping file as problems', () => {
    expect(problemsOf(() => loadConfig({ app: 'harvester', schema, file: join(dir, 'missing.yaml'), env: {} }))[0]?.message).toMatch(/cannot read the config file: ENOENT/);
    const dup = problemsOf(() => loadConfig({ app: 'harvester', schema, file: file('dup.yaml', 'env: a\nenv: b\n'), env: {} }));
    expect(dup[0]?.message).toMatch(/YAML: .*unique/i);
    const list = problemsOf(() => loadConfig({ app: 'harvester', schema, file: file('list.yaml', '- a\n- b\n'), env: { BACKLOG_HARVESTER_HTTP_PORT: 'x' } }));
    // The file's problem and the environment's, but no "missing key" noise from a file that did not load.
    expect(list.map((p) => p.path)).toEqual(['', 'http.port']);
  });

  it('deep-freezes the result', () => {
    const cfg = loadConfig({ app: 'harvester', schema, env: { BACKLOG_HARVESTER_LABELS: '{"a":"b"}' } });
    expect(Object.isFrozen(cfg)).toBe(true);
    expect(Object.isFrozen(cfg.kafka)).toBe(true);
    expect(Object.isFrozen(cfg.kafka.brokers)).toBe(true);
    expect(Object.isFrozen(cfg.search.tls)).toBe(true);
    expect(Object.isFrozen(cfg.labels)).toBe(true);
    expect(() => {
      (cfg.http as { port: number }).port = 1;
    }).toThrow(TypeError);
    expect(() => (cfg.kafka.brokers as string[]).push('x:1')).toThrow(TypeError);
  });

  it('an empty file is fine; JSON files work', () => {
    expect(loadConfig({ app: 'harvester', schema, file: file('empty.yaml', ''), env: {} }).env).toBe('dev');
    expect(loadConfig({ app: 'harvester', schema, file: file('c.json', '{"http":{"port":81}}'), env: {} }).http.port).toBe(81);
  });
});

describe('connection settings alone (the CLI)', () => {
  it('points at existing servers by shared variables only', () => {
    const cfg = loadConfig({
      app: 'cli',
      schema: connectionSettingsSchema,
      env: {
        BACKLOG_ENV: 'prod',
        BACKLOG_SEARCH_URL: 'https://es.internal:9200',
        BACKLOG_SEARCH_ENGINE: 'elasticsearch',
        BACKLOG_SEARCH_USERNAME: 'elastic',
        BACKLOG_SEARCH_PASSWORD: 'pw',
        BACKLOG_KAFKA_SSL_ENABLED: 'true',
        BACKLOG_KAFKA_SSL_CA_FILE: '/etc/backlog/kafka-ca.pem',
        BACKLOG_KAFKA_SASL_MECHANISM: 'scram-sha-512',
        BACKLOG_KAFKA_SASL_USERNAME: 'u',
        BACKLOG_KAFKA_SASL_PASSWORD_FILE: '/run/secrets/kafka',
      },
    });
    expect(cfg).toMatchObject({
      env: 'prod',
      search: { url: 'https://es.internal:9200', engine: 'elasticsearch', username: 'elastic' },
      kafka: { ssl: { enabled: true, caFile: '/etc/backlog/kafka-ca.pem', rejectUnauthorized: true }, sasl: { mechanism: 'scram-sha-512', username: 'u', passwordFile: '/run/secrets/kafka' } },
    });
  });

  it('kafka: refuses what the adapter cannot honour, and a password inline', () => {
    const f = file('kafka.yaml', ['kafka:', '  ssl: true', '  sasl: { mechanism: gssapi, username: u, password: inline-secret }'].join('\n'));
    const problems = problemsOf(() => loadConfig({ app: 'cli', schema: connectionSettingsSchema, file: f, env: {} }));
    expect(problems.map((p) => p.path).sort()).toEqual(['kafka.sasl.mechanism', 'kafka.sasl.password', 'kafka.ssl']);
    const msg = (path: string) => problems.find((p) => p.path === path)?.message;
    expect(msg('kafka.ssl')).toContain('kafka.ssl is no longer a boolean: kafka.ssl.enabled');
    expect(msg('kafka.sasl.mechanism')).toContain('got "gssapi": OAUTHBEARER, GSSAPI and AWS IAM are not supported');
    expect(msg('kafka.sasl.password')).toBe('unknown key');
    // TLS files without TLS would be ignored silently: refused instead; a certificate needs its key.
    const off = problemsOf(() => loadConfig({ app: 'cli', schema: connectionSettingsSchema, env: { BACKLOG_KAFKA_SSL_CA_FILE: '/ca.pem', BACKLOG_KAFKA_SSL_CERT_FILE: '/c.pem' } }));
    expect(off.map((p) => `${p.path}: ${p.message}`).sort()).toEqual([
      'kafka.ssl.caFile: is set but kafka.ssl.enabled is false: it would be ignored',
      'kafka.ssl.certFile: is set but kafka.ssl.enabled is false: it would be ignored',
      'kafka.ssl.keyFile: certFile is set but keyFile is not',
    ]);
  });

  it("redacts the kafka settings' secret references too (they name files and variables, never hold the password)", () => {
    const cfg = loadConfig({
      app: 'cli',
      schema: connectionSettingsSchema,
      env: { BACKLOG_KAFKA_SASL_MECHANISM: 'plain', BACKLOG_KAFKA_SASL_USERNAME: 'u', BACKLOG_KAFKA_SASL_PASSWORD_ENV: 'KAFKA_PW' },
    });
    expect(JSON.stringify(cfg)).not.toMatch(/"password"/);
    expect(redact(cfg).kafka.sasl?.passwordEnv).toBe('***');
  });

  it('rejects an apiKey together with a username, and a bad bucket name', () => {
    const problems = problemsOf(() =>
      loadConfig({ app: 'cli', schema: connectionSettingsSchema, env: { BACKLOG_SEARCH_API_KEY: 'k', BACKLOG_SEARCH_USERNAME: 'u', BACKLOG_SEARCH_PASSWORD: 'p', BACKLOG_S3_BUCKET: 'Bad_Bucket' } }),
    );
    expect(problems.map((p) => p.path).sort()).toEqual(['s3.bucket', 'search.apiKey']);
  });
});

describe('config keys and names', () => {
  it('maps camelCase paths to BACKLOG_<APP>_<PATH> and shared BACKLOG_<PATH>', () => {
    expect(envSegment('accessKeyId')).toBe('ACCESS_KEY_ID');
    expect(envSegment('es-consumer')).toBe('ES_CONSUMER');
    const { keys, clashes } = configKeys('compressor', schema, new Set(['s3']));
    expect(clashes).toEqual([]);
    expect(keys.find((k) => k.path.join('.') === 's3.accessKeyId')).toMatchObject({ env: 'BACKLOG_COMPRESSOR_S3_ACCESS_KEY_ID', sharedEnv: 'BACKLOG_S3_ACCESS_KEY_ID' });
    expect(keys.find((k) => k.path.join('.') === 'http.port')).toMatchObject({ env: 'BACKLOG_COMPRESSOR_HTTP_PORT', value: { kind: 'number' } });
    expect(keys.find((k) => k.path.join('.') === 'http.port')?.sharedEnv).toBeUndefined();
  });

  it('refuses a schema where two keys map to one variable (a programming error)', () => {
    const bad = z.object({ a: z.object({ bC: z.string() }).strict(), a_b: z.object({ c: z.string() }).strict() }).strict();
    expect(() => loadConfig({ app: 'x', schema: bad, env: {} })).toThrow(/a\.bC and a_b\.c both map to BACKLOG_X_A_B_C/);
  });

  it('redacts secrets for logging', () => {
    const cfg = loadConfig({ app: 'harvester', schema, env: { BACKLOG_REDIS_URL: 'redis://u:pw@r:6379', BACKLOG_SEARCH_API_KEY: 'k' } });
    const shown = redact(cfg);
    expect(shown.s3.secretAccessKey).toBe('***');
    expect(shown.search.apiKey).toBe('***');
    expect(shown.redis.url).toBe('redis://***@r:6379');
    expect(shown.s3.accessKeyId).toBe('backlog');
  });
});
