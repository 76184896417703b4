import { chmodSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { inspect } from 'node:util';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConfigError, kafkaSettingsSchema } from '@backlog/platform-config';
import { type TestPki, makeTestPki } from '@backlog/testing';
import { kafkaConnection, resolveKafkaConnection } from './security';

let dir: string;
let pki: TestPki;
const settings = (raw: unknown) => kafkaSettingsSchema.parse(raw);
const secretFile = (name: string, text: string, mode = 0o600) => {
  const f = join(dir, name);
  writeFileSync(f, text);
  chmodSync(f, mode);
  return f;
};

beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'kafka-security-'));
  pki = makeTestPki(join(dir, 'pki'));
});
afterAll(() => rmSync(dir, { recursive: true, force: true }));

describe('resolveKafkaConnection', () => {
  it('plaintext without SASL needs nothing', () => {
    const r = resolveKafkaConnection(settings({ brokers: ['k1:9092'] }), { env: {} });
    expect(r).toEqual({ connection: { brokers: ['k1:9092'] }, problems: [], warnings: [] });
  });

  it('reads the CA, the client certificate and key, and the password file; secrets never print', () => {
    const pw = secretFile('pw', 'hunter2-secret\n');
    const r = resolveKafkaConnection(
      settings({
        brokers: ['k1:9093'],
        ssl: { enabled: true, caFile: pki.caCert, certFile: pki.clientCert, keyFile: pki.clientKey, servername: 'kafka.internal' },
        sasl: { mechanism: 'scram-sha-512', username: 'harvester', passwordFile: pw },
      }),
      { env: {} },
    );
    expect(r.problems).toEqual([]);
    expect(r.warnings).toEqual([]);
    const { tls, sasl } = r.connection;
    expect(tls?.ca).toEqual([readFileSync(pki.caCert, 'utf8').trim()]);
    expect(tls?.cert).toBe(readFileSync(pki.clientCert, 'utf8'));
    expect(tls?.key).toBe(readFileSync(pki.clientKey, 'utf8'));
    expect(tls).toMatchObject({ rejectUnauthorized: true, servername: 'kafka.internal' });
    // One trailing newline (echo, editors) is not part of the password.
    expect(sasl).toMatchObject({ mechanism: 'scram-sha-512', username: 'harvester', password: 'hunter2-secret' });
    const printed = `${JSON.stringify(r.connection)} ${inspect(r.connection, { depth: 5 })}`;
    expect(printed).not.toContain('hunter2-secret');
    expect(printed).not.toContain('PRIVATE KEY');
    expect(printed).toContain('harvester');
  });

  it('reads the password from BACKLOG_KAFKA_SASL_PASSWORD by default, or from the variable passwordEnv names', () => {
    const s = settings({ sasl: { mechanism: 'plain', username: 'u' } });
    expect(resolveKafkaConnection(s, { env: { BACKLOG_KAFKA_SASL_PASSWORD: 'from-default' } }).connection.sasl?.password).toBe('from-default');
    const named = settings({ sasl: { mechanism: 'plain', username: 'u', passwordEnv: 'KAFKA_PW' } });
    expect(resolveKafkaConnection(named, { env: { KAFKA_PW: 'from-named', BACKLOG_KAFKA_SASL_PASSWORD: 'not-this' } }).connection.sasl?.password).toBe('from-named');
    expect(resolveKafkaConnection(named, { env: {} }).problems).toEqual([{ path: 'kafka.sasl.passwordEnv', message: 'the environment variable KAFKA_PW (the SASL password) is not set' }]);
    expect(resolveKafkaConnection(s, { env: {} }).problems).toEqual([{ path: 'kafka.sasl', message: 'the environment variable BACKLOG_KAFKA_SASL_PASSWORD (the SASL password) is not set' }]);
  });

  it('lists every problem of every file at once', () => {
    const garbage = secretFile('garbage.pem', 'not a certificate\n');
    const openKey = secretFile('open.key', readFileSync(pki.clientKey, 'utf8'), 0o644);
    const emptyPw = secretFile('empty-pw', '\n');
    const r = resolveKafkaConnection(
      settings({ ssl: { enabled: true, caFile: join(dir, 'missing-ca.pem'), certFile: garbage, keyFile: openKey }, sasl: { mechanism: 'scram-sha-256', username: 'u', passwordFile: emptyPw } }),
      { env: {} },
    );
    expect(r.problems.map((p) => p.path)).toEqual(['kafka.ssl.caFile', 'kafka.ssl.certFile', 'kafka.ssl.keyFile', 'kafka.sasl.passwordFile']);
    const text = r.problems.map((p) => p.message).join('\n');
    expect(text).toContain('missing-ca.pem: ENOENT');
    expect(text).toContain('holds no PEM certificate');
    expect(text).toMatch(/permissions 0644 for '[^']*open\.key' are too open: .*chmod 600/);
    expect(text).toContain('empty-pw is empty');
    expect(r.connection.sasl).toBeUndefined();
  });

  it('refuses a group-readable password file', () => {
    const pw = secretFile('pw-open', 'x\n', 0o640);
    const r = resolveKafkaConnection(settings({ sasl: { mechanism: 'plain', username: 'u', passwordFile: pw } }), { env: {} });
    expect(r.problems).toEqual([{ path: 'kafka.sasl.passwordFile', message: expect.stringContaining('permissions 0640') }]);
  });

  it('an encrypted key needs its passphrase, and the right one', () => {
    const ssl = { enabled: true, certFile: pki.clientCert, keyFile: pki.clientKeyEncrypted };
    expect(resolveKafkaConnection(settings({ ssl }), { env: {} }).problems).toEqual([
      { path: 'kafka.ssl.keyFile', message: expect.stringContaining('is encrypted: set kafka.ssl.keyPassphraseFile or kafka.ssl.keyPassphraseEnv') },
    ]);
    const wrong = resolveKafkaConnection(settings({ ssl: { ...ssl, keyPassphraseEnv: 'KEY_PASS' } }), { env: { KEY_PASS: 'wrong' } });
    expect(wrong.problems).toEqual([{ path: 'kafka.ssl.keyFile', message: expect.stringContaining('does not decrypt with the passphrase') }]);
    const ok = resolveKafkaConnection(settings({ ssl: { ...ssl, keyPassphraseFile: secretFile('kp', `${pki.clientKeyPassphrase}\n`) } }), { env: {} });
    expect(ok.problems).toEqual([]);
    expect(ok.connection.tls?.passphrase).toBe(pki.clientKeyPassphrase);
    expect(JSON.stringify(ok.connection)).not.toContain(pki.clientKeyPassphrase);
  });

  it("refuses a key that is not the certificate's", () => {
    const r = resolveKafkaConnection(settings({ ssl: { enabled: true, certFile: pki.clientCert, keyFile: pki.serverKey } }), { env: {} });
    expect(r.problems).toEqual([{ path: 'kafka.ssl.keyFile', message: `${pki.serverKey} is not the private key of ${pki.clientCert}` }]);
  });

  it('warns about settings that are honoured but weak', () => {
    const noVerify = resolveKafkaConnection(settings({ ssl: { enabled: true, rejectUnauthorized: false } }), { env: {} });
    expect(noVerify.problems).toEqual([]);
    expect(noVerify.warnings).toEqual([expect.stringContaining('rejectUnauthorized is false')]);
    const env = { BACKLOG_KAFKA_SASL_PASSWORD: 'p' };
    const plain = resolveKafkaConnection(settings({ brokers: ['kafka.internal:9092'], sasl: { mechanism: 'plain', username: 'u' } }), { env });
    expect(plain.warnings).toEqual([expect.stringContaining('clear text')]);
    const scram = resolveKafkaConnection(settings({ brokers: ['kafka.internal:9092'], sasl: { mechanism: 'scram-sha-256', username: 'u' } }), { env });
    expect(scram.warnings).toEqual([expect.stringContaining('SCRAM-SHA-256 without kafka.ssl')]);
    const loopback = resolveKafkaConnection(settings({ brokers: ['127.0.0.1:9092', 'localhost:9093'], sasl: { mechanism: 'plain', username: 'u' } }), { env });
    expect(loopback.warnings).toEqual([]);
  });

  it('says what replaced BACKLOG_KAFKA_SSL, and refuses a password without kafka.sasl', () => {
    const r = resolveKafkaConnection(settings({}), { env: { BACKLOG_KAFKA_SSL: 'true', BACKLOG_KAFKA_SASL_PASSWORD: 'p' } });
    expect(r.problems.map((p) => p.message)).toEqual([expect.stringContaining('BACKLOG_KAFKA_SSL_ENABLED'), expect.stringContaining('kafka.sasl is not')]);
  });

  it("kafkaConnection throws one ConfigError with the app's own problems first", () => {
    let err: unknown;
    try {
      kafkaConnection('compressor', settings({ ssl: { enabled: true, caFile: join(dir, 'nope.pem') } }), { env: {}, extra: [{ path: 'window', message: 'bad' }] });
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(ConfigError);
    expect((err as ConfigError).problems.map((p) => p.path)).toEqual(['window', 'kafka.ssl.caFile']);
    expect((err as ConfigError).message).toContain('invalid configuration for compressor (2 problems)');
  });
});
