/**
 * Windows fixed by DESIGN.md ("Windows and block ids"). A window is 5 minutes:
 * window = floor(epoch_seconds / 300). Its id and every name built from it (S3 keys, indices,
 * topics) are formatted and parsed in names.ts.
 */
export const WINDOW_SECONDS = 300;

export function windowOf(epochMs: number): number {
  return Math.floor(epochMs / 1000 / WINDOW_SECONDS);
}

export function windowStartMs(window: number): number {
  return window * WINDOW_SECONDS * 1000;
}

export function windowEndMs(window: number): number {
  return (window + 1) * WINDOW_SECONDS * 1000;
}

/** Every window that overlaps [fromMs, toMs). */
export function windowsInRange(fromMs: number, toMs: number): number[] {
  if (!(toMs > fromMs)) return [];
  const out: number[] = [];
  for (let w = windowOf(fromMs); windowStartMs(w) < toMs; w++) out.push(w);
  return out;
}
