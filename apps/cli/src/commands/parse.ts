import { hostname as osHostname } from 'node:os';
import { type Command, InvalidArgumentError, Option } from 'commander';
import { EventIdGenerator, normalize } from '@backlog/core-event';
import { LINE_FORMATS, type LineFormat, type ParseOptions, SyslogFrameDecoder, checkParseOptions, parseLine } from '@backlog/core-parse';

export interface ParseCommandOptions {
  format: LineFormat;
  strict?: boolean;
  env: string;
  host?: string;
  timezone?: string;
  year?: number;
  maxLineBytes: number;
  keepOriginal?: boolean;
}

const int = (name: string) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n)) throw new InvalidArgumentError(`${name} must be an integer`);
  return n;
};

/**
 * Streams stdin → NDJSON events on stdout. Lines are cut by an LF-mode RFC 6587 frame decoder, so memory
 * stays bounded by --max-line-bytes however long a line is (a longer line is cut and flagged). A line that
 * does not parse is still printed, flagged with labels.parse_error; the exit code stays 0 (DESIGN.md: nothing
 * a host sends is dropped silently). Output respects stdout back-pressure.
 */
export async function runParse(input: NodeJS.ReadableStream, output: NodeJS.WritableStream, o: ParseCommandOptions): Promise<{ lines: number; errors: number }> {
  const parseOpts: ParseOptions = {
    format: o.format,
    mode: o.strict ? 'strict' : 'lenient',
    timeZone: o.timezone ?? Intl.DateTimeFormat().resolvedOptions().timeZone ?? 'UTC',
    year: o.year,
    maxLineBytes: o.maxLineBytes,
  };
  checkParseOptions(parseOpts);
  const ids = new EventIdGenerator();
  const host = o.host ?? osHostname();
  const decoder = new SyslogFrameDecoder({ mode: 'lf', maxFrameBytes: o.maxLineBytes });
  let lines = 0;
  let errors = 0;

  const write = (text: string): Promise<void> | undefined => {
    if (text.length === 0 || output.write(text)) return undefined;
    return new Promise((resolve) => output.once('drain', () => resolve()));
  };
  const render = (frames: ReturnType<SyslogFrameDecoder['push']>): string => {
    let out = '';
    const now = Date.now();
    for (const f of frames) {
      const partial = parseLine(f.payload, { ...parseOpts, now });
      if (f.truncated) {
        const labels = (partial.labels ??= {}) as Record<string, string>;
        labels.truncated = labels.truncated ? `${labels.truncated},line` : 'line';
      }
      const e = normalize(partial, {
        receivedAt: now,
        hostname: host,
        env: o.env,
        input: 'stdin',
        ids,
        original: o.keepOriginal ? Buffer.from(f.payload).toString('utf8') : undefined,
      });
      lines++;
      if (e.labels.parse_error !== undefined) errors++;
      out += `${JSON.stringify(e)}\n`;
    }
    return out;
  };

  for await (const chunk of input) {
    const bytes = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Uint8Array);
    await write(render(decoder.push(bytes)));
  }
  await write(render(decoder.end()));
  return { lines, errors };
}

/** `backlog parse`: raw lines on stdin → normalized events (what the harvester would ship) as NDJSON. */
export function registerParse(program: Command): void {
  program
    .command('parse')
    .description('read raw log lines on stdin, print normalized events as NDJSON (what the harvester would ship)')
    .addOption(new Option('--format <format>', 'input format').choices([...LINE_FORMATS]).default('auto'))
    .option('--strict', 'accept only what the RFCs allow (rejected lines are printed with labels.parse_error)')
    .option('--env <env>', 'labels.env of every event', 'dev')
    .option('--host <name>', 'host.name when a line names none (default: this machine)')
    .option('--timezone <iana>', "sender's zone for RFC 3164 timestamps (default: this machine's)")
    .option('--year <yyyy>', 'year for year-less RFC 3164 timestamps (default: Dec/Jan roll-over from now)', int('--year'))
    .option('--max-line-bytes <n>', 'longest line kept; longer lines are cut and flagged', int('--max-line-bytes'), 65_536)
    .option('--keep-original', 'also keep the raw line as event.original')
    .action(async (opts: ParseCommandOptions) => {
      await runParse(process.stdin, process.stdout, opts);
    });
}
