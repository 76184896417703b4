import { describe, expect, it } from 'vitest';
import { DEFAULT_MAX_FUTURE_SKEW_MS, checkRecordedTime, replaceTimestamp, timestampProblem } from './event-time';

const DAY = 86_400_000;
const REC = Date.parse('2026-11-22T10:00:00.000Z');

describe('timestampProblem', () => {
  it('allows up to the skew ahead, and nothing before 1970', () => {
    expect(DEFAULT_MAX_FUTURE_SKEW_MS).toBe(DAY);
    expect(timestampProblem(REC + DAY, REC, DAY)).toBeUndefined();
    expect(timestampProblem(REC + DAY + 1, REC, DAY)).toBe('future');
    expect(timestampProblem(0, REC, DAY)).toBeUndefined();
    expect(timestampProblem(-1, REC, DAY)).toBe('before_epoch');
    expect(timestampProblem(REC - 400 * DAY, REC, DAY)).toBeUndefined(); // late data is data
  });
});

describe('checkRecordedTime (es-consumer, compressor)', () => {
  const created = '2026-11-22T09:59:00.000Z';

  it('replaces a time more than the skew after the record by event.created, else by the record time', () => {
    const far = Date.parse('9999-12-31T00:00:00Z');
    expect(checkRecordedTime(far, created, REC, DAY)).toEqual({ reason: 'future', atMs: Date.parse(created) });
    expect(checkRecordedTime(far, undefined, REC, DAY)).toEqual({ reason: 'future', atMs: REC });
    expect(checkRecordedTime(far, '9999-12-30T00:00:00Z', REC, DAY)).toEqual({ reason: 'future', atMs: REC });
    expect(checkRecordedTime(far, 'garbage', REC, DAY)).toEqual({ reason: 'future', atMs: REC });
    expect(checkRecordedTime(Date.parse('0001-01-01T00:00:00Z'), created, REC, DAY)).toEqual({ reason: 'before_epoch', atMs: Date.parse(created) });
  });

  it('leaves what the harvester would have kept alone, replays of old records included', () => {
    expect(checkRecordedTime(REC + DAY, created, REC, DAY)).toBeUndefined();
    expect(checkRecordedTime(Date.parse('2019-01-01T00:00:00Z'), '2019-01-01T00:00:01Z', REC, DAY)).toBeUndefined();
  });

  it('without a record time only checks the lower bound', () => {
    expect(checkRecordedTime(Date.parse('9999-12-31T00:00:00Z'), created, -1, DAY)).toBeUndefined();
    expect(checkRecordedTime(-5, created, -1, DAY)).toEqual({ reason: 'before_epoch', atMs: Date.parse(created) });
    expect(checkRecordedTime(-5, undefined, 0, DAY)).toBeUndefined();
  });
});

describe('replaceTimestamp', () => {
  it('sets @timestamp and the two labels', () => {
    const ev: Record<string, unknown> = { '@timestamp': '9999-12-31T00:00:00.000Z', labels: { env: 'dev' }, message: 'm' };
    replaceTimestamp(ev, { reason: 'future', atMs: REC });
    expect(ev).toEqual({ '@timestamp': '2026-11-22T10:00:00.000Z', labels: { env: 'dev', timestamp_original: '9999-12-31T00:00:00.000Z', timestamp_replaced: 'future' }, message: 'm' });
  });

  it('creates labels when missing, keeps a non-object one as text, bounds the original', () => {
    const a: Record<string, unknown> = { '@timestamp': 'x'.repeat(500) };
    replaceTimestamp(a, { reason: 'future', atMs: REC });
    expect((a.labels as Record<string, string>).timestamp_original).toHaveLength(128);
    const b: Record<string, unknown> = { '@timestamp': -5, labels: ['a'] };
    replaceTimestamp(b, { reason: 'before_epoch', atMs: REC });
    expect(b.labels).toEqual({ labels_unusable: '["a"]', timestamp_original: '-5', timestamp_replaced: 'before_epoch' });
  });
});
