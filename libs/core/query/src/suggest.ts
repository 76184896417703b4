/**
 * Did-you-mean: the closest candidate by optimal string alignment distance (Levenshtein plus adjacent
 * transpositions, so `hsot` is one edit from `host`), within a budget that grows with the word:
 * 0 edits up to 2 characters, 1 up to 5, 2 beyond. Ties go to the earlier candidate.
 */
export function suggest(word: string, candidates: Iterable<string>): string | undefined {
  const w = word.toLowerCase();
  const budget = w.length <= 2 ? 0 : w.length <= 5 ? 1 : 2;
  if (budget === 0) return undefined;
  let best: string | undefined;
  let bestD = budget + 1;
  for (const c of candidates) {
    if (Math.abs(c.length - w.length) > budget) continue;
    const d = editDistance(w, c.toLowerCase(), bestD);
    if (d < bestD && d > 0) {
      best = c;
      bestD = d;
    }
  }
  return best;
}

/** Optimal string alignment distance; stops early (returns `cap`) once every path exceeds `cap - 1`. */
export function editDistance(a: string, b: string, cap = Number.POSITIVE_INFINITY): number {
  const n = a.length;
  const m = b.length;
  if (n === 0) return m;
  if (m === 0) return n;
  let prev2 = new Array<number>(m + 1).fill(0);
  let prev = Array.from({ length: m + 1 }, (_, j) => j);
  let cur = new Array<number>(m + 1).fill(0);
  for (let i = 1; i <= n; i++) {
    cur[0] = i;
    let rowMin = i;
    for (let j = 1; j <= m; j++) {
      const cost = a.charCodeAt(i - 1) === b.charCodeAt(j - 1) ? 0 : 1;
      let v = Math.min((prev[j] as number) + 1, (cur[j - 1] as number) + 1, (prev[j - 1] as number) + cost);
      if (i > 1 && j > 1 && a.charCodeAt(i - 1) === b.charCodeAt(j - 2) && a.charCodeAt(i - 2) === b.charCodeAt(j - 1)) {
        v = Math.min(v, (prev2[j - 2] as number) + 1);
      }
      cur[j] = v;
      if (v < rowMin) rowMin = v;
    }
    if (rowMin >= cap) return cap;
    [prev2, prev, cur] = [prev, cur, prev2];
  }
  return prev[m] as number;
}
