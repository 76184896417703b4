import { createHash, createHmac, randomBytes, randomInt, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * Who may watch the live view (docs/adr/0019-defaults-tokens-sessions-and-bounds.md):
 *
 * - **Programs** send the token: `Authorization: Bearer <auth.token>` on `/ws`.
 * - **Browsers** never hold the token in a URL. The page posts it once (or a one-time login code) to
 *   `POST /auth/login` and gets a session cookie: HttpOnly (no script reads it), SameSite=Strict (no
 *   other site's page sends it), Secure when served over TLS. The cookie holds a session, not the
 *   token: `v1.<random id>.<expiry, epoch s>.<HMAC-SHA256>` keyed by a key derived from the token, so
 *   every receiver with the same token accepts it (behind one address), it cannot be forged or
 *   extended, it expires, and changing the token ends every session.
 * - **One-time login codes** (`XXXX-XXXX`, 40 bits, minutes long, single use, kept in Redis so any
 *   receiver redeems them once) are what a terminal may print: `backlog start` and `backlog live code`
 *   ask for one with the token.
 * - The WebSocket upgrade and the login also check `Origin`: only the page's own origin (the Host it
 *   was asked under) or `http.allowedOrigins`. A page on another origin — even another port of the
 *   same host, which counts as the same *site* for SameSite cookies — is refused.
 */

const digest = (s: string) => createHash('sha256').update(s).digest();

/** Constant-time equality of two secrets of any length (compares their digests). */
export function sameSecret(given: string, expected: Buffer): boolean {
  return timingSafeEqual(digest(given), expected);
}

export const SESSION_COOKIE = 'backlog_live';

export class Sessions {
  private readonly key: Buffer;

  constructor(token: string) {
    // A key of its own (not the token itself): a leaked session value says nothing about the token.
    this.key = createHmac('sha256', token).update('backlog live-receiver session v1').digest();
  }

  private mac(body: string): string {
    return createHmac('sha256', this.key).update(body).digest('base64url');
  }

  /** A new session value lasting `ttlMs`. */
  issue(ttlMs: number, nowMs = Date.now()): { value: string; expiresAt: number } {
    const expiresAt = Math.floor((nowMs + ttlMs) / 1000) * 1000;
    const body = `v1.${randomBytes(16).toString('base64url')}.${expiresAt / 1000}`;
    return { value: `${body}.${this.mac(body)}`, expiresAt };
  }

  /** The session's expiry (epoch ms) when `value` is one of ours and has not expired, else undefined. */
  verify(value: string | undefined, nowMs = Date.now()): number | undefined {
    if (!value || value.length > 200) return undefined;
    const m = /^(v1\.[A-Za-z0-9_-]{22}\.(\d{1,12}))\.([A-Za-z0-9_-]{43})$/.exec(value);
    if (!m) return undefined;
    const expected = Buffer.from(this.mac(m[1] as string));
    const given = Buffer.from(m[3] as string);
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) return undefined;
    const expiresAt = Number(m[2]) * 1000;
    return expiresAt > nowMs ? expiresAt : undefined;
  }
}

/** The value of cookie `name` in a Cookie header (RFC 6265 `name=value; …`). */
export function cookieValue(header: string | undefined, name: string): string | undefined {
  if (!header) return undefined;
  for (const part of header.split(';')) {
    const eq = part.indexOf('=');
    if (eq < 0) continue;
    if (part.slice(0, eq).trim() === name) return part.slice(eq + 1).trim();
  }
  return undefined;
}

/** Whether the request reached us over TLS (directly, or through a proxy that says so). */
export function overTls(req: IncomingMessage): boolean {
  if ((req.socket as { encrypted?: boolean }).encrypted) return true;
  // Trusting the header can only make the cookie stricter (Secure), never weaker.
  return /^https$/i.test(
    String(req.headers['x-forwarded-proto'] ?? '')
      .split(',')[0]
      ?.trim() ?? '',
  );
}

/** A Set-Cookie header value for the session; `maxAgeMs` 0 clears it. */
export function sessionCookie(value: string, maxAgeMs: number, secure: boolean): string {
  return `${SESSION_COOKIE}=${value}; Path=/; Max-Age=${Math.max(0, Math.floor(maxAgeMs / 1000))}; HttpOnly; SameSite=Strict${secure ? '; Secure' : ''}`;
}

/**
 * Whether the request's `Origin` may use the page's API: absent (not a browser, or a same-origin GET),
 * the origin the request was addressed to (`http(s)://<Host>`), or one of `allowed`.
 */
export function originAllowed(req: IncomingMessage, allowed: readonly string[]): boolean {
  const origin = req.headers.origin;
  if (origin === undefined) return true;
  const host = req.headers.host;
  if (host && (origin === `http://${host}` || origin === `https://${host}`)) return true;
  return allowed.includes(origin);
}

// Crockford's base32: no I, L, O, U, so a code read off a terminal is typed back right.
const CODE_ALPHABET = '0123456789ABCDEFGHJKMNPQRSTVWXYZ';

/** A new one-time login code, `XXXX-XXXX` (40 bits). */
export function newLoginCode(): string {
  let s = '';
  for (let i = 0; i < 8; i++) s += CODE_ALPHABET[randomInt(32)];
  return `${s.slice(0, 4)}-${s.slice(4)}`;
}

/** A code as typed (any case, with or without the dash, O for 0, I/L for 1) → its canonical 8 characters, or undefined. */
export function normalizeLoginCode(typed: string): string | undefined {
  const s = typed.toUpperCase().replace(/[\s-]/g, '').replace(/O/g, '0').replace(/[IL]/g, '1');
  if (s.length !== 8) return undefined;
  for (const c of s) if (!CODE_ALPHABET.includes(c)) return undefined;
  return s;
}

/** The Redis key of a login code: its digest, so that Redis never holds a usable code. */
export const loginCodeKey = (env: string, canonical: string) => `${env}:live:code:${digest(canonical).toString('hex')}`;

/**
 * Failed logins allowed per minute on this receiver; past it every login is refused (429) until the
 * minute is over, right ones included — otherwise the limit would not slow a guesser down at all.
 * Tokens are far beyond guessing; this bounds guesses at login codes.
 */
export class LoginLimiter {
  private windowStart = 0;
  private failures = 0;

  constructor(private readonly perMinute: number) {}

  blocked(nowMs = Date.now()): boolean {
    if (nowMs - this.windowStart >= 60_000) {
      this.windowStart = nowMs;
      this.failures = 0;
    }
    return this.failures >= this.perMinute;
  }

  failed(): void {
    this.failures++;
  }
}
