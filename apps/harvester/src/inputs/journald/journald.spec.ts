import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '@backlog/testing';
import { CollectingSink, expectAccounted, rssMiB, testContext } from '../shared/test-kit';
import { type JournaldInput, journaldInput } from './index';

const fake = fileURLToPath(new URL('./testdata/fake-journalctl.mjs', import.meta.url));
const entriesFile = fileURLToPath(new URL('./testdata/entries.json', import.meta.url));
const inputs: JournaldInput[] = [];
function make(sink: CollectingSink, extra: Record<string, unknown>, stateDir?: string) {
  const cfg = journaldInput.configSchema.parse({ type: 'journald', checkpointIntervalMs: 20, restartDelayMs: 20, ...extra });
  const input = journaldInput.create(cfg, testContext(sink, stateDir));
  inputs.push(input);
  return input;
}
afterEach(async () => {
  for (const i of inputs.splice(0)) await i.stop(Date.now() + 2000);
});

/** Whether this machine has a journal we can read (journalctl -n1 prints an entry). */
function journalAvailable(): { ok: boolean; why: string } {
  const r = spawnSync('journalctl', ['-n1', '-o', 'json', '--no-pager'], { encoding: 'utf8' });
  if (r.error) return { ok: false, why: `journalctl cannot run: ${r.error.message}` };
  const line = r.stdout.trim().split('\n')[0] ?? '';
  if (r.status === 0 && line.startsWith('{')) return { ok: true, why: '' };
  return { ok: false, why: `journalctl -n1 found no entries (exit ${r.status}: ${(r.stderr || r.stdout).trim() || 'no output'}) — no systemd-journald runs here` };
}

describe('journald', () => {
  it('builds journalctl arguments: follow JSON, resume after the cursor, or start at the end', () => {
    const input = make(new CollectingSink(), {});
    expect(input.args()).toEqual(['-o', 'json', '--follow', '--all', '--no-pager', '--lines=0']);
    const begin = make(new CollectingSink(), { startAt: 'beginning', args: ['--unit', 'nginx.service'] });
    expect(begin.args()).toEqual(['-o', 'json', '--follow', '--all', '--no-pager', '--no-tail', '--unit', 'nginx.service']);
  });

  it('the real journal, when this machine has one', async (ctx) => {
    const j = journalAvailable();
    if (!j.ok) {
      console.log(`journald real-journal test NOT RUN: ${j.why}. The input is covered by the fake journalctl process tests below.`);
      return ctx.skip();
    }
    const sink = new CollectingSink();
    const input = make(sink, { startAt: 'end' });
    await input.start();
    await sleep(500);
    const tag = `backlog-test-${process.pid}`;
    spawnSync('logger', ['-t', tag, 'hello journald']);
    await waitFor('our entry from the journal', () => sink.events.some((e) => e.service?.name === tag), 10_000, 10);
    expect(sink.events.find((e) => e.service?.name === tag)).toMatchObject({ message: 'hello journald', labels: { input: 'journald' } });
  });

  it('maps journal fields (through a journalctl-format process): host, service, level, @timestamp, byte-array MESSAGE', async () => {
    const sink = new CollectingSink();
    const input = make(sink, { command: fake, startAt: 'beginning', args: [`--fake-entries=${entriesFile}`] });
    await input.start();
    await waitFor('four entries', () => sink.events.length === 4, 5000, 10);
    const [a, b, c, d] = sink.events;
    expect(a).toMatchObject({
      '@timestamp': '2026-11-23T00:00:00.123Z',
      host: { name: 'web-01' },
      service: { name: 'nginx' },
      process: { pid: 1234 },
      message: 'upstream timed out',
      log: { level: 'error', syslog: { severity: { code: 3 }, facility: { code: 3 }, priority: 27 } },
      labels: { input: 'journald', env: 'test' },
      fields: { journald: { systemd_unit: 'nginx.service', transport: 'syslog', cursor: 's=1;i=1' } },
    });
    // MESSAGE as a byte array (not valid UTF-8): decoded with U+FFFD and flagged; service from the unit.
    expect(b).toMatchObject({ message: 'hi \uFFFD!', service: { name: 'backup' }, log: { level: 'info' }, labels: { invalid_utf8: 'true' } });
    expect(c).toMatchObject({ log: { level: 'warn' }, service: { name: 'kernel' } });
    expect(d).toMatchObject({ log: { level: 'debug' }, fields: { user: 'ann' } });
    expect(sink.positions.at(-1)).toEqual({ source: 'journald:journald', cursor: 's=1;i=4' });
    expectAccounted(input.core.stats);
  });

  it('checkpoints only the acknowledged cursor and resumes with --after-cursor; restarts a journalctl that exits', async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'journald-state-'));
    const sink = new CollectingSink();
    const input = make(sink, { command: fake, startAt: 'beginning', args: [`--fake-entries=${entriesFile}`] }, stateDir);
    await input.start();
    await waitFor('four entries', () => sink.events.length === 4, 5000, 10);
    input.commit([{ source: 'journald:journald', cursor: 's=1;i=2' }]); // only two were acknowledged downstream
    input.commit([{ source: 'journald:other', cursor: 'not ours' }]);
    await input.stop(Date.now() + 2000);
    expect(JSON.parse(readFileSync(join(stateDir, 'journald-journald.json'), 'utf8'))).toMatchObject({ version: 1, cursor: 's=1;i=2' });

    const sink2 = new CollectingSink();
    const again = make(sink2, { command: fake, args: [`--fake-entries=${entriesFile}`, '--fake-exit'] }, stateDir);
    await again.start();
    await waitFor('the two unacknowledged entries', () => sink2.events.length === 2, 5000, 10);
    expect(sink2.events.map((e) => e.fields?.journald)).toMatchObject([{ cursor: 's=1;i=3' }, { cursor: 's=1;i=4' }]);
    // An entry read again carries the id it had the first time (derived from host and cursor, ADR 0008).
    expect(sink2.events.map((e) => e.event.id)).toEqual(sink.events.slice(2).map((e) => e.event.id));
    expect(new Set(sink.events.map((e) => e.event.id)).size).toBe(4);
    // journalctl exited (--fake-exit): it is restarted after the last cursor read, and prints nothing twice.
    await waitFor('restarts', () => again.runs >= 3, 5000, 10);
    expect(sink2.events.length).toBe(2);
  });

  it("a cursor committed before start() (the previous run's spool draining) wins over the checkpoint", async () => {
    const stateDir = mkdtempSync(join(tmpdir(), 'journald-state-'));
    const first = make(new CollectingSink(), { command: fake, startAt: 'beginning', args: [`--fake-entries=${entriesFile}`] }, stateDir);
    first.commit([{ source: 'journald:journald', cursor: 's=1;i=1' }]);
    await first.stop(Date.now() + 2000);
    const again = make(new CollectingSink(), { command: fake, args: [`--fake-entries=${entriesFile}`] }, stateDir);
    again.commit([{ source: 'journald:journald', cursor: 's=1;i=3' }]);
    await again.start();
    expect(again.args()).toContain('--after-cursor=s=1;i=3');
  });

  it('a command that does not exist is logged and retried, never a crash', async () => {
    const input = make(new CollectingSink(), { command: '/nonexistent/journalctl' });
    await input.start();
    await waitFor('retries', () => input.runs >= 2, 5000, 10);
  });

  it('hostile: 10,000 malformed lines from a journalctl-format process', async () => {
    const sink = new CollectingSink(100);
    const rss0 = rssMiB();
    const input = make(sink, { command: fake, startAt: 'beginning', maxLineBytes: 256 * 1024, args: ['--fake-hostile=10000'] });
    await input.start();
    await waitFor('10,000 lines', () => input.core.stats.received === 10_000, 90_000, 10);
    const acc = expectAccounted(input.core.stats);
    expect(acc.dropped).toBe(0);
    expect(sink.count).toBe(10_000);
    expect(input.core.stats.flagged.get('parse_error') ?? 0).toBeGreaterThan(2500);
    expect(input.core.stats.flagged.get('truncated') ?? 0).toBeGreaterThan(0);
    expect(rssMiB() - rss0).toBeLessThan(400);
    // The wait is for the lines, not a speed limit: a loaded CI machine may take its time.
  }, 120_000);
});
