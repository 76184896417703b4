import type { SpoolPosition } from '@backlog/core-codec';

/**
 * Decides when an input may commit a position (file offset, journald cursor). A position may move
 * only when every batch holding events read before it has been acknowledged; batches of different
 * windows are acked out of order, so we keep, per source, the positions in the order they were
 * written together with the ack groups still outstanding for each.
 */
export class PositionTracker {
  private readonly bySource = new Map<string, { cursor: string | number; groups: Set<string> }[]>();
  /**
   * Sources whose lines were in a batch that was lost (a corrupt segment): their position stays where
   * it was for the rest of the run, so the next start reads those lines again from the source.
   */
  private readonly held = new Set<string>();

  constructor(private readonly commit: (positions: SpoolPosition[]) => void) {}

  /** A write's positions now live in these ack groups. Positions of a held source are not kept. */
  add(positions: readonly SpoolPosition[], groups: Iterable<string>): void {
    const set = new Set(groups);
    for (const p of positions) {
      if (this.held.has(p.source)) continue;
      let q = this.bySource.get(p.source);
      if (!q) this.bySource.set(p.source, (q = []));
      const last = q[q.length - 1];
      // Consecutive writes into the same open batches collapse into one entry: the queue stays short.
      if (last && sameSet(last.groups, set)) last.cursor = p.cursor;
      else q.push({ cursor: p.cursor, groups: new Set(set) });
    }
  }

  /** An ack group is done (acknowledged, or dropped by the when-full policy and counted). */
  done(group: string): void {
    const out: SpoolPosition[] = [];
    for (const [source, q] of this.bySource) {
      for (const e of q) e.groups.delete(group);
      let cursor: string | number | undefined;
      while (q.length && q[0]!.groups.size === 0) cursor = q.shift()!.cursor;
      if (cursor !== undefined) out.push({ source, cursor });
      if (!q.length) this.bySource.delete(source);
    }
    if (out.length) this.commit(out);
  }

  /**
   * An ack group's events are lost (its segment failed its checksum): no position at or after the first
   * write that went into it may be committed, for every source that wrote into it. Those sources are
   * held for the rest of the run: their committed position stays before the lost lines, and the next
   * start reads them again from the source (file offset, journald cursor; ids are derived from the
   * position, ADR 0008, so lines read twice stay idempotent). Positions before it still commit as their
   * batches are acknowledged. Returns the sources now held.
   */
  fail(group: string): string[] {
    const out: string[] = [];
    for (const [source, q] of this.bySource) {
      const i = q.findIndex((e) => e.groups.has(group));
      if (i < 0) continue;
      q.length = i;
      this.held.add(source);
      out.push(source);
      if (!q.length) this.bySource.delete(source);
    }
    return out;
  }

  /** Sources held by fail(). */
  get heldSources(): string[] {
    return [...this.held];
  }

  /** Sources with positions still waiting for an ack. */
  get waiting(): number {
    return this.bySource.size;
  }
}

function sameSet(a: Set<string>, b: Set<string>): boolean {
  if (a.size !== b.size) return false;
  for (const x of a) if (!b.has(x)) return false;
  return true;
}
