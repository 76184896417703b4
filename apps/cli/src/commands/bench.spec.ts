import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { type StoredResult, machineFacts, meetsTarget, parseSummary, registerBench, renderResults } from './bench';
import { repoRoot } from '@backlog/testing';

const summaryLine = JSON.stringify({
  name: 'kafka-baseline',
  results: [
    { case: 'produce', 'MB/s': 81.234, 'records/s': 162.5, baseline: 'self', ratio: 1 },
    { case: 'gateway produce', 'MB/s': 70.1, baseline: { 'MB/s': 81.234 }, ratio: 0.863, target: '≥ 0.8 × baseline' },
  ],
  notes: 'a note | with a pipe',
  params: { records: 400 },
});

function stored(name: string, line = summaryLine): StoredResult {
  const summary = parseSummary(line);
  if (summary instanceof Error) throw summary;
  return {
    name,
    command: `npm run bench -- ${name}`,
    machine: { cpu: 'AMD EPYC', cores: 2, memoryGiB: 24, os: 'linux 6 x64', node: 'v20.19.0', date: '2026-11-23T14:00:00.000Z', commit: 'abc123' },
    summary: { ...summary, name },
  };
}

describe('bench summaries', () => {
  it('takes the LAST non-empty stdout line as the summary', () => {
    const s = parseSummary(`progress 1\n{"not":"it"}\n${summaryLine}\n\n`);
    expect(s).not.toBeInstanceOf(Error);
    expect((s as Exclude<typeof s, Error>).results).toHaveLength(2);
  });

  it('explains a missing or malformed summary', () => {
    expect((parseSummary('') as Error).message).toMatch(/printed nothing/);
    expect((parseSummary('done\n') as Error).message).toMatch(/not JSON/);
    expect((parseSummary('{"name":"x","results":[]}') as Error).message).toMatch(/results/);
    expect((parseSummary('{"name":"x","results":[{"case":"a","MB/s":{"nested":1}}]}') as Error).message).toMatch(/MB\/s/);
  });

  it('renders one table per benchmark with figures, baseline, ratio, target and the command', () => {
    const md = renderResults([
      stored('search-bulk-baseline', JSON.stringify({ name: 'search-bulk-baseline', results: [{ case: 'bulk', 'docs/s': 12345.6, baseline: 'self', ratio: 1 }] })),
      stored('kafka-baseline'),
    ]);
    // Sorted by name, each with its reproduce command.
    expect(md.indexOf('## kafka-baseline')).toBeLessThan(md.indexOf('## search-bulk-baseline'));
    expect(md).toContain('| case | figures | baseline | ratio | target |');
    expect(md).toContain('| produce | 81.2 MB/s · 163 records/s | self | 1.00 | — |');
    expect(md).toContain('| gateway produce | 70.1 MB/s | 81.2 MB/s | 0.86 | ≥ 0.8 × baseline |');
    expect(md).toContain('| bulk | 12,346 docs/s | self | 1.00 |');
    expect(md).toContain('npm run bench -- kafka-baseline');
    expect(md).toContain('- a note | with a pipe');
    expect(md).toContain('- Parameters: records=400');
    expect(md).toContain('2026-11-23 · commit `abc123` · AMD EPYC, 2 cores, 24 GiB');
  });

  it('opens with a headline table: targeted cases, the figure the target names, met or not, the commit', () => {
    const md = renderResults([
      stored('kafka-baseline'),
      stored(
        'indexer',
        JSON.stringify({
          name: 'indexer',
          results: [
            { case: 'first doc', seconds: 7.5, baseline: 'self', ratio: null, target: '< 5 s' },
            { case: 'untargeted', seconds: 1 },
          ],
        }),
      ),
    ]);
    expect(md.indexOf('| path | figure | baseline | ratio | target | met | commit |')).toBeLessThan(md.indexOf('## indexer'));
    expect(md).toContain('| indexer: first doc | 7.5 seconds | self | — | < 5 s | not met | `abc123` |');
    expect(md).toContain('| kafka-baseline: gateway produce | 70.1 MB/s | 81.2 MB/s | 0.86 | ≥ 0.8 × baseline | met | `abc123` |');
    expect(md).not.toContain('indexer: untargeted');
    // A target of several parts is met only when each is: p95 under 100 ms but 1.25 × raw is not met.
    const q = renderResults([
      stored('query', JSON.stringify({ name: 'query', results: [{ case: 'filter', p95Ms: 23.9, baseline: { p95Ms: 19.1 }, ratio: 1.25, target: 'p95 < 100 ms, ≤ 1.10 × raw' }] })),
      stored('query2', JSON.stringify({ name: 'query2', results: [{ case: 'filter', p95Ms: 23.9, baseline: { p95Ms: 22 }, ratio: 1.05, target: 'p95 < 100 ms, ≤ 1.10 × raw' }] })),
    ]);
    expect(q).toContain('| query: filter | 23.9 p95Ms | 19.1 p95Ms | 1.25 | p95 < 100 ms, ≤ 1.10 × raw | not met |');
    expect(q).toContain('| query2: filter | 23.9 p95Ms | 22 p95Ms | 1.05 | p95 < 100 ms, ≤ 1.10 × raw | met |');
    expect([meetsTarget('≥ 100,000 events/s', 105_696), meetsTarget('p95 < 250 ms', 260), meetsTarget('≥ 12:1', 14.2), meetsTarget('fast', 1)]).toEqual([true, false, true, undefined]);
  });

  it('collects the machine facts', () => {
    const m = machineFacts(repoRoot(), new Date('2026-11-23T00:00:00Z'));
    expect(m.cores).toBeGreaterThan(0);
    expect(m.node).toBe(process.version);
    expect(m.date).toBe('2026-11-23T00:00:00.000Z');
    expect(m.commit).toMatch(/^([0-9a-f]{12}(\+dirty)?|unknown)$/);
  });

  it('registers `bench` with its options', () => {
    const program = new Command();
    registerBench(program);
    const bench = program.commands.find((c) => c.name() === 'bench');
    expect(bench?.options.map((o) => o.long)).toEqual(['--timeout', '--no-save', '--render', '--list']);
  });
});
