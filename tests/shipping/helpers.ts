// Shared pieces of the shipping fault tests: spawning apps as real processes (through tsx,
// as bin/backlog.mjs does), reading h-<env> back with a plain kafkajs consumer, and polling /metrics.
import { type ChildProcess, spawn } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { join } from 'node:path';
import kafkajs from 'kafkajs';
import { decodeBatch } from '@backlog/core-codec';
import { createKafka } from '@backlog/adapter-kafka';
import { repoRoot } from '@backlog/testing';

const { Kafka, logLevel } = kafkajs;
export const root = repoRoot();
/** Heap caps for the harvester process (apps/harvester/SHIPPING.md, "Memory"). */
/** Node arguments a harvester runs with (`backlog start` passes the same; ADR 0012). Not allowed in NODE_OPTIONS. */
export const HARVESTER_NODE_ARGS = ['--single-threaded-gc', '--no-allocation-site-pretenuring'];
export const HARVESTER_NODE_OPTIONS = `--max-old-space-size=96 --max-semi-space-size=4${process.env.BACKLOG_HARVESTER_EXTRA_NODE_OPTIONS ? ` ${process.env.BACKLOG_HARVESTER_EXTRA_NODE_OPTIONS}` : ''}`;
export { freePort, sleep } from '@backlog/testing';

export async function ensureTopic(brokers: string[], topic: string, partitions = 2): Promise<void> {
  const admin = createKafka({ brokers, clientId: 'shipping-test-admin' }).admin();
  await admin.connect();
  try {
    await admin.ensureTopics([{ topic, partitions, replicationFactor: 1, config: { 'max.message.bytes': '1048588' } }]);
  } finally {
    await admin.disconnect();
  }
}

export interface Proc {
  child: ChildProcess;
  ready: Record<string, unknown>;
  output: () => string;
  kill9(): Promise<void>;
  term(): Promise<void>;
}

/** Spawns `tsx <file> <args>` and resolves once it prints a JSON line with `ready: true` on stdout. */
export function spawnTs(file: string, args: string[], env: Record<string, string> = {}, timeoutMs = 60_000, nodeArgs: readonly string[] = []): Promise<Proc> {
  // node --import tsx (not the tsx CLI, which runs the script in a child process that a SIGKILL would orphan).
  const child = spawn(process.execPath, [...nodeArgs, '--import', 'tsx', join(root, file), ...args], { cwd: root, env: { ...process.env, ...env }, stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  let err = '';
  child.stderr!.on('data', (d: Buffer) => {
    err += d.toString();
    if (err.length > 200_000) err = err.slice(-100_000);
  });
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc = (ready: Record<string, unknown>): Proc => ({
    child,
    ready,
    output: () => `${out}\n--- stderr ---\n${err.slice(-4000)}`,
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    term: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  });
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`${file} not ready within ${timeoutMs} ms:\n${out}\n${err.slice(-4000)}`));
    }, timeoutMs);
    child.stdout!.on('data', (d: Buffer) => {
      out += d.toString();
      for (const line of out.split('\n')) {
        if (!line.startsWith('{')) continue;
        try {
          const v = JSON.parse(line) as Record<string, unknown>;
          if (v.ready === true) {
            clearTimeout(t);
            resolve(proc(v));
            return;
          }
        } catch {
          /* not ours */
        }
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(t);
      reject(new Error(`${file} exited (${code ?? sig}) before ready:\n${out}\n${err.slice(-4000)}`));
    });
  });
}

/**
 * Spawns the real harvester (apps/harvester/src/main.ts --config <file>) and resolves once it logged
 * `started` (inputs listening). `ready.metricsPort` is the config's metrics port.
 */
export function spawnHarvester(configFile: string, metricsPort: number, env: Record<string, string> = {}, timeoutMs = 60_000): Promise<Proc> {
  const child = spawn(process.execPath, [...HARVESTER_NODE_ARGS, '--import', 'tsx', join(root, 'apps/harvester/src/main.ts'), '--config', configFile], {
    cwd: root,
    env: { ...process.env, ...env },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  let err = '';
  const exited = new Promise<void>((r) => child.once('exit', () => r()));
  const proc: Proc = {
    child,
    ready: { metricsPort, pid: child.pid },
    output: () => err.slice(-8000),
    kill9: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      await exited;
    },
    term: async () => {
      if (child.exitCode === null && child.signalCode === null) child.kill('SIGTERM');
      await exited;
    },
  };
  return new Promise((resolve, reject) => {
    let started = false;
    const t = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`harvester not started within ${timeoutMs} ms:\n${err.slice(-4000)}`));
    }, timeoutMs);
    child.stderr!.on('data', (d: Buffer) => {
      err += d.toString();
      if (err.length > 400_000) err = err.slice(-200_000);
      if (!started && /"msg":"started"/.test(err)) {
        started = true;
        clearTimeout(t);
        resolve(proc);
      }
    });
    child.once('exit', (code, sig) => {
      clearTimeout(t);
      if (!started) reject(new Error(`harvester exited (${code ?? sig}) before it started:\n${err.slice(-4000)}`));
    });
  });
}

export interface TopicContent {
  records: number;
  events: Record<string, unknown>[];
  headers: Record<string, string>[];
}

/** Reads a topic from the beginning up to its current high watermarks (every partition). */
export async function readTopic(brokers: string[], topic: string): Promise<TopicContent> {
  const kafka = new Kafka({ clientId: 'shipping-test-reader', brokers, logLevel: logLevel.NOTHING });
  const admin = kafka.admin();
  await admin.connect();
  const offsets = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  const want = new Map(offsets.map((o) => [o.partition, BigInt(o.high)]));
  const out: TopicContent = { records: 0, events: [], headers: [] };
  if ([...want.values()].every((h) => h === 0n)) return out;
  const consumer = kafka.consumer({ groupId: `reader-${randomBytes(6).toString('hex')}`, maxBytesPerPartition: 4 * 1024 * 1024 });
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  const reached = new Map<number, bigint>();
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`readTopic ${topic}: timeout`)), 120_000);
    const check = () => {
      if ([...want].every(([p, h]) => h === 0n || (reached.get(p) ?? -1n) >= h - 1n)) {
        clearTimeout(t);
        resolve();
      }
    };
    check();
    void consumer.run({
      eachBatch: async ({ batch }) => {
        for (const m of batch.messages) {
          if (BigInt(m.offset) >= (want.get(batch.partition) ?? 0n)) continue;
          out.records++;
          const h: Record<string, string> = {};
          for (const [k, v] of Object.entries(m.headers ?? {})) if (v !== undefined) h[k] = String(Array.isArray(v) ? v[0] : v);
          out.headers.push(h);
          if (m.value) out.events.push(...decodeBatch<Record<string, unknown>>(m.value).events);
          reached.set(batch.partition, BigInt(m.offset));
        }
        check();
      },
    });
  });
  await consumer.disconnect();
  return out;
}

/** One counter's value (summed over the label sets matching `labels`) from Prometheus text. */
export function metricValue(text: string, name: string, labels: Record<string, string> = {}): number {
  let sum = 0;
  for (const line of text.split('\n')) {
    if (!line.startsWith(name)) continue;
    const m = /^([a-zA-Z_:][\w:]*)(\{[^}]*\})?\s+(\S+)/.exec(line);
    if (!m || m[1] !== name) continue;
    const ls = m[2] ?? '';
    if (Object.entries(labels).every(([k, v]) => ls.includes(`${k}="${v}"`))) sum += Number(m[3]);
  }
  return sum;
}

export async function scrape(port: number): Promise<string> {
  const res = await fetch(`http://127.0.0.1:${port}/metrics`);
  return res.text();
}

/** Checks the at-least-once contract: every expected id present, and duplicates only ever repeat an id. */
export function idReport(events: Record<string, unknown>[], idOf: (e: Record<string, unknown>) => string | undefined) {
  const seen = new Map<string, number>();
  for (const e of events) {
    const id = idOf(e);
    if (id) seen.set(id, (seen.get(id) ?? 0) + 1);
  }
  let dups = 0;
  for (const n of seen.values()) dups += n - 1;
  return { unique: seen.size, dups, total: events.length, seen };
}
