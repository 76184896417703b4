import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { encodeSegment, encodeWalChunk, encodeWalHeader, segmentFileName } from '@backlog/core-codec';
import { inspectSpool } from './spool';

describe('backlog spool inspect', () => {
  it('lists segments, WALs and damaged files from the on-disk format', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-cli-'));
    for (const d of ['seg', 'wal', 'quarantine']) mkdirSync(join(dir, d));
    writeFileSync(
      join(dir, 'seg', segmentFileName(1)),
      encodeSegment({ batchId: 'b1', key: 'h', headers: { window: '3k9nc' }, count: 5, rawBytes: 10, createdAtMs: 1, positions: [] }, Buffer.from([0x1f, 0x8b])),
    );
    writeFileSync(join(dir, 'seg', segmentFileName(2)), Buffer.from('BLSG\x01broken'));
    writeFileSync(join(dir, 'wal', 'b3.wal'), Buffer.concat([encodeWalHeader({ batchId: 'b3', window: 5984472, host: 'h', createdAtMs: 1 }), encodeWalChunk('{"a":1}\n{"a":2}\n', [])]));
    const rows = inspectSpool(dir);
    expect(rows.map((r) => [r.kind, r.ok, r.events ?? null])).toEqual([
      ['segment', true, 5],
      ['segment', false, null],
      ['wal', true, 2],
    ]);
  });

  it('lists quarantined files with the reason from the note beside each; intact refused segments are resendable', () => {
    const dir = mkdtempSync(join(tmpdir(), 'spool-cli-'));
    for (const d of ['seg', 'wal', 'quarantine']) mkdirSync(join(dir, d));
    const q = join(dir, 'quarantine');
    writeFileSync(
      join(q, '1-0000000000000001.seg'),
      encodeSegment({ batchId: 'b1', key: 'h', headers: { window: '3k9nc' }, count: 7, rawBytes: 10, createdAtMs: 1, positions: [] }, Buffer.from([0x1f, 0x8b])),
    );
    writeFileSync(join(q, '1-0000000000000001.seg.json'), JSON.stringify({ reason: 'unknown_topic', error: 'UNKNOWN_TOPIC_OR_PARTITION' }));
    writeFileSync(join(q, '2-0000000000000002.seg'), Buffer.from('BLSG\x01broken'));
    writeFileSync(join(q, '2-0000000000000002.seg.json'), JSON.stringify({ reason: 'checksum', error: 'segment checksum mismatch' }));
    writeFileSync(join(q, '3-b3.wal'), Buffer.from('BLWLbroken'));
    const rows = inspectSpool(dir);
    expect(rows.map((r) => [r.kind, r.reason, r.events ?? null, r.resendable ?? false])).toEqual([
      ['quarantine', 'unknown_topic', 7, true],
      ['quarantine', 'checksum', null, false],
      ['quarantine', 'unknown', null, false],
    ]);
    expect(rows[0]!.problem).toBe('UNKNOWN_TOPIC_OR_PARTITION');
  });
});
