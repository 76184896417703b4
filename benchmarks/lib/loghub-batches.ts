// h-<env> batches built from the loghub mixture in ../shared/corpora/loghub (read at run time, never
// copied into the repo: the samples are research-licensed), as the harvester ships them: ECS NDJSON,
// UUIDv7-style ids, millisecond timestamps, 8 hosts each sending a 30-s batch of a few datasets.
// Shared by the compressor benchmarks so that both measure the same bytes.
import { randomBytes } from 'node:crypto';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { type BatchEvent, encodeBatch, windowOf } from '@backlog/core-codec';
import { repoRoot } from '@backlog/testing';

export type Corpus = { service: string; lines: string[] }[];

/** One h-<env> record: gzip NDJSON of one host and one window, ≤ 250 events. */
export interface BenchBatch {
  key: string;
  value: Buffer;
  headers: Record<string, string>;
  /** Kafka record timestamp: the end of the batch's 30-s flush. */
  timestamp: number;
}

/** Loghub lines by dataset: the mixture every dataset contributes to in equal turns. */
export function loadLoghub(dir: string = join(repoRoot(), '..', 'shared', 'corpora', 'loghub')): { service: string; lines: string[] }[] {
  if (!existsSync(dir)) throw new Error(`loghub corpus not found at ${dir} (set the benchmark's LOGHUB_DIR knob)`);
  const out: { service: string; lines: string[] }[] = [];
  for (const name of readdirSync(dir).sort()) {
    const file = join(dir, name, `${name}_2k.log`);
    if (!existsSync(file)) continue;
    const lines = readFileSync(file, 'utf8')
      .split('\n')
      .filter((l) => l.trim() !== '');
    if (lines.length) out.push({ service: name.toLowerCase(), lines });
  }
  if (!out.length) throw new Error(`no <name>/<name>_2k.log files under ${dir}`);
  return out;
}

const levelOf = (line: string) => (/\b(FATAL|ERROR|error|SEVERE)\b/.test(line) ? 'error' : /\b(WARN|WARNING|warn)\b/.test(line) ? 'warn' : /\bDEBUG\b/.test(line) ? 'debug' : 'info');

/**
 * h-<env> batches of about `targetBytes` NDJSON, from `startMs` on (a window boundary), and the NDJSON
 * bytes and events they hold.
 */
export function buildBatches(targetBytes: number, corpus: Corpus, startMs = Date.parse('2026-11-22T00:00:00Z')) {
  // UUIDv7 (RFC 9562): 48-bit ms time, version 7, then per-run random bits with a monotonic counter.
  const runBits = randomBytes(6).toString('hex');
  let counter = 0;
  const id = (ts: number) => {
    const t = ts.toString(16).padStart(12, '0');
    const c = (counter++).toString(16).padStart(10, '0');
    return `${t.slice(0, 8)}-${t.slice(8)}-7${runBits.slice(0, 3)}-${(0x8 | (parseInt(runBits[3] as string, 16) & 3)).toString(16)}${runBits.slice(4, 7)}-${runBits.slice(7, 12)}${c.slice(3)}`;
  };
  const hosts = Array.from({ length: 8 }, (_, i) => `host-${String(i).padStart(2, '0')}`);
  const cursors = corpus.map(() => 0);
  const batches: BenchBatch[] = [];
  let bytes = 0;
  let events = 0;
  let t = startMs;
  let turn = 0;
  while (bytes < targetBytes) {
    // One 30-s flush: each host sends what it logged meanwhile (a few datasets per host).
    for (const [h, host] of hosts.entries()) {
      const evs: BatchEvent[] = [];
      for (let i = 0; i < 250; i++) {
        const d = (h + turn + i) % corpus.length;
        const src = corpus[d] as { service: string; lines: string[] };
        const line = src.lines[(cursors[d] as number) % src.lines.length] as string;
        cursors[d] = (cursors[d] as number) + 1;
        const ts = t + Math.floor((i * 30_000) / 250) + h;
        if (windowOf(ts) !== windowOf(t)) break;
        const iso = new Date(ts).toISOString();
        const ev = {
          '@timestamp': iso,
          event: { id: id(ts), created: new Date(ts + 40).toISOString() },
          host: { name: host },
          service: { name: src.service },
          log: { level: levelOf(line) },
          message: line,
          labels: { env: 'bench', input: 'file' },
        };
        bytes += Buffer.byteLength(JSON.stringify(ev)) + 1;
        evs.push(ev);
      }
      events += evs.length;
      if (evs.length) {
        const b = encodeBatch(evs, { host, level: 6 });
        batches.push({ key: b.key, value: b.value, headers: { ...b.headers }, timestamp: t + 30_000 });
      }
    }
    t += 30_000;
    turn++;
  }
  return { batches, bytes, events };
}
