// Order statistics for latency figures.

/** Nearest-rank percentile of an ascending array (p in 0..100); null when empty. */
export function percentile(sorted: ArrayLike<number>, p: number): number | null {
  if (sorted.length === 0) return null;
  const rank = Math.ceil((p / 100) * sorted.length);
  return sorted[Math.min(sorted.length, Math.max(1, rank)) - 1] as number;
}

/** p50/p95/p99/max of the samples (any order), in the samples' unit. */
export function latencySummary(samples: readonly number[]): { p50: number | null; p95: number | null; p99: number | null; max: number | null } {
  const s = Float64Array.from(samples).sort();
  return { p50: percentile(s, 50), p95: percentile(s, 95), p99: percentile(s, 99), max: s.length ? (s[s.length - 1] as number) : null };
}
