import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type PartLine, mergeRuns, windowEndMs, windowOf, windowStartMs } from '@backlog/core-codec';
import { afterAll, describe, expect, it } from 'vitest';
import { type Checkpoint, type LineIn, type PartBuffer, PartitionAssembler, latenessBucket } from './assembler';
import { SpillFile } from './spill';

const W0 = windowOf(Date.parse('2026-11-22T10:00:00Z'));
const opts = { partition: 0, graceMs: 60_000, maxFutureSkewMs: 300_000, lateLingerOffsets: 5, maxPartRawBytes: 1 << 30 };
const dir = mkdtempSync(join(tmpdir(), 'asm-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

/** Records of a partition: several hosts' 30-s batches over 40 minutes, plus one host an hour late. */
function records(): { offset: bigint; ts: number; lines: LineIn[] }[] {
  const out: { offset: bigint; ts: number; lines: LineIn[] }[] = [];
  let off = 0n;
  let id = 0;
  const start = windowStartMs(W0);
  for (let t = start; t < start + 40 * 60_000; t += 30_000) {
    for (const host of ['a', 'b', 'c']) {
      const lines: LineIn[] = [];
      for (let i = 0; i < 5; i++) {
        const ts = t + i * 5000 + host.charCodeAt(0);
        const line = JSON.stringify({ '@timestamp': new Date(ts).toISOString(), event: { id: `e${id}` }, host: { name: host } });
        lines.push({ ts, id: `e${id++}`, line, host });
      }
      out.push({ offset: off++, ts: t + 30_000, lines });
    }
    if (t === start + 30 * 60_000) {
      // host z, offline for an hour, catches up: events of window W0 and W0+1.
      for (const w of [W0, W0 + 1]) {
        const ts = windowStartMs(w) + 1000;
        out.push({ offset: off++, ts: t, lines: [{ ts, id: `late${w}`, line: JSON.stringify({ '@timestamp': new Date(ts).toISOString(), event: { id: `late${w}` } }), host: 'z' }] });
      }
    }
  }
  return out;
}

type Written = { key: string; lines: string[]; late: boolean };
const partOf = (b: PartBuffer): Written => ({
  key: `${b.window}/p0-${b.firstOffset}`,
  lines: [...mergeRuns([...(b.spill?.readers() ?? []), ...b.runs])].map((l: PartLine) => (typeof l.line === 'string' ? l.line : Buffer.from(l.line).toString('utf8'))),
  late: b.late,
});

/** Runs records through an assembler; `crashAt` stops after that many records (in-flight parts lost). */
function run(recs: ReturnType<typeof records>, from?: Checkpoint, crashAt = Infinity, spill = false) {
  const asm = new PartitionAssembler(opts, { offset: from ? BigInt(from.offset) : 0n, checkpoint: from });
  const written: Written[] = [];
  let cp: Checkpoint = asm.checkpoint();
  let n = 0;
  const pending: PartBuffer[] = [];
  for (const r of recs) {
    if (r.offset < asm.nextOffset) continue;
    if (n++ >= crashAt) return { written, cp };
    const res = asm.addRecord(r.offset, r.ts, r.lines);
    if (spill) for (const b of asm.buffers()) asm.spillBuffer(b, () => SpillFile.create(dir, `${b.window}-${b.firstOffset}-${Math.random()}`));
    // Parts are acknowledged one record after they were sealed: a crash loses the ones in flight.
    for (const b of pending.splice(0)) {
      written.push(partOf(b));
      asm.done(b);
      b.spill?.delete();
    }
    pending.push(...res.seal);
    cp = asm.checkpoint();
  }
  for (const b of [...pending, ...asm.sealIdle(Number.MAX_SAFE_INTEGER)]) {
    written.push(partOf(b));
    asm.done(b);
  }
  return { written, cp: asm.checkpoint() };
}

const byKey = (ws: Written[]) => new Map(ws.map((w) => [w.key, w]));

describe('PartitionAssembler', () => {
  const recs = records();
  const whole = run(recs);

  it('seals windows by watermark + grace, keeps late events in further parts, loses nothing', () => {
    const all = whole.written.flatMap((w) => w.lines);
    const expected = recs.flatMap((r) => r.lines.map((l) => l.line));
    expect(all.sort()).toEqual([...expected].sort());
    expect(new Set(all).size).toBe(all.length);
    const late = whole.written.filter((w) => w.late);
    expect(late.map((w) => w.key.split('/')[0]).sort()).toEqual([String(W0), String(W0 + 1)]);
    for (const w of whole.written) for (const l of w.lines) expect(String(windowOf(Date.parse(JSON.parse(l)['@timestamp'])))).toBe(w.key.split('/')[0]);
  });

  it('a crash at any record + restart from the checkpoint rewrites the same parts, each event once', () => {
    const ref = byKey(whole.written);
    for (let crashAt = 1; crashAt < recs.length; crashAt += 7) {
      const first = run(recs, undefined, crashAt);
      const second = run(recs, first.cp);
      const union = byKey([...first.written, ...second.written]);
      expect([...union.keys()].sort()).toEqual([...ref.keys()].sort());
      for (const w of [...first.written, ...second.written]) expect(w.lines).toEqual(ref.get(w.key)?.lines);
      // Nothing written twice with different content, and nothing missing.
      expect([...first.written, ...second.written].flatMap((w) => w.lines).length).toBeGreaterThanOrEqual(recs.reduce((n, r) => n + r.lines.length, 0));
    }
  });

  it('spilled buffers seal to the same parts', () => {
    const spilled = run(recs, undefined, Infinity, true);
    expect(byKey(spilled.written)).toEqual(byKey(whole.written));
  });

  it('the checkpoint holds the watermark before its offset', () => {
    const a = new PartitionAssembler(opts, { offset: 0n });
    const ts = windowStartMs(W0) + 1000;
    a.addRecord(0n, ts, [{ ts, id: 'x', line: '{}' }]);
    expect(a.checkpoint()).toEqual({ v: 1, partition: 0, offset: '0', watermark: null, sealed: [] });
    const ts2 = windowEndMs(W0) + 61_000;
    const r = a.addRecord(1n, ts2, [{ ts: ts2, id: 'y', line: '{}' }]);
    expect(r.seal).toHaveLength(1);
    a.done(r.seal[0]!);
    expect(a.checkpoint()).toEqual({ v: 1, partition: 0, offset: '1', watermark: ts, sealed: [] });
    expect(latenessBucket(3_600_000)).toBe('1h-1d');
  });
});
