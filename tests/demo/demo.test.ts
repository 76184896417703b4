// `backlog demo` against a real harvester process: the four default listeners (syslog UDP and TCP,
// JSON lines TCP, HTTP /logs/batch) on free loopback ports, events written to stdout (output: stdout),
// so the test sees exactly what the harvester made of every line the demo sent.
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { testNamespace, waitFor } from '@backlog/testing';
import { type Proc, ROOT, spawnTs, stopProc } from '../live/helpers';

interface Started {
  inputs: { type: string; port?: number }[];
}
interface DemoResult {
  run: string;
  generated: number;
  sent: number;
  startedAt: string;
  endedAt: string;
  protocols: Record<string, { sent: number; failed: Record<string, number>; throttled: number }>;
}
type Ev = { '@timestamp': string; host?: { name?: string }; service?: { name?: string }; message: string; labels: Record<string, string>; fields?: Record<string, unknown> };

const ns = testNamespace('demo');
const state = mkdtempSync(join(tmpdir(), 'demo-test-'));
let harvester: Proc | undefined;
const ports: Record<string, number> = {};

/** Runs `node bin/backlog.mjs demo … --json` to its end (bounded) and returns its result line. */
function demo(args: string[]): Promise<DemoResult> {
  const child = spawn(
    process.execPath,
    [
      join(ROOT, 'bin/backlog.mjs'),
      'demo',
      '--json',
      '--udp-port',
      String(ports.syslog_udp),
      '--tcp-port',
      String(ports.syslog_tcp),
      '--json-port',
      String(ports.json_tcp),
      '--http-port',
      String(ports.http),
      ...args,
    ],
    { cwd: ROOT, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let err = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (err += d.toString()));
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`demo did not finish:\n${out}\n${err}`));
    }, 60_000);
    child.once('exit', (code) => {
      clearTimeout(t);
      if (code !== 0) return reject(new Error(`demo exited ${code}:\n${out}\n${err}`));
      try {
        resolve(JSON.parse(out.trim().split('\n').pop() as string) as DemoResult);
      } catch {
        reject(new Error(`demo printed no JSON result:\n${out}\n${err}`));
      }
    });
  });
}

const events = (): Ev[] => (harvester?.lines ?? []).filter((l) => typeof l['@timestamp'] === 'string') as unknown as Ev[];

beforeAll(async () => {
  harvester = await spawnTs(
    'apps/harvester/src/main.ts',
    {
      BACKLOG_ENV: ns,
      BACKLOG_HARVESTER_OUTPUT: 'stdout',
      BACKLOG_HARVESTER_METRICS_PORT: '0',
      BACKLOG_HARVESTER_STATE_DIR: join(state, 'state'),
      BACKLOG_HARVESTER_INPUTS: JSON.stringify([
        { type: 'syslog_udp', port: 0 },
        { type: 'syslog_tcp', port: 0 },
        { type: 'json_tcp', port: 0 },
        { type: 'http', port: 0 },
      ]),
    },
    (l) => l.msg === 'started',
    60_000,
  );
  const started = harvester.lines.find((l) => l.msg === 'started') as unknown as Started;
  for (const i of started.inputs) if (typeof i.port === 'number') ports[i.type] = i.port;
  expect(Object.keys(ports).sort()).toEqual(['http', 'json_tcp', 'syslog_tcp', 'syslog_udp']);
}, 90_000);

afterAll(async () => {
  await stopProc(harvester);
  rmSync(state, { recursive: true, force: true });
}, 30_000);

describe('backlog demo', () => {
  let first: DemoResult;

  it('sends at the asked rate over all four protocols, and every event arrives, parsed, with a current timestamp', async () => {
    const before = events().length;
    first = await demo(['--rate', '200', '--duration', '3s', '--seed', '42', '--env', ns]);
    // 200/s for 3 s, spread evenly over the four protocols; nothing failed on loopback.
    expect(first.generated).toBe(600);
    expect(first.sent).toBe(600);
    for (const p of ['syslog_udp', 'syslog_tcp', 'json_tcp', 'http']) {
      expect(first.protocols[p]?.sent, p).toBe(150);
      expect(first.protocols[p]?.failed, p).toEqual({});
    }
    // TCP and HTTP are reliable: every record arrives. UDP on loopback at this rate loses nothing either,
    // but the kernel may drop a datagram under load, so it is held to "nearly all".
    await waitFor(
      'the TCP and HTTP events',
      () =>
        ['syslog_tcp', 'json_tcp', 'http'].every(
          (p) =>
            events()
              .slice(before)
              .filter((e) => e.labels.input === p).length >= 150,
        ),
      20_000,
      20,
    );
    await new Promise((r) => setTimeout(r, 500));
    const got = events().slice(before);
    const by = (p: string) => got.filter((e) => e.labels.input === p);
    expect(by('syslog_tcp')).toHaveLength(150);
    expect(by('json_tcp')).toHaveLength(150);
    expect(by('http')).toHaveLength(150);
    expect(by('syslog_udp').length).toBeGreaterThanOrEqual(140);
    expect(by('syslog_udp').length).toBeLessThanOrEqual(150);

    const from = Date.parse(first.startedAt) - 1000; // RFC 3164 times have whole seconds
    const to = Date.parse(first.endedAt) + 1000;
    for (const e of got) {
      expect(e.labels.parse_error, JSON.stringify(e)).toBeUndefined();
      expect(e.labels.env).toBe(ns);
      const ts = Date.parse(e['@timestamp']);
      expect(ts, e['@timestamp']).toBeGreaterThanOrEqual(from);
      expect(ts, e['@timestamp']).toBeLessThanOrEqual(to);
      expect(e.host?.name).toBeTruthy();
      expect(e.service?.name).toBeTruthy();
      expect(e.message.length).toBeGreaterThan(0);
    }
    // JSON and HTTP events carry the run's label; RFC 5424 ones its structured data.
    for (const e of [...by('json_tcp'), ...by('http')]) expect(e.labels.demo).toBe(first.run);
    // A realistic mix: several hosts and programs, more than one level.
    expect(new Set(got.map((e) => e.host?.name)).size).toBeGreaterThanOrEqual(5);
    expect(new Set(got.map((e) => e.service?.name)).size).toBeGreaterThanOrEqual(8);
  });

  it('replays a corpus folder (--corpus) with current timestamps over the protocols chosen', async () => {
    const corpus = join(state, 'corpus', 'Sample');
    mkdirSync(corpus, { recursive: true });
    writeFileSync(
      join(corpus, 'Sample_2k.log_structured.csv'),
      'LineId,Date,Pid,Level,Component,Content,EventId,EventTemplate\n1,1999-01-01,7,ERROR,pump.Controller,"pressure high, valve 3 opened",E1,x\n2,1999-01-01,7,INFO,pump.Controller,pressure normal,E2,y\n',
    );
    const before = events().length;
    const r = await demo(['--rate', '50', '--duration', '1s', '--corpus', join(state, 'corpus'), '--protocols', 'syslog_tcp,http']);
    expect(r.sent).toBe(50);
    expect(Object.keys(r.protocols).sort()).toEqual(['http', 'syslog_tcp']);
    await waitFor('the corpus events', () => events().length - before >= 50, 20_000, 20);
    const got = events().slice(before);
    expect(new Set(got.map((e) => e.message))).toEqual(new Set(['pressure high, valve 3 opened', 'pressure normal']));
    for (const e of got) {
      expect(e.service?.name).toBe('pump.Controller');
      expect(Date.parse(e['@timestamp'])).toBeGreaterThan(Date.parse('2020-01-01'));
    }
    expect(got.filter((e) => e.message === 'pressure high, valve 3 opened').every((e) => (e as { log?: { level?: string } }).log?.level === 'error')).toBe(true);
  });

  it('reports a harvester that is not there instead of pretending: nothing sent, exit code 1', async () => {
    const child = spawn(process.execPath, [join(ROOT, 'bin/backlog.mjs'), 'demo', '--json', '--rate', '20', '--duration', '1s', '--protocols', 'syslog_tcp', '--tcp-port', '1'], {
      cwd: ROOT,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let out = '';
    child.stdout.on('data', (d: Buffer) => (out += d.toString()));
    const code = await new Promise<number | null>((r) => child.once('exit', r));
    expect(code).toBe(1);
    const res = JSON.parse(out.trim()) as DemoResult & { errors: Record<string, string> };
    expect(res.sent).toBe(0);
    expect(res.protocols.syslog_tcp?.failed.connection).toBe(20);
    expect(res.errors.syslog_tcp).toMatch(/ECONNREFUSED/);
  });
});
