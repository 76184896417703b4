import { existsSync, readFileSync, readdirSync, rmSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Command } from 'commander';
import { isProduceRefused } from '@backlog/adapter-kafka';
import { QUARANTINE_NOTE_SUFFIX, type QuarantineNote, decodeSegment, decodeWal, harvestTopic, segmentSeqOf } from '@backlog/core-codec';
import { appConfigSchema, loadConfig } from '@backlog/platform-config';
import { cliKafka } from './kafka';

const DEFAULT_DIR = '.backlog/harvester/spool';

interface Row {
  file: string;
  kind: 'segment' | 'wal' | 'quarantine';
  bytes: number;
  events?: number;
  window?: string;
  batchId?: string;
  ok: boolean;
  problem?: string;
  /** quarantine only: why it is there (its note's reason: checksum, record_too_large, denied, unknown_topic…). */
  reason?: string;
  /** quarantine only: an intact segment the next hop refused, which `drain --quarantine` can send again. */
  resendable?: boolean;
}

/** Reads the spool with core-codec's format (the CLI may not import the harvester app). Never modifies it. */
export function inspectSpool(dir: string): Row[] {
  const rows: Row[] = [];
  const list = (sub: string) => (existsSync(join(dir, sub)) ? readdirSync(join(dir, sub)).sort() : []);
  for (const n of list('seg')) {
    if (segmentSeqOf(n) === undefined) continue;
    const file = join(dir, 'seg', n);
    const bytes = statSync(file).size;
    try {
      const { meta } = decodeSegment(readFileSync(file));
      rows.push({ file, kind: 'segment', bytes, events: meta.count, window: meta.headers.window, batchId: meta.batchId, ok: true });
    } catch (err) {
      rows.push({ file, kind: 'segment', bytes, ok: false, problem: (err as Error).message });
    }
  }
  for (const n of list('wal')) {
    const file = join(dir, 'wal', n);
    const bytes = statSync(file).size;
    try {
      const w = decodeWal(readFileSync(file));
      const events = w.lines.reduce((s, l) => s + l.split('\n').filter(Boolean).length, 0);
      rows.push({
        file,
        kind: 'wal',
        bytes,
        events,
        window: w.meta.window.toString(36),
        batchId: w.meta.batchId,
        ok: w.tail !== 'corrupt',
        ...(w.tail !== 'clean' ? { problem: `${w.tail} tail` } : {}),
      });
    } catch (err) {
      rows.push({ file, kind: 'wal', bytes, ok: false, problem: (err as Error).message });
    }
  }
  for (const n of list('quarantine')) {
    if (n.endsWith(QUARANTINE_NOTE_SUFFIX)) continue;
    const file = join(dir, 'quarantine', n);
    const row: Row = { file, kind: 'quarantine', bytes: statSync(file).size, ok: false };
    const note = readNote(file);
    row.reason = note?.reason ?? 'unknown';
    if (note?.error) row.problem = note.error;
    if (n.endsWith('.seg')) {
      try {
        const { meta } = decodeSegment(readFileSync(file));
        Object.assign(row, { events: meta.count, window: meta.headers.window, batchId: meta.batchId, resendable: true });
      } catch (err) {
        row.problem ??= (err as Error).message;
      }
    }
    rows.push(row);
  }
  return rows;
}

/** The note beside a quarantined file (spool-format's QuarantineNote), when there is a readable one. */
function readNote(file: string): QuarantineNote | undefined {
  try {
    const note = JSON.parse(readFileSync(`${file}${QUARANTINE_NOTE_SUFFIX}`, 'utf8')) as QuarantineNote;
    return typeof note?.reason === 'string' ? note : undefined;
  } catch {
    return undefined;
  }
}

/**
 * `backlog spool inspect | drain | purge`: look into a harvester's spool, send its closed segments to
 * h-<env> now (with the harvester stopped), or delete it. drain sends each segment with the same
 * idempotent producer as the harvester and deletes it only after Kafka acknowledged it.
 */
export function registerSpool(program: Command): void {
  const spool = program.command('spool').description("a harvester's disk spool: inspect, drain to Kafka, purge");
  spool
    .command('inspect')
    .description('list segments, open WALs and quarantined files (with the reason each is there) and their events and checksum state')
    .option('--dir <dir>', 'spool directory', DEFAULT_DIR)
    .option('--json', 'one JSON object per line')
    .action((opts: { dir: string; json?: boolean }) => {
      const rows = inspectSpool(opts.dir);
      if (opts.json) {
        for (const r of rows) process.stdout.write(`${JSON.stringify(r)}\n`);
      } else {
        for (const r of rows)
          process.stdout.write(
            `${r.kind.padEnd(10)} ${(r.ok ? 'ok' : 'BAD').padEnd(4)} ${String(r.events ?? '-').padStart(8)} ev ${String(r.bytes).padStart(10)} B  ${r.window ?? ''} ${r.file}${r.reason ? `  [${r.reason}]` : ''}${r.problem ? `  (${r.problem})` : ''}\n`,
          );
        const ev = rows.filter((r) => r.ok).reduce((s, r) => s + (r.events ?? 0), 0);
        process.stdout.write(`${rows.length} files, ${ev} events waiting, ${rows.filter((r) => !r.ok).length} damaged/quarantined\n`);
      }
      if (rows.some((r) => !r.ok)) process.exitCode = 2;
    });
  spool
    .command('drain')
    .description('send every closed segment to h-<env> now and delete each once Kafka acknowledged it (stop the harvester first)')
    .option('--dir <dir>', 'spool directory', DEFAULT_DIR)
    .option('--env <env>', "environment (topic h-<env>); default: the config's env (BACKLOG_ENV)")
    .option('--brokers <list>', "Kafka brokers, comma-separated; default: the config's kafka.brokers (BACKLOG_KAFKA_BROKERS). TLS and SASL come from kafka.ssl / kafka.sasl")
    .option('--quarantine', 'also resend the intact segments in quarantine/ (once what refused them is fixed: topic created, ACL granted, max.message.bytes raised)')
    .action(async (opts: { dir: string; env?: string; brokers?: string; quarantine?: boolean }) => {
      // The shared config, as the harvester reads it: brokers, env, and kafka.ssl / kafka.sasl.
      const cfg = loadConfig({ app: 'cli', schema: appConfigSchema({}) });
      const env = opts.env ?? cfg.env;
      const rows = inspectSpool(opts.dir).filter((r) => r.kind === 'segment' || (opts.quarantine && r.resendable));
      const kafka = await cliKafka(
        cfg.kafka,
        'backlog-spool-drain',
        opts.brokers
          ? {
              brokers: opts.brokers
                .split(',')
                .map((b) => b.trim())
                .filter(Boolean),
            }
          : {},
      );
      const producer = kafka.producer();
      await producer.connect();
      let sent = 0;
      let events = 0;
      let refused = 0;
      try {
        for (const r of rows) {
          if (r.kind === 'segment' && !r.ok) {
            process.stderr.write(`skipping damaged ${r.file}: ${r.problem}\n`);
            continue;
          }
          const { meta, value } = decodeSegment(readFileSync(r.file));
          try {
            await producer.send(harvestTopic(env), [{ key: meta.key, value, headers: meta.headers }]);
          } catch (err) {
            // Still refused (the cause is not fixed yet): it stays where it is; an outage stops the drain.
            if (!isProduceRefused(err)) throw err;
            process.stderr.write(`still refused, kept: ${r.file}: ${err.code}: ${err.message}\n`);
            refused++;
            continue;
          }
          rmSync(r.file);
          if (r.kind === 'quarantine') rmSync(`${r.file}${QUARANTINE_NOTE_SUFFIX}`, { force: true });
          sent++;
          events += meta.count;
        }
      } finally {
        await producer.disconnect();
      }
      const left = inspectSpool(opts.dir);
      process.stdout.write(
        `${JSON.stringify({ segments: sent, events, refused, topic: harvestTopic(env), openWals: left.filter((r) => r.kind === 'wal').length, quarantined: left.filter((r) => r.kind === 'quarantine').length })}\n`,
      );
      if (refused) process.exitCode = 2;
    });
  spool
    .command('purge')
    .description('delete segments, WALs and quarantine (events not yet in Kafka are lost: needs --yes)')
    .option('--dir <dir>', 'spool directory', DEFAULT_DIR)
    .option('--quarantine-only', 'delete only quarantined files')
    .option('--yes', 'really delete')
    .action((opts: { dir: string; quarantineOnly?: boolean; yes?: boolean }) => {
      const rows = inspectSpool(opts.dir).filter((r) => !opts.quarantineOnly || r.kind === 'quarantine');
      const events = rows.reduce((s, r) => s + (r.ok ? (r.events ?? 0) : 0), 0);
      if (!opts.yes) {
        process.stdout.write(`would delete ${rows.length} files holding ${events} events not yet acknowledged; add --yes\n`);
        process.exitCode = 1;
        return;
      }
      for (const r of rows) {
        rmSync(r.file, { force: true });
        if (r.kind === 'quarantine') rmSync(`${r.file}${QUARANTINE_NOTE_SUFFIX}`, { force: true });
      }
      process.stdout.write(`${JSON.stringify({ deleted: rows.length, events })}\n`);
    });
}
