import { spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { waitFor } from '@backlog/testing';
import { CollectingSink, expectAccounted, hostileRecord, rng, rssMiB, testContext } from '../shared/test-kit';
import { StdinInput, stdinInput } from './index';

const root = fileURLToPath(new URL('../../../../../', import.meta.url));

/** The input reads the stdout pipe of a real child process, as it reads its own stdin when piped into. */
function fromChild(script: string, sink: CollectingSink, extra: Record<string, unknown> = {}) {
  const child = spawn(process.execPath, ['-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const input = new StdinInput(stdinInput.configSchema.parse({ type: 'stdin', ...extra }), testContext(sink), child.stdout);
  return { child, input };
}

describe('stdin', () => {
  it('reads lines from a pipe, parses each (auto), ends when the writer closes', async () => {
    const sink = new CollectingSink();
    const { input } = fromChild(
      `const w = (s) => process.stdout.write(s);
       w('<13>1 2026-11-22T10:00:00Z h1 app 1 - - syslog line\\n');
       w('{"message":"json line","level":"error"}\\n');
       setTimeout(() => { w('plain te'); setTimeout(() => w('xt\\nno newline at the end'), 20); }, 20);`,
      sink,
    );
    await input.start();
    await input.done;
    expect(sink.events.map((e) => e.message)).toEqual(['syslog line', 'json line', 'plain text', 'no newline at the end']);
    expect(sink.events[0]).toMatchObject({ host: { name: 'h1' }, service: { name: 'app' }, labels: { input: 'stdin' } });
    expect(sink.events[1]).toMatchObject({ log: { level: 'error' } });
    expectAccounted(input.core.stats);
    await input.stop(Date.now() + 1000);
    await input.stop(Date.now() + 1000);
  });

  it('pauses the pipe while the sink is full (the writer blocks) and loses nothing', async () => {
    const sink = new CollectingSink();
    const { input } = fromChild(`for (let i = 0; i < 100000; i++) process.stdout.write('line ' + i + '\\n');`, sink);
    sink.pause();
    await input.start();
    // The child may take a while to start on a busy machine: wait for the first chunk, then for the count
    // to settle (the chunk already read is emitted, then the pipe is paused), instead of sampling at a fixed time.
    await waitFor('the first lines', () => sink.events.length > 0, 30_000, 10);
    let paused = -1;
    for (let i = 0; i < 50 && paused !== sink.events.length; i++) {
      paused = sink.events.length;
      await new Promise((r) => setTimeout(r, 200));
    }
    expect(paused).toBeLessThan(100_000);
    await new Promise((r) => setTimeout(r, 300));
    expect(sink.events.length).toBe(paused);
    sink.resume();
    await input.done;
    expect(sink.events.length).toBe(100_000);
    expect(sink.events[99_999]?.message).toBe('line 99999');
  });

  it('main.ts end to end: lines piped into the harvester come out as normalized NDJSON on stdout', async () => {
    const state = mkdtempSync(join(tmpdir(), 'harvester-main-'));
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/harvester/src/main.ts')], {
      cwd: root,
      stdio: ['pipe', 'pipe', 'pipe'],
      env: {
        PATH: process.env.PATH,
        BACKLOG_ENV: 'e2e',
        BACKLOG_HARVESTER_INPUTS: '[{"type":"stdin"}]',
        BACKLOG_HARVESTER_OUTPUT: 'stdout',
        BACKLOG_HARVESTER_METRICS_PORT: '0',
        BACKLOG_HARVESTER_STATE_DIR: state,
        BACKLOG_HARVESTER_HOST_NAME: 'e2e-host',
      },
    });
    let out = '';
    let err = '';
    child.stdout.on('data', (d) => (out += d));
    child.stderr.on('data', (d) => (err += d));
    child.stdin.end('<165>1 2003-10-11T22:14:15.003Z mymachine evntslog - ID47 [exampleSDID@32473 iut="3"] An application event\nplain line\n');
    const code = await new Promise<number | null>((r) => child.once('close', r));
    expect(code, err).toBe(0);
    const events = out
      .trim()
      .split('\n')
      .map((l) => JSON.parse(l));
    expect(events).toHaveLength(2);
    expect(events[0]).toMatchObject({
      '@timestamp': '2003-10-11T22:14:15.003Z',
      host: { name: 'mymachine' },
      service: { name: 'evntslog' },
      log: { level: 'notice', syslog: { msgid: 'ID47', structured_data: { 'exampleSDID@32473': { iut: '3' } } } },
      labels: { env: 'e2e', input: 'stdin' },
    });
    expect(events[1]).toMatchObject({ message: 'plain line', host: { name: 'e2e-host' } });
    expect(err).toContain('"msg":"stopped"');
  }, 60_000);

  it('main.ts exits non-zero before serving anything on a bad config, listing every problem', async () => {
    const child = spawn(process.execPath, ['--import', 'tsx', join(root, 'apps/harvester/src/main.ts')], {
      cwd: root,
      stdio: ['ignore', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH, BACKLOG_HARVESTER_INPUTS: '[{"type":"syslog_udp","prot":1},{"type":"nope"}]' },
    });
    let err = '';
    child.stderr.on('data', (d) => (err += d));
    const code = await new Promise<number | null>((r) => child.once('close', r));
    expect(code).toBe(78);
    expect(err).toMatch(/inputs/);
  }, 60_000);

  it('hostile: 10,000 malformed lines through a pipe', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'stdin-hostile-'));
    const rand = rng(4242);
    const parts: Buffer[] = [];
    for (let i = 0; i < 10_000; i++) parts.push(i % 1000 === 11 ? Buffer.alloc(2 * 1024 * 1024, 0x3c) : hostileRecord(rand, i), Buffer.from('\n'));
    const content = Buffer.concat(parts);
    const path = join(dir, 'hostile.bin');
    writeFileSync(path, content);
    const expected = content
      .toString('latin1')
      .split('\n')
      .filter((l) => l.length > 0).length;
    const sink = new CollectingSink(100);
    const rss0 = rssMiB();
    const { input } = fromChild(`require('fs').createReadStream(${JSON.stringify(path)}).pipe(process.stdout)`, sink, { maxLineBytes: 256 * 1024 });
    await input.start();
    await input.done;
    const acc = expectAccounted(input.core.stats);
    expect(acc.received).toBe(expected);
    expect(acc.dropped).toBe(0);
    expect(sink.count).toBe(expected);
    expect(rssMiB() - rss0).toBeLessThan(400);
  });
});
