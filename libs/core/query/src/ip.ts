/**
 * IP addresses as the engine's `ip` type keeps them: 16 bytes, IPv4 as IPv4-mapped IPv6
 * (::ffff:a.b.c.d), so one order covers both families (RFC 4291 2.5.5.2).
 */

const V4 = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})$/;

function parseV4(s: string, out: Uint8Array, at: number): boolean {
  const m = V4.exec(s);
  if (!m) return false;
  for (let i = 0; i < 4; i++) {
    const part = m[i + 1] as string;
    const n = Number(part);
    if (n > 255 || (part.length > 1 && part.startsWith('0'))) return false;
    out[at + i] = n;
  }
  return true;
}

/** 16 bytes, or undefined when `s` is not an IPv4 or IPv6 address (no zone ids). */
export function parseIp(s: string): Uint8Array | undefined {
  const out = new Uint8Array(16);
  if (s.indexOf(':') < 0) {
    out[10] = 0xff;
    out[11] = 0xff;
    return parseV4(s, out, 12) ? out : undefined;
  }
  const dbl = s.indexOf('::');
  if (dbl >= 0 && s.indexOf('::', dbl + 1) >= 0) return undefined;
  const head = dbl >= 0 ? s.slice(0, dbl) : s;
  const tail = dbl >= 0 ? s.slice(dbl + 2) : '';
  const headParts = head ? head.split(':') : [];
  const tailParts = tail ? tail.split(':') : [];
  const groups: number[] = [];
  const readGroups = (parts: string[], last: boolean): number[] | undefined => {
    const g: number[] = [];
    for (let i = 0; i < parts.length; i++) {
      const p = parts[i] as string;
      if (last && i === parts.length - 1 && p.includes('.')) {
        const v4 = new Uint8Array(4);
        if (!parseV4(p, v4, 0)) return undefined;
        g.push(((v4[0] as number) << 8) | (v4[1] as number), ((v4[2] as number) << 8) | (v4[3] as number));
        continue;
      }
      if (!/^[0-9a-fA-F]{1,4}$/.test(p)) return undefined;
      g.push(parseInt(p, 16));
    }
    return g;
  };
  const hg = readGroups(headParts, dbl < 0);
  const tg = readGroups(tailParts, true);
  if (!hg || !tg) return undefined;
  if (dbl < 0) {
    if (hg.length !== 8) return undefined;
    groups.push(...hg);
  } else {
    if (hg.length + tg.length > 7) return undefined;
    groups.push(...hg, ...new Array<number>(8 - hg.length - tg.length).fill(0), ...tg);
  }
  for (let i = 0; i < 8; i++) {
    out[i * 2] = (groups[i] as number) >> 8;
    out[i * 2 + 1] = (groups[i] as number) & 0xff;
  }
  return out;
}

/** Byte-wise order of two parsed addresses. */
export function compareIp(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < 16; i++) if (a[i] !== b[i]) return (a[i] as number) - (b[i] as number);
  return 0;
}

/** A CIDR block as the first and last address it covers; undefined when not `address/prefix`. */
export function parseCidr(s: string): { lo: Uint8Array; hi: Uint8Array } | undefined {
  const slash = s.indexOf('/');
  if (slash < 0) return undefined;
  const addr = parseIp(s.slice(0, slash));
  const bitsText = s.slice(slash + 1);
  if (!addr || !/^\d{1,3}$/.test(bitsText)) return undefined;
  const v4 = s.indexOf(':') < 0;
  let bits = Number(bitsText);
  if (bits > (v4 ? 32 : 128)) return undefined;
  if (v4) bits += 96;
  const lo = new Uint8Array(addr);
  const hi = new Uint8Array(addr);
  for (let i = 0; i < 16; i++) {
    const keep = Math.max(0, Math.min(8, bits - i * 8));
    const mask = keep === 8 ? 0xff : (0xff << (8 - keep)) & 0xff;
    lo[i] = (lo[i] as number) & mask;
    hi[i] = ((hi[i] as number) & mask) | (~mask & 0xff);
  }
  return { lo, hi };
}

/**
 * The text the engine answers with for an address (RFC 5952): IPv4-mapped addresses as dotted quads,
 * IPv6 in lower case with the longest run of zero groups (two or more) as `::`.
 */
export function formatIp(b: Uint8Array): string {
  let mapped = true;
  for (let i = 0; i < 10; i++) if (b[i] !== 0) mapped = false;
  if (mapped && b[10] === 0xff && b[11] === 0xff) return `${b[12]}.${b[13]}.${b[14]}.${b[15]}`;
  const g: number[] = [];
  for (let i = 0; i < 8; i++) g.push(((b[i * 2] as number) << 8) | (b[i * 2 + 1] as number));
  let bestAt = -1;
  let bestLen = 1;
  for (let i = 0; i < 8;) {
    if (g[i] !== 0) {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && g[j] === 0) j++;
    if (j - i > bestLen) {
      bestAt = i;
      bestLen = j - i;
    }
    i = j;
  }
  const hex = (xs: number[]) => xs.map((x) => x.toString(16)).join(':');
  if (bestAt < 0) return hex(g);
  return `${hex(g.slice(0, bestAt))}::${hex(g.slice(bestAt + bestLen))}`;
}
