import { describe, expect, it } from 'vitest';
import { logsTemplateConfigSchema } from './template-config';

describe('logs template config', () => {
  it('defaults to backlog-logs for logs-* at priority 200, 1 shard, 0 replicas, 1s refresh', () => {
    expect(logsTemplateConfigSchema.parse(undefined)).toEqual({ install: true, name: 'backlog-logs', patterns: ['logs-*'], priority: 200, shards: 1, replicas: 0, refreshInterval: '1s' });
  });
  it('refuses unknown keys, a priority at or below the built-in logs template, and a bad refresh interval', () => {
    const r = logsTemplateConfigSchema.safeParse({ priority: 100, refreshInterval: '1h', colour: 'red' });
    expect(r.success).toBe(false);
    const paths = (r.error?.issues ?? []).map((i) => (i.path.length ? i.path.join('.') : i.code));
    expect(paths).toEqual(expect.arrayContaining(['priority', 'refreshInterval', 'unrecognized_keys']));
  });
});
