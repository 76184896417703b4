// Issue 17 §5: the compressor's spill files on a scratch disk that fills up — a real small tmpfs, or
// where mounting is refused a real file-size limit (EFBIG) on this process while a test holds it.
import { join } from 'node:path';
import { type PartLine, mergeRuns, windowOf, windowStartMs } from '@backlog/core-codec';
import { isNoSpaceError } from '@backlog/core-pipeline';
import { type SmallDisk, smallDisk } from '@backlog/testing';
import { afterAll, describe, expect, it } from 'vitest';
import { type LineIn, PartitionAssembler } from './assembler';
import { SpillFile } from './spill';

const disks: SmallDisk[] = [];
afterAll(() => {
  for (const d of disks) {
    d.free(process.pid);
    d.close();
  }
});

const W0 = windowOf(Date.parse('2026-11-22T10:00:00Z'));
const opts = { partition: 0, graceMs: 60_000, maxFutureSkewMs: 300_000, lateLingerOffsets: 5, maxPartRawBytes: 1 << 30 };
let id = 0;
/** One record's lines: `n` events of about `bytes` each, in window W0. */
function lines(n: number, bytes: number): LineIn[] {
  return Array.from({ length: n }, () => {
    const ts = windowStartMs(W0) + id;
    const eid = `e${String(id++).padStart(6, '0')}`;
    return { ts, id: eid, line: JSON.stringify({ '@timestamp': new Date(ts).toISOString(), event: { id: eid }, message: 'x'.repeat(bytes) }), host: 'a' };
  });
}
const idsOf = (runs: Iterable<PartLine>[]) => [...mergeRuns(runs)].map((l) => l.id);

describe('compressor scratch disk full', () => {
  it('spilling a part is all or nothing: a refused run leaves every run in memory, none in the file, none twice', () => {
    const d = smallDisk({ bytes: 2 * 1024 * 1024 });
    disks.push(d);
    const asm = new PartitionAssembler(opts, { offset: 0n });
    // Three records = three runs of ~40 KiB each in the open part of W0.
    for (let off = 0n; off < 3n; off++) asm.addRecord(off, windowStartMs(W0) + 1000, lines(40, 1000));
    const [b] = asm.buffers();
    const before = idsOf(b!.runs.map((r) => r as PartLine[]));
    const memBefore = asm.memBytes;
    let refused: unknown;
    // Room for about one run: the second one does not fit.
    d.fill(process.pid, 60 * 1024);
    try {
      asm.spillBuffer(b!, () => SpillFile.create(join(d.dir, 'scratch'), 'p0.spill'));
    } catch (err) {
      refused = err;
    } finally {
      d.free(process.pid);
    }
    expect(isNoSpaceError(refused)).toBe(true);
    // Nothing moved: the runs are all still in memory, the file holds none of them.
    expect(asm.memBytes).toBe(memBefore);
    expect(b!.spill?.runCount ?? 0).toBe(0);
    expect(b!.spill?.bytes ?? 0).toBe(0);
    const sealed = idsOf([...(b!.spill?.readers() ?? []), ...b!.runs.map((r) => r as PartLine[])]);
    expect(sealed).toEqual(before);
    // Space returned: the same buffer spills, and the part holds each event once.
    asm.spillBuffer(b!, () => SpillFile.create(join(d.dir, 'scratch'), 'p0.spill'));
    expect(b!.runs).toEqual([]);
    expect(idsOf(b!.spill!.readers())).toEqual(before);
    b!.spill!.delete();
  });

  it('a run the disk refuses for a spilled part stays in memory (and is reported); the part still holds each event once', () => {
    const d = smallDisk({ bytes: 2 * 1024 * 1024 });
    disks.push(d);
    const asm = new PartitionAssembler(opts, { offset: 0n });
    asm.addRecord(0n, windowStartMs(W0) + 1000, lines(20, 1000));
    const [b] = asm.buffers();
    asm.spillBuffer(b!, () => SpillFile.create(join(d.dir, 'scratch'), 'p0.spill'));
    const spilledBytes = b!.spill!.bytes;
    const more = lines(100, 1000);
    d.fill(process.pid, 16 * 1024);
    try {
      asm.addRecord(1n, windowStartMs(W0) + 1000, more);
    } finally {
      d.free(process.pid);
    }
    expect(isNoSpaceError(asm.spillError)).toBe(true);
    expect(b!.spill!.bytes).toBe(spilledBytes);
    expect(b!.runs).toHaveLength(1);
    const ids = idsOf([...b!.spill!.readers(), ...b!.runs.map((r) => r as PartLine[])]);
    expect(ids).toHaveLength(120);
    expect(new Set(ids).size).toBe(120);
    b!.spill!.delete();
  });
});
