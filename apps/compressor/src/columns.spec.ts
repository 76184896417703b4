import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { type PartLine, mergeRuns, windowOf, windowStartMs } from '@backlog/core-codec';
import { afterAll, describe, expect, it } from 'vitest';
import { type Checkpoint, type PartBuffer, PartitionAssembler, sortedLines } from './assembler';
import { Bz2Pool } from './bz2-pool';
import { BatchScanner } from './scan';

const scanner = new BatchScanner();
import { sealPart, sortWindow } from './sealer';
import { SpillFile } from './spill';

const dir = mkdtempSync(join(tmpdir(), 'columns-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const W0 = windowOf(Date.parse('2026-11-22T10:00:00Z'));
const opts = { partition: 0, graceMs: 60_000, maxFutureSkewMs: 300_000, lateLingerOffsets: 3, maxPartRawBytes: 1 << 30 };

/**
 * h-<env> batches as the compressor reads them (gzip NDJSON): several hosts, services and levels per
 * batch; many events on the same millisecond (ties ordered by event.id, ASCII and not, then bytes);
 * identical events; a batch that spans two windows; a host an hour late; lines that are not
 * JSON.stringify output (whitespace, escapes: the JSON.parse path) and one that is not JSON at all.
 */
function batches(): { value: Buffer; ts: number }[] {
  let seed = 7;
  const rnd = (n: number) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return (seed >>> 8) % n;
  };
  const ids = ['a', 'b', 'é', 'z', '\u{1F600}', 'ab', '\uE000', ''];
  const out: { value: Buffer; ts: number }[] = [];
  let lagging: { value: Buffer; ts: number } | undefined;
  const start = windowStartMs(W0);
  for (let t = start; t < start + 20 * 60_000; t += 30_000) {
    for (const host of ['web-01', 'web-02', 'db-1']) {
      const lines: string[] = [];
      // The second host's last batch of each window runs into the next one.
      const span = host === 'web-02' && (t - start) % 300_000 === 270_000 ? 60_000 : 30_000;
      for (let i = 0; i < 40; i++) {
        const ts = t + [0, 1, 2, rnd(span)][rnd(4)]!;
        const ev: Record<string, unknown> = {
          '@timestamp': new Date(ts).toISOString(),
          event: { id: ids[rnd(ids.length)]! + String(rnd(3)) },
          host: { name: host },
          // Facets of its own in the next window, so a line's facets must follow it there.
          service: { name: windowOf(ts) === windowOf(t) ? ['nginx', 'api', 'cron'][rnd(3)] : 'spill-over' },
          log: { level: windowOf(ts) === windowOf(t) ? ['info', 'warn', 'error'][rnd(3)] : 'debug' },
          message: ['GET / 200', 'x', 'é ☃', 'tab\there'][rnd(4)],
        };
        const line = JSON.stringify(ev);
        const k = rnd(40);
        lines.push(k === 0 ? line.replace('{"@timestamp":', '{ "@timestamp": ') : k === 1 ? line.replace('"message":"', '"message":"\\u0041') : k === 2 ? '{not json' : line);
        // Duplicates: byte-identical lines tie on every key.
        if (k === 3) lines.push(line);
      }
      const rec = { value: gzipSync(Buffer.from(`${lines.join('\n')}\n`)), ts: t + span };
      // db-1 runs one batch behind the others: its last batch of a window comes after their first of
      // the next, so a restart re-reads batches of windows already written.
      if (host === 'db-1') {
        if (lagging) out.push(lagging);
        lagging = rec;
      } else out.push(rec);
    }
    if (t === start + 15 * 60_000) {
      const ts = start + 1234;
      const line = JSON.stringify({ '@timestamp': new Date(ts).toISOString(), event: { id: 'late' }, host: { name: 'z' } });
      out.push({ value: gzipSync(Buffer.from(`${line}\n`)), ts: t });
    }
  }
  if (lagging) out.push(lagging);
  return out;
}

/** Runs the batches through an assembler fed columns (as the compressor does) or objects (the general path). */
function assemble(recs: { value: Buffer; ts: number }[], how: 'columns' | 'objects', spill: boolean): PartBuffer[] {
  const asm = new PartitionAssembler(opts, { offset: 0n });
  const sealed: PartBuffer[] = [];
  let off = 0n;
  for (const r of recs) {
    const b = scanner.batchLines(r.value, 1 << 26);
    const res = how === 'columns' ? asm.addRecord(off++, r.ts, b.slowLines, b.cols) : asm.addRecord(off++, r.ts, b.lines);
    sealed.push(...res.seal);
    if (spill) for (const p of asm.buffers()) asm.spillBuffer(p, () => SpillFile.create(dir, `${how}-${p.window}-${p.firstOffset}-${Math.random()}`));
  }
  sealed.push(...asm.sealIdle(Number.MAX_SAFE_INTEGER));
  return sealed;
}

/** A sealed part as a key and its lines in part order (the sort the sealer uses, or the merge when spilled). */
function partLines(b: PartBuffer): { key: string; lines: string[] } {
  const sorted = b.spill ? undefined : sortWindow(b.runs, b.window);
  const lines: PartLine[] = sorted ? sorted.lines() : [...mergeRuns([...(b.spill?.readers() ?? []), ...b.runs.map(sortedLines)])];
  return { key: `${b.window}/p0-${b.firstOffset}${b.late ? '-late' : ''}`, lines: lines.map((l) => Buffer.from(l.line as Uint8Array).toString('utf8')) };
}

/** Columns fed as the compressor feeds them, from a checkpoint, acknowledging each part one record after it is sealed; stops after `crashAt` records. */
function runFrom(recs: { value: Buffer; ts: number }[], from: Checkpoint | undefined, crashAt = Infinity) {
  const asm = new PartitionAssembler(opts, { offset: from ? BigInt(from.offset) : 0n, checkpoint: from });
  const written: { key: string; lines: string[] }[] = [];
  const pending: PartBuffer[] = [];
  let cp = asm.checkpoint();
  let n = 0;
  for (const [i, r] of recs.entries()) {
    const off = BigInt(i);
    if (off < asm.nextOffset) continue;
    if (n++ >= crashAt) return { written, cp };
    const b = scanner.batchLines(r.value, 1 << 26);
    const res = asm.addRecord(off, r.ts, b.slowLines, b.cols);
    for (const p of pending.splice(0)) {
      written.push(partLines(p));
      asm.done(p);
    }
    pending.push(...res.seal);
    cp = asm.checkpoint();
  }
  for (const p of [...pending, ...asm.sealIdle(Number.MAX_SAFE_INTEGER)]) {
    written.push(partLines(p));
    asm.done(p);
  }
  return { written, cp: asm.checkpoint() };
}

describe('batches as columns', () => {
  it('seal to the same bytes and manifests as the same lines given as objects (in memory and spilled)', async () => {
    const recs = batches();
    const decoded = recs.map((r) => scanner.batchLines(r.value, 1 << 26));
    // The fixture exercises every path: columns, JSON.parse lines, bad lines, ties.
    expect(decoded.every((d) => d.cols !== undefined)).toBe(true);
    expect(decoded.reduce((n, d) => n + d.slowLines.length, 0)).toBeGreaterThan(10);
    expect(decoded.reduce((n, d) => n + d.bad.length, 0)).toBeGreaterThan(3);
    const pool = new Bz2Pool({ tool: 'lbzip2', workers: 2, tmpDir: dir });
    const seal = (b: PartBuffer) => sealPart(b, pool, { env: 't', topic: 'h-t', partition: 0, streamRawBytes: 2048, maxRecordBytes: 900 * 1024 });
    try {
      const ref = await Promise.all(assemble(recs, 'objects', false).map(seal));
      expect(ref.length).toBeGreaterThan(4);
      expect(ref.some((p) => p.manifest.late)).toBe(true);
      const total = decoded.reduce((n, d) => n + d.count, 0);
      expect(ref.reduce((n, p) => n + p.manifest.count, 0)).toBe(total);
      for (const [how, spill] of [
        ['columns', false],
        ['columns', true],
        ['objects', true],
      ] as const) {
        const got = await Promise.all(assemble(recs, how, spill).map(seal));
        expect(got.map((p) => p.manifest)).toEqual(ref.map((p) => p.manifest));
        for (const [i, p] of got.entries()) expect(p.object.equals(ref[i]!.object), `${how} spill=${spill} part ${i}`).toBe(true);
      }
    } finally {
      await pool.close();
    }
  });

  it('a crash at any record + restart from the checkpoint writes the same parts, each event once', () => {
    const recs = batches();
    const whole = new Map(runFrom(recs, undefined).written.map((w) => [w.key, w.lines]));
    expect(whole.size).toBeGreaterThan(4);
    for (let crashAt = 1; crashAt < recs.length; crashAt += 5) {
      const first = runFrom(recs, undefined, crashAt);
      const second = runFrom(recs, first.cp);
      const all = [...first.written, ...second.written];
      // Every part written is one of the uninterrupted run's, byte for byte; together they are all of them.
      for (const w of all) expect(w.lines, `crash at ${crashAt}: ${w.key}`).toEqual(whole.get(w.key));
      expect(new Set(all.map((w) => w.key))).toEqual(new Set(whole.keys()));
    }
  });

  it('halves an oversized stream of a sorted window at the same line as a list of objects', async () => {
    // Random text compresses badly: a stream over the record limit is cut in two and recompressed.
    let x = 1;
    const noise = () => Array.from({ length: 400 }, () => ((x = (x * 48271) % 2147483647), String.fromCharCode(97 + (x % 26)))).join('');
    const start = windowStartMs(W0);
    const lines = Array.from({ length: 60 }, (_, i) => JSON.stringify({ '@timestamp': new Date(start + i).toISOString(), event: { id: `n${i}` }, message: noise() }));
    const value = gzipSync(Buffer.from(lines.join('\n')));
    const pool = new Bz2Pool({ tool: 'lbzip2', workers: 1, tmpDir: dir });
    try {
      const parts: Awaited<ReturnType<typeof sealPart>>[] = [];
      for (const how of ['columns', 'objects'] as const) {
        const [buf] = assemble([{ value, ts: start + 60 }], how, false);
        parts.push(await sealPart(buf!, pool, { env: 't', topic: 'h-t', partition: 0, streamRawBytes: 1 << 20, maxRecordBytes: 6000 }));
      }
      expect(parts[0]!.manifest.streams.length).toBeGreaterThan(2);
      expect(parts[0]!.manifest).toEqual(parts[1]!.manifest);
      expect(parts[0]!.object.equals(parts[1]!.object)).toBe(true);
    } finally {
      await pool.close();
    }
  });
});
