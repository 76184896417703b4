/**
 * Windows and names fixed by DESIGN.md ("Windows and block ids", "Elasticsearch indices").
 * A window is 5 minutes: window = floor(epoch_seconds / 300), its id is window.toString(36).
 */
export const WINDOW_SECONDS = 300;

export function windowOf(epochMs: number): number {
  return Math.floor(epochMs / 1000 / WINDOW_SECONDS);
}

export function windowId(window: number): string {
  return window.toString(36);
}

export function parseWindowId(id: string): number {
  if (!/^[0-9a-z]{1,12}$/.test(id)) throw new RangeError(`not a window id: ${JSON.stringify(id)}`);
  return parseInt(id, 36);
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

const pad = (n: number) => String(n).padStart(2, '0');

/**
 * S3 key of a part: `<env>/<yyyy>/<mm>/<dd>/<hh>/<window36>/p<partition>-<firstOffset>.log.bz2`.
 * The date path is the window's start in UTC; the name is a function of the Kafka offsets it holds,
 * so a retried upload overwrites the same object with the same bytes.
 */
export function partKey(env: string, window: number, partition: number, firstOffset: string | number | bigint): string {
  return `${windowPrefix(env, window)}p${partition}-${firstOffset}.log.bz2`;
}

export function manifestKey(env: string, window: number, partition: number, firstOffset: string | number | bigint): string {
  return `${windowPrefix(env, window)}p${partition}-${firstOffset}.json`;
}

/** The S3 prefix under which every part of one window lives (for listing without scanning the bucket). */
export function windowPrefix(env: string, window: number): string {
  const d = new Date(windowStartMs(window));
  return `${env}/${d.getUTCFullYear()}/${pad(d.getUTCMonth() + 1)}/${pad(d.getUTCDate())}/${pad(d.getUTCHours())}/${windowId(window)}/`;
}

/** `logs-<env>-recent-YYYY.MM.DD`, the UTC day of the event's @timestamp. */
export function recentIndexName(env: string, epochMs: number): string {
  const d = new Date(epochMs);
  return `logs-${env}-recent-${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

/** `logs-<env>-history-<start36>-<end36>`, start/end in epoch seconds: the same request names the same index. */
export function historyIndexName(env: string, startS: number, endS: number): string {
  return `logs-${env}-history-${Math.floor(startS).toString(36)}-${Math.floor(endS).toString(36)}`;
}

/** Topic names of DESIGN.md. */
export const harvestTopic = (env: string) => `h-${env}`;
export const compressedTopic = (env: string) => `c-${env}`;

/** An env name must be usable in topic names, index names (lowercase) and S3 keys. */
export function validEnv(env: string): boolean {
  return /^[a-z0-9][a-z0-9_]{0,31}$/.test(env);
}
