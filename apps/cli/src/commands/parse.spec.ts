import { spawnSync } from 'node:child_process';
import { fileURLToPath } from 'node:url';
import type { LogEvent } from '@backlog/core-event';
import { describe, expect, it } from 'vitest';

const root = fileURLToPath(new URL('../../../../', import.meta.url));

function backlogParse(input: string | Buffer, args: string[] = []) {
  const r = spawnSync(process.execPath, ['bin/backlog.mjs', 'parse', ...args], { cwd: root, input, encoding: 'utf8', timeout: 60_000 });
  const events = r.stdout
    .split('\n')
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l) as LogEvent);
  return { status: r.status, events, stderr: r.stderr };
}

describe('backlog parse (spawned CLI)', () => {
  it('prints one normalized event per line, malformed lines flagged, exit 0', () => {
    const input = Buffer.concat([
      Buffer.from('<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - msg\n'),
      Buffer.from('<13>Feb  5 17:32:18 web-01 sshd[42]: Accepted key user=bob\r\n'),
      Buffer.from('{"level":"warn","msg":"disk low","time":"2026-11-22T10:00:00Z"}\n'),
      Buffer.from([0xf0, 0x28, 0x8c, 0xbc, 0x0a]), // not UTF-8
      Buffer.from('\n'), // empty line: nothing to report
      Buffer.from('last line without newline'),
    ]);
    const { status, events } = backlogParse(input, ['--env', 'test', '--host', 'h1', '--timezone', 'UTC', '--year', '2026']);
    expect(status).toBe(0);
    expect(events).toHaveLength(5);
    const [a, b, c, d, e] = events;
    expect(a?.['@timestamp']).toBe('2003-10-11T22:14:15.003Z');
    expect(a?.host?.name).toBe('mymachine.example.com');
    expect(a?.log).toMatchObject({ level: 'crit', syslog: { priority: 34, appname: 'su', msgid: 'ID47' } });
    expect(a?.labels).toEqual({ env: 'test', input: 'stdin' });
    expect(b?.['@timestamp']).toBe('2026-02-05T17:32:18.000Z');
    expect(b?.process?.pid).toBe(42);
    expect(b?.message).toBe('Accepted key user=bob');
    expect(b?.fields).toEqual({ user: 'bob' });
    expect(c?.log?.level).toBe('warn');
    expect(c?.message).toBe('disk low');
    expect(d?.labels.parse_error).toBe('auto:invalid_utf8');
    expect(e?.message).toBe('last line without newline');
    expect(e?.host?.name).toBe('h1');
    for (const ev of events) expect(ev.event.id).toMatch(/^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/);
  });

  it('--format rfc5424 --strict flags what it rejects and still prints it', () => {
    const { status, events } = backlogParse('<29>1 2006-01-02t15:04:05Z - - - - -\nnot syslog\n', ['--format', 'rfc5424', '--strict']);
    expect(status).toBe(0);
    expect(events.map((e) => e.labels.parse_error)).toEqual(['rfc5424:timestamp_invalid', 'rfc5424:pri_missing']);
    expect(events[1]?.message).toBe('not syslog');
  });

  it('cuts an over-long line at --max-line-bytes and flags it', () => {
    const { events } = backlogParse(`${'x'.repeat(5000)}\nok\n`, ['--max-line-bytes', '1000']);
    expect(events).toHaveLength(2);
    expect(events[0]?.message).toHaveLength(1000);
    expect(events[0]?.labels.truncated).toBe('line');
    expect(events[1]?.message).toBe('ok');
  });

  it('rejects an unknown format before reading anything', () => {
    const r = backlogParse('', ['--format', 'xml']);
    expect(r.status).not.toBe(0);
  });
});
