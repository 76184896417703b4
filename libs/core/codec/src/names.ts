import { windowStartMs } from './window';

/**
 * Every name DESIGN.md fixes ("Windows and block ids", "Topic c-<env> and S3", "Elasticsearch
 * indices"), formatted and parsed side by side: a window's id, the S3 keys of parts, the index names
 * and the topic names. A parser returns undefined (or throws, for a window id) for anything its
 * formatter would not have written; names.spec.ts checks each pair round-trips and rejects the rest.
 */

/** A window's id: the window number in base 36 (`3k9nc`). */
export function windowId(window: number): string {
  return window.toString(36);
}

export function parseWindowId(id: string): number {
  if (!/^[0-9a-z]{1,12}$/.test(id)) throw new RangeError(`not a window id: ${JSON.stringify(id)}`);
  return parseInt(id, 36);
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

/** Part keys look like `…/<window36>/p<partition>-<firstOffset>.log.bz2` / `.json` (partKey, manifestKey). */
export function parsePartKey(key: string): { window: string; partition: number; firstOffset: string; kind: 'part' | 'manifest' } | undefined {
  const m = /\/([0-9a-z]+)\/p(\d+)-(\d+)\.(log\.bz2|json)$/.exec(key);
  if (!m) return undefined;
  return { window: m[1] as string, partition: Number(m[2]), firstOffset: m[3] as string, kind: m[4] === 'json' ? 'manifest' : 'part' };
}

/** `logs-<env>-recent-YYYY.MM.DD`, the UTC day of the event's @timestamp. */
export function recentIndexName(env: string, epochMs: number): string {
  const d = new Date(epochMs);
  return `logs-${env}-recent-${d.getUTCFullYear()}.${pad(d.getUTCMonth() + 1)}.${pad(d.getUTCDate())}`;
}

/** The pattern that lists every recent index of `env` (narrow it with recentIndexDay). */
export const recentIndexPattern = (env: string) => `logs-${env}-recent-*`;

const escape = (s: string) => s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');

/**
 * The UTC day (epoch ms of its midnight) a recent index of `env` holds, or undefined when `name` is not
 * exactly `logs-<env>-recent-YYYY.MM.DD`. Anything else — history indices, the DLQ, another env whose
 * name starts like this one (`prod` vs `prod-recent`), a hand-made index, an impossible date — is not.
 */
export function recentIndexDay(env: string, name: string): number | undefined {
  const m = new RegExp(`^logs-${escape(env)}-recent-(\\d{4})\\.(\\d{2})\\.(\\d{2})$`).exec(name);
  if (!m) return undefined;
  const [y, mo, d] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const ms = Date.UTC(y, mo - 1, d);
  const back = new Date(ms);
  // Reject impossible dates (2026.02.31) rather than letting Date roll them over.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d) return undefined;
  return ms;
}

/** `logs-<env>-history-<start36>-<end36>`, start/end in epoch seconds: the same request names the same index. */
export function historyIndexName(env: string, startS: number, endS: number): string {
  return `logs-${env}-history-${Math.floor(startS).toString(36)}-${Math.floor(endS).toString(36)}`;
}

/** The pattern that lists every history index of `env` (narrow it with parseHistoryIndex). */
export const historyIndexPattern = (env: string) => `logs-${env}-history-*`;

/** `logs-<env>-history-<start36>-<end36>` → its parts, or undefined for any other name (or an empty range). */
export function parseHistoryIndex(name: string): { env: string; fromMs: number; toMs: number } | undefined {
  const m = /^logs-([a-z0-9][a-z0-9_-]{0,31})-history-([0-9a-z]{1,10})-([0-9a-z]{1,10})$/.exec(name);
  if (!m) return undefined;
  const fromMs = parseInt(m[2] as string, 36) * 1000;
  const toMs = parseInt(m[3] as string, 36) * 1000;
  if (!(toMs > fromMs)) return undefined;
  return { env: m[1] as string, fromMs, toMs };
}

/** `logs-<env>-dlq`: the es-consumer's dead letters. */
export const dlqIndexName = (env: string) => `logs-${env}-dlq`;

/** Topic names of DESIGN.md. */
export const harvestTopic = (env: string) => `h-${env}`;
export const compressedTopic = (env: string) => `c-${env}`;

/** `h-<env>` → harvest, `c-<env>` → compressed, with the env (a valid one); undefined for any other topic. */
export function parseTopic(topic: string): { kind: 'harvest' | 'compressed'; env: string } | undefined {
  const kind = topic.startsWith('h-') ? 'harvest' : topic.startsWith('c-') ? 'compressed' : undefined;
  const env = topic.slice(2);
  return kind && validEnv(env) ? { kind, env } : undefined;
}

/** An env name must be usable in topic names, index names (lowercase) and S3 keys. */
export function validEnv(env: string): boolean {
  return /^[a-z0-9][a-z0-9_]{0,31}$/.test(env);
}
