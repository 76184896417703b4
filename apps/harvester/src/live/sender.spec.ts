import { createSocket } from 'node:dgram';
import { describe, expect, it } from 'vitest';
import { MetricsRegistry } from '@backlog/platform-telemetry';
import { registerLiveSenderMetrics } from './metrics';
import { createLiveSender, liveConfigSchema } from './sender';

// Loopback UDP is local to this process (no server of the stack), so this stays a unit test.
describe('createLiveSender', () => {
  it('is a no-op unless enabled', () => {
    const s = createLiveSender({});
    s.send({ message: 'x' });
    expect(s.stats.sent).toBe(0);
  });

  it('accepts a host name as a target, resolved once when its socket connects', async () => {
    const got: Record<string, unknown>[] = [];
    const sock = await new Promise<ReturnType<typeof createSocket>>((resolve) => {
      const s = createSocket('udp4');
      s.on('message', (m) => got.push(JSON.parse(m.toString())));
      s.bind(0, '127.0.0.1', () => resolve(s));
    });
    const sender = createLiveSender({ enabled: true, targets: [`localhost:${sock.address().port}`] }, { host: 'h1', run: 'byname' });
    sender.send({ message: 'to a name', log: { level: 'info' } });
    const until = Date.now() + 2000;
    while (got.length < 1 && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    expect(got.map((d) => d.run)).toEqual(['byname']);
    await sender.stop();
    sock.close();
    expect(liveConfigSchema.safeParse({ targets: ['not a target'] }).success).toBe(false);
    expect(liveConfigSchema.safeParse({ targets: ['live-receiver:5515', '[::1]:5515', '10.0.0.7:5515'] }).success).toBe(true);
  });

  it('sends filtered events with host, run and increasing seq to every target', async () => {
    const a: Record<string, unknown>[] = [];
    const b: Record<string, unknown>[] = [];
    const got = [a, b];
    const socks = await Promise.all(
      [0, 1].map(
        (i) =>
          new Promise<ReturnType<typeof createSocket>>((resolve) => {
            const s = createSocket('udp4');
            s.on('message', (m) => (i === 0 ? a : b).push(JSON.parse(m.toString())));
            s.bind(0, '127.0.0.1', () => resolve(s));
          }),
      ),
    );
    const targets = socks.map((s) => `127.0.0.1:${s.address().port}`);
    const sender = createLiveSender({ enabled: true, targets, filter: { minLevel: 'warning' } }, { host: 'h1', run: 'run1' });
    sender.send({ message: 'a', log: { level: 'error' } });
    sender.send({ message: 'b', log: { level: 'debug' } });
    sender.send({ message: 'c'.repeat(3000), log: { level: 'warn' } });
    const until = Date.now() + 2000;
    while ((a.length < 2 || b.length < 2) && Date.now() < until) await new Promise((r) => setTimeout(r, 10));
    for (const g of got) {
      expect(g.map((d) => [d.host, d.run, d.seq])).toEqual([
        ['h1', 'run1', 0],
        ['h1', 'run1', 1],
      ]);
      expect(g[1]?.truncated).toBe(3000);
    }
    expect(sender.stats).toMatchObject({ sent: 2, filtered: 1, truncated: 1 });
    await sender.stop();
    await sender.stop();
    sender.send({ message: 'late', log: { level: 'error' } });
    expect(sender.stats.dropped.stopped).toBe(1);
    for (const s of socks) s.close();
  });

  it('never throws when no receiver listens', async () => {
    const sender = createLiveSender({ enabled: true, targets: ['127.0.0.1:9'] });
    for (let i = 0; i < 100; i++) sender.send({ message: `m${i}` });
    await new Promise((r) => setTimeout(r, 50));
    expect(sender.stats.sent + sender.stats.dropped.send_error + sender.stats.dropped.backpressure).toBeGreaterThan(0);
    await sender.stop();
  });
});

describe('registerLiveSenderMetrics', () => {
  it('mirrors the sender counts at scrape time', async () => {
    const registry = new MetricsRegistry();
    const sender = createLiveSender({ enabled: true, targets: ['127.0.0.1:9'], filter: { minLevel: 'error' } });
    registerLiveSenderMetrics(registry, sender);
    sender.send({ message: 'x', log: { level: 'info' } });
    sender.send({ message: 'y', log: { level: 'error' }, host: { name: 'h'.repeat(3000) } });
    const text = await registry.metrics();
    expect(text).toMatch(/^harvester_live_filtered_events_total 1$/m);
    expect(text).toMatch(/^harvester_live_dropped_events_total\{reason="oversize"\} 1$/m);
    await sender.stop();
  });
});
