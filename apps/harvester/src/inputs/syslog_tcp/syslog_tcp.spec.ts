import { type ChildProcess, execFileSync, spawn, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, writeFileSync } from 'node:fs';
import { connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, describe, expect, it } from 'vitest';
import { freePort, sleep, waitFor } from '@backlog/testing';
import { CollectingSink, closed, drip, expectAccounted, hostileRecord, rng, rssMiB, tcpConnect, testContext } from '../shared/test-kit';
import { type SyslogTcpInput, syslogTcpInput } from './index';

const inputs: SyslogTcpInput[] = [];
async function start(sink: CollectingSink, extra: Record<string, unknown> = {}) {
  const input = syslogTcpInput.create(syslogTcpInput.configSchema.parse({ type: 'syslog_tcp', port: 0, ...extra }), testContext(sink));
  inputs.push(input);
  await input.start();
  return { input, port: input.address()?.port ?? 0 };
}
afterEach(async () => {
  for (const i of inputs.splice(0)) await i.stop(Date.now() + 2000);
});

function send(port: number, data: Buffer | string, opts: { end?: boolean } = {}): Promise<void> {
  return new Promise((resolve, reject) => {
    const s = connect(port, '127.0.0.1', () => {
      s.write(data);
      if (opts.end === false) setTimeout(() => (s.destroy(), resolve()), 50);
      else s.end();
    });
    s.on('close', () => resolve());
    s.on('error', reject);
  });
}

describe('syslog_tcp', () => {
  it('defaults: 127.0.0.1:5514, auto framing; bounded in connections (in all and per address) and in time (idle, partial frame)', () => {
    expect(syslogTcpInput.configSchema.parse({ type: 'syslog_tcp' })).toMatchObject({
      host: '127.0.0.1',
      port: 5514,
      framing: 'auto',
      maxFrameBytes: 65_536,
      maxConnections: 1024,
      maxConnectionsPerAddress: 256,
      idleTimeoutMs: 300_000,
      partialRecordTimeoutMs: 30_000,
    });
  });

  it('slow drip: frames sent one byte per write over a real socket are decoded with linear copying in one bounded buffer', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { partialRecordTimeoutMs: 600_000 });
    const msg = `<13>1 2026-11-22T10:00:00Z web-01 drip - - - ${'y'.repeat(2900)}`;
    for (const [framing, wire] of [
      ['octet', `${Buffer.byteLength(msg)} ${msg}`],
      ['lf', `${msg}\n`],
    ] as const) {
      const before = sink.events.length;
      const sock = await tcpConnect(port);
      const bytes = Buffer.from(wire);
      // All but the last byte: the frame is still incomplete, so the decoder holds it.
      await drip(sock, bytes.subarray(0, bytes.length - 1));
      await waitFor(
        `${framing}: every byte read`,
        () => (input.listener.connectionStats()[0]?.reads ?? 0) > 0 && input.core.stats.received === before && (input.listener.connectionStats()[0]?.length ?? 0) >= bytes.length - 1 - 8,
        5000,
        10,
      );
      const [c] = input.listener.connectionStats();
      expect(c!.reads, framing).toBeGreaterThan(bytes.length / 4);
      expect(c!.allocations, framing).toBeLessThanOrEqual(8);
      expect(c!.capacity, framing).toBeLessThanOrEqual(2 * bytes.length);
      // Linear: re-copying the pending bytes on every read would be ~reads²/2 (millions here).
      expect(c!.copiedBytes, framing).toBeLessThanOrEqual(3 * bytes.length);
      sock.end(bytes.subarray(bytes.length - 1));
      await waitFor(`${framing}: the frame`, () => sink.events.length === before + 1, 5000, 10);
      expect(sink.events[before], framing).toMatchObject({ message: 'y'.repeat(2900), service: { name: 'drip' } });
      await closed(sock);
      await waitFor('closed', () => input.listener.connections === 0, 5000, 10);
    }
    expectAccounted(input.core.stats);
  });

  it('a frame started and not finished within partialRecordTimeoutMs closes the connection; the part received is kept, flagged', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { partialRecordTimeoutMs: 300 });
    const sock = await tcpConnect(port);
    sock.write('<13>1 2026-11-22T10:00:00Z web-01 app - - - complete\n200 <13>1 2026-11-22T10:00:00Z web-01 app - - - cut');
    await closed(sock);
    await waitFor('two events', () => sink.events.length === 2, 5000, 10);
    expect(sink.events[0]).toMatchObject({ message: 'complete' });
    expect(sink.events[1]?.labels).toMatchObject({ partial_frame: 'true' });
    expect(Object.fromEntries(input.listener.closed)).toEqual({ partial_timeout: 1 });
    expectAccounted(input.core.stats);
  });

  it('receives util-linux logger over TCP: RFC 5424 and RFC 3164, non-transparent and --octet-count framing', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink);
    const base = ['--tcp', '-n', '127.0.0.1', '-P', String(port)];
    execFileSync('logger', [...base, '--rfc5424', '-t', 'app5424', 'lf framed 5424']);
    execFileSync('logger', [...base, '--rfc3164', '-t', 'app3164', 'lf framed 3164']);
    execFileSync('logger', [...base, '--rfc5424', '--octet-count', '-t', 'oct5424', 'octet counted\nwith a newline inside']);
    execFileSync('logger', [...base, '--rfc3164', '--octet-count', '-t', 'oct3164', 'octet counted 3164']);
    await waitFor('four events', () => sink.events.length === 4, 5000, 10);
    const by = Object.fromEntries(sink.events.map((e) => [e.service?.name, e]));
    expect(by.app5424).toMatchObject({ message: 'lf framed 5424', log: { syslog: { version: 1 } } });
    expect(by.app3164).toMatchObject({ message: 'lf framed 3164' });
    // Octet counting (RFC 6587 §3.4.1) is what lets a message carry an LF.
    expect(by.oct5424).toMatchObject({ message: 'octet counted\nwith a newline inside' });
    expect(by.oct3164).toMatchObject({ message: 'octet counted 3164' });
    for (const e of sink.events) expect(e.labels).toMatchObject({ input: 'syslog_tcp' });
    for (const e of sink.events) expect(e.labels.parse_error).toBeUndefined();
    expectAccounted(input.core.stats);
  });

  it('many connections at once, each with its own framing state', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink);
    await Promise.all(
      Array.from({ length: 50 }, (_, c) => {
        const frames = Array.from({ length: 20 }, (_, i) => {
          const msg = `<13>1 2026-11-22T10:00:00Z h app - - - conn ${c} msg ${i}`;
          return c % 2 ? `${Buffer.byteLength(msg)} ${msg}` : `${msg}\n`;
        }).join('');
        return send(port, frames);
      }),
    );
    await waitFor('1000 events', () => sink.events.length === 1000, 5000, 10);
    expect(new Set(sink.events.map((e) => e.message)).size).toBe(1000);
    expect(expectAccounted(input.core.stats).received).toBe(1000);
  });

  it('stops reading while the sink is full, so the sender is pushed back by TCP, and loses nothing', async () => {
    const sink = new CollectingSink();
    const { input, port } = await start(sink, { maxFrameBytes: 4096 });
    sink.pause();
    const total = 20_000;
    const line = (i: number) => `<13>1 2026-11-22T10:00:00Z h app - - - backpressure ${i} ${'x'.repeat(200)}\n`;
    const sock = connect(port, '127.0.0.1');
    await new Promise((r) => sock.once('connect', r));
    let i = 0;
    let blocked = false;
    // Write until the kernel and Node buffers are full (write() returns false and stays so).
    while (i < total) {
      if (!sock.write(line(i++))) {
        blocked = true;
        break;
      }
    }
    await sleep(300);
    const whilePaused = input.core.stats.received;
    await sleep(300);
    expect(input.core.stats.received).toBe(whilePaused); // no reading while paused
    expect(input.listener.isPaused).toBe(true);
    expect(blocked || sock.writableLength > 0).toBe(true);
    sink.resume();
    while (i < total) if (!sock.write(line(i++))) await new Promise((r) => sock.once('drain', r));
    sock.end();
    await waitFor('all frames', () => input.core.stats.received === total, 15_000, 10);
    expect(sink.events.length).toBe(total);
    expect(new Set(sink.events.map((e) => e.message)).size).toBe(total);
    expectAccounted(input.core.stats);
  });

  it('rsyslog (imtcp → omfwd octet-counted) forwards into syslog_tcp', async (ctx) => {
    if (spawnSync('rsyslogd', ['-v']).status !== 0) {
      console.log('rsyslog test NOT RUN: rsyslogd is not installed (apt-get install -y rsyslog)');
      return ctx.skip();
    }
    const sink = new CollectingSink();
    const { port } = await start(sink);
    const dir = mkdtempSync(join(tmpdir(), 'rsyslog-'));
    chmodSync(dir, 0o777);
    const inPort = await freePort();
    // imuxsock is not loaded (no /dev/log, no privileges needed); imtcp on a random loopback port is
    // rsyslog's input, omfwd over TCP with RFC 6587 octet counting is its output, to our input.
    const conf = join(dir, 'rsyslog.conf');
    writeFileSync(
      conf,
      [
        `global(workDirectory="${dir}" maxMessageSize="64k")`,
        'module(load="imtcp")',
        `input(type="imtcp" port="${inPort}" address="127.0.0.1")`,
        `*.* action(type="omfwd" target="127.0.0.1" port="${port}" protocol="tcp" TCP_Framing="octet-counted" template="RSYSLOG_SyslogProtocol23Format")`,
        '',
      ].join('\n'),
    );
    const asNobody = process.getuid?.() === 0 && spawnSync('setpriv', ['--help']).status === 0;
    const cmd = asNobody ? 'setpriv' : 'rsyslogd';
    const args = [...(asNobody ? ['--reuid=65534', '--regid=65534', '--clear-groups', 'rsyslogd'] : []), '-n', '-f', conf, '-i', join(dir, 'rsyslogd.pid')];
    const rs: ChildProcess = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    rs.stdout?.on('data', (d) => (out += d));
    rs.stderr?.on('data', (d) => (out += d));
    try {
      // rsyslog needs a moment to bind imtcp; retry the first message until it is accepted.
      await waitFor(`rsyslog up (${out})`, () => spawnSync('logger', ['--tcp', '-n', '127.0.0.1', '-P', String(inPort), '-t', 'probe', 'probe']).status === 0, 10_000, 10);
      for (let i = 0; i < 100; i++) execFileSync('logger', ['--tcp', '--rfc5424', '-n', '127.0.0.1', '-P', String(inPort), '-t', 'viarsyslog', `relayed ${i}`]);
      await waitFor(`100 relayed events (rsyslog said: ${out})`, () => sink.events.filter((e) => e.service?.name === 'viarsyslog').length === 100, 15_000, 10);
      const relayed = sink.events.filter((e) => e.service?.name === 'viarsyslog');
      expect(relayed.map((e) => e.message)).toEqual(Array.from({ length: 100 }, (_, i) => `relayed ${i}`));
      expect(relayed[0]).toMatchObject({ log: { syslog: { version: 1, appname: 'viarsyslog' } }, labels: { input: 'syslog_tcp' } });
      console.log(`rsyslog ran ${asNobody ? 'as uid 65534 (nobody)' : 'as the current user'}: 100 messages relayed`);
    } finally {
      rs.kill('SIGTERM');
      await new Promise((r) => (rs.exitCode !== null ? r(null) : rs.once('close', r)));
    }
  });

  it('hostile: 10,000 malformed frames (random bytes, bad UTF-8, MB lines, NUL, cut frames, 999999999 octet counts)', async () => {
    const sink = new CollectingSink(100);
    const { input, port } = await start(sink, { maxFrameBytes: 65_536 });
    const rand = rng(6587);
    const rss0 = rssMiB();
    let expected = 0;
    const conns = 10;
    await Promise.all(
      Array.from({ length: conns }, async (_, c) => {
        const parts: Buffer[] = [];
        for (let i = c; i < 10_000; i += conns) {
          const rec = hostileRecord(rand, i);
          switch (i % 7) {
            case 0: // octet counted, correct
              parts.push(Buffer.from(`${rec.length} `), rec);
              break;
            case 1: // an absurd octet count: the decoder must not wait for (or allocate) 999999999 bytes
              if (i % 1000 === 1) parts.push(Buffer.from('999999999 '), rec);
              else parts.push(rec, Buffer.from('\n'));
              break;
            case 2: // a line of megabytes
              parts.push(i % 500 === 2 ? Buffer.alloc(2 * 1024 * 1024, 0x61) : rec, Buffer.from('\n'));
              break;
            default:
              parts.push(rec, Buffer.from('\n'));
          }
        }
        // The last frame of every connection is cut: no trailer, and the peer resets.
        parts.push(Buffer.from('<13>1 2026-11-22T10:00:00Z h app - - - cut fra'));
        expected++;
        await send(port, Buffer.concat(parts), { end: c % 2 === 0 });
      }),
    );
    // The framing decides how many frames there are (a 999999999 count swallows what follows); we check
    // that everything received is accounted for, that every connection's data came through, and no crash.
    await sleep(200);
    await waitFor('connections closed', () => input.listener.connections === 0, 10_000, 10);
    const acc = expectAccounted(input.core.stats);
    expect(acc.received).toBeGreaterThan(5000);
    expect(acc.dropped).toBe(0);
    expect(sink.count).toBe(acc.emitted);
    expect(input.core.stats.flagged.get('truncated') ?? 0).toBeGreaterThan(0);
    expect(input.core.stats.flagged.get('partial_frame') ?? 0).toBeGreaterThanOrEqual(conns - expected + 1);
    expect(rssMiB() - rss0).toBeLessThan(400);
  });
});
