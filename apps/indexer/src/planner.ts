import type { KafkaClient } from '@backlog/adapter-kafka';
import { type S3Port, partStoreOf } from '@backlog/adapter-s3';
import { type ArchivePart, type PartManifest, compressedRecordKey, listArchiveParts, parseWindowId, streamsInRange, windowStartMs } from '@backlog/core-codec';
import type { ArchiveFilter } from '@backlog/core-query';
import type { Logger } from '@backlog/core-pipeline';
import { type CompressedScanOptions, type KafkaPart, readCompressedTopic } from './cenv';
import type { PlanSummary, PlannedPart } from './jobs';

/**
 * The plan of a load (issue "Plan without scanning the bucket"): the window ids of the range give
 * the S3 prefixes to list (`listArchiveParts` lists nothing else); windows with nothing in S3 yet —
 * and, for a range that reaches into the last `recentMs`, every window — are looked up in
 * `c-<env>`, where the compressor put the same parts first. A part found in both is read from S3.
 */
export type PartSource = { kind: 's3'; part: ArchivePart } | { kind: 'kafka'; part: KafkaPart };

export interface Plan {
  summary: PlanSummary;
  sources: Map<string, PartSource>;
}

export interface PlanRequest {
  env: string;
  fromMs: number;
  toMs: number;
  /** The request's filter, for skipping parts whose manifests hold nothing it accepts. */
  filter: Pick<ArchiveFilter, 'mayMatchPart'>;
  maxEvents?: number;
}

export interface PlannerDeps {
  s3: S3Port;
  kafka?: KafkaClient;
  logger: Logger;
}

export interface PlannerOptions {
  compressedTopic: CompressedScanOptions & { enabled: boolean };
  /** Ranges ending less than this long ago also read c-<env> for windows partly in S3. Default 1 h. */
  recentMs?: number;
}

const partIdOf = (m: PartManifest) => compressedRecordKey(m.window, m.partition, m.firstOffset);

/** A part of the plan: its id, source, window and what of it lies in the range (events, bytes to read). */
export function planned(m: PartManifest, source: 's3' | 'kafka', key: string, fromMs: number, toMs: number): PlannedPart {
  const streams = streamsInRange(m, fromMs, toMs);
  return {
    id: partIdOf(m),
    source,
    key,
    window: m.window,
    events: streams.reduce((n, s) => n + s.count, 0),
    // A verified read downloads the whole object (sha256); c-<env> parts are in memory already.
    bytes: source === 's3' ? m.compressedBytes : streams.reduce((n, s) => n + s.length, 0),
    minTs: m.minTs,
    maxTs: m.maxTs,
  };
}

/**
 * The windows to look up in c-<env>: every listed window when the range reaches into the last
 * `recentMs` (a part may be in c-<env> before S3), else the windows S3 has no part of; never a window
 * that has not started yet.
 */
export function windowsToRead(listing: { windows: readonly string[]; windowsWithoutParts: readonly string[] }, toMs: number, nowMs: number, recentMs = 3_600_000): Set<string> {
  const recent = toMs > nowMs - recentMs;
  const look = new Set(recent ? listing.windows : listing.windowsWithoutParts);
  // Windows that have not ended cannot be in S3 or c-<env> yet (only late parts can); skip the read for those alone.
  for (const w of [...look]) if (windowStartMs(parseWindowId(w)) > nowMs) look.delete(w);
  return look;
}

/** The parts the filter may match, in window order then id order; the others are dropped from `sources` and counted. */
export function orderParts(sources: Map<string, PartSource>, req: Pick<PlanRequest, 'filter' | 'fromMs' | 'toMs'>): { parts: PlannedPart[]; skippedByFilter: number } {
  const parts: PlannedPart[] = [];
  let skippedByFilter = 0;
  for (const [id, src] of sources) {
    const m = src.part.manifest;
    if (!req.filter.mayMatchPart(m)) {
      skippedByFilter++;
      sources.delete(id);
      continue;
    }
    parts.push(planned(m, src.kind, src.kind === 's3' ? src.part.key : id, req.fromMs, req.toMs));
  }
  parts.sort((a, b) => windowOrder(a) - windowOrder(b) || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  return { parts, skippedByFilter };
}

const windowOrder = (p: PlannedPart) => windowStartMs(parseWindowId(p.window));

/**
 * maxEvents: whole windows in time order while the manifests' counts fit (deterministic, so a resumed
 * or repeated load picks the same parts). Returns the start of the first window left out (never before
 * `fromMs`), or undefined when everything fits.
 */
export function truncationMs(parts: readonly PlannedPart[], maxEvents: number, fromMs: number): number | undefined {
  const perWindow = new Map<string, number>();
  for (const p of parts) perWindow.set(p.window, (perWindow.get(p.window) ?? 0) + p.events);
  let total = 0;
  for (const [w, n] of perWindow) {
    if (total + n > maxEvents) return Math.max(fromMs, windowStartMs(parseWindowId(w)));
    total += n;
  }
  return undefined;
}

export async function makePlan(deps: PlannerDeps, req: PlanRequest, opts: PlannerOptions, nowMs = Date.now()): Promise<Plan> {
  const listing = await listArchiveParts(partStoreOf(deps.s3), req.env, req.fromMs, req.toMs);
  const sources = new Map<string, PartSource>();
  const problems = [...listing.problems] as PlanSummary['problems'];
  for (const p of listing.parts) sources.set(partIdOf(p.manifest), { kind: 's3', part: p });

  const look = windowsToRead(listing, req.toMs, nowMs, opts.recentMs);
  if (look.size && deps.kafka && opts.compressedTopic.enabled) {
    const since = Math.min(...[...look].map((w) => windowStartMs(parseWindowId(w))));
    const found = await readCompressedTopic(deps.kafka, req.env, look, since, opts.compressedTopic, deps.logger);
    problems.push(...found.problems);
    for (const kp of found.parts) {
      if (sources.has(kp.id)) continue;
      if (!(kp.manifest.maxTs >= req.fromMs && kp.manifest.minTs < req.toMs)) continue;
      sources.set(kp.id, { kind: 'kafka', part: kp });
    }
  }

  const windowsFound = new Set([...sources.values()].map((s) => s.part.manifest.window));
  const ordered = orderParts(sources, req);
  const { skippedByFilter } = ordered;
  let { parts } = ordered;
  const truncatedAtMs = req.maxEvents !== undefined ? truncationMs(parts, req.maxEvents, req.fromMs) : undefined;
  if (truncatedAtMs !== undefined) {
    for (const p of parts) if (windowOrder(p) >= truncatedAtMs) sources.delete(p.id);
    parts = parts.filter((p) => sources.has(p.id));
  }
  const summary: PlanSummary = {
    at: nowMs,
    parts,
    windows: listing.windows.length,
    windowsWithoutParts: listing.windows.filter((w) => !windowsFound.has(w)),
    skippedByFilter,
    problems,
  };
  if (truncatedAtMs !== undefined) summary.truncatedAtMs = truncatedAtMs;
  return { summary, sources };
}
