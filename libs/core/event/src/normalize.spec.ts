import { describe, expect, it } from 'vitest';
import { EventIdGenerator, isUuidV7 } from './ids';
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
            priority: 11, facility: { code: 1, name: 'user' }, severity: { code: 3, name: 'err' },
            hostname: 'web-01', appname: 'nginx', procid: '1234',
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
    const e = normalize({ '@timestamp': '2026-01-01T00:00:00Z', timestamp: '2026-01-01T00:00:00.000Z', time: '2025-01-01T00:00:00Z', ts: 'soon', message: 'a', msg: 'b', level: 'WARNING', severity: 'warn', lvl: 'debug' }, ctx);
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

  it('keeps the source event id, labels, and event.original when asked', () => {
    const e = normalize({ event: { id: 'abc' }, labels: { team: 'core', env: 'spoofed' }, message: 'm' }, { ...ctx, original: 'raw line' });
    expect(e.event.id).toBe('abc');
    expect(e.event.original).toBe('raw line');
    expect(e.labels).toEqual({ team: 'core', env: 'prod', input: 'stdin' });
  });

  it('survives hostile values', () => {
    const cyclic: Record<string, unknown> = {};
    cyclic.self = cyclic;
    const odd = [null, undefined, 1n, Symbol('s'), () => 1, Number.NaN, new Date('x'), { '': 1, '__proto__': 2 }, cyclic];
    for (const v of odd) {
      const e = normalize({ message: v, level: v, time: v, host: v as never, pid: v, weird: v }, ctx);
      expect(LogEventSchema.safeParse(e).success).toBe(true);
    }
  });
});

describe('normalize: ctx.eventId (ADR 0008)', () => {
  it('uses the given id when the source names none, and the source id when it does', () => {
    const id = '019aa8f2-1a7b-7123-8456-0000000000aa';
    expect(normalize({ message: 'x' }, { eventId: id }).event.id).toBe(id);
    expect(normalize({ message: 'x', event: { id: 'from-source' } }, { eventId: id }).event.id).toBe('from-source');
  });
});
