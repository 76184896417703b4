import { describe, expect, it } from 'vitest';
import { EventIdGenerator, isUuidV7, isUuidV8, sourceEventId, sourceIdentity } from './ids';
import { normalize } from './normalize';
import { LogEventSchema } from './schema';

const RECEIVED = Date.parse('2026-11-22T10:00:00.200Z');
const ids = new EventIdGenerator({ now: () => RECEIVED });
const ctx = { receivedAt: RECEIVED, hostname: 'harvester-host', env: 'prod', input: 'stdin', ids };

describe('normalize', () => {
  it('fills what is missing and satisfies the schema', () => {
    const e = normalize({ message: 'hello' }, ctx);
    expect(LogEventSchema.safeParse(e).success).toBe(true);
    expect(e['@timestamp']).toBe('2026-11-22T10:00:00.200Z');
    expect(e.event.created).toBe('2026-11-22T10:00:00.200Z');
    expect(isUuidV7(e.event.id)).toBe(true);
    expect(e.host).toEqual({ name: 'harvester-host' });
    expect(e.labels).toEqual({ env: 'prod', input: 'stdin' });
    expect(e.message).toBe('hello');
    expect(e.fields).toBeUndefined();
  });

  it('maps a syslog header: host, service, numeric pid, level from severity', () => {
    const e = normalize(
      {
        '@timestamp': Date.parse('2003-10-11T22:14:15.003Z'),
        log: {
          syslog: {
            priority: 11,
            facility: { code: 1, name: 'user' },
            severity: { code: 3, name: 'err' },
            hostname: 'web-01',
            appname: 'nginx',
            procid: '1234',
          },
        },
        message: 'upstream timed out',
      },
      ctx,
    );
    expect(e['@timestamp']).toBe('2003-10-11T22:14:15.003Z');
    expect(e.host?.name).toBe('web-01');
    expect(e.service?.name).toBe('nginx');
    expect(e.process?.pid).toBe(1234);
    expect(e.log?.level).toBe('error');
    expect(e.log?.syslog?.procid).toBe('1234');
    expect(Object.keys(e)).toEqual(['@timestamp', 'event', 'host', 'service', 'process', 'log', 'message', 'labels']);
    expect(LogEventSchema.safeParse(e).success).toBe(true);
  });

  it('does not invent a pid from a non-numeric PROCID', () => {
    const e = normalize({ log: { syslog: { procid: 'proc-id' } }, message: '' }, ctx);
    expect(e.process).toBeUndefined();
    expect(e.log?.syslog?.procid).toBe('proc-id');
  });

  it('collapses msg/message, time keys and level keys (pino line)', () => {
    const e = normalize({ level: 50, time: 1_531_171_074_631, pid: 657, hostname: 'box', msg: 'boom', reqId: 7 }, ctx);
    expect(e.message).toBe('boom');
    expect(e['@timestamp']).toBe('2018-07-09T21:17:54.631Z');
    expect(e.log?.level).toBe('error');
    expect(e.process?.pid).toBe(657);
    expect(e.host?.name).toBe('box');
    expect(e.fields).toEqual({ reqId: 7 });
  });

  it('keeps the canonical value and moves a differing duplicate to fields', () => {
    const e = normalize(
      {
        '@timestamp': '2026-01-01T00:00:00Z',
        timestamp: '2026-01-01T00:00:00.000Z',
        time: '2025-01-01T00:00:00Z',
        ts: 'soon',
        message: 'a',
        msg: 'b',
        level: 'WARNING',
        severity: 'warn',
        lvl: 'debug',
      },
      ctx,
    );
    expect(e['@timestamp']).toBe('2026-01-01T00:00:00.000Z');
    expect(e.message).toBe('a');
    expect(e.log?.level).toBe('warn');
    // same instant / same level → dropped; different → kept under its own name
    expect(e.fields).toEqual({ time: '2025-01-01T00:00:00Z', ts: 'soon', msg: 'b', lvl: 'debug' });
  });

  it('uses receive time when no timestamp parses, and keeps the unparsed text', () => {
    const e = normalize({ time: 'not a time', message: 'x' }, ctx);
    expect(e['@timestamp']).toBe('2026-11-22T10:00:00.200Z');
    expect(e.fields).toEqual({ time: 'not a time' });
  });

  it('takes service from unit or file when the source names none', () => {
    expect(normalize({ message: '' }, { ...ctx, unit: 'sshd.service' }).service?.name).toBe('sshd');
    expect(normalize({ message: '' }, { ...ctx, file: '/var/log/nginx/access.log.1' }).service?.name).toBe('access');
    expect(normalize({ message: '', log: { syslog: { appname: 'su' } } }, { ...ctx, unit: 'x.service' }).service?.name).toBe('su');
  });

  it('extracts key=value pairs and JSON messages into fields, existing keys first', () => {
    const kv = normalize({ message: 'disconnect host=/192.0.2.1 in=3274', fields: { in: 'keep' } }, ctx);
    expect(kv.fields).toEqual({ in: 'keep', host: '/192.0.2.1' });
    const js = normalize({ message: '{"user":"bob","n":2}' }, ctx);
    expect(js.fields).toEqual({ user: 'bob', n: 2 });
    expect(js.message).toBe('{"user":"bob","n":2}');
    const off = normalize({ message: 'a=1' }, { ...ctx, extractKeyValues: false });
    expect(off.fields).toBeUndefined();
  });

  it('truncates an oversized message at a code point and flags it, never throws', () => {
    const e = normalize({ message: 'é'.repeat(100) }, { ...ctx, limits: { maxMessageBytes: 11 } });
    expect(e.message).toBe('é'.repeat(5));
    expect(e.labels.truncated).toBe('message');
  });

  it('flags fields that were cut by the bounds', () => {
    const many: Record<string, number> = {};
    for (let i = 0; i < 100; i++) many[`k${i}`] = i;
    const e = normalize({ message: 'm', ...many }, { ...ctx, limits: { maxKeys: 10 } });
    expect(Object.keys(e.fields ?? {})).toHaveLength(10);
    expect(e.labels.truncated).toBe('fields');
  });

  it('keeps the source event id (namespaced, ADR 0015), labels, and event.original when asked', () => {
    const e = normalize({ event: { id: 'abc' }, labels: { team: 'core', env: 'spoofed' }, message: 'm' }, { ...ctx, original: 'raw line' });
    expect(e.event.id).toBe(sourceEventId(sourceIdentity('harvester-host', 'stdin', ''), 'abc'));
    expect(e.event.original).toBe('raw line');
    expect(e.labels).toEqual({ team: 'core', env: 'prod', input: 'stdin', source_event_id: 'abc' });
  });

  it('survives hostile values', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const odd = [null, undefined, 1n, Symbol('s'), () => 1, Number.NaN, new Date('x'), { '': 1, __proto__: 2 }, cyclic];
    for (const v of odd) {
      const e = normalize({ message: v, level: v, time: v, host: v as never, pid: v, weird: v }, ctx);
      expect(LogEventSchema.safeParse(e).success).toBe(true);
    }
  });
});

describe('normalize: ctx.eventId (ADR 0008)', () => {
  it('uses the given id when the source names none, and the source id (namespaced, ADR 0015) when it does', () => {
    const id = '019aa8f2-1a7b-7123-8456-0000000000aa';
    expect(normalize({ message: 'x' }, { eventId: id }).event.id).toBe(id);
    expect(normalize({ message: 'x', event: { id: 'from-source' } }, { eventId: id, source: 'h\0file\0/var/log/a.log' }).event.id).toBe(sourceEventId('h\0file\0/var/log/a.log', 'from-source'));
  });
});

describe('normalize: ids a source names (ADR 0015)', () => {
  const a = sourceIdentity('harvester-host', 'http', '10.0.0.1');
  const b = sourceIdentity('harvester-host', 'http', '10.0.0.2');

  it('two sources sending the same event.id get two ids; the id they sent is kept in labels.source_event_id', () => {
    const ea = normalize({ event: { id: 'order-42' }, message: 'from a' }, { ...ctx, source: a });
    const eb = normalize({ event: { id: 'order-42' }, message: 'from b' }, { ...ctx, source: b });
    expect(ea.event.id).not.toBe(eb.event.id);
    expect(ea.event.id).not.toBe('order-42');
    expect(isUuidV8(ea.event.id) && isUuidV8(eb.event.id)).toBe(true);
    expect(ea.labels.source_event_id).toBe('order-42');
    expect(eb.labels.source_event_id).toBe('order-42');
    expect(LogEventSchema.safeParse(ea).success).toBe(true);
  });

  it('the same source sending it again (a retry, a re-read line) gets the same id, whenever it arrives', () => {
    const first = normalize({ 'event.id': 'order-42', message: 'm' }, { ...ctx, source: a, receivedAt: RECEIVED });
    const again = normalize({ event: { id: 'order-42' }, message: 'm' }, { ...ctx, source: a, receivedAt: RECEIVED + 3_600_000, ids: new EventIdGenerator() });
    expect(again.event.id).toBe(first.event.id);
  });

  it('ids the harvester assigns are unchanged: generated UUIDv7, and the position ids of ADR 0008', () => {
    const g = new EventIdGenerator({ now: () => RECEIVED, runId: new Uint8Array([1, 2, 3, 4, 5, 6]) });
    const expected = new EventIdGenerator({ now: () => RECEIVED, runId: new Uint8Array([1, 2, 3, 4, 5, 6]) }).next();
    const e = normalize({ message: 'no id' }, { ...ctx, source: a, ids: g });
    expect(e.event.id).toBe(expected);
    expect(e.labels.source_event_id).toBeUndefined();
    expect(normalize({ message: 'x' }, { ...ctx, source: a, eventId: '019aa8f2-1a7b-7123-8456-0000000000aa' }).event.id).toBe('019aa8f2-1a7b-7123-8456-0000000000aa');
  });

  it('a numeric id is an id; a long one is hashed whole (it was dropped before); an object or a boolean is kept in fields', () => {
    expect(normalize({ event: { id: 42 as never }, message: 'm' }, { ...ctx, source: a }).event.id).toBe(sourceEventId(a, '42'));
    const long = 'x'.repeat(5000);
    const el = normalize({ event: { id: long }, message: 'm' }, { ...ctx, source: a });
    expect(el.event.id).toBe(sourceEventId(a, long));
    expect(el.labels.source_event_id).toBe('x'.repeat(2048));
    expect(el.labels.truncated).toBe('fields');
    const eo = normalize({ event: { id: { n: 1 } as never }, message: 'm' }, { ...ctx, source: a });
    expect(isUuidV7(eo.event.id)).toBe(true);
    expect(eo.fields).toEqual({ event: { id: { n: 1 } } });
    const eb = normalize({ 'event.id': true, message: 'm' }, { ...ctx, source: a });
    expect(isUuidV7(eb.event.id)).toBe(true);
    expect(JSON.stringify(eb.fields)).toContain('true');
  });

  it("the harvester's label wins over a source_event_id label the source sent", () => {
    const e = normalize({ event: { id: 'real' }, labels: { source_event_id: 'forged' }, message: 'm' }, { ...ctx, source: a });
    expect(e.labels.source_event_id).toBe('real');
  });
});

describe('normalize: event times the pipeline cannot file (ADR 0015)', () => {
  it('9999-12-31 is filed at the receive time, the claimed time kept in labels and flagged', () => {
    const e = normalize({ '@timestamp': '9999-12-31T23:59:59Z', message: 'm' }, ctx);
    expect(e['@timestamp']).toBe('2026-11-22T10:00:00.200Z');
    expect(e.labels.timestamp_original).toBe('9999-12-31T23:59:59.000Z');
    expect(e.labels.timestamp_replaced).toBe('future');
    expect(LogEventSchema.safeParse(e).success).toBe(true);
  });

  it('up to the skew ahead is kept as it is (a clock a little fast, a zone error of hours); beyond it is replaced', () => {
    const day = 86_400_000;
    expect(normalize({ '@timestamp': RECEIVED + day, message: 'm' }, ctx)['@timestamp']).toBe(new Date(RECEIVED + day).toISOString());
    expect(normalize({ time: '2026-11-23T00:00:00+00:00', message: 'm' }, ctx).labels.timestamp_replaced).toBeUndefined();
    const over = normalize({ '@timestamp': RECEIVED + day + 1, message: 'm' }, ctx);
    expect(over['@timestamp']).toBe('2026-11-22T10:00:00.200Z');
    expect(over.labels.timestamp_replaced).toBe('future');
    // The skew is configurable.
    const tight = normalize({ '@timestamp': RECEIVED + 61_000, message: 'm' }, { ...ctx, maxFutureSkewMs: 60_000 });
    expect(tight.labels).toMatchObject({ timestamp_replaced: 'future', timestamp_original: '2026-11-22T10:01:01.200Z' });
  });

  it('year 0001 is read as year 1 (not 1901) and, being before 1970, filed at the receive time', () => {
    const e = normalize({ '@timestamp': '0001-01-01T00:00:00Z', message: 'm' }, ctx);
    expect(e['@timestamp']).toBe('2026-11-22T10:00:00.200Z');
    expect(e.labels.timestamp_original).toBe('0001-01-01T00:00:00.000Z');
    expect(e.labels.timestamp_replaced).toBe('before_epoch');
    const late = normalize({ '@timestamp': '1970-01-01T00:00:00Z', message: 'm' }, ctx);
    expect(late['@timestamp']).toBe('1970-01-01T00:00:00.000Z');
  });

  it('a number no Date can hold is not a time (it used to throw): kept in fields, filed at the receive time', () => {
    const e = normalize({ time: 1e30, message: 'm' }, ctx);
    expect(e['@timestamp']).toBe('2026-11-22T10:00:00.200Z');
    expect(e.fields).toEqual({ time: 1e30 });
    const far = normalize({ ts: 99_999_999_999, message: 'm' }, ctx); // epoch seconds → year 5138
    expect(far.labels).toMatchObject({ timestamp_replaced: 'future', timestamp_original: '5138-11-16T09:46:39.000Z' });
  });
});
