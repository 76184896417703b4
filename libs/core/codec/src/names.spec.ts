import { describe, expect, it } from 'vitest';
import {
  compressedTopic,
  dlqIndexName,
  harvestTopic,
  historyIndexName,
  historyIndexPattern,
  manifestKey,
  parseHistoryIndex,
  parsePartKey,
  parseTopic,
  parseWindowId,
  partKey,
  recentIndexDay,
  recentIndexName,
  recentIndexPattern,
  windowId,
  windowPrefix,
} from './names';
import { windowOf } from './window';

const W = windowOf(Date.parse('2026-11-22T10:00:00Z'));

describe('window ids', () => {
  it('2026-11-22T10:00:00Z is window 5984472, id 3k9nc, and back', () => {
    expect(W).toBe(5984472);
    expect(windowId(W)).toBe('3k9nc');
    expect(parseWindowId('3k9nc')).toBe(W);
    for (const w of [0, 1, 35, 36, W, 2 ** 40]) expect(parseWindowId(windowId(w))).toBe(w);
  });

  it('rejects what windowId never writes', () => {
    for (const bad of ['3K9NC', '3k9nc!', '', '-1', '1234567890abc', ' 3k9nc']) expect(() => parseWindowId(bad)).toThrow(RangeError);
  });
});

describe('S3 keys of parts', () => {
  it('names them as DESIGN.md says', () => {
    expect(partKey('prod', W, 3, 1200)).toBe('prod/2026/11/22/10/3k9nc/p3-1200.log.bz2');
    expect(manifestKey('prod', W, 3, 1200n)).toBe('prod/2026/11/22/10/3k9nc/p3-1200.json');
    expect(windowPrefix('prod', W)).toBe('prod/2026/11/22/10/3k9nc/');
  });

  it('parses what partKey and manifestKey write', () => {
    expect(parsePartKey(partKey('dev', W, 3, '120'))).toEqual({ window: '3k9nc', partition: 3, firstOffset: '120', kind: 'part' });
    expect(parsePartKey(manifestKey('dev', W, 0, 98765432109876n))).toEqual({ window: '3k9nc', partition: 0, firstOffset: '98765432109876', kind: 'manifest' });
    expect(parsePartKey(partKey('dev', W, 7, 5))?.window).toBe(windowId(W));
  });

  it('rejects other keys', () => {
    for (const bad of [
      'dev/x.txt',
      'dev/2026/11/22/10/3k9nc/p3-120.log',
      'dev/2026/11/22/10/3k9nc/p3-120.log.gz',
      'dev/2026/11/22/10/3K9NC/p3-120.json',
      'dev/2026/11/22/10/3k9nc/px-120.json',
      'dev/2026/11/22/10/3k9nc/p3-.json',
      'p3-120.json',
    ]) {
      expect(parsePartKey(bad)).toBeUndefined();
    }
  });
});

describe('recent indices', () => {
  it('names the UTC day of the event and reads it back', () => {
    expect(recentIndexName('prod', Date.parse('2026-01-02T23:59:59Z'))).toBe('logs-prod-recent-2026.01.02');
    for (const t of ['2026-01-02T23:59:59Z', '2024-02-29T00:00:00Z', '1999-12-31T12:00:00Z']) {
      const ms = Date.parse(t);
      expect(recentIndexDay('prod', recentIndexName('prod', ms))).toBe(ms - (ms % 86_400_000));
    }
    expect(recentIndexPattern('prod')).toBe('logs-prod-recent-*');
  });

  it('rejects other indices, other envs and impossible days', () => {
    expect(recentIndexDay('prod', 'logs-prod-history-abc-def')).toBeUndefined();
    expect(recentIndexDay('prod', 'logs-prod-recent-recent-2026.11.01')).toBeUndefined();
    expect(recentIndexDay('prod', dlqIndexName('prod'))).toBeUndefined();
    expect(recentIndexDay('prod', 'logs-prod-recent-2026.02.31')).toBeUndefined();
    expect(recentIndexDay('prod', 'logs-prod-recent-2026.11.1')).toBeUndefined();
    expect(recentIndexDay('prod', 'logs-staging-recent-2026.11.01')).toBeUndefined();
    // The env is matched as text, not as a pattern.
    expect(recentIndexDay('p.d', 'logs-pxd-recent-2026.11.01')).toBeUndefined();
  });
});

describe('history indices', () => {
  it('round-trips env and range (whole seconds)', () => {
    const name = historyIndexName('prod', 1795341600, 1795345200);
    expect(name).toBe(`logs-prod-history-${(1795341600).toString(36)}-${(1795345200).toString(36)}`);
    expect(parseHistoryIndex(name)).toEqual({ env: 'prod', fromMs: 1795341600_000, toMs: 1795345200_000 });
    expect(parseHistoryIndex(historyIndexName('my-env', 1, 2))).toEqual({ env: 'my-env', fromMs: 1000, toMs: 2000 });
    expect(historyIndexName('dev', 10.9, 20.2)).toBe(historyIndexName('dev', 10, 20));
    expect(historyIndexPattern('dev')).toBe('logs-dev-history-*');
  });

  it('rejects other names and empty ranges', () => {
    expect(parseHistoryIndex('logs-dev-recent-2026.11.22')).toBeUndefined();
    expect(parseHistoryIndex('logs-dev-history-b-a')).toBeUndefined();
    expect(parseHistoryIndex('logs-dev-history-a-a')).toBeUndefined();
    expect(parseHistoryIndex('logs-Dev-history-1-2')).toBeUndefined();
    expect(parseHistoryIndex('logs-dev-history-1-2-3')).toBeUndefined();
    expect(parseHistoryIndex('logs-dev-history-1')).toBeUndefined();
    expect(parseHistoryIndex(dlqIndexName('dev'))).toBeUndefined();
  });
});

describe('topics', () => {
  it('round-trips h-<env> and c-<env>', () => {
    expect(harvestTopic('prod')).toBe('h-prod');
    expect(compressedTopic('prod')).toBe('c-prod');
    expect(parseTopic(harvestTopic('prod'))).toEqual({ kind: 'harvest', env: 'prod' });
    expect(parseTopic(compressedTopic('t_1'))).toEqual({ kind: 'compressed', env: 't_1' });
  });

  it('rejects other topics and invalid envs', () => {
    for (const bad of ['prod', 'x-prod', 'h-', 'h-Prod', 'c-a.b', '__consumer_offsets', `h-${'a'.repeat(33)}`]) expect(parseTopic(bad)).toBeUndefined();
  });
});
