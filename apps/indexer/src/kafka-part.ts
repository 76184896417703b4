import { createHash } from 'node:crypto';
import { Readable } from 'node:stream';
import unbzip2 from 'unbzip2-stream';
import { ArchivePartError } from '@backlog/core-codec';
import type { KafkaPart } from './cenv';

function bunzip(buf: Buffer, key: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const dec = unbzip2();
    dec.on('data', (d: Buffer) => chunks.push(d));
    dec.once('end', () => resolve(Buffer.concat(chunks).toString('utf8')));
    dec.once('error', (e: Error) => reject(new ArchivePartError('DECOMPRESS', key, `bz2: ${e.message}`, e)));
    Readable.from([buf]).pipe(dec);
  });
}

const timestampOf = (line: string): number => {
  try {
    const raw = (JSON.parse(line) as Record<string, unknown>)['@timestamp'];
    return typeof raw === 'string' ? Date.parse(raw) : NaN;
  } catch {
    return NaN;
  }
};

/**
 * The event lines of a part read from c-<env>, with the same guarantees as the S3 reader: the
 * object's sha256 (the concatenated records) and the event count are checked against the manifest
 * before anything is yielded; a mismatch throws ArchivePartError.
 */
export async function* kafkaPartEvents(part: KafkaPart, fromMs: number, toMs: number, batchLines = 1000): AsyncGenerator<string[]> {
  const m = part.manifest;
  const object = Buffer.concat(part.streams);
  const sha = createHash('sha256').update(object).digest('hex');
  if (sha !== m.sha256 || object.length !== m.compressedBytes) {
    throw new ArchivePartError('SHA256_MISMATCH', part.id, `records hold ${object.length} bytes with sha256 ${sha}; manifest says ${m.compressedBytes} bytes, sha256 ${m.sha256}`);
  }
  const texts = await Promise.all(part.streams.map((s) => bunzip(s, part.id)));
  const lines: string[] = [];
  for (const t of texts) {
    const ls = t.split('\n');
    if (ls[ls.length - 1] === '') ls.pop();
    for (const l of ls) lines.push(l);
  }
  if (lines.length !== m.count) throw new ArchivePartError('COUNT_MISMATCH', part.id, `${lines.length} events decompressed, manifest says ${m.count}`);
  const whole = m.minTs >= fromMs && m.maxTs < toMs;
  let batch: string[] = [];
  for (const l of lines) {
    if (!whole) {
      const ts = timestampOf(l);
      if (!Number.isFinite(ts)) throw new ArchivePartError('BAD_EVENT', part.id, `a line is not an event with a parseable @timestamp: ${l.slice(0, 120)}`);
      if (ts < fromMs || ts >= toMs) continue;
    }
    batch.push(l);
    if (batch.length >= batchLines) {
      yield batch;
      batch = [];
    }
  }
  if (batch.length) yield batch;
}
