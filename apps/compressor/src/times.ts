import { facetsOf, partLineOf } from '@backlog/core-codec';
import { type TimestampReplaced, checkRecordedTime, replaceTimestamp } from '@backlog/core-event';
import type { LineIn } from './assembler';
import type { BatchLines, ColumnRun } from './scan';

/**
 * Event times the archive cannot file (ADR 0015). An event's `@timestamp` names its 5-minute window and
 * so the S3 key of its part; a window is sealed once the watermark (capped near the record's time) or the
 * wall clock passes its end. A `9999-12-31` event made a window that never closed: its part stayed open,
 * held back the partition's commit for good, and would have been written under `9999/12/31/…`. A time
 * before 1970 has a negative window. The harvester replaces such times since ADR 0015; what an older
 * harvester or a replay put into h-<env> is replaced here by the rule the es-consumer applies
 * (`checkRecordedTime`: more than the skew after the record, or before 1970 → `event.created`, else the
 * record's time; the claimed time kept in `labels.timestamp_original`, `labels.timestamp_replaced` says
 * why), so the archived line is the recent index's document. Deterministic in the record: a re-read after
 * a crash rewrites the same bytes.
 */

export interface FiledBatch {
  cols: ColumnRun | undefined;
  slowLines: LineIn[];
  /** Lines whose time was replaced, by reason (empty when none). */
  replaced: Map<TimestampReplaced, number>;
}

const NONE: ReadonlyMap<TimestampReplaced, number> = new Map();

/**
 * The batch's lines as the assembler takes them, with out-of-range times replaced. The usual batch costs
 * two comparisons (the columns' min/max) plus one per slow line; only a batch holding such a time goes
 * through objects, and only its offending lines are parsed and re-serialized.
 */
export function fileTimes(decoded: Pick<BatchLines, 'cols' | 'slowLines' | 'lines'>, recordTs: number, maxFutureSkewMs: number): FiledBatch {
  const limit = recordTs > 0 ? recordTs + maxFutureSkewMs : Infinity;
  const out = (l: { ts: number }) => l.ts < 0 || l.ts > limit;
  const { cols, slowLines } = decoded;
  if ((cols === undefined || (cols.minTs >= 0 && cols.maxTs <= limit)) && !slowLines.some(out)) return { cols, slowLines, replaced: NONE as Map<TimestampReplaced, number> };
  const replaced = new Map<TimestampReplaced, number>();
  const lines = decoded.lines.map((l) => {
    if (!out(l)) return l;
    const ev = JSON.parse(lineText(l)) as Record<string, unknown>;
    const event = ev.event;
    const verdict = checkRecordedTime(l.ts, event !== null && typeof event === 'object' ? (event as Record<string, unknown>).created : undefined, recordTs, maxFutureSkewMs);
    if (!verdict) return l;
    replaceTimestamp(ev, verdict);
    replaced.set(verdict.reason, (replaced.get(verdict.reason) ?? 0) + 1);
    const canon = JSON.stringify(ev);
    const pl = partLineOf(ev, canon) as { ts: number; id: string };
    const line: LineIn = { ts: pl.ts, id: pl.id, line: Buffer.from(canon), ...facetsOf(ev) };
    return line;
  });
  return { cols: undefined, slowLines: lines, replaced };
}

/** A line's text (a scanned line is a view of the batch's bytes). */
function lineText(l: LineIn): string {
  return typeof l.line === 'string' ? l.line : Buffer.from(l.line.buffer, l.line.byteOffset, l.line.byteLength).toString('utf8');
}
