import { type Socket, connect } from 'node:net';
import { sleep } from './helpers';

/**
 * Sends `line(n)` over one TCP connection at `rate` lines/s in 20 ms ticks until stop() is called.
 * Honours TCP backpressure (waits for 'drain'): when the harvester stops reading, so do we, as a real
 * sender would, and `sent` counts only what the kernel took.
 */
export function tcpLoad(port: number, rate: number, line: (n: number) => string) {
  const sock: Socket = connect({ host: '127.0.0.1', port });
  let sent = 0;
  let running = true;
  let blockedMs = 0;
  const done = (async () => {
    await new Promise<void>((r, j) => {
      sock.once('connect', () => r());
      sock.once('error', j);
    });
    const t0 = Date.now();
    while (running) {
      const due = Math.floor(((Date.now() - t0) / 1000) * rate);
      if (due > sent) {
        const parts: string[] = [];
        for (let i = sent; i < due; i++) parts.push(line(i));
        const ok = sock.write(parts.join(''));
        sent = due;
        if (!ok) {
          const b0 = Date.now();
          await new Promise<void>((r) => sock.once('drain', () => r()));
          blockedMs += Date.now() - b0;
        }
      }
      await sleep(20);
    }
    await new Promise<void>((r) => sock.end(() => r()));
  })();
  return {
    get sent() {
      return sent;
    },
    get blockedMs() {
      return blockedMs;
    },
    stop: async () => {
      running = false;
      await done;
    },
  };
}
