import { readdir } from 'node:fs/promises';
import { isAbsolute, join, resolve, sep } from 'node:path';

/**
 * A small glob for the file input (node:fs `glob` arrives only in Node 22): `*`, `?`, `[abc]` within a
 * path segment and `**` for any number of directories. Returns absolute paths of regular-looking entries
 * (the caller stats them). Hidden entries match only when the pattern segment starts with a dot, as in sh.
 */
export async function expandGlob(pattern: string, maxResults = 10_000): Promise<string[]> {
  const abs = isAbsolute(pattern) ? pattern : resolve(pattern);
  const segs = abs.split(sep).filter((s) => s.length > 0);
  const out: string[] = [];
  let i = 0;
  let base: string = sep;
  // The literal prefix is walked without listing directories.
  while (i < segs.length - 1 && !hasMagic(segs[i] as string)) base = join(base, segs[i++] as string);
  await walk(base, segs.slice(i), out, maxResults);
  return out;
}

function hasMagic(s: string): boolean {
  return /[*?[]/.test(s);
}

async function walk(dir: string, rest: string[], out: string[], max: number): Promise<void> {
  if (out.length >= max || rest.length === 0) return;
  const [seg, ...tail] = rest as [string, ...string[]];
  if (seg === '**') {
    await walk(dir, tail, out, max);
    for (const d of await listDirs(dir)) await walk(join(dir, d), rest, out, max);
    return;
  }
  if (!hasMagic(seg)) {
    const p = join(dir, seg);
    if (tail.length === 0) out.push(p);
    else await walk(p, tail, out, max);
    return;
  }
  const re = segmentRegExp(seg);
  let entries: { name: string; isDirectory(): boolean }[];
  try {
    entries = await readdir(dir, { withFileTypes: true });
  } catch {
    return;
  }
  for (const e of entries) {
    if (!re.test(e.name)) continue;
    if (tail.length === 0) out.push(join(dir, e.name));
    else if (e.isDirectory()) await walk(join(dir, e.name), tail, out, max);
    if (out.length >= max) return;
  }
}

async function listDirs(dir: string): Promise<string[]> {
  try {
    return (await readdir(dir, { withFileTypes: true })).filter((e) => e.isDirectory() && !e.name.startsWith('.')).map((e) => e.name);
  } catch {
    return [];
  }
}

/** One path segment's pattern as a RegExp. */
export function segmentRegExp(seg: string): RegExp {
  let re = seg.startsWith('.') ? '' : '(?!\\.)';
  for (let i = 0; i < seg.length; i++) {
    const c = seg[i] as string;
    if (c === '*') re += '[^/]*';
    else if (c === '?') re += '[^/]';
    else if (c === '[') {
      const close = seg.indexOf(']', i + 1);
      if (close === -1) re += '\\[';
      else {
        let cls = seg.slice(i + 1, close).replace(/\\/g, '\\\\');
        if (cls.startsWith('!')) cls = `^${cls.slice(1)}`;
        re += `[${cls}]`;
        i = close;
      }
    } else re += c.replace(/[.+^${}()|\\\]]/g, '\\$&');
  }
  return new RegExp(`^${re}$`);
}
