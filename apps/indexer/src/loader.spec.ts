// The loader's pure steps: an archived line into a bulk document (the id read from the line's start
// without a filter), the checkpoint of a part, and the retry delay. Loading against S3, Redis and the
// search engine runs in tests/indexer.
import { describe, expect, it } from 'vitest';
import { FILTERED, docId, failedCheckpoint, lineDoc, newPartCounts, partCheckpoint, partError, retryDelayMs } from './loader';

const everything = { matchesAll: true, test: () => true };
const onlyErrors = { matchesAll: false, test: (ev: unknown) => (ev as { log?: { level?: string } }).log?.level === 'error' };
const meta = { attempts: 1, startedAt: 1000, at: 2000, by: 'me' };

describe('lineDoc', () => {
  const canonical = '{"@timestamp":"2026-11-20T10:00:00.000Z","event":{"id":"0193a"},"log":{"level":"info"},"message":"m"}';

  it('without a filter takes the id from a canonical line and does not parse it', () => {
    expect(lineDoc(canonical, everything)).toEqual({ id: '0193a', line: canonical, bytes: canonical.length + 64, rounds: 0 });
  });

  it('parses a line of another shape, and every line under a filter', () => {
    const other = '{"event":{"id":"x1"},"@timestamp":"2026-11-20T10:00:00.000Z"}';
    expect(lineDoc(other, everything)).toMatchObject({ id: 'x1', line: other, doc: { event: { id: 'x1' } } });
    expect(lineDoc(canonical, onlyErrors)).toBe(FILTERED);
    const err = canonical.replace('"info"', '"error"');
    expect(lineDoc(err, onlyErrors)).toMatchObject({ id: '0193a', line: err, doc: { log: { level: 'error' } } });
  });

  it('gives a line without a usable id a content hash (the same line, the same id)', () => {
    const noId = '{"@timestamp":"2026-11-20T10:00:00.000Z","message":"no id"}';
    const long = `{"@timestamp":"2026-11-20T10:00:00.000Z","event":{"id":"${'x'.repeat(600)}"}}`;
    const a = lineDoc(noId, everything) as { id: string };
    expect(a.id).toMatch(/^h-[0-9a-f]{40}$/);
    expect((lineDoc(noId, everything) as { id: string }).id).toBe(a.id);
    expect((lineDoc(long, everything) as { id: string }).id).toMatch(/^h-[0-9a-f]{40}$/);
    expect(docId({ event: { id: 'ok' } }, '')).toBe('ok');
  });

  it('names a line that is not a JSON object instead of throwing', () => {
    expect(lineDoc('not json', everything)).toEqual({ bad: 'a line is not a JSON object: not json' });
    expect(lineDoc('[1,2]', onlyErrors)).toEqual({ bad: 'a line is not a JSON object: [1,2]' });
  });
});

describe('checkpoints', () => {
  it('done when nothing was refused, with the read and bulk counts', () => {
    const c = { ...newPartCounts(), read: 10, filtered: 2, bytes: 500 };
    expect(partCheckpoint(c, { indexed: 5, already: 3, rejected: 0 }, meta)).toEqual({ state: 'done', read: 10, indexed: 5, already: 3, filtered: 2, rejected: 0, bytes: 500, ...meta });
  });

  it('failed with DOCUMENTS_REJECTED when lines or documents were refused, the first reason kept', () => {
    const c = { ...newPartCounts(), read: 4, rejected: 1, firstRejection: 'a line is not a JSON object: x' };
    expect(partCheckpoint(c, { indexed: 1, already: 0, rejected: 2, firstRejection: 'event e: 400' }, meta)).toMatchObject({
      state: 'failed',
      code: 'DOCUMENTS_REJECTED',
      rejected: 3,
      reason: '3 events refused by the search engine; first: a line is not a JSON object: x',
    });
    expect(partCheckpoint(newPartCounts(), { indexed: 0, already: 0, rejected: 1, firstRejection: 'event e: 400' }, meta)).toMatchObject({
      reason: '1 events refused by the search engine; first: event e: 400',
    });
  });

  it('a part whose attempts all failed carries the last error, nothing counted', () => {
    expect(failedCheckpoint(partError(Object.assign(new Error('engine down'), { code: 'SEARCH_RETRIES_EXHAUSTED' })), { ...meta, attempts: 3 })).toEqual({
      state: 'failed',
      read: 0,
      indexed: 0,
      already: 0,
      filtered: 0,
      rejected: 0,
      bytes: 0,
      code: 'SEARCH_RETRIES_EXHAUSTED',
      reason: 'engine down',
      ...meta,
      attempts: 3,
    });
    expect(failedCheckpoint(undefined, meta)).toMatchObject({ code: 'ERROR', reason: 'failed' });
    expect(partError(new Error('x'))).toEqual({ code: 'ERROR', message: 'x' });
    expect(failedCheckpoint({ code: 'E', message: 'y'.repeat(2000) }, meta).reason).toHaveLength(1000);
  });

  it('waits 1 s, 2 s, 4 s … at most 10 s between attempts', () => {
    expect([1, 2, 3, 4, 5, 9].map(retryDelayMs)).toEqual([1000, 2000, 4000, 8000, 10_000, 10_000]);
  });
});
