import { join } from 'node:path';
import type { Command } from 'commander';
import { generateKeyPair, keyFileOf } from '@backlog/core-sealed';
import { generateToken, TOKEN_MIN_BITS, writePrivateFile } from '@backlog/platform-config';

/**
 * `backlog keys generate`: NaCl (Curve25519) key pairs for harvesters and the nacl-gateway. Writes
 * `<name>.key` (secret, mode 0600) and prints the public key, which goes on the other side's list:
 * a harvester's public key on the gateway's `allow`, the gateway's in the harvester's `shipping.sealed.gatewayPublicKey`.
 *
 * `backlog keys token`: a random access token for the apps that take one (indexer `api.token`,
 * live-receiver `auth.token`): 256 bits as hex, the kind the token check (platform-config) accepts.
 */
export function registerKeys(program: Command): void {
  const keys = program.command('keys').description('NaCl key pairs for sealed shipping (harvester → nacl-gateway), access tokens');
  keys
    .command('generate')
    .description('write a new key pair file (secret, mode 0600) and print its public key')
    .option('--role <role>', 'harvester or gateway', 'harvester')
    .option('--name <name>', 'a name for the key (the harvester host, or the gateway)', 'backlog')
    .option('--out <dir>', 'directory for <name>.key; without it the key pair is printed as JSON on stdout')
    .option('--force', 'overwrite an existing key file')
    .option('--json', 'machine-readable output')
    .action((opts: { role: string; name: string; out?: string; force?: boolean; json?: boolean }) => {
      if (opts.role !== 'harvester' && opts.role !== 'gateway') throw new Error(`--role must be harvester or gateway, not ${opts.role}`);
      if (!/^[A-Za-z0-9._-]{1,64}$/.test(opts.name)) throw new Error('--name: letters, digits, dot, dash, underscore (≤ 64)');
      const file = keyFileOf(generateKeyPair(), opts.role, opts.name);
      if (!opts.out) {
        process.stdout.write(`${JSON.stringify(file)}\n`);
        return;
      }
      const path = join(opts.out, `${opts.name}.key`);
      writeSecret(path, `${JSON.stringify(file, null, 2)}\n`, opts.force, 'senders using it will be refused');
      if (opts.json) process.stdout.write(`${JSON.stringify({ file: path, role: opts.role, name: opts.name, publicKey: file.publicKey })}\n`);
      else {
        process.stdout.write(`wrote ${path} (secret; mode 0600)\npublic key: ${file.publicKey}\n`);
        process.stdout.write(
          opts.role === 'harvester'
            ? `add to the gateway's allow list: { name: ${opts.name}, publicKey: ${file.publicKey} }\n`
            : `set on each harvester: shipping.sealed.gatewayPublicKey: ${file.publicKey}\n`,
        );
      }
    });
  keys
    .command('token')
    .description(`a new random access token (${TOKEN_MIN_BITS * 2} bits, hex) for api.token / auth.token; printed, or written to a 0600 file`)
    .option('--out <file>', 'write it to this file (mode 0600) instead of printing it')
    .option('--force', 'overwrite an existing file')
    .action((opts: { out?: string; force?: boolean }) => {
      const token = generateToken();
      if (!opts.out) {
        process.stdout.write(`${token}\n`);
        return;
      }
      writeSecret(opts.out, `${token}\n`, opts.force, 'clients using the old token will be refused');
      process.stdout.write(`wrote ${opts.out} (secret; mode 0600)\n`);
    });
}

/** A secret file, 0600 from its first byte (platform-config writePrivateFile); an existing one only with --force. */
function writeSecret(path: string, text: string, force: boolean | undefined, consequence: string): void {
  try {
    writePrivateFile(path, text, { overwrite: force === true });
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'EEXIST') throw new Error(`${path} exists; use --force to replace it (${consequence})`);
    throw err;
  }
}
