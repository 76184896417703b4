import { execFileSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import {
  type PartLine,
  PartStats,
  assemblePart,
  checkPart,
  chunkBytes,
  chunkText,
  comparePartLines,
  compressedRecords,
  cutStreams,
  mergeRuns,
  parseManifest,
  serializeManifest,
  sortRun,
  splitChunk,
  streamsInRange,
} from './part';
import { windowOf, windowStartMs } from './window';

const W = windowOf(Date.parse('2026-11-22T10:00:00Z'));
const line = (ts: number, id: string): PartLine => ({ ts, id, line: JSON.stringify({ '@timestamp': new Date(ts).toISOString(), event: { id } }) });

describe('part ordering', () => {
  it('orders by @timestamp, then event.id, then the line', () => {
    const a = line(1, 'b');
    const b = line(1, 'a');
    const c = line(0, 'z');
    expect([a, b, c].sort(comparePartLines)).toEqual([c, b, a]);
  });

  it('k-way merge equals a full sort, whatever the run order', () => {
    const base = windowStartMs(W);
    const runs: PartLine[][] = [];
    let n = 0;
    for (let r = 0; r < 7; r++) {
      const run: PartLine[] = [];
      for (let i = 0; i < 50 + r * 13; i++) run.push(line(base + ((i * 7919 + r * 31) % 1000), `id-${n++ % 97}`));
      runs.push(sortRun(run));
    }
    const all = runs.flat().sort(comparePartLines);
    expect([...mergeRuns(runs)]).toEqual(all);
    expect([...mergeRuns([...runs].reverse())].map((l) => l.line)).toEqual(all.map((l) => l.line));
    expect([...mergeRuns([])]).toEqual([]);
  });
});

describe('lines as bytes', () => {
  const asBytes = (l: PartLine): PartLine => ({ ...l, line: Buffer.from(l.line as string) });
  it('sort, cut, count and serialize exactly like the same lines as text', () => {
    const base = windowStartMs(W);
    // Ties on (@timestamp, event.id) fall to the line's bytes: UTF-8 byte order, not UTF-16 order.
    const tie = (msg: string): PartLine => ({ ts: base, id: 'same', line: JSON.stringify({ '@timestamp': new Date(base).toISOString(), message: msg }) });
    const text = [tie('\u{1F600}'), tie('\uFF5E'), tie('b'), tie('a'), ...Array.from({ length: 50 }, (_, i) => line(base + (i % 7), `id-${i % 5}`))];
    const bytes = text.map(asBytes);
    const sortedText = [...text].sort(comparePartLines).map((l) => l.line as string);
    const sortedBytes = [...bytes].sort(comparePartLines).map((l) => Buffer.from(l.line as Uint8Array).toString());
    expect(sortedBytes).toEqual(sortedText);
    expect(sortedText.map((l) => (JSON.parse(l) as { message?: string }).message).filter((m) => m !== undefined)).toEqual(['a', 'b', '\uFF5E', '\u{1F600}']);
    const ct = [...cutStreams([...text].sort(comparePartLines), 500)];
    const cb = [...cutStreams([...bytes].sort(comparePartLines), 500)];
    expect(cb.map((c) => [c.count, c.rawBytes, c.minTs, c.maxTs])).toEqual(ct.map((c) => [c.count, c.rawBytes, c.minTs, c.maxTs]));
    expect(cb.map((c) => chunkBytes(c).toString())).toEqual(ct.map((c) => chunkText(c.lines)));
    expect(cb.map((c) => chunkText(c.lines))).toEqual(ct.map((c) => chunkText(c.lines)));
    const st = new PartStats();
    const sb = new PartStats();
    for (const l of text) st.add(l);
    for (const l of bytes) sb.add(l);
    expect(sb.rawBytes).toBe(st.rawBytes);
  });
});

describe('streams and manifest', () => {
  const base = windowStartMs(W);
  const lines = Array.from({ length: 300 }, (_, i) => line(base + i * 10, `id-${i}`));

  it('cuts at event boundaries under the target, deterministically', () => {
    const chunks = [...cutStreams(lines, 2000)];
    expect(chunks.length).toBeGreaterThan(5);
    for (const c of chunks) expect(c.rawBytes).toBeLessThanOrEqual(2000);
    expect(chunks.flatMap((c) => c.lines)).toEqual(lines);
    expect(chunks.map((c) => c.rawBytes)).toEqual([...cutStreams(lines, 2000)].map((c) => c.rawBytes));
    const [a, b] = splitChunk(chunks[0]!)!;
    expect(a.count + b.count).toBe(chunks[0]!.count);
    expect(splitChunk({ ...chunks[0]!, lines: chunks[0]!.lines.slice(0, 1), count: 1 })).toBeUndefined();
  });

  it('assembles concatenated bz2 streams that bzip2 -d reads whole, and checks them', () => {
    const chunks = [...cutStreams(lines, 4000)];
    const stats = new PartStats();
    for (const l of lines) stats.add(l, { host: 'web-01', service: 'nginx', level: 'info' });
    const streams = chunks.map((c) => ({ bytes: execFileSync('bzip2', ['-9', '-c'], { input: chunkText(c.lines) }), count: c.count, minTs: c.minTs, maxTs: c.maxTs, rawBytes: c.rawBytes }));
    const { object, manifest } = assemblePart({ encoder: 'bzip2 -9', env: 'dev', topic: 'h-dev', window: W, partition: 0, firstOffset: '5', lastOffset: '9', late: false, stats, streams });
    expect(manifest.count).toBe(300);
    expect(manifest.hosts).toEqual(['web-01']);
    expect(execFileSync('bzip2', ['-d', '-c'], { input: object }).toString()).toBe(chunkText(lines));
    expect(parseManifest(serializeManifest(manifest))).toEqual(manifest);
    expect(serializeManifest(manifest)).toEqual(serializeManifest(parseManifest(serializeManifest(manifest))));
    const texts = manifest.streams.map((s) => execFileSync('bzip2', ['-d', '-c'], { input: object.subarray(s.offset, s.offset + s.length) }).toString());
    expect(checkPart(manifest, object, texts)).toEqual([]);
    const recs = compressedRecords(object, manifest);
    expect(recs.length).toBe(chunks.length);
    expect(recs[0]!.key).toBe(`${manifest.window}/p0-5`);
    expect(recs.at(-1)!.headers).toMatchObject({ last: '1', sha256: manifest.sha256 });
    expect(recs[0]!.headers.sha256).toBeUndefined();
    expect(streamsInRange(manifest, base + 1000, base + 1500).length).toBeGreaterThan(0);
    // Corruption is found and named.
    const bad = Buffer.from(object);
    bad[bad.length - 5]! ^= 0xff;
    expect(checkPart(manifest, bad, texts).map((p) => p.code)).toContain('SHA256_MISMATCH');
    const fewer = [...texts];
    fewer[0] = fewer[0]!.split('\n').slice(1).join('\n');
    expect(checkPart(manifest, object, fewer).map((p) => p.code)).toContain('COUNT_MISMATCH');
  });
});
