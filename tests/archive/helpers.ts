import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { join } from 'node:path';
import { createKafka } from '@backlog/adapter-kafka';
import { type S3Port, createS3 } from '@backlog/adapter-s3';
import { type PartLine, type PartManifest, PartStats, assemblePart, cutStreams, decodeBatch, facetsOf, manifestKey, partKey, serializeManifest, windowStartMs } from '@backlog/core-codec';
import { type StackInfo, repoRoot, stackEnv } from '@backlog/testing';

export { sleep } from '@backlog/testing';

/** A part line as text (the codec also accepts bytes). */
export type TextLine = PartLine & { line: string };

export interface Built {
  object: Buffer;
  manifest: PartManifest;
  lines: TextLine[];
}

export function s3Of(info: StackInfo): S3Port {
  return createS3({ ...info.s3, forcePathStyle: true });
}

/** `n` events from `start`, every `stepMs`, over `hosts` hosts; ids `<tag>-<i>`. */
export function events(env: string, start: number, n: number, stepMs: number, tag: string, hosts = 3): TextLine[] {
  return Array.from({ length: n }, (_, i) => {
    const ts = start + i * stepMs;
    const id = `${tag}-${String(i).padStart(6, '0')}`;
    const ev = {
      '@timestamp': new Date(ts).toISOString(),
      event: { id },
      host: { name: `web-${i % hosts}` },
      service: { name: i % 3 ? 'nginx' : 'sshd' },
      log: { level: i % 7 ? 'info' : 'error' },
      message: `request ${i} of ${tag} served in ${(i * 37) % 1000} ms${i % 11 ? '' : ' after a timeout'}`,
      labels: { env },
    };
    return { ts, id, line: JSON.stringify(ev) };
  });
}

/** A part as the compressor would write it: sorted lines, bz2 streams of ≤ streamRawBytes raw, manifest. */
export function buildPart(env: string, window: number, partition: number, firstOffset: string, lines: TextLine[], streamRawBytes = 64 * 1024): Built {
  const sorted = [...lines].sort((a, b) => a.ts - b.ts || (a.id < b.id ? -1 : a.id > b.id ? 1 : 0));
  const stats = new PartStats();
  for (const l of sorted) stats.add(l, facetsOf(JSON.parse(l.line) as Record<string, unknown>));
  const streams = [...cutStreams(sorted, streamRawBytes)].map((c) => ({
    bytes: execFileSync('bzip2', ['-c', '-9'], { input: (c.lines as TextLine[]).map((l) => l.line + '\n').join('') }),
    count: c.count,
    minTs: c.minTs,
    maxTs: c.maxTs,
    rawBytes: c.rawBytes,
  }));
  const { object, manifest } = assemblePart({ encoder: 'bzip2 -9', env, topic: `h-${env}`, window, partition, firstOffset, lastOffset: firstOffset, late: false, stats, streams });
  return { object, manifest, lines: sorted };
}

export async function storePart(s3: S3Port, b: Built, object = b.object): Promise<void> {
  const w = Math.floor(b.manifest.windowStart / 300_000);
  await s3.put(partKey(b.manifest.env, w, b.manifest.partition, b.manifest.firstOffset), object);
  await s3.put(manifestKey(b.manifest.env, w, b.manifest.partition, b.manifest.firstOffset), serializeManifest(b.manifest));
}

/**
 * An archive of `windows` windows from window `w0`, `partitions` parts per window, `perPart` events a
 * part spread over the window (so the range edges cut through parts).
 */
export async function writeArchive(s3: S3Port, env: string, w0: number, windows: number, partitions: number, perPart: number): Promise<Built[]> {
  const out: Built[] = [];
  for (let w = w0; w < w0 + windows; w++) {
    for (let p = 0; p < partitions; p++) {
      const step = Math.floor(300_000 / perPart);
      const b = buildPart(env, w, p, String((w - w0) * 1000 + p * 10), events(env, windowStartMs(w) + p * 7, perPart, step, `${(w - w0).toString(36)}p${p}`));
      await storePart(s3, b);
      out.push(b);
    }
  }
  return out;
}

export async function deletePrefix(s3: S3Port, prefix: string): Promise<void> {
  for await (const o of s3.list(prefix)) await s3.delete(o.key);
}

/** Environment of a `backlog` child process pointed at the test stack. */
export function cliEnv(info: StackInfo, extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  return { ...process.env, ...stackEnv(info), ...extra };
}

export interface CliRun {
  child: ChildProcess;
  done: Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>;
}

/** `node bin/backlog.mjs <args>` in `cwd`. */
export function runCli(info: StackInfo, args: string[], opts: { cwd: string; env?: Record<string, string> }): CliRun {
  const child = spawn(process.execPath, [join(repoRoot(), 'bin/backlog.mjs'), ...args], { cwd: opts.cwd, env: cliEnv(info, opts.env), stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const done = new Promise<{ code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string }>((resolve) => {
    child.once('close', (code, signal) => resolve({ code, signal, stdout, stderr }));
  });
  return { child, done };
}

/** Last non-empty line of a text, parsed as JSON (the commands' summary line). */
export function summaryOf(text: string): Record<string, unknown> {
  const lines = text.trim().split('\n').filter(Boolean);
  return JSON.parse(lines[lines.length - 1] as string) as Record<string, unknown>;
}

/** Every event id in a topic (decoding each record as an h-<env> batch), with the records' headers. */
export async function topicEventIds(info: StackInfo, topic: string): Promise<{ ids: string[]; records: number; batchIds: string[] }> {
  const kafka = createKafka({ brokers: info.kafka.brokers, clientId: 'test-archive-read' });
  const admin = kafka.admin();
  await admin.connect();
  const offs = await admin.topicOffsets(topic);
  await admin.disconnect();
  const want = offs.reduce((a, o) => a + Number(BigInt(o.high) - BigInt(o.low)), 0);
  const ids: string[] = [];
  const batchIds: string[] = [];
  let records = 0;
  if (want === 0) return { ids, records, batchIds };
  const consumer = kafka.consumer({ groupId: `test-read-${topic}-${Date.now()}` });
  await consumer.connect();
  await consumer.subscribe([topic], { fromBeginning: true });
  await new Promise<void>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`read ${records}/${want} records of ${topic}`)), 60_000);
    consumer
      .run(async (batch) => {
        for (const r of batch.records) {
          records++;
          batchIds.push(r.headers['batch-id']?.toString() ?? '');
          for (const e of decodeBatch(r.value as Buffer).events) ids.push((e as unknown as { event: { id: string } }).event.id);
        }
        if (records >= want) {
          clearTimeout(timer);
          resolve();
        }
      })
      .catch(reject);
  });
  await consumer.disconnect();
  return { ids, records, batchIds };
}
