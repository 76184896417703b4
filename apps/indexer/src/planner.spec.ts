// The planner's pure steps: which windows are looked up in c-<env>, the order of the parts and the
// filter's skips, and the maxEvents cut. makePlan against S3 and Kafka runs in tests/indexer.
import type { ArchivePart } from '@backlog/core-codec';
import { type PartManifest, windowId, windowStartMs } from '@backlog/core-codec';
import { describe, expect, it } from 'vitest';
import { type PartSource, orderParts, planned, truncationMs, windowsToRead } from './planner';

const W = 5_900_000; // a window number (2026)
const start = (w: number) => windowStartMs(w);

function manifest(w: number, partition: number, firstOffset: string, over: Partial<PartManifest> = {}): PartManifest {
  const s = start(w);
  return {
    schema: 1,
    codec: 'bzip2',
    encoder: 'lbzip2 2.5 -9',
    env: 'dev',
    topic: 'h-dev',
    window: windowId(w),
    windowStart: s,
    windowEnd: s + 300_000,
    partition,
    firstOffset,
    lastOffset: firstOffset,
    late: false,
    count: 30,
    minTs: s,
    maxTs: s + 299_000,
    rawBytes: 3000,
    compressedBytes: 900,
    sha256: '0'.repeat(64),
    hosts: ['web-1'],
    services: ['nginx'],
    levels: ['info'],
    // Three streams of 10 events, one per 100 s.
    streams: [0, 1, 2].map((i) => ({ offset: i * 300, length: 300, count: 10, minTs: s + i * 100_000, maxTs: s + i * 100_000 + 99_000, rawBytes: 1000 })),
    ...over,
  };
}

const s3 = (m: PartManifest): PartSource => ({
  kind: 's3',
  part: { key: `dev/${m.window}/p${m.partition}-${m.firstOffset}.bz2`, manifestKey: 'k.json', manifest: m, size: m.compressedBytes } satisfies ArchivePart,
});
const all = { mayMatchPart: () => true };

describe('planned', () => {
  it('counts the events and bytes of the streams in the range; an S3 part is read whole, a c-<env> part by its streams', () => {
    const m = manifest(W, 1, '42');
    const p = planned(m, 's3', 'key', start(W) + 100_000, start(W) + 200_000);
    expect(p).toEqual({ id: `${windowId(W)}/p1-42`, source: 's3', key: 'key', window: windowId(W), events: 10, bytes: 900, minTs: m.minTs, maxTs: m.maxTs });
    expect(planned(m, 'kafka', 'id', start(W), start(W) + 150_000)).toMatchObject({ events: 20, bytes: 600 });
  });
});

describe('windowsToRead', () => {
  const listing = { windows: [windowId(W), windowId(W + 1), windowId(W + 2)], windowsWithoutParts: [windowId(W + 1)] };
  it('an old range looks up only the windows S3 has no part of', () => {
    const now = start(W + 100);
    expect([...windowsToRead(listing, start(W + 3), now)]).toEqual([windowId(W + 1)]);
  });
  it('a recent range looks up every window, except those not started yet', () => {
    const now = start(W + 1) + 10_000;
    expect([...windowsToRead(listing, start(W + 3), now)]).toEqual([windowId(W), windowId(W + 1)]);
    expect([...windowsToRead(listing, start(W + 3), start(W + 3) + 7_200_000, 3 * 3_600_000)]).toEqual(listing.windows);
  });
});

describe('orderParts', () => {
  it('orders by window then part id, and drops (and counts) the parts the filter cannot match', () => {
    const a = manifest(W + 1, 0, '5');
    const b = manifest(W, 1, '9');
    const c = manifest(W, 0, '7', { hosts: ['db-1'] });
    const d = manifest(W, 0, '3');
    const sources = new Map([a, b, c, d].map((m) => [`${m.window}/p${m.partition}-${m.firstOffset}`, s3(m)] as const));
    const { parts, skippedByFilter } = orderParts(sources, { filter: { mayMatchPart: (f) => f.hosts.includes('web-1') }, fromMs: start(W), toMs: start(W + 2) });
    expect(parts.map((p) => p.id)).toEqual([`${windowId(W)}/p0-3`, `${windowId(W)}/p1-9`, `${windowId(W + 1)}/p0-5`]);
    expect(skippedByFilter).toBe(1);
    expect(sources.has(`${windowId(W)}/p0-7`)).toBe(false);
    expect(parts[0]?.key).toBe(`dev/${windowId(W)}/p0-3.bz2`);
  });
});

describe('truncationMs', () => {
  const sources = new Map([manifest(W, 0, '1'), manifest(W, 1, '1'), manifest(W + 1, 0, '2'), manifest(W + 2, 0, '3')].map((m) => [`${m.window}/p${m.partition}-${m.firstOffset}`, s3(m)] as const));
  const { parts } = orderParts(sources, { filter: all, fromMs: start(W), toMs: start(W + 3) });

  it('keeps whole windows in time order while their events fit', () => {
    expect(truncationMs(parts, 60, start(W))).toBe(start(W + 1));
    expect(truncationMs(parts, 89, start(W))).toBe(start(W + 1));
    expect(truncationMs(parts, 90, start(W))).toBe(start(W + 2));
    expect(truncationMs(parts, 120, start(W))).toBeUndefined();
  });

  it('never cuts before the start of the range (a first window that does not fit loads nothing)', () => {
    expect(truncationMs(parts, 10, start(W) + 60_000)).toBe(start(W) + 60_000);
  });
});
