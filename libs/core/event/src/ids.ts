import { createHash, randomFillSync } from 'node:crypto';
import { EventError } from './errors';

/**
 * Event ids: UUIDv7 (RFC 9562 section 5.7) laid out so that one harvester run produces ids that are
 * unique, strictly increasing and cheap to compress (DESIGN.md "The event", "Ids and the archive ratio").
 *
 *   bits   0-47  unix_ts_ms          milliseconds since the epoch (RFC 9562 5.7)
 *   bits  48-51  ver = 0b0111
 *   bits  52-63  counter, high 12 bits ("rand_a" used as a counter, RFC 9562 6.2 method 1)
 *   bits  64-65  var = 0b10
 *   bits  66-79  counter, low 14 bits
 *   bits  80-127 run id: 48 random bits drawn once per generator (per harvester run)
 *
 * The 26-bit counter restarts at 0 whenever the millisecond advances (RFC 9562 6.2 "Fixed Bit-Length
 * Dedicated Counter"), so in practice it is a small number and the 12 hex digits of the run id repeat on
 * every id of a run: both compress to almost nothing in the bz2 archive. Uniqueness across runs comes
 * from the 48-bit run id, ordering within a run from (timestamp, counter).
 *
 * Monotonicity guards (RFC 9562 6.2):
 * - the clock goes backwards (NTP step, VM migration): we keep the last timestamp and keep counting;
 * - the counter overflows (more than 2^26 ids in one millisecond): we move the timestamp field one
 *   millisecond ahead of the clock and restart the counter. The clock catches up; ids never repeat or
 *   go backwards.
 */
export const COUNTER_BITS = 26;
const COUNTER_MAX = 2 ** COUNTER_BITS - 1;

const HEX: string[] = [];
for (let i = 0; i < 256; i++) HEX.push(i.toString(16).padStart(2, '0'));
/** "8000".."bfff": the variant bits 0b10 plus the counter's low 14 bits, built on first use. */
let LOW: string[] | undefined;
function lowTable(): string[] {
  if (!LOW) {
    LOW = new Array<string>(0x4000);
    for (let i = 0; i < 0x4000; i++) LOW[i] = (0x8000 | i).toString(16);
  }
  return LOW;
}

export interface EventIdGeneratorOptions {
  /** Clock in epoch milliseconds; default Date.now. Tests inject one to go backwards. */
  now?: () => number;
  /** 6 bytes; default: random from node:crypto. */
  runId?: Uint8Array;
  /** Counter start value, for tests of the overflow path only. */
  initialCounter?: number;
}

export class EventIdGenerator {
  /** The 48-bit run id as 12 lower-case hex digits (the id's last group). */
  readonly runHex: string;
  private readonly now: () => number;
  private readonly suffix: string;
  private readonly low = lowTable();
  private lastMs = -1;
  private counter: number;
  /** "tttttttt-tttt-7hhh-" for the current millisecond and counter high bits ('' = recompute). */
  private prefix = '';
  private prefixHi = -1;

  constructor(opts: EventIdGeneratorOptions = {}) {
    const run = opts.runId ?? randomFillSync(new Uint8Array(6));
    if (run.length !== 6) throw new EventError('RUN_ID_INVALID', `run id must be 6 bytes, got ${run.length}`);
    let hex = '';
    for (const b of run) hex += HEX[b];
    this.runHex = hex;
    this.suffix = `-${hex}`;
    this.now = opts.now ?? Date.now;
    this.counter = opts.initialCounter ?? 0;
    if (opts.initialCounter !== undefined) this.lastMs = Math.floor(this.now());
  }

  /** A new id, strictly greater (as a string and as 128 bits) than every id this generator returned before. */
  next(): string {
    const ms = Math.floor(this.now());
    if (ms > this.lastMs) {
      this.lastMs = ms;
      this.counter = 0;
      this.prefix = '';
    } else if (this.counter < COUNTER_MAX) {
      // Same millisecond, or the clock went backwards: stay on lastMs and count.
      this.counter++;
    } else {
      // Counter exhausted: borrow the next millisecond (RFC 9562 6.2, "increment timestamp").
      this.lastMs++;
      this.counter = 0;
      this.prefix = '';
    }
    const c = this.counter;
    const hi = c >>> 14; // 12 bits of rand_a
    if (this.prefix === '' || hi !== this.prefixHi) {
      this.prefix = `${tsPrefix(this.lastMs)}${(hi >>> 8).toString(16)}${HEX[hi & 0xff]}-`;
      this.prefixHi = hi;
    }
    return this.prefix + (this.low[c & 0x3fff] as string) + this.suffix;
  }

  /** Milliseconds of the last id returned (may be ahead of the clock after an overflow). */
  get lastTimestamp(): number {
    return this.lastMs;
  }
}

/** `tttttttt-tttt-7` for a 48-bit millisecond timestamp. */
function tsPrefix(ms: number): string {
  const h = ms.toString(16).padStart(12, '0');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-7`;
}

let shared: EventIdGenerator | undefined;

/** An id from the process-wide generator (one run id per process). */
export function newEventId(): string {
  shared ??= new EventIdGenerator();
  return shared.next();
}

/** The process-wide generator, created on first use. */
export function defaultIdGenerator(): EventIdGenerator {
  shared ??= new EventIdGenerator();
  return shared;
}

const UUID_V7 = /^[0-9a-f]{8}-[0-9a-f]{4}-7[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** True for a lower-case UUIDv7 string with the RFC 9562 variant. */
export function isUuidV7(id: string): boolean {
  return UUID_V7.test(id);
}

/** The unix_ts_ms field of a UUIDv7 (no validation beyond the layout). */
export function uuidV7Timestamp(id: string): number {
  return parseInt(id.slice(0, 8) + id.slice(9, 13), 16);
}

/**
 * Deterministic ids for sources that can be read twice (ADR 0008): a re-read line must carry the id its
 * first reading had, so that the duplicate a crash causes is idempotent downstream (`_id = event.id`).
 * Both keep the UUIDv7 layout (version 7, RFC 9562 variant), so `isUuidV7` and `uuidV7Timestamp` hold.
 */

/** Largest stream offset `offsetEventId` encodes: 2^42 - 1 (4 TiB per file generation). */
export const MAX_ID_OFFSET = 2 ** 42 - 1;

/** 32 bits of SHA-256 over `parts` (joined with NUL): the stream tag of `offsetEventId`. */
export function idStreamTag(...parts: readonly (string | number)[]): number {
  return createHash('sha256').update(parts.join('\0')).digest().readUInt32BE(0);
}

/**
 * The id of the record that starts at byte `offset` of a stream (a file generation):
 *
 *   bits   0-47  unix_ts_ms = baseMs, when the harvester began reading this stream (kept in its checkpoint)
 *   bits  48-51  ver = 0b0111
 *   bits  52-63  tag, high 12 bits
 *   bits  64-65  var = 0b10
 *   bits  66-85  tag, low 20 bits
 *   bits  86-127 offset (42 bits)
 *
 * `tag` (`idStreamTag` of host, input, file identity, generation, baseMs) separates streams that began in
 * the same millisecond. Ids of one stream share their first 23 hex digits and grow with the offset, so they
 * sort in file order and compress like the generator's. Returns undefined past `MAX_ID_OFFSET` (the caller
 * then takes a generated id).
 */
export function offsetEventId(baseMs: number, tag: number, offset: number): string | undefined {
  if (!Number.isInteger(offset) || offset < 0 || offset > MAX_ID_OFFSET) return undefined;
  const ms = Math.max(0, Math.min(Math.floor(baseMs), 2 ** 48 - 1));
  const t = tag >>> 0;
  const hi12 = t >>> 20;
  const lo20 = t & 0xfffff;
  // group 4: var (0b10) + tag bits 19..6 (14 bits); group 5: tag bits 5..0 then the 42-bit offset.
  const g4 = 0x8000 | (lo20 >>> 6);
  const g5 = (lo20 & 0x3f) * 2 ** 42 + offset;
  return `${tsPrefix(ms)}${hi12.toString(16).padStart(3, '0')}-${g4.toString(16)}-${g5.toString(16).padStart(12, '0')}`;
}

/**
 * The id of a record named by a unique key its source gives (a journald cursor): unix_ts_ms = the record's
 * own time, the 74 other bits from SHA-256 of the key.
 */
export function keyedEventId(ms: number, key: string): string {
  const d = createHash('sha256').update(key).digest();
  const t = Math.max(0, Math.min(Math.floor(ms), 2 ** 48 - 1));
  const a = d.readUInt16BE(0) & 0x0fff;
  const b = 0x8000 | (d.readUInt16BE(2) & 0x3fff);
  return `${tsPrefix(t)}${a.toString(16).padStart(3, '0')}-${b.toString(16)}-${d.subarray(4, 10).toString('hex')}`;
}

/**
 * The `event.id` of an event whose source named its own id (issue 17, ADR 0015). A source's id is a
 * claim, not a fact: two sources may send the same one (by accident or to make the other's event vanish
 * behind the `create`-only `_id`). So the harvester never uses it as it is: it becomes a name-based
 * UUIDv8 (RFC 9562 section 5.8, SHA-256 as in its Appendix B.2) over the source's identity, as the
 * harvester knows it (`source`: harvester host, input, peer address or file path), and the id:
 *
 *   bytes 0-15 = SHA-256("backlog/source-event-id" ␀ source ␀ id)[0..15], version 8, variant 0b10
 *
 * The same source sending the same id again (a retry, a re-read file line) gets the same id, so writes
 * stay idempotent; two sources never share one (short of a SHA-256 collision). The id the source gave is
 * kept beside it in `labels.source_event_id`. Ids the harvester assigns (UUIDv7, ADR 0008) never pass here.
 */
export function sourceEventId(source: string, id: string): string {
  const d = createHash('sha256').update(`backlog/source-event-id\0${source}\0${id}`).digest();
  d[6] = 0x80 | ((d[6] as number) & 0x0f);
  d[8] = 0x80 | ((d[8] as number) & 0x3f);
  const h = d.subarray(0, 16).toString('hex');
  return `${h.slice(0, 8)}-${h.slice(8, 12)}-${h.slice(12, 16)}-${h.slice(16, 20)}-${h.slice(20, 32)}`;
}

/**
 * The source identity that namespaces the ids a source names itself (ADR 0015): the harvester's host
 * name, the input's name and the peer (remote address, file path; '' when the input has none), joined by
 * NUL. Every part is known to the harvester, none is taken from the record.
 */
export function sourceIdentity(host: string, input: string, peer: string): string {
  return `${host}\0${input}\0${peer}`;
}

const UUID_V8 = /^[0-9a-f]{8}-[0-9a-f]{4}-8[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

/** True for a lower-case UUIDv8 string with the RFC 9562 variant (the form of `sourceEventId`). */
export function isUuidV8(id: string): boolean {
  return UUID_V8.test(id);
}
