import { describe, expect, it } from 'vitest';
import type { JobDoc, PartCheckpoint, PlanSummary, PlannedPart } from './jobs';
import { jobView } from './status';

const job: JobDoc = { v: 1, index: 'logs-dev-history-a-b', env: 'dev', fromMs: 0, toMs: 600_000, filter: '', createdAt: 1000, requestedAt: 1000, expiresAt: 90_000_000 };
const part = (id: string): PlannedPart => ({ id, source: 's3', key: `dev/x/${id}.log.bz2`, window: '0', events: 100, bytes: 1000, minTs: 0, maxTs: 1 });
const plan = (n: number): PlanSummary => ({ at: 0, parts: Array.from({ length: n }, (_, i) => part(`0/p${i}-0`)), windows: 2, windowsWithoutParts: [], skippedByFilter: 0, problems: [] });
const cp = (state: 'done' | 'failed', extra: Partial<PartCheckpoint> = {}): PartCheckpoint => ({
  state,
  read: 100,
  indexed: 100,
  already: 0,
  filtered: 0,
  rejected: 0,
  bytes: 1000,
  attempts: 1,
  startedAt: 10_000,
  at: 20_000,
  by: 'x',
  ...extra,
});

describe('jobView', () => {
  it('queued before a plan, failed when planning failed', () => {
    expect(jobView(job, undefined, {}, {}).status).toBe('queued');
    const v = jobView(job, undefined, {}, {}, { planError: 'S3 down' });
    expect(v.status).toBe('failed');
    expect(v.error).toBe('S3 down');
  });
  it('loading while parts are open; rate and ETA from the counters', () => {
    const v = jobView(job, plan(3), { '0/p0-0': cp('done') }, { '0/p1-0': { read: 50, indexed: 50, bytes: 500, startedAt: 10_000, at: 15_000, by: 'y' } }, {}, 20_000);
    expect(v.status).toBe('loading');
    expect(v.progress.parts).toEqual({ total: 3, done: 1, failed: 0, loading: 1 });
    expect(v.progress.events.read).toBe(150);
    expect(v.progress.rate).toBe(15);
    expect(v.progress.etaSeconds).toBe(10);
  });
  it('done, partial (with the reason per failed part), failed', () => {
    expect(jobView(job, plan(2), { '0/p0-0': cp('done'), '0/p1-0': cp('done') }, {}).status).toBe('done');
    const partial = jobView(job, plan(2), { '0/p0-0': cp('done'), '0/p1-0': cp('failed', { read: 0, indexed: 0, code: 'SHA256_MISMATCH', reason: 'sha256 abc != def' }) }, {});
    expect(partial.status).toBe('partial');
    expect(partial.failures).toEqual([{ part: '0/p1-0', key: 'dev/x/0/p1-0.log.bz2', code: 'SHA256_MISMATCH', reason: 'sha256 abc != def' }]);
    expect(partial.progress.etaSeconds).toBe(0);
    expect(jobView(job, plan(1), { '0/p0-0': cp('failed') }, {}).status).toBe('failed');
    expect(jobView(job, plan(0), {}, {}).status).toBe('done');
  });
});
