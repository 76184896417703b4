import { describe, expect, it } from 'vitest';
import { MetricsRegistry, componentMetrics, createJsonLogger, startTelemetryServer } from './index';

describe('telemetry', () => {
  it('shares metric families between components and names them <component>_…', async () => {
    const reg = new MetricsRegistry();
    const a = componentMetrics(reg, 'harvester_input', ['input', 'name']);
    const b = componentMetrics(reg, 'harvester_input', ['input', 'name']);
    a.received.inc({ input: 'file', name: 'a' }, 2);
    b.dropped.inc({ input: 'file', name: 'b', reason: 'backpressure' });
    const text = await reg.metrics();
    expect(text).toContain('harvester_input_received_events_total{input="file",name="a"} 2');
    expect(text).toContain('harvester_input_dropped_events_total{input="file",name="b",reason="backpressure"} 1');
    expect(() => reg.gauge('harvester_input_received_events_total', 'x')).toThrow(/another type/);
  });

  it('reads observed counters at scrape time', async () => {
    const reg = new MetricsRegistry();
    const stats = { sent: 0, dropped: { oversize: 0, backpressure: 0 } };
    reg.observedCounter('demo_sent_total', 'sent', () => stats.sent);
    reg.observedCounter('demo_dropped_total', 'dropped', () => Object.entries(stats.dropped).map(([reason, n]) => [{ reason }, n] as const), ['reason']);
    stats.sent = 3;
    stats.dropped.oversize = 2;
    const text = await reg.metrics();
    expect(text).toMatch(/^demo_sent_total 3$/m);
    expect(text).toMatch(/^demo_dropped_total\{reason="oversize"\} 2$/m);
    expect(text).toMatch(/^demo_dropped_total\{reason="backpressure"\} 0$/m);
    stats.sent = 5;
    expect(await reg.metrics()).toMatch(/^demo_sent_total 5$/m);
    expect(() => reg.observedCounter('demo_sent_total', 'again', () => 0)).toThrow();
  });

  it('serves /metrics and /healthz on loopback', async () => {
    const reg = new MetricsRegistry({ defaultMetrics: true });
    reg.counter('demo_total', 'demo').inc();
    let ok = true;
    const srv = await startTelemetryServer({ registry: reg, port: 0, health: () => ({ ok, inputs: 1 }) });
    try {
      const m = await fetch(`http://127.0.0.1:${srv.port}/metrics`);
      expect(m.status).toBe(200);
      const body = await m.text();
      expect(body).toContain('demo_total 1');
      expect(body).toContain('process_resident_memory_bytes');
      expect(await (await fetch(`http://127.0.0.1:${srv.port}/healthz`)).json()).toEqual({ ok: true, inputs: 1 });
      ok = false;
      expect((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status).toBe(503);
      // Liveness is not readiness: not ready (a server it needs is down) is still alive.
      const live = await fetch(`http://127.0.0.1:${srv.port}/livez`);
      expect(live.status).toBe(200);
      expect(await live.json()).toEqual({ ok: true });
      expect((await fetch(`http://127.0.0.1:${srv.port}/nope`)).status).toBe(404);
    } finally {
      await srv.close();
      await srv.close();
    }
  });

  it('serves /livez from the liveness callback when given one', async () => {
    let alive = true;
    const srv = await startTelemetryServer({ registry: new MetricsRegistry(), port: 0, health: () => ({ ok: false }), liveness: () => ({ ok: alive, loop: 'running' }) });
    try {
      const r = await fetch(`http://127.0.0.1:${srv.port}/livez`);
      expect([r.status, await r.json()]).toEqual([200, { ok: true, loop: 'running' }]);
      expect((await fetch(`http://127.0.0.1:${srv.port}/healthz`)).status).toBe(503);
      alive = false;
      expect((await fetch(`http://127.0.0.1:${srv.port}/livez`, { method: 'HEAD' })).status).toBe(503);
    } finally {
      await srv.close();
    }
  });

  it('logs one JSON object per line, filtered by level, with child fields', () => {
    const lines: string[] = [];
    const log = createJsonLogger({ level: 'info', write: (l) => lines.push(l), base: { app: 'h' }, now: () => new Date(0) });
    log.debug('hidden');
    const child = log.child!({ input: 'file' });
    const cyc: Record<string, unknown> = {};
    cyc.self = cyc;
    child.warn('rotated', { err: new Error('boom'), n: 10n, cyc });
    expect(lines).toHaveLength(1);
    expect(JSON.parse(lines[0]!)).toEqual({
      time: '1970-01-01T00:00:00.000Z',
      level: 'warn',
      msg: 'rotated',
      app: 'h',
      input: 'file',
      err: { name: 'Error', message: 'boom' },
      n: '10',
      cyc: { self: '[circular]' },
    });
  });
});
