import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { normalize } from '@backlog/core-event';
import { SyslogFrameDecoder, parseLine } from '@backlog/core-parse';
import { parseDuration, parseProtocols } from '../commands/demo';
import { CorpusSource, appName, parseCsv, severityOf } from './corpus';
import { DemoGenerator, FLEET, JSON_PROGRAMS, Rng } from './generator';
import { formatRfc3164, formatRfc5424, jsonRecord, octetFrame } from './wire';

const NOW = new Date('2026-11-22T10:00:00.123Z');

describe('demo generator', () => {
  it('is deterministic for a seed and differs between seeds', () => {
    const a = new DemoGenerator(7);
    const b = new DemoGenerator(7);
    const c = new DemoGenerator(8);
    const take = (g: DemoGenerator) => Array.from({ length: 50 }, (_, i) => g.next(i % 2 ? 'json' : 'text', NOW));
    expect(take(a)).toEqual(take(b));
    expect(take(new DemoGenerator(7))).not.toEqual(take(c));
  });

  it('stamps every record with the time it is given, from a host of the fleet running that program', () => {
    const g = new DemoGenerator(1);
    const hosts = new Map(FLEET.map((h) => [h.host, h.apps]));
    for (let i = 0; i < 2000; i++) {
      const r = g.next(i % 3 ? 'text' : 'json', NOW);
      expect(r.at).toBe(NOW);
      expect(hosts.has(r.host), r.host).toBe(true);
      expect(r.severity).toBeGreaterThanOrEqual(0);
      expect(r.severity).toBeLessThanOrEqual(7);
      expect(r.message.length).toBeGreaterThan(0);
      expect(r.message).not.toMatch(/[\r\n]/);
    }
  });

  it('covers every template over a few thousand draws: text programs for syslog, JSON programs for JSON', () => {
    const g = new DemoGenerator(3);
    const text = new Set<string>();
    const json = new Set<string>();
    for (let i = 0; i < 4000; i++) {
      const t = g.next('text', NOW);
      text.add(t.template);
      expect(JSON_PROGRAMS.has(t.app), t.app).toBe(false);
      json.add(g.next('json', NOW).template);
    }
    for (const t of [
      'sshd.accepted',
      'sshd.failed',
      'sshd.invalid_user',
      'nginx.access',
      'nginx.upstream_timeout',
      'kernel.ufw_block',
      'kernel.oom',
      'cron.cmd',
      'systemd.started',
      'systemd.failed',
      'postgres.slow',
      'postgres.unique',
      'kubelet.probe',
      'kubelet.sync',
    ])
      expect(text, t).toContain(t);
    for (const t of ['app.order_placed', 'app.payment_declined', 'app.cache_miss', 'app.db_timeout', 'k8s.container', 'nginx.access']) expect(json, t).toContain(t);
  });

  it('mixes levels: mostly info, some warnings and errors', () => {
    const g = new DemoGenerator(5);
    const bySev = new Map<number, number>();
    for (let i = 0; i < 5000; i++) {
      const s = g.next(i % 2 ? 'json' : 'text', NOW).severity;
      bySev.set(s, (bySev.get(s) ?? 0) + 1);
    }
    expect(bySev.get(6) ?? 0).toBeGreaterThan(2500);
    expect(bySev.get(4) ?? 0).toBeGreaterThan(100);
    expect(bySev.get(3) ?? 0).toBeGreaterThan(50);
  });

  it('Rng.weighted follows the weights', () => {
    const r = new Rng(11);
    let a = 0;
    for (let i = 0; i < 10_000; i++)
      if (
        r.weighted([
          ['a', 9],
          ['b', 1],
        ] as const) === 'a'
      )
        a++;
    expect(a).toBeGreaterThan(8700);
    expect(a).toBeLessThan(9300);
  });
});

describe("demo wire formats, read back by the harvester's own parser", () => {
  const g = new DemoGenerator(2);

  it('RFC 3164 over UDP: header time (UTC wall clock), host, program, pid and severity come back', () => {
    for (let i = 0; i < 300; i++) {
      const r = g.next('text', NOW);
      const e = normalize(parseLine(formatRfc3164(r), { now: NOW.getTime() }), { receivedAt: NOW.getTime() });
      expect(e.labels?.parse_error, formatRfc3164(r)).toBeUndefined();
      expect(e['@timestamp']).toBe('2026-11-22T10:00:00.000Z');
      expect(e.host?.name).toBe(r.host);
      expect(e.service?.name).toBe(r.app);
      expect(e.message).toBe(r.message);
      expect(e.log?.syslog?.severity?.code).toBe(r.severity);
      if (r.pid !== undefined) expect(e.process?.pid).toBe(r.pid);
    }
  });

  it('RFC 5424 with octet counting over TCP: frames split back, millisecond time, structured data kept', () => {
    const recs = Array.from({ length: 200 }, () => g.next('text', NOW));
    const stream = Buffer.from(recs.map((r, i) => octetFrame(formatRfc5424(r, i + 1, 'run1'))).join(''));
    const dec = new SyslogFrameDecoder({ mode: 'octet-counting' });
    const frames: string[] = [];
    for (let i = 0; i < stream.length; i += 777) {
      for (const f of dec.push(stream.subarray(i, i + 777))) {
        expect(f.error).toBeUndefined();
        frames.push(Buffer.from(f.payload).toString());
      }
    }
    expect(frames).toHaveLength(200);
    frames.forEach((f, i) => {
      const r = recs[i]!;
      const e = normalize(parseLine(f, { format: 'rfc5424', mode: 'strict' }));
      expect(e.labels?.parse_error, f).toBeUndefined();
      expect(e['@timestamp']).toBe(NOW.toISOString());
      expect(e.message).toBe(r.message);
      expect(e.log?.syslog?.structured_data).toEqual({ meta: { sequenceId: String(i + 1) }, 'demo@32473': { run: 'run1', template: r.template } });
    });
  });

  it('JSON lines and HTTP: time, level, message, host, service and labels.demo map onto ECS; the rest lands in fields', () => {
    for (let i = 0; i < 300; i++) {
      const r = g.next('json', NOW);
      const line = JSON.stringify(jsonRecord(r, 'run2'));
      const e = normalize(parseLine(line, { format: 'json' }));
      expect(e.labels?.parse_error, line).toBeUndefined();
      expect(e['@timestamp']).toBe(NOW.toISOString());
      expect(e.host?.name).toBe(r.host);
      expect(e.service?.name).toBe(r.app);
      expect(e.message).toBe(r.message);
      expect(e.labels?.demo).toBe('run2');
      expect(e.log?.level).toBeDefined();
      for (const k of Object.keys(r.fields ?? {})) expect(e.fields, k).toHaveProperty([k]);
    }
  });
});

describe('demo --corpus', () => {
  const dir = mkdtempSync(join(tmpdir(), 'demo-corpus-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses RFC 4180 CSV: quotes, doubled quotes, commas and CRLF', () => {
    expect(parseCsv('a,b,c\r\n1,"x, y","say ""hi"""\n2,,\n')).toEqual([
      ['a', 'b', 'c'],
      ['1', 'x, y', 'say "hi"'],
      ['2', '', ''],
    ]);
  });

  it('maps level words and letters to severities, components to APP-NAMEs', () => {
    expect([severityOf('E'), severityOf('WARN'), severityOf('notice'), severityOf('Info'), severityOf('V'), severityOf('FATAL'), severityOf('combo')]).toEqual([3, 4, 5, 6, 7, 2, undefined]);
    expect(appName('dfs.DataNode$PacketResponder', 'x')).toBe('dfs.DataNode$PacketResponder');
    expect(appName('sshd(pam_unix)', 'x')).toBe('sshd(pam_unix)');
    expect(appName('a b:c', 'x')).toBe('ab_c');
    expect(appName('', 'fallback')).toBe('fallback');
  });

  it('replays a loghub-style folder in file order, data sets in turn, with the original header fields', () => {
    // Our own two-line samples in the loghub layout (the real samples are never copied into the repo).
    mkdirSync(join(dir, 'Alpha'));
    mkdirSync(join(dir, 'Beta'));
    writeFileSync(
      join(dir, 'Alpha', 'Alpha_2k.log_structured.csv'),
      'LineId,Date,Time,Pid,Level,Component,Content,EventId,EventTemplate\n1,2001-01-01,00:00,42,WARN,disk.Checker,"disk 3 is 91% full, cleaning",E1,x\n2,2001-01-01,00:01,42,INFO,disk.Checker,cleaned 12 files,E2,y\n',
    );
    writeFileSync(join(dir, 'Beta', 'Beta_2k.log_structured.csv'), 'LineId,Node,Component,Content,EventId,EventTemplate\n1,node-7,unix.hw,fan speed low,E1,x\n');
    const src = new CorpusSource(dir);
    expect(src.datasets).toEqual(['Alpha', 'Beta']);
    const got = Array.from({ length: 5 }, () => src.next('text', NOW));
    expect(got.map((r) => r.message)).toEqual(['disk 3 is 91% full, cleaning', 'fan speed low', 'cleaned 12 files', 'fan speed low', 'disk 3 is 91% full, cleaning']);
    expect(got[0]).toMatchObject({ at: NOW, app: 'disk.Checker', pid: 42, severity: 4, host: 'alpha-01', fields: { dataset: 'Alpha' } });
    expect(got[1]).toMatchObject({ app: 'unix.hw', host: 'node-7', severity: 6 });
    // A replayed line is a valid RFC 3164 message with the current time.
    const e = normalize(parseLine(formatRfc3164(got[0]!), { now: NOW.getTime() }));
    expect(e.message).toBe('disk 3 is 91% full, cleaning');
    expect(e['@timestamp']).toBe('2026-11-22T10:00:00.000Z');
  });

  it('reads plain *.log files when there is no structured CSV, and refuses an empty or missing folder', () => {
    const plain = join(dir, 'plain');
    mkdirSync(plain);
    writeFileSync(join(plain, 'app.log'), 'first line\n\nsecond line\r\n');
    const src = new CorpusSource(plain);
    expect([src.next('json', NOW).message, src.next('json', NOW).message, src.next('json', NOW).message]).toEqual(['first line', 'second line', 'first line']);
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    expect(() => new CorpusSource(empty)).toThrow(/no \*_structured\.csv/);
    expect(() => new CorpusSource(join(dir, 'missing'))).toThrow(/no such directory/);
  });
});

describe('demo options', () => {
  it('parses durations and protocol lists, with clear errors', () => {
    expect(parseDuration('90')).toBe(90_000);
    expect(parseDuration('1.5m')).toBe(90_000);
    expect(parseDuration('2h')).toBe(7_200_000);
    expect(parseDuration('500ms')).toBe(500);
    expect(() => parseDuration('soon')).toThrow(/not a duration/);
    expect(() => parseDuration('0s')).toThrow(/more than 0/);
    expect(parseProtocols('http, json_tcp,http')).toEqual(['http', 'json_tcp']);
    expect(() => parseProtocols('smtp')).toThrow(/unknown smtp/);
  });
});
