import { copyFileSync, existsSync, mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { type KafkaServerExtras, type StackConfig, kafkaServer, loadStackConfig, ours, stopPid, upOne } from '@backlog/platform-stack';

export interface PrivateKafka {
  brokers: string[];
  /** Stops the broker (SIGTERM, SIGKILL after the timeout). Its data stays for start(). */
  stop(timeoutMs?: number): Promise<void>;
  /** Starts it again on the same ports and data. */
  start(): Promise<void>;
  /** Stops it and deletes its data directory. */
  destroy(): Promise<void>;
}

/**
 * A second, private single-node Kafka for tests that must stop a broker (the shared stack's broker is
 * never stopped by a test), or need listeners the shared one has not (TLS, SASL: `extras`). Same jars
 * and KRaft setup as the stack's, on the ports given, its data in `dir`. `brokers` is the PLAINTEXT listener.
 */
export async function startPrivateKafka(opts: { dir: string; port: number; controllerPort: number; heapMb?: number; extras?: KafkaServerExtras }): Promise<PrivateKafka> {
  const base = loadStackConfig();
  mkdirSync(opts.dir, { recursive: true });
  const cfg: StackConfig = { ...base, dir: opts.dir, kafka: { port: opts.port, controllerPort: opts.controllerPort, heapMb: opts.heapMb ?? 512 } };
  // Jars are resolved once per stack dir: reuse the shared stack's classpath so no Maven run is needed.
  const cp = join(base.dir, 'kafka', 'classpath.txt');
  mkdirSync(join(opts.dir, 'kafka'), { recursive: true });
  if (existsSync(cp)) copyFileSync(cp, join(opts.dir, 'kafka', 'classpath.txt'));
  const server = kafkaServer({ ...cfg, dir: opts.dir }, opts.extras);
  const up = async () => {
    await upOne(server, cfg);
  };
  const stop = async (timeoutMs = 30_000) => {
    const pid = ours(server.pidFile);
    if (pid) await stopPid(pid, timeoutMs);
  };
  await up();
  return {
    brokers: [`${cfg.host}:${opts.port}`],
    stop,
    start: up,
    destroy: async () => {
      await stop(10_000);
      rmSync(opts.dir, { recursive: true, force: true });
    },
  };
}
