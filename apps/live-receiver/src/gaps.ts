/**
 * Gap counting over the deduplicated stream. Every receiver sees that whole stream through pub/sub
 * (whichever receiver took a datagram in), so each one counts the same gaps, and that count is right
 * even when a load balancer spreads datagrams over receivers (counting at UDP intake would not be).
 *
 * Per (host, run) it keeps the next expected seq. A jump counts the skipped seqs as `skipped`; a seq
 * that arrives after a later one (reordered by the network or by two receivers' publishes racing)
 * counts as `late`. Both only grow (they are Prometheus counters); `missing` = skipped − late.
 */
export class GapCounter {
  skipped = 0;
  late = 0;
  private readonly next = new Map<string, { seq: number; at: number }>();

  constructor(
    /** Most (host, run) pairs tracked; the least recently inserted is forgotten beyond it. */
    private readonly maxRuns = 10_000,
    /** A run silent this long is forgotten (its harvester stopped), ms. */
    private readonly idleMs = 10 * 60_000,
  ) {}

  observe(host: string, run: string, seq: number, now = Date.now()): void {
    const key = `${run}:${host}`;
    const cur = this.next.get(key);
    if (!cur) {
      // The first datagram of a run we see: nothing before it is ours to count (the browser view
      // starts "from now", and a receiver may start mid-run).
      if (this.next.size >= this.maxRuns) {
        const oldest = this.next.keys().next().value;
        if (oldest !== undefined) this.next.delete(oldest);
      }
      this.next.set(key, { seq: seq + 1, at: now });
      return;
    }
    cur.at = now;
    if (seq === cur.seq) cur.seq++;
    else if (seq > cur.seq) {
      this.skipped += seq - cur.seq;
      cur.seq = seq + 1;
    } else this.late++;
  }

  /** Forgets runs idle longer than `idleMs`; call now and then. */
  sweep(now = Date.now()): void {
    for (const [k, v] of this.next) if (now - v.at > this.idleMs) this.next.delete(k);
  }

  /** Events selected by a harvester that no receiver delivered (so far). */
  get missing(): number {
    return Math.max(0, this.skipped - this.late);
  }

  get runs(): number {
    return this.next.size;
  }
}
