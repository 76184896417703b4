/**
 * The syslog fast path (ADR 0012) against the general one: for every record, makeSyslogEvent must give
 * exactly the line `JSON.stringify(makeEvent(record))` gives (same bytes, same @timestamp), or take the
 * general path itself. Records: the shared syslog vectors, loghub lines as sent by plain and RFC 5424 /
 * RFC 3164 senders (read from ../shared beside the repository at run time, never copied in), and
 * hand-written edge cases (escapes, control bytes, Unicode, key=value and JSON messages, limits).
 */
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { EventLine, type LogEvent, isUuidV7 } from '@backlog/core-event';
import { parseCleanSyslog, parseLine, syslogToPartial } from '@backlog/core-parse';
import { describe, expect, it } from 'vitest';
import { type LineFormat, type MakeEventOptions, makeEvent, makeSyslogEvent } from './event';
import { eventLabelsJson } from '@backlog/core-parse';

const repoRoot = fileURLToPath(new URL('../../../../../', import.meta.url));
const SHARED = `${repoRoot}../shared/corpora`;

function vectorInputs(): Buffer[] {
  const file = `${SHARED}/syslog-vectors.json`;
  if (!existsSync(file)) return [];
  const doc = JSON.parse(readFileSync(file, 'utf8')) as { cases?: { kind?: string; input?: string; input_base64?: string }[] };
  const out: Buffer[] = [];
  for (const c of doc.cases ?? []) {
    if (c.kind !== 'message') continue;
    if (c.input_base64 !== undefined) out.push(Buffer.from(c.input_base64, 'base64'));
    else if (c.input !== undefined) out.push(Buffer.from(c.input));
  }
  return out;
}

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function loghubInputs(perSet: number): Buffer[] {
  const dir = `${SHARED}/loghub`;
  if (!existsSync(dir)) return [];
  const out: Buffer[] = [];
  let k = 0;
  for (const set of readdirSync(dir)) {
    const log = `${dir}/${set}/${set}_2k.log`;
    if (!existsSync(log)) continue;
    const lines = readFileSync(log, 'utf8').split('\n').filter(Boolean).slice(0, perSet);
    for (const line of lines) {
      k++;
      const pri = (k * 37) % 192;
      // Dates of the year before RECEIVED: a date more than a day after it is replaced (ADR 0015), which is the general path's job.
      const d = new Date(Date.UTC(2025, k % 12, 1 + (k % 28), k % 24, k % 60, k % 60, k % 1000));
      out.push(Buffer.from(line));
      out.push(Buffer.from(`<${pri}>1 ${d.toISOString()} ${set.toLowerCase()}-${k % 7} ${set} ${k % 3 === 0 ? '-' : 1000 + k} ${k % 5 === 0 ? '-' : `ID${k % 9}`} - ${line}`));
      out.push(Buffer.from(`<${pri}>${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} 10:11:12 host${k % 5} ${set}[${k}]: ${line}\r\n`));
    }
  }
  return out;
}

const EDGE: string[] = [
  '<134>1 2026-11-23T10:00:00.123Z web-1 nginx 1005 ID5 - request 5 took 35 ms path=/api/v1/items/5 status=200',
  '<134>1 2026-11-23T10:00:00.123456+02:00 web-1 nginx 1005 ID5 - quoted "text" and back\\slash',
  '<134>1 2026-11-23T10:00:00Z web-1 nginx - - - tab\there and bell\u0007 and esc\u001b',
  '<134>1 2026-11-23T10:00:00Z web-1 nginx 99999999999 - - pid too large',
  '<134>1 2026-11-23T10:00:00Z web-1 nginx 12a - - pid not numeric',
  '<134>1 - - - - - - no timestamp, no host',
  '<134>1 - - - - - -',
  '<134>1 2026-11-23T10:00:00Z h a p m -',
  '<200>1 2026-11-23T10:00:00Z web-1 app 1 - - pri above 191',
  '1 2026-11-23T10:00:00Z web-1 app 1 - - no pri at all',
  '<13>1 1970-01-01T00:00:01Z web-1 app 1 - - early epoch',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - [exampleSDID@32473 iut="3" eventSource="Application" eventID="1011"] with sd',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - [a@1 k="q\\"uote" b="x\\]y"][b@2 z="1"] two sd',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - [bad sd no close',
  '<13>1 2026-11-23T10:00:00Z hôst-é ápp 1 - - 8-bit header fields',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - unicode ✓ 日本語 emoji 😀 and \u2028 separators',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - {"level":"error","msg":"json body","n":3,"nested":{"a":[1,2,{"b":null}]}}',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - -   {"padded": true}  ',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - {not json',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - user=bob msg="a b \\"c\\"" in=3274 out=1448, x=; __proto__=p constructor=c toString=t',
  `<13>1 2026-11-23T10:00:00Z web-1 app 1 - - ${Array.from({ length: 80 }, (_, i) => `k${i}=v${i}`).join(' ')}`,
  `<13>1 2026-11-23T10:00:00Z web-1 app 1 - - ${Array.from({ length: 64 }, (_, i) => `k${i}=v${i}`).join(' ')} k0=again`,
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - a=1 a=2 b= c=;d=4, e.f-g=h [x=1] (y=2) {z=3} |w=4 9=no =nokey k="unterminated value',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - q="say \\"hi\\" \\\\ there" tab=\tx uni=ü😀 ctl=\u0001 quote=a"b',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - __proto__=x constructor=y',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - {"a":1} trailing=not-json',
  '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - \t {"a":{"b":{"c":{"d":{"e":1}}}},"__proto__":{"x":1},"":2}',
  `<13>1 2026-11-23T10:00:00Z web-1 app 1 - - long=${'x'.repeat(3000)}`,
  `<13>1 2026-11-23T10:00:00Z web-1 app 1 - - ${'m'.repeat(30_000)}`,
  '<13>Nov 23 10:00:00 web-1 sshd[123]: Accepted publickey for bob',
  '<13>Nov  3 10:00:00 web-1 kernel: [12345.678] eth0: link up',
  '<13>2026-11-23T10:00:00Z web-1 app: rfc3339 in a bsd header',
  '<13>Nov 23 10:00:00 web-1 - just a message',
  'Nov 23 10:00:00 web-1 cron[9]: file line without pri',
  '<13>garbage that is not syslog',
  '<>1 nothing',
  '{"message":"json line","level":"info"}',
  'plain text line',
  "<34>1 2003-10-11T22:14:15.003Z mymachine.example.com su - ID47 - BOM\ufeff'su root' failed",
  "<165>1 2003-08-24T05:14:15.000003-07:00 192.0.2.1 myproc 8710 - - %% It's time to make the do-nuts.",
];

function records(): Buffer[] {
  const out = [...EDGE.map((s) => Buffer.from(s)), ...vectorInputs(), ...loghubInputs(120)];
  // Bytes the fast path must refuse: NUL, invalid UTF-8, a cut multi-byte sequence.
  out.push(Buffer.from('<13>1 2026-11-23T10:00:00Z web-1 app 1 - - nul\u0000byte'));
  out.push(Buffer.concat([Buffer.from('<13>1 2026-11-23T10:00:00Z web-1 app 1 - - bad '), Buffer.from([0xff, 0xfe, 0x41])]));
  out.push(Buffer.concat([Buffer.from('<13>1 2026-11-23T10:00:00Z web-1 app 1 - - cut '), Buffer.from([0xe2, 0x9c])]));
  return out;
}

const RECEIVED = new Date('2026-11-23T10:00:05.250Z');

function opts(format: LineFormat, labels: Record<string, string>, extra: Partial<MakeEventOptions> = {}): MakeEventOptions {
  return { format, input: 'syslog_tcp', receivedAt: RECEIVED, hostname: 'collector', labels, eventId: '0193a1f2-0000-7000-8000-000000000001', ...extra };
}

describe('syslog fast path (makeSyslogEvent) = makeEvent + JSON.stringify', () => {
  const all = records();

  it('has records to compare (vectors and loghub found beside the repository)', () => {
    expect(all.length).toBeGreaterThan(1000);
  });

  for (const format of ['auto', 'rfc5424', 'rfc3164'] as const) {
    for (const labels of [{ env: 'prod' }, { env: 'prod', input_name: 'edge', team: 'a"b' }, {}] as Record<string, string>[]) {
      it(`${format}, labels ${JSON.stringify(labels)}: every line equal, most through the fast path`, () => {
        const labelsJson = eventLabelsJson(labels, 'syslog_tcp');
        let fast = 0;
        for (const raw of all) {
          const o = opts(format, labels);
          const got = makeSyslogEvent(raw, o, labelsJson);
          const want = makeEvent(raw, o);
          if (got instanceof EventLine) {
            fast++;
            expect(got.json, raw.toString('latin1').slice(0, 200)).toBe(JSON.stringify(want));
            expect(got.ts).toBe(Date.parse(want['@timestamp']));
          } else {
            expect(got).toEqual(want);
          }
        }
        // Not vacuous: the bulk of the records must actually take the fast path.
        expect(fast).toBeGreaterThan(format === 'rfc3164' ? all.length / 4 : all.length / 3);
      });
    }
  }

  it('refuses records with transport flags, NUL, invalid UTF-8, or a message over the limit', () => {
    const labelsJson = eventLabelsJson({ env: 'prod' }, 'syslog_tcp');
    const base = '<13>1 2026-11-23T10:00:00Z web-1 app 1 - - ';
    expect(makeSyslogEvent(Buffer.from(`${base}ok`), opts('auto', { env: 'prod' }), labelsJson)).toBeInstanceOf(EventLine);
    expect(makeSyslogEvent(Buffer.from(`${base}ok`), opts('auto', { env: 'prod' }, { flags: ['truncated'] }), labelsJson)).not.toBeInstanceOf(EventLine);
    expect(makeSyslogEvent(Buffer.from(`${base}nul\u0000`), opts('auto', { env: 'prod' }), labelsJson)).not.toBeInstanceOf(EventLine);
    expect(makeSyslogEvent(Buffer.concat([Buffer.from(base), Buffer.from([0xff])]), opts('auto', { env: 'prod' }), labelsJson)).not.toBeInstanceOf(EventLine);
    expect(makeSyslogEvent(Buffer.from(`${base}${'m'.repeat(30_000)}`), opts('auto', { env: 'prod' }), labelsJson)).not.toBeInstanceOf(EventLine);
    expect(makeSyslogEvent(Buffer.from(`${base}${Array.from({ length: 80 }, (_, i) => `k${i}=v`).join(' ')}`), opts('auto', { env: 'prod' }), labelsJson)).not.toBeInstanceOf(EventLine);
  });

  it('leaves a time more than the skew ahead (or before 1970) to makeEvent, which files it at the receive time, flagged (ADR 0015)', () => {
    const labelsJson = eventLabelsJson({ env: 'prod' }, 'syslog_tcp');
    for (const ts of ['9999-12-31T23:59:59Z', '2026-11-24T10:00:05.251Z', '0001-01-01T00:00:00Z']) {
      const raw = Buffer.from(`<13>1 ${ts} web-1 app 1 - - hello`);
      const got = makeSyslogEvent(raw, opts('auto', { env: 'prod' }), labelsJson);
      expect(got, ts).not.toBeInstanceOf(EventLine);
      expect((got as LogEvent)['@timestamp']).toBe(RECEIVED.toISOString());
      expect((got as LogEvent).labels).toMatchObject({ timestamp_original: new Date(ts).toISOString(), timestamp_replaced: ts.startsWith('0001') ? 'before_epoch' : 'future' });
    }
    // Up to the skew ahead is the fast path's, and with a smaller skew the same line is not.
    const raw = Buffer.from('<13>1 2026-11-24T10:00:05.250Z web-1 app 1 - - hello');
    expect(makeSyslogEvent(raw, opts('auto', { env: 'prod' }), labelsJson)).toBeInstanceOf(EventLine);
    expect(makeSyslogEvent(raw, opts('auto', { env: 'prod' }, { maxFutureSkewMs: 60_000 }), labelsJson)).not.toBeInstanceOf(EventLine);
  });

  it('generates a UUIDv7 event.id when the record has no position id, and the line parses back to the event', () => {
    const labelsJson = eventLabelsJson({ env: 'prod' }, 'syslog_udp');
    const got = makeSyslogEvent(Buffer.from('<134>1 2026-11-23T10:00:00.5Z web-1 nginx 1005 ID5 - a=1'), { ...opts('auto', { env: 'prod' }), input: 'syslog_udp', eventId: undefined }, labelsJson);
    expect(got).toBeInstanceOf(EventLine);
    const e = (got as EventLine).event;
    expect(isUuidV7(e.event.id)).toBe(true);
    expect(e).toMatchObject({
      '@timestamp': '2026-11-23T10:00:00.500Z',
      host: { name: 'web-1' },
      service: { name: 'nginx' },
      process: { pid: 1005 },
      log: { level: 'info' },
      labels: { env: 'prod', input: 'syslog_udp' },
      fields: { a: '1' },
    });
  });

  it('parseCleanSyslog reads exactly what parseLine reads, where it reads anything', () => {
    let read = 0;
    for (const raw of all) {
      for (const format of ['auto', 'rfc5424', 'rfc3164'] as const) {
        const m = parseCleanSyslog(raw, { format, maxLineBytes: raw.length });
        if (m === undefined) continue;
        read++;
        expect(syslogToPartial(m)).toEqual(parseLine(raw, { format, maxLineBytes: raw.length + 1 }));
      }
    }
    expect(read).toBeGreaterThan(all.length);
  });
});
