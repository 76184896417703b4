import type { IncomingMessage } from 'node:http';
import { describe, expect, it } from 'vitest';
import { LoginLimiter, Sessions, cookieValue, newLoginCode, normalizeLoginCode, originAllowed, sessionCookie } from './auth';

const req = (headers: Record<string, string>) => ({ headers, socket: {} }) as unknown as IncomingMessage;

describe('sessions', () => {
  const token = 'f'.repeat(8) + '0123456789abcdef0123456789abcdef0123456789abcdef01234567';
  it('a session verifies until it expires, and not a moment longer', () => {
    const s = new Sessions(token);
    const t0 = 1_800_000_000_000;
    const { value, expiresAt } = s.issue(60_000, t0);
    expect(value).not.toContain(token);
    expect(s.verify(value, t0)).toBe(expiresAt);
    expect(s.verify(value, expiresAt - 1)).toBe(expiresAt);
    expect(s.verify(value, expiresAt)).toBeUndefined();
  });

  it('a changed expiry, id or MAC, another token, or garbage is refused', () => {
    const s = new Sessions(token);
    const t0 = 1_800_000_000_000;
    const { value } = s.issue(60_000, t0);
    const [v, id, exp, mac] = value.split('.') as [string, string, string, string];
    expect(s.verify(`${v}.${id}.${Number(exp) + 3600}.${mac}`, t0)).toBeUndefined();
    expect(s.verify(`${v}.${id.replace(/^./, id[0] === 'A' ? 'B' : 'A')}.${exp}.${mac}`, t0)).toBeUndefined();
    expect(s.verify(`${v}.${id}.${exp}.${mac.replace(/^./, mac[0] === 'A' ? 'B' : 'A')}`, t0)).toBeUndefined();
    expect(new Sessions(`${token}x`).verify(value, t0)).toBeUndefined();
    for (const bad of ['', 'v1', 'v1...', 'x'.repeat(500), token]) expect(s.verify(bad, t0)).toBeUndefined();
  });

  it('the cookie is HttpOnly and SameSite=Strict, Secure when asked; 0 clears it', () => {
    expect(sessionCookie('abc', 43_200_000, false)).toBe('backlog_live=abc; Path=/; Max-Age=43200; HttpOnly; SameSite=Strict');
    expect(sessionCookie('abc', 1000, true)).toMatch(/; Secure$/);
    expect(sessionCookie('', 0, false)).toMatch(/^backlog_live=; Path=\/; Max-Age=0;/);
    expect(cookieValue('a=1; backlog_live=v1.x.y.z; b=2', 'backlog_live')).toBe('v1.x.y.z');
    expect(cookieValue('backlog_livex=1', 'backlog_live')).toBeUndefined();
  });
});

describe('origin', () => {
  it('allows no Origin (programs), the origin the request was addressed to, and the configured ones only', () => {
    expect(originAllowed(req({ host: '127.0.0.1:8082' }), [])).toBe(true);
    expect(originAllowed(req({ host: '127.0.0.1:8082', origin: 'http://127.0.0.1:8082' }), [])).toBe(true);
    expect(originAllowed(req({ host: 'logs.example.com', origin: 'https://logs.example.com' }), [])).toBe(true);
    expect(originAllowed(req({ host: '127.0.0.1:8082', origin: 'http://127.0.0.1:9999' }), [])).toBe(false);
    expect(originAllowed(req({ host: '127.0.0.1:8082', origin: 'null' }), [])).toBe(false);
    expect(originAllowed(req({ host: '127.0.0.1:8082', origin: 'https://console.example.com' }), ['https://console.example.com'])).toBe(true);
  });
});

describe('login codes', () => {
  it('XXXX-XXXX from an alphabet without look-alikes; typed back in any case, with or without the dash', () => {
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) {
      const c = newLoginCode();
      expect(c).toMatch(/^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}$/);
      expect(normalizeLoginCode(c.toLowerCase())).toBe(c.replace('-', ''));
      seen.add(c);
    }
    expect(seen.size).toBe(1000);
    expect(normalizeLoginCode('oil0-1234')).toBe('01101234');
    expect(normalizeLoginCode('ABC')).toBeUndefined();
    expect(normalizeLoginCode('ABCD-EFGU')).toBeUndefined(); // U is not in the alphabet
  });

  it('failed sign-ins: past the limit every sign-in is refused until the minute is over', () => {
    const l = new LoginLimiter(3);
    const t0 = 1_000_000;
    expect(l.blocked(t0)).toBe(false);
    l.failed();
    l.failed();
    l.failed();
    expect(l.blocked(t0 + 1000)).toBe(true);
    expect(l.blocked(t0 + 59_999)).toBe(true);
    expect(l.blocked(t0 + 60_000)).toBe(false);
  });
});
