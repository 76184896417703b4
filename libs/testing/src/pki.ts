// Certificates for TLS tests, made with the machine's `openssl` (as an operator would make them), never
// checked in: a CA, a server certificate for the loopback names, a client certificate signed by the
// same CA (also with an encrypted copy of its key), and an unrelated CA that trusts nothing of ours.
import { spawnSync } from 'node:child_process';
import { chmodSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

export interface TestPki {
  dir: string;
  /** The CA's certificate (PEM): what clients trust. */
  caCert: string;
  caKey: string;
  /** Server certificate for `127.0.0.1` and `localhost` (serverAuth), its key, and both in one file (key first) for Kafka's PEM keystore. */
  serverCert: string;
  serverKey: string;
  serverKeystore: string;
  /** Client certificate (clientAuth, CN=`clientName`) and its key (PKCS#8, unencrypted, mode 0600). */
  clientCert: string;
  clientKey: string;
  /** The same client key encrypted (PKCS#8, AES-256) with `clientKeyPassphrase`. */
  clientKeyEncrypted: string;
  clientKeyPassphrase: string;
  /** A second, unrelated CA's certificate: trusting only it must fail against `serverCert`. */
  otherCaCert: string;
}

function openssl(dir: string, args: string[]): void {
  const r = spawnSync('openssl', args, { cwd: dir, encoding: 'utf8' });
  if (r.error) throw new Error(`openssl is needed for TLS tests (Debian package openssl): ${r.error.message}`);
  if (r.status !== 0) throw new Error(`openssl ${args.join(' ')} failed: ${r.stderr}`);
}

/** Makes the files under `dir` (created if missing); valid for `days` (default 2). */
export function makeTestPki(dir: string, opts: { days?: number; clientName?: string } = {}): TestPki {
  mkdirSync(dir, { recursive: true });
  const days = String(opts.days ?? 2);
  const p = (f: string) => join(dir, f);
  const rsa = ['-newkey', 'rsa:2048', '-nodes'];
  writeFileSync(p('server.ext'), 'subjectAltName=IP:127.0.0.1,DNS:localhost\nextendedKeyUsage=serverAuth\nbasicConstraints=CA:FALSE\n');
  writeFileSync(p('client.ext'), 'extendedKeyUsage=clientAuth\nbasicConstraints=CA:FALSE\n');
  openssl(dir, ['req', '-x509', ...rsa, '-keyout', 'ca.key', '-out', 'ca.pem', '-days', days, '-subj', '/CN=backlog test CA']);
  openssl(dir, ['req', '-x509', ...rsa, '-keyout', 'other-ca.key', '-out', 'other-ca.pem', '-days', days, '-subj', '/CN=unrelated test CA']);
  openssl(dir, ['req', '-new', ...rsa, '-keyout', 'server.key', '-out', 'server.csr', '-subj', '/CN=localhost']);
  openssl(dir, ['x509', '-req', '-in', 'server.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'server.pem', '-days', days, '-extfile', 'server.ext']);
  openssl(dir, ['req', '-new', ...rsa, '-keyout', 'client.key', '-out', 'client.csr', '-subj', `/CN=${opts.clientName ?? 'backlog-client'}`]);
  openssl(dir, ['x509', '-req', '-in', 'client.csr', '-CA', 'ca.pem', '-CAkey', 'ca.key', '-CAcreateserial', '-out', 'client.pem', '-days', days, '-extfile', 'client.ext']);
  const passphrase = 'test-key-passphrase';
  openssl(dir, ['pkcs8', '-topk8', '-v2', 'aes-256-cbc', '-in', 'client.key', '-out', 'client-encrypted.key', '-passout', `pass:${passphrase}`]);
  writeFileSync(p('server-keystore.pem'), readFileSync(p('server.key'), 'utf8') + readFileSync(p('server.pem'), 'utf8'));
  for (const f of ['ca.key', 'other-ca.key', 'server.key', 'server-keystore.pem', 'client.key', 'client-encrypted.key']) chmodSync(p(f), 0o600);
  return {
    dir,
    caCert: p('ca.pem'),
    caKey: p('ca.key'),
    serverCert: p('server.pem'),
    serverKey: p('server.key'),
    serverKeystore: p('server-keystore.pem'),
    clientCert: p('client.pem'),
    clientKey: p('client.key'),
    clientKeyEncrypted: p('client-encrypted.key'),
    clientKeyPassphrase: passphrase,
    otherCaCert: p('other-ca.pem'),
  };
}
