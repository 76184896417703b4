import { partKey, windowEndMs, windowId, windowOf } from '@backlog/core-codec';
import { describe, expect, it } from 'vitest';
import { type CompressorEvidence, classifyWindows } from './archive-windows';

const W = windowOf(Date.parse('2026-11-22T10:00:00Z'));
const ids = [W, W + 1, W + 2, W + 3].map(windowId);
const ev = (over: Partial<CompressorEvidence> = {}): CompressorEvidence => ({ closedBeforeMs: windowEndMs(W + 2), partitions: [], compressedParts: new Set(), compressedSinceMs: -Infinity, ...over });
const states = (r: ReturnType<typeof classifyWindows>) => r.reports.map((x) => x.state);

describe('classifyWindows', () => {
  it('present with parts, idle when closed without part or c-<env> record, open past the sealed horizon', () => {
    const s3 = new Map([[ids[0] as string, new Set([`${ids[0]}/p0-0`])]]);
    const r = classifyWindows('dev', ids, s3, ev({ compressedParts: new Set([`${ids[0]}/p0-0`]) }));
    expect(states(r)).toEqual(['present', 'idle', 'idle', 'open']);
    expect(r.lostPartKeys).toEqual([]);
  });

  it('a part announced on c-<env> but absent from S3 makes its window missing, even beside other parts', () => {
    const s3 = new Map([[ids[0] as string, new Set([`${ids[0]}/p0-0`])]]);
    const r = classifyWindows('dev', ids, s3, ev({ compressedParts: new Set([`${ids[0]}/p0-0`, `${ids[0]}/p1-40`, `${ids[1]}/p0-7`]) }));
    expect(states(r)).toEqual(['missing', 'missing', 'idle', 'open']);
    expect(r.reports[0]?.lost).toEqual([`${ids[0]}/p1-40`]);
    expect(r.lostPartKeys).toEqual([partKey('dev', W, 1, '40'), partKey('dev', W + 1, 0, '7')]);
  });

  it('unknown without evidence, and for windows older than what c-<env> still holds', () => {
    expect(states(classifyWindows('dev', ids, new Map(), undefined))).toEqual(['unknown', 'unknown', 'unknown', 'unknown']);
    const r = classifyWindows('dev', ids, new Map(), ev({ compressedSinceMs: windowEndMs(W + 1) }));
    expect(states(r)).toEqual(['unknown', 'idle', 'idle', 'open']);
    expect(r.reports[0]?.reason).toMatch(/c-dev no longer holds/);
  });
});
