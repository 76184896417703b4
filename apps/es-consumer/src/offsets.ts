/**
 * Which offset of one partition may be committed: the highest `offset + 1` such that every record at
 * or below `offset` is settled (all its documents indexed or dead-lettered). Records settle out of
 * order when bulks run concurrently, so a record settled early waits for the ones before it
 * (ARCHITECTURE.md habit 4: acknowledge after delivery).
 */
export class OffsetTracker {
  /** Records in offset order, with the number of their documents not yet settled. */
  private readonly pending: Array<{ offset: bigint; open: number }> = [];
  private committable: bigint | undefined;
  private committed: bigint | undefined;

  /** Registers a record and how many documents it produced (0 is fine: it settles at once). */
  add(offset: string, documents: number): void {
    const o = BigInt(offset);
    const last = this.pending[this.pending.length - 1];
    if (last && o <= last.offset) throw new RangeError(`offset ${offset} is not after ${last.offset}`);
    this.pending.push({ offset: o, open: documents });
    this.advance();
  }

  /** One document of the record at `offset` is settled. */
  settle(offset: string, count = 1): void {
    const o = BigInt(offset);
    const rec = this.pending.find((r) => r.offset === o);
    if (!rec) throw new RangeError(`offset ${offset} is not pending`);
    rec.open -= count;
    if (rec.open < 0) throw new RangeError(`offset ${offset} settled more documents than it had`);
    this.advance();
  }

  private advance(): void {
    while (this.pending.length && (this.pending[0] as { open: number }).open === 0) {
      const r = this.pending.shift() as { offset: bigint };
      this.committable = r.offset + 1n;
    }
  }

  /** The offset to commit now (next to read), or undefined when nothing new since `markCommitted`. */
  toCommit(): string | undefined {
    if (this.committable === undefined) return undefined;
    if (this.committed !== undefined && this.committable <= this.committed) return undefined;
    return this.committable.toString();
  }

  markCommitted(offset: string): void {
    const o = BigInt(offset);
    if (this.committed === undefined || o > this.committed) this.committed = o;
  }

  /** Records still waiting for documents. */
  get open(): number {
    return this.pending.length;
  }
}
