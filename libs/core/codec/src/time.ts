/**
 * Time arguments as DESIGN.md ("What a user types") accepts them: RFC 3339, epoch seconds, or
 * relative to now (`-2h`, `-30m`, `now`). Shared by the CLI and every app that takes a time range
 * (the indexer's CLI and API), so `--from -2h` means the same everywhere.
 */

const UNITS: Record<string, number> = { s: 1, m: 60, h: 3600, d: 86_400, w: 604_800 };

/** Returns epoch ms; throws a RangeError saying which forms are accepted. */
export function parseTimeArg(text: string, nowMs = Date.now()): number {
  const t = text.trim();
  if (t === 'now') return nowMs;
  const rel = /^-(\d+(?:\.\d+)?)([smhdw])$/.exec(t);
  if (rel) return nowMs - Number(rel[1]) * (UNITS[rel[2] as string] as number) * 1000;
  if (/^\d{1,12}(\.\d+)?$/.test(t)) return Math.round(Number(t) * 1000);
  if (/^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:\d{2}))?$/i.test(t)) {
    const ms = Date.parse(t.length === 10 ? `${t}T00:00:00Z` : t);
    if (Number.isFinite(ms)) return ms;
  }
  throw new RangeError(`not a time: ${JSON.stringify(text)} (use RFC 3339, epoch seconds, or relative like -2h)`);
}
