import { X509Certificate, createPrivateKey, type KeyObject } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { inspect } from 'node:util';
import { ConfigError, type ConfigProblem, DEFAULT_KAFKA_PASSWORD_ENV, type DeepReadonly, type KafkaSettings, privateKeyFileProblem } from '@backlog/platform-config';
import type { KafkaSaslOptions, KafkaTlsOptions } from './client';

/**
 * From the shared `kafka` settings (platform-config's `kafkaSettingsSchema`) to what `createKafka`
 * needs: the brokers, TLS material and SASL credentials. Every app and CLI command that talks to Kafka
 * goes through here, so each honours `kafka.ssl` / `kafka.sasl` the same way, and refuses at start
 * what it cannot honour. Files are read and checked now, before any socket opens, and every problem
 * is listed at once (ARCHITECTURE.md habit 2).
 */
export interface KafkaConnection {
  brokers: string[];
  tls?: KafkaTlsOptions;
  sasl?: KafkaSaslOptions;
}

export interface ResolvedKafkaConnection {
  connection: KafkaConnection;
  /** What is wrong (path under `kafka.`, message); the connection must not be used when non-empty. */
  problems: ConfigProblem[];
  /** Accepted but weak settings (no certificate verification, SASL in clear text): log them at start. */
  warnings: string[];
}

export interface KafkaConnectionOptions {
  /** Where `passwordEnv` / `keyPassphraseEnv` are looked up. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** The settings' path in the app's config, for problem paths. Default `kafka`. */
  path?: string;
}

const CERT_BLOCK = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/g;
const LOOPBACK_HOST = /^(127\.\d+\.\d+\.\d+|\[::1\]|localhost)$/i;

/** Secrets in a printed or JSON-serialized connection show as `***` (a log line must never carry them). */
function hideSecrets<T extends object>(o: T, secrets: readonly (keyof T)[]): T {
  const shown = () => Object.fromEntries(Object.entries(o).map(([k, v]) => [k, secrets.includes(k as keyof T) ? '***' : v]));
  Object.defineProperty(o, 'toJSON', { value: shown, enumerable: false });
  Object.defineProperty(o, inspect.custom, { value: () => shown(), enumerable: false });
  return o;
}

function readText(file: string): { text?: string; error?: string } {
  try {
    return { text: readFileSync(file, 'utf8') };
  } catch (err) {
    const e = err as NodeJS.ErrnoException;
    return { error: `cannot read ${file}: ${e.code ?? e.message}` };
  }
}

/** A secret from a file (one trailing newline dropped, as `echo` and editors leave one) or a variable. */
function readSecret(
  what: string,
  from: { file?: string; envName?: string },
  env: Record<string, string | undefined>,
  problem: (key: string, message: string) => void,
  keys: { file: string; env: string },
): string | undefined {
  if (from.file !== undefined) {
    const r = readText(from.file);
    if (r.error) return void problem(keys.file, r.error);
    const mode = privateKeyFileProblem(from.file);
    if (mode) return void problem(keys.file, mode);
    const value = (r.text as string).replace(/\r?\n$/, '');
    if (!value) return void problem(keys.file, `${from.file} is empty: it must hold the ${what}`);
    return value;
  }
  if (from.envName !== undefined) {
    const value = env[from.envName];
    if (value === undefined || value === '') return void problem(keys.env, `the environment variable ${from.envName} (the ${what}) is not set`);
    return value;
  }
  return undefined;
}

function parseCerts(file: string, text: string): { certs: X509Certificate[]; error?: string } {
  const blocks = text.match(CERT_BLOCK) ?? [];
  if (!blocks.length) return { certs: [], error: `${file} holds no PEM certificate (-----BEGIN CERTIFICATE-----)` };
  const certs: X509Certificate[] = [];
  for (const [i, b] of blocks.entries()) {
    try {
      certs.push(new X509Certificate(b));
    } catch (err) {
      return { certs, error: `${file}: certificate ${i + 1} does not parse: ${(err as Error).message}` };
    }
  }
  const now = Date.now();
  const expired = certs.find((c) => Date.parse(c.validTo) < now);
  if (expired) return { certs, error: `${file}: certificate "${expired.subject.replace(/\n/g, ', ')}" expired on ${new Date(expired.validTo).toISOString()}` };
  return { certs };
}

/**
 * Reads and checks the TLS and SASL material of the `kafka` settings. Never throws: problems and
 * warnings come back listed, so an app can add them to its other config problems.
 */
export function resolveKafkaConnection(settings: DeepReadonly<KafkaSettings>, options: KafkaConnectionOptions = {}): ResolvedKafkaConnection {
  const env = options.env ?? process.env;
  const base = options.path ?? 'kafka';
  const problems: ConfigProblem[] = [];
  const warnings: string[] = [];
  const problem = (key: string, message: string) => problems.push({ path: `${base}.${key}`, message });
  const connection: KafkaConnection = { brokers: [...settings.brokers] };

  // `kafka.ssl` was a boolean once: its variable is now ignored by the loader, so say so instead.
  if (env.BACKLOG_KAFKA_SSL !== undefined && env.BACKLOG_KAFKA_SSL !== '') problem('ssl', 'BACKLOG_KAFKA_SSL is no longer read: set BACKLOG_KAFKA_SSL_ENABLED (and BACKLOG_KAFKA_SSL_CA_FILE, …)');
  if (env.BACKLOG_KAFKA_SASL_PASSWORD !== undefined && settings.sasl === undefined)
    problem('sasl', `${DEFAULT_KAFKA_PASSWORD_ENV} is set but kafka.sasl is not: set kafka.sasl.mechanism and kafka.sasl.username too`);

  const t = settings.ssl;
  if (t.enabled) {
    const tls: KafkaTlsOptions = { rejectUnauthorized: t.rejectUnauthorized };
    if (t.servername !== undefined) tls.servername = t.servername;
    if (t.caFile !== undefined) {
      const r = readText(t.caFile);
      if (r.error) problem('ssl.caFile', r.error);
      else {
        const parsed = parseCerts(t.caFile, r.text as string);
        if (parsed.error) problem('ssl.caFile', parsed.error);
        else tls.ca = (r.text as string).match(CERT_BLOCK) ?? [];
      }
    }
    let cert: X509Certificate | undefined;
    if (t.certFile !== undefined) {
      const r = readText(t.certFile);
      if (r.error) problem('ssl.certFile', r.error);
      else {
        const parsed = parseCerts(t.certFile, r.text as string);
        if (parsed.error) problem('ssl.certFile', parsed.error);
        else {
          cert = parsed.certs[0];
          tls.cert = r.text as string;
        }
      }
    }
    if (t.keyFile !== undefined) {
      const passphrase = readSecret('key passphrase', { file: t.keyPassphraseFile, envName: t.keyPassphraseEnv }, env, problem, { file: 'ssl.keyPassphraseFile', env: 'ssl.keyPassphraseEnv' });
      const r = readText(t.keyFile);
      const mode = r.error ? undefined : privateKeyFileProblem(t.keyFile);
      if (r.error) problem('ssl.keyFile', r.error);
      else if (mode) problem('ssl.keyFile', mode);
      else {
        let key: KeyObject | undefined;
        // PKCS#8 `ENCRYPTED PRIVATE KEY`, or a traditional PEM key with `Proc-Type: 4,ENCRYPTED` (RFC 1421).
        const encrypted = /-----BEGIN ENCRYPTED PRIVATE KEY-----|Proc-Type:\s*4,ENCRYPTED/.test(r.text as string);
        if (encrypted && passphrase === undefined) {
          // Only when no passphrase problem was reported already: one cause, one line.
          if (t.keyPassphraseFile === undefined && t.keyPassphraseEnv === undefined) problem('ssl.keyFile', `${t.keyFile} is encrypted: set kafka.ssl.keyPassphraseFile or kafka.ssl.keyPassphraseEnv`);
        } else {
          try {
            key = createPrivateKey({ key: r.text as string, format: 'pem', ...(passphrase !== undefined ? { passphrase } : {}) });
          } catch (err) {
            const e = err as Error;
            if (encrypted) problem('ssl.keyFile', `${t.keyFile} does not decrypt with the passphrase given`);
            else problem('ssl.keyFile', `${t.keyFile} holds no PEM private key Node can read: ${e.message}`);
          }
        }
        if (key && cert && !cert.checkPrivateKey(key)) problem('ssl.keyFile', `${t.keyFile} is not the private key of ${t.certFile}`);
        if (key) {
          tls.key = r.text as string;
          if (passphrase !== undefined) tls.passphrase = passphrase;
        }
      }
    }
    connection.tls = hideSecrets(tls, ['key', 'passphrase']);
    if (!t.rejectUnauthorized)
      warnings.push('kafka.ssl.rejectUnauthorized is false: broker certificates are not verified, so anyone on the network path can pose as a broker (and read the SASL password)');
  }

  const s = settings.sasl;
  if (s) {
    const envName = s.passwordFile === undefined ? (s.passwordEnv ?? DEFAULT_KAFKA_PASSWORD_ENV) : undefined;
    const password = readSecret('SASL password', { file: s.passwordFile, envName }, env, problem, { file: 'sasl.passwordFile', env: s.passwordEnv === undefined ? 'sasl' : 'sasl.passwordEnv' });
    if (password !== undefined) connection.sasl = hideSecrets({ mechanism: s.mechanism, username: s.username, password }, ['password']);
    if (!t.enabled && !settings.brokers.every((b) => LOOPBACK_HOST.test(b.slice(0, b.lastIndexOf(':'))))) {
      warnings.push(
        s.mechanism === 'plain'
          ? 'kafka.sasl PLAIN without kafka.ssl to a non-loopback broker: the password crosses the network in clear text; enable kafka.ssl'
          : `kafka.sasl ${s.mechanism.toUpperCase()} without kafka.ssl to a non-loopback broker: the password is not sent, but every record is readable and alterable on the way; enable kafka.ssl`,
      );
    }
  }
  return { connection, problems, warnings };
}

/**
 * `resolveKafkaConnection` for a `main.ts`: returns the connection and its warnings, or throws one
 * ConfigError('CONFIG_INVALID') listing every problem (with `extra` problems of the app's own, so that
 * they are all reported in one round).
 */
export function kafkaConnection(
  app: string,
  settings: DeepReadonly<KafkaSettings>,
  options: KafkaConnectionOptions & { extra?: readonly ConfigProblem[] } = {},
): { connection: KafkaConnection; warnings: string[] } {
  const r = resolveKafkaConnection(settings, options);
  const all = [...(options.extra ?? []), ...r.problems];
  if (all.length) throw new ConfigError('CONFIG_INVALID', app, all);
  return { connection: r.connection, warnings: r.warnings };
}
