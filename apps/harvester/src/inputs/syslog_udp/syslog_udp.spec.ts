import { execFileSync } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { afterEach, describe, expect, it } from 'vitest';
import { sleep, waitFor } from '@backlog/testing';
import { CollectingSink, expectAccounted, hostileRecord, rng, rssMiB, testContext } from '../shared/test-kit';
import { SyslogUdpInput, syslogUdpInput } from './index';

const inputs: SyslogUdpInput[] = [];
async function start(sink: CollectingSink, extra: Record<string, unknown> = {}) {
  const input = syslogUdpInput.create(syslogUdpInput.configSchema.parse({ type: 'syslog_udp', port: 0, ...extra }), testContext(sink));
  inputs.push(input);
  await input.start();
  return { input, port: input.address()?.port ?? 0 };
}
afterEach(async () => {
  for (const i of inputs.splice(0)) await i.stop(Date.now() + 2000);
});

describe('syslog_udp', () => {
  it('defaults: 127.0.0.1:5514; unknown keys are errors', () => {
    const cfg = syslogUdpInput.configSchema.parse({ type: 'syslog_udp' });
    expect(cfg).toMatchObject({ host: '127.0.0.1', port: 5514, format: 'auto' });
    expect(() => syslogUdpInput.configSchema.parse({ type: 'syslog_udp', prot: 1 })).toThrow();
  });

  it('receives RFC 5424 and RFC 3164 from util-linux logger', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink);
    execFileSync('logger', ['--udp', '--rfc5424', '-n', '127.0.0.1', '-P', String(port), '-t', 'myapp', '--id=4242', '-p', 'local0.err', 'hello 5424']);
    execFileSync('logger', ['--udp', '--rfc3164', '-n', '127.0.0.1', '-P', String(port), '-t', 'oldapp', '-p', 'user.warning', 'hello 3164']);
    await waitFor('two events', () => sink.events.length === 2, 5000, 10);
    const [a, b] = sink.events;
    expect(a).toMatchObject({
      message: 'hello 5424',
      service: { name: 'myapp' },
      process: { pid: 4242 },
      log: { level: 'error', syslog: { version: 1, facility: { code: 16 }, severity: { code: 3 } } },
      labels: { input: 'syslog_udp', env: 'test' },
    });
    expect(b).toMatchObject({ message: 'hello 3164', service: { name: 'oldapp' }, log: { level: 'warn' }, labels: { input: 'syslog_udp' } });
    expect(a?.labels.parse_error).toBeUndefined();
    expect(b?.labels.parse_error).toBeUndefined();
    expect(expectAccounted(input.core.stats)).toMatchObject({ received: 2, emitted: 2, dropped: 0 });
  });

  it('drops with reason backpressure while the sink is full (UDP cannot push back)', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink);
    const client = createSocket('udp4');
    sink.pause();
    for (let i = 0; i < 5; i++) client.send(`<13>paused ${i}`, port, '127.0.0.1');
    await waitFor('five datagrams', () => input.core.stats.received === 5, 5000, 10);
    sink.resume();
    client.send('<13>resumed', port, '127.0.0.1');
    await waitFor('one event', () => sink.events.length === 1, 5000, 10);
    client.close();
    expect(input.core.stats.dropped.get('backpressure')).toBe(5);
    expectAccounted(input.core.stats);
  });

  it('hostile: 10,000 malformed datagrams, no crash, bounded memory, everything accounted', async () => {
    const sink = new CollectingSink(100);
    const { input, port } = await start(sink);
    const rand = rng(5426);
    const client = createSocket('udp4');
    const rss0 = rssMiB();
    let sent = 0;
    for (let i = 0; i < 10_000; i++) {
      let rec = hostileRecord(rand, i);
      if (i % 1000 === 999) rec = Buffer.alloc(65_000, 0x41); // the largest datagrams
      client.send(rec, port, '127.0.0.1');
      sent++;
      // Sender and input share this event loop: keep at most 200 datagrams in flight so the kernel's socket
      // buffer does not overflow (that loss would be the kernel's, not ours; this test is about our parsing).
      if (i % 100 === 99) await waitFor('receiver progress', () => input.core.stats.received >= sent - 200, 5000, 10).catch(() => undefined);
    }
    const t0 = Date.now();
    await waitFor('datagrams', () => input.core.stats.received >= sent * 0.98, 10_000, 10).catch((e) => {
      throw new Error(`${(e as Error).message}: ${JSON.stringify(input.core.stats)} after ${Date.now() - t0}ms`);
    });
    await sleep(100);
    client.close();
    const acc = expectAccounted(input.core.stats);
    expect(acc.received).toBeGreaterThanOrEqual(sent * 0.98);
    expect(sink.count).toBe(acc.emitted);
    expect(input.core.stats.flaggedTotal).toBeGreaterThan(3000);
    expect(rssMiB() - rss0).toBeLessThan(300);
    for (const e of sink.events) expect(typeof e.message).toBe('string');
  });
});
