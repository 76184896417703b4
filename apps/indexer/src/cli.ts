import type { Logger } from '@backlog/core-pipeline';
import type { HistoryCommand } from '@backlog/platform-config';
import { QueryError, archiveFilter, filterArgsText, formatQueryError } from '@backlog/core-query';
import { type Indexer, installTemplate } from './app';
import { fmtBytes, fmtSeconds, progressBar, progressJson } from './progress';
import { RequestError, indexOf } from './request';
import { ConflictError, NotFoundError } from './service';
import type { JobView } from './status';

/**
 * `main.ts history '<json>'` — what `backlog history …` runs (ADR 0008: the CLI starts the app as a
 * child process). The CLI parsed the command line (commander) into a HistoryCommand
 * (@backlog/platform-config) and passes it as one JSON argument; main.ts checks it against the same
 * schema, so nothing here reads options again. Output: the index name first, then progress as a bar on a
 * terminal (stderr) or JSON lines (stdout) otherwise; exit 0 done, 2 partial, 1 failed or error,
 * 64 usage error.
 */

export interface CliIo {
  out: (s: string) => void;
  err: (s: string) => void;
  tty: boolean;
}

const EXIT = { done: 0, partial: 2, failed: 1, queued: 1, loading: 1 } as const;

export async function runHistoryCli(ix: Indexer, cmd: HistoryCommand, io: CliIo, logger: Logger, signal: AbortSignal): Promise<number> {
  const svc = ix.service;
  try {
    if (cmd.sub === 'list') {
      const views = await svc.list(cmd.env);
      if (cmd.json || !io.tty) for (const v of views) io.out(JSON.stringify(v));
      else if (!views.length) io.out('no history indices');
      else
        for (const v of views)
          io.out(
            `${v.index}  ${v.status.padEnd(7)}  ${v.start} → ${v.end}  ${(v.progress.events.indexed + v.progress.events.already).toLocaleString('en-US')} events  expires ${v.expiresAt}${v.filter ? `  filter ${v.filter}` : ''}`,
          );
      return 0;
    }
    if (cmd.sub === 'drop') {
      const r = await svc.drop(cmd.index);
      io.out(r.deleted.length ? `deleted ${cmd.index}` : `forgot ${cmd.index} (no index was there)`);
      return 0;
    }
    if (cmd.sub === 'extend') {
      const v = await svc.extend(cmd.index, cmd.hours);
      io.out(`${cmd.index} expires ${v.expiresAt}`);
      return 0;
    }
    const filter = filterArgsText(cmd.filter);
    const { maxEvents, ttlHours } = cmd;
    const req = svc.validate({
      env: cmd.env,
      start: cmd.from,
      end: cmd.to,
      ...(filter ? { filter } : {}),
      ...(maxEvents !== undefined ? { maxEvents } : {}),
      ...(ttlHours !== undefined ? { ttlHours } : {}),
    });
    const index = indexOf(req);
    io.out(index);
    // What a filter was read as (a name that searches the free-form fields, a phrase without words).
    for (const w of req.filter ? archiveFilter(req.filter, svc.opts.catalogue).warnings : []) io.err(`note: --filter: ${w.message}`);
    if (cmd.dryRun) {
      const plan = await ix.loader.plan(req);
      const s = plan.summary;
      const bytes = s.parts.reduce((n, p) => n + p.bytes, 0);
      const events = s.parts.reduce((n, p) => n + p.events, 0);
      const secs = bytes / ix.cfg.load.estimateBytesPerSecond;
      if (cmd.json || !io.tty) {
        // With a filter, `events` is still the manifests' count: what matches is known only by reading the parts.
        io.out(
          JSON.stringify({
            index,
            dryRun: true,
            filter: req.filter,
            ...(req.filter ? { eventsBeforeFilter: true } : {}),
            windows: s.windows,
            windowsWithoutParts: s.windowsWithoutParts,
            parts: s.parts,
            compressedBytes: bytes,
            events,
            estimatedSeconds: Math.ceil(secs),
            skippedByFilter: s.skippedByFilter,
            problems: s.problems,
            ...(s.truncatedAtMs !== undefined ? { truncatedAt: new Date(s.truncatedAtMs).toISOString() } : {}),
          }),
        );
      } else {
        for (const p of s.parts) io.out(`  ${p.source.padEnd(5)} ${p.id.padEnd(28)} ${String(p.events).padStart(9)} events ${fmtBytes(p.bytes).padStart(10)}`);
        io.out(
          `${s.parts.length} parts in ${s.windows} windows · ${events.toLocaleString('en-US')} events (manifests, before filters) · ${fmtBytes(bytes)} compressed · about ${fmtSeconds(secs)} at ${fmtBytes(ix.cfg.load.estimateBytesPerSecond)}/s`,
        );
        if (req.filter) io.out(`filter ${req.filter}: applied while loading, so how many events match is known only then (the counts above are before it)`);
        if (s.skippedByFilter) io.out(`${s.skippedByFilter} parts skipped: their manifests hold nothing the filter accepts`);
        if (s.windowsWithoutParts.length)
          io.out(`${s.windowsWithoutParts.length} windows without parts: ${s.windowsWithoutParts.slice(0, 12).join(' ')}${s.windowsWithoutParts.length > 12 ? ' …' : ''}`);
        if (s.truncatedAtMs !== undefined) io.out(`--max-events stops the load at ${new Date(s.truncatedAtMs).toISOString()}`);
        for (const p of s.problems) io.err(`problem ${p.code} ${p.key}: ${p.message}`);
      }
      return 0;
    }
    if (ix.cfg.template.install) await installTemplate(ix.search, ix.cfg);
    await svc.record(req);
    let lastLine = '';
    const show = (v: JobView) => {
      if (io.tty) {
        const line = progressBar(v);
        if (line !== lastLine) io.err(`\r\x1b[2K${line}`);
        lastLine = line;
      } else io.out(progressJson(v));
    };
    const v = await ix.loader.run(index, { onProgress: show, signal });
    if (io.tty) io.err('\n');
    for (const f of v.failures) io.err(`failed ${f.part} (${f.key}): ${f.code} ${f.reason}`);
    for (const p of v.problems) io.err(`problem ${p.code} ${p.key}: ${p.message}`);
    if (v.error) io.err(v.error);
    if (signal.aborted) {
      io.err('interrupted: loaded parts are kept; run the same command again to resume');
      return 130;
    }
    const summary = { index, status: v.status, events: v.progress.events, parts: v.progress.parts, expiresAt: v.expiresAt };
    if (io.tty) io.err(`${v.status}: ${(v.progress.events.indexed + v.progress.events.already).toLocaleString('en-US')} events in ${index}, expires ${v.expiresAt}\n`);
    else io.out(JSON.stringify({ done: true, ...summary }));
    // Someone else may still be loading parts of this job (another indexer): that is not a failure of ours.
    return EXIT[v.status];
  } catch (e) {
    if (e instanceof QueryError) {
      // An older --filter form that cannot be read (the language's own errors come as a RequestError).
      io.err(`invalid --filter: ${formatQueryError('', e)}`);
      return 64;
    }
    if (e instanceof RequestError && e.filter) {
      // The filter with a caret under the problem, then any other reason.
      io.err(`invalid --filter:\n${formatQueryError(e.filter.text, e.filter.error)}`);
      const others = e.reasons.filter((r) => !r.startsWith('filter:'));
      if (others.length) io.err(`invalid request: ${others.join('\n  ')}`);
      return 64;
    }
    if (e instanceof RequestError || e instanceof RangeError) {
      io.err(`invalid request: ${e instanceof RequestError ? e.reasons.join('\n  ') : e.message}`);
      return 64;
    }
    if (e instanceof NotFoundError || e instanceof ConflictError) {
      io.err(e.message);
      return 1;
    }
    logger.error('history command failed', { error: e });
    io.err(`failed: ${(e as Error).message}`);
    return 1;
  }
}
