import { randomBytes } from 'node:crypto';
import { z } from 'zod';
import { ConfigError } from './errors';
import { readPrivateKeyFile } from './private-files';

/**
 * The one check of the access tokens backlog's services take (indexer `api.token`, live-receiver
 * `auth.token`, and every later app that accepts commands): a token is a shared secret that must be
 * unguessable, so placeholders copied from an example (`REPLACE_ME_WITH_A_LONG_RANDOM_TOKEN`,
 * `dev-only-token-change-me`), words, counting sequences and repeated patterns are refused at start,
 * before a socket is open, with a message that says how to make a good one.
 *
 * The estimate is deliberately simple and never refuses the output of a random generator of 128
 * bits or more (`openssl rand -hex 16` and up, `openssl rand -base64 16` and up, `generateToken()`):
 * bits = characters × log2(size of the character set actually used), where the set is 16 for hex,
 * else the sum of the classes present (26 lower, 26 upper, 10 digits, 33 symbols); characters that
 * continue a run of 8 or more repeated or counting characters (`aaaaaaaa`, `12345678`, `abcdefgh`)
 * count for nothing. A random hex token holds such a run with odds below 1 in 10^6.
 */

/** What a problem message ends with: how to make a token that passes. */
export const TOKEN_HOWTO = 'make one with `openssl rand -hex 32` (or `backlog keys token`)';

/** Least estimated randomness of a token, bits. */
export const TOKEN_MIN_BITS = 128;
/** Shortest token accepted, characters (128 bits of base64 are 22). */
export const TOKEN_MIN_LENGTH = 20;
/** Longest token accepted, characters (a header value has to carry it). */
export const TOKEN_MAX_LENGTH = 1024;

/**
 * Words that mark a value as a placeholder or a hand-made secret. Matched case-insensitively with
 * `-`, `_`, `.` and spaces removed, so `REPLACE_ME`, `change-me` and `ChangeMe` all match. A random
 * token that happens to contain one (odds ~1e-6 for "token" in 43 base64 characters) still passes:
 * what is left once the words are taken out must then hold fewer than TOKEN_MIN_BITS to refuse it.
 */
const PLACEHOLDER_WORDS = [
  'replaceme',
  'changeme',
  'changethis',
  'example',
  'placeholder',
  'insertyour',
  'yourtoken',
  'devonly',
  'token',
  'password',
  'passwd',
  'secret',
  'dummy',
  'sample',
  'default',
  'xxxx',
];

const LOWER = /[a-z]/;
const UPPER = /[A-Z]/;
const DIGIT = /[0-9]/;
const SYMBOL = /[^A-Za-z0-9]/;

/** Size of the character set the token draws from, judged from the characters it uses. */
function charsetSize(s: string): number {
  if (/^[0-9a-f]+$/.test(s) || /^[0-9A-F]+$/.test(s)) return 16;
  let n = 0;
  if (LOWER.test(s)) n += 26;
  if (UPPER.test(s)) n += 26;
  if (DIGIT.test(s)) n += 10;
  if (SYMBOL.test(s)) n += 33;
  return Math.max(n, 1);
}

/** Characters that continue a run (≥ 8) of one repeated character or of a counting sequence: they add nothing. */
function predictableChars(s: string): number {
  let predictable = 0;
  let run = 1;
  let step: number | undefined;
  for (let i = 1; i <= s.length; i++) {
    const d = i < s.length ? s.charCodeAt(i) - s.charCodeAt(i - 1) : NaN;
    if ((d === 0 || d === 1 || d === -1) && (step === undefined || d === step)) {
      step = d;
      run++;
      continue;
    }
    if (run >= 8) predictable += run - 1;
    run = 1;
    step = undefined;
    // This character may start the next run with the previous one.
    if (d === 0 || d === 1 || d === -1) {
      step = d;
      run = 2;
    }
  }
  return predictable;
}

/** The estimated randomness of `s`, bits (see the module comment). */
export function tokenBits(s: string): number {
  if (!s) return 0;
  return (s.length - predictableChars(s)) * Math.log2(charsetSize(s));
}

/** Shannon entropy of the characters of `s` as a sample, bits per character. */
function shannon(s: string): number {
  const counts = new Map<string, number>();
  for (const c of s) counts.set(c, (counts.get(c) ?? 0) + 1);
  let h = 0;
  for (const n of counts.values()) {
    const p = n / s.length;
    h -= p * Math.log2(p);
  }
  return h;
}

/** The shortest unit that `s` is a repetition of, when it is one (`abcabcabc` → `abc`). */
function period(s: string): number | undefined {
  for (let p = 1; p <= s.length / 2; p++) {
    if (s.length % p !== 0) continue;
    if (s.slice(0, p).repeat(s.length / p) === s) return p;
  }
  return undefined;
}

/**
 * Everything wrong with `token` as an access token, as short phrases (empty: it is fine). Never
 * quotes the token: a message may end up in a log.
 */
export function tokenProblems(token: string): string[] {
  if (token.length === 0) return ['is empty'];
  if (/[^\x21-\x7e]/.test(token)) return ['holds spaces, control or non-ASCII characters (a token travels in an HTTP header)'];
  if (token.length > TOKEN_MAX_LENGTH) return [`is longer than ${TOKEN_MAX_LENGTH} characters`];
  const folded = token.toLowerCase().replace(/[-_. ]/g, '');
  const words = PLACEHOLDER_WORDS.filter((w) => folded.includes(w));
  if (words.length) {
    let rest = folded;
    for (const w of words) rest = rest.split(w).join('');
    if (tokenBits(rest) < TOKEN_MIN_BITS) return [`looks like a placeholder or a made-up value (it contains "${words[0]}")`];
  }
  const out: string[] = [];
  if (token.length < TOKEN_MIN_LENGTH) out.push(`is too short (${token.length} characters; at least ${TOKEN_MIN_LENGTH})`);
  const p = period(token);
  if (p !== undefined) out.push(`is one pattern repeated (${p} character${p === 1 ? '' : 's'} over and over)`);
  else if (shannon(token) < 2.5) out.push('repeats a few characters over and over');
  if (/^[a-z]+$/.test(token) || /^[A-Z]+$/.test(token)) out.push('is only letters of one case (it looks like words, not random bytes)');
  else if (/^[0-9]+$/.test(token)) out.push('is only digits');
  if (!out.length) {
    const bits = tokenBits(token);
    if (bits < TOKEN_MIN_BITS) out.push(`holds about ${Math.floor(bits)} bits of randomness (at least ${TOKEN_MIN_BITS} needed)`);
  }
  return out;
}

/**
 * A config schema for a token: a string that passes `tokenProblems`, with a message naming what is
 * wrong and how to make a good one. The setting's name comes from where the schema sits (the config
 * loader prefixes each problem with its path and source, e.g. `api.token: … [env BACKLOG_INDEXER_API_TOKEN]`).
 */
export const tokenSchema = z.string().superRefine((value, ctx) => {
  const problems = tokenProblems(value);
  if (problems.length) ctx.addIssue({ code: 'custom', message: `the token ${problems.join('; ')}; ${TOKEN_HOWTO}` });
});

/** A new random token: 32 random bytes as 64 hex characters (256 bits). Always passes `tokenProblems`. */
export function generateToken(): string {
  for (;;) {
    const t = randomBytes(32).toString('hex');
    // A run of 8 counting hex digits in 64 random ones is a ~1e-7 event; draw again rather than hand it out.
    if (tokenProblems(t).length === 0) return t;
  }
}

/**
 * A token kept in a file (`api.tokenFile`, `auth.tokenFile`: a Kubernetes Secret mounted as a file, the
 * compose stack's generated one): read like a private key file (only its owner may read it) and checked
 * like any token. Throws `ConfigError` naming `setting`.
 */
export function readTokenFile(path: string, where: { app: string; setting: string }): string {
  const token = readPrivateKeyFile(path, where).toString('utf8').trim();
  const problems = tokenProblems(token);
  if (problems.length) throw new ConfigError('CONFIG_INVALID', where.app, [{ path: where.setting, message: `the token in '${path}' ${problems.join('; ')}; ${TOKEN_HOWTO}` }]);
  return token;
}
