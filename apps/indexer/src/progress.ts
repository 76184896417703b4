import type { JobView } from './status';

const MiB = 1024 * 1024;

export function fmtBytes(n: number): string {
  return n >= 1024 * MiB ? `${(n / 1024 / MiB).toFixed(2)} GiB` : n >= MiB ? `${(n / MiB).toFixed(1)} MiB` : n >= 1024 ? `${(n / 1024).toFixed(1)} KiB` : `${n} B`;
}

export function fmtSeconds(s: number | null): string {
  if (s === null) return '?';
  if (s < 60) return `${Math.round(s)}s`;
  if (s < 3600) return `${Math.floor(s / 60)}m${String(Math.round(s % 60)).padStart(2, '0')}s`;
  return `${Math.floor(s / 3600)}h${String(Math.floor((s % 3600) / 60)).padStart(2, '0')}m`;
}

/** One line for a terminal: a bar by parts finished, then events, bytes, rate and ETA. */
export function progressBar(v: JobView, width = 24): string {
  const p = v.progress;
  const total = p.parts.total || 1;
  const frac = p.parts.total ? (p.parts.done + p.parts.failed) / total : 1;
  const fill = Math.round(frac * width);
  const bar = `${'█'.repeat(fill)}${'░'.repeat(width - fill)}`;
  const failed = p.parts.failed ? ` (${p.parts.failed} failed)` : '';
  return `${bar} ${p.parts.done + p.parts.failed}/${p.parts.total} parts${failed} · ${p.events.read.toLocaleString('en-US')}/${p.events.planned.toLocaleString('en-US')} events · ${fmtBytes(p.bytes.read)}/${fmtBytes(p.bytes.planned)} · ${p.rate.toLocaleString('en-US')} ev/s · ETA ${fmtSeconds(p.etaSeconds)} · ${v.status}`;
}

/** The machine-readable form (one JSON object per line, when stdout is not a terminal). */
export function progressJson(v: JobView): string {
  const p = v.progress;
  return JSON.stringify({ index: v.index, status: v.status, parts: p.parts, events: p.events, bytes: p.bytes, rate: p.rate, etaSeconds: p.etaSeconds });
}
