/**
 * Conformance against the shared syslog test vectors (/work/shared/corpora/syslog-vectors.json, read from
 * `../shared` beside the repository, never copied in). Its `conventions` block defines how to compare:
 * null = absent, RFC 5424 timestamps compared as instants, RFC 3164 ones as canonical "Mmm dd hh:mm:ss"
 * (+ year), RFC 3164 messages after trimming leading whitespace, `valid: false` = rejected.
 *
 * - valid, not lenient:  parsed in strict mode AND in lenient mode (lenient must accept a superset).
 * - valid, lenient:      parsed in lenient mode (strict may reject).
 * - valid: false:        strict mode must flag it (`labels.parse_error`), never throw.
 * - kind: stream:        RFC 6587 decoder fed `input_chunks` (or `input`), then end-of-stream; frames
 *                        compared in order. The go-syslog parsers stop at their first error and vector's
 *                        decoder tests never signal EOF, so a source lists frames only up to its first
 *                        invalid one: we check all of those, and require that anything we emit after it
 *                        is flagged too (our decoder carries on after an error instead of dropping bytes).
 * - disputed:            not checked against the source's expectation; our decision (docs/adr/0003) is
 *                        tested in the last block.
 */
import { existsSync, readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import { LogEventSchema, type LogEvent, normalize, EventIdGenerator } from '@backlog/core-event';
import { describe, expect, it } from 'vitest';
import { SyslogFrameDecoder, type Frame, type FramingMode } from './framing';
import { type LineFormat, type ParseOptions, parseLine } from './parse-line';
import { parseRfc3164 } from './rfc3164';

const repoRoot = fileURLToPath(new URL('../../../../', import.meta.url));
const VECTORS = `${repoRoot}../shared/corpora/syslog-vectors.json`;

type Expected = Record<string, unknown>;
interface Case {
  id: string;
  kind: 'message' | 'stream';
  format?: LineFormat;
  input?: string;
  input_base64?: string;
  input_chunks?: string[];
  framing?: string;
  options?: { mode?: string; assumed_year?: number; max_length?: number; max_message_length?: number };
  valid?: boolean;
  lenient?: boolean;
  disputed?: boolean;
  expected?: Expected;
  expected_frames?: Array<{ payload?: string; valid?: boolean; expected?: Expected; eof_without_trailer?: boolean; error?: string }>;
}

/** Receive time for every case: year-less RFC 3164 stamps resolve Dec → 2019, Jan/Feb → 2020 (what the vectors record). */
const NOW = Date.parse('2020-01-20T12:00:00Z');
const ids = new EventIdGenerator({ now: () => NOW });
const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];

function bsd(ms: number): string {
  const d = new Date(ms);
  const p = (n: number) => String(n).padStart(2, '0');
  return `${MONTHS[d.getUTCMonth()]} ${String(d.getUTCDate()).padStart(2, ' ')} ${p(d.getUTCHours())}:${p(d.getUTCMinutes())}:${p(d.getUTCSeconds())}`;
}

function inputOf(c: Case): string | Uint8Array {
  return c.input_base64 !== undefined ? new Uint8Array(Buffer.from(c.input_base64, 'base64')) : (c.input ?? '');
}

function optsOf(c: Case, mode: 'strict' | 'lenient', format: LineFormat = c.format ?? 'auto'): ParseOptions {
  const o: ParseOptions = { format, mode, now: NOW, timeZone: 'UTC' };
  if (c.options?.assumed_year !== undefined) o.year = c.options.assumed_year;
  return o;
}

function run(input: string | Uint8Array, o: ParseOptions): LogEvent {
  // The vectors are about parsing: year-less stamps resolve up to a month after NOW, beyond the one-day
  // skew normalize() allows by default (ADR 0015, tested in normalize.spec.ts), so no skew applies here.
  const e = normalize(parseLine(input, o), { receivedAt: NOW, ids, maxFutureSkewMs: Number.POSITIVE_INFINITY });
  expect(LogEventSchema.safeParse(e).success).toBe(true);
  return e;
}

/** Checks every key the source asserted (a key missing from `expected` was not asserted). */
function check(e: LogEvent, x: Expected, format: string | undefined, raw: string | Uint8Array, o: ParseOptions): void {
  expect(e.labels.parse_error, 'parse_error').toBeUndefined();
  const sys = e.log?.syslog ?? {};
  const has = (k: string) => Object.prototype.hasOwnProperty.call(x, k);
  if (has('pri')) expect(sys.priority, 'pri').toBe(x.pri ?? undefined);
  if (has('facility')) expect(sys.facility?.code, 'facility').toBe(x.facility ?? undefined);
  if (has('severity')) expect(sys.severity?.code, 'severity').toBe(x.severity ?? undefined);
  if (has('facility_name')) expect(sys.facility?.name).toBe(x.facility_name);
  if (has('severity_name')) expect(sys.severity?.name).toBe(x.severity_name);
  if (has('version')) expect(sys.version, 'version').toBe(x.version ?? undefined);
  for (const k of ['hostname', 'appname', 'procid', 'msgid'] as const) if (has(k)) expect(sys[k], k).toBe(x[k] ?? undefined);
  if (has('structured_data')) expect(sys.structured_data, 'structured_data').toEqual(x.structured_data ?? undefined);
  // Derived ECS fields follow the header (DESIGN.md "The event").
  if (sys.hostname) expect(e.host?.name).toBe(sys.hostname);
  if (sys.appname) expect(e.service?.name).toBe(sys.appname);
  if (sys.procid && /^\d+$/.test(sys.procid)) expect(e.process?.pid).toBe(Number(sys.procid));
  if (sys.procid && !/^\d+$/.test(sys.procid)) expect(e.process).toBeUndefined();
  if (has('timestamp')) {
    const ts = x.timestamp as string | null;
    const at = Date.parse(e['@timestamp']);
    if (ts === null) expect(e['@timestamp'], 'timestamp absent → receive time').toBe(new Date(NOW).toISOString());
    else if (ts.includes('T')) expect(at, 'timestamp instant').toBe(Math.floor(Date.parse(ts)));
    else {
      expect(bsd(at), 'timestamp').toBe(ts);
      if (has('year')) expect(new Date(at).getUTCFullYear(), 'year').toBe(x.year);
    }
  }
  if (has('message')) {
    const want = (x.message as string | null) ?? '';
    if (format === 'rfc3164') expect(e.message.trimStart(), 'message').toBe(want.trimStart());
    else expect(e.message, 'message').toBe(want);
  }
  if (has('message_base64')) {
    // Lossless representation of a non-UTF-8 MSG: its Latin-1 reading, flagged.
    expect(Buffer.from(e.message, 'latin1').toString('base64')).toBe(x.message_base64);
    expect(e.labels.parse_warning).toContain('msg_not_utf8');
  }
  if (has('tag')) {
    const r = parseRfc3164(typeof raw === 'string' ? raw : Buffer.from(raw).toString('utf8'), { strict: false, now: NOW, defaultPri: 13 });
    expect(r.ok && r.tag, 'tag').toBe(x.tag);
  }
  void o;
}

const MODES: Record<string, FramingMode> = {
  'octet-counting': 'octet-counting',
  'auto-octet-or-lf': 'auto',
  'non-transparent-lf': 'lf',
  'non-transparent-nul': 'nul',
};

function frames(c: Case): Frame[] {
  const d = new SyslogFrameDecoder({
    mode: MODES[c.framing ?? ''] ?? 'auto',
    maxFrameBytes: c.options?.max_length ?? c.options?.max_message_length ?? 65_536,
  });
  const chunks: Uint8Array[] = c.input_chunks
    ? c.input_chunks.map((s) => new TextEncoder().encode(s))
    : [c.input_base64 !== undefined ? new Uint8Array(Buffer.from(c.input_base64, 'base64')) : new TextEncoder().encode(c.input ?? '')];
  const out: Frame[] = [];
  for (const ch of chunks) out.push(...d.push(ch));
  out.push(...d.end());
  return out;
}

const frameOpts: ParseOptions = { format: 'auto', mode: 'strict', now: NOW };

function flagged(f: Frame): boolean {
  return f.error !== undefined || run(f.payload, frameOpts).labels.parse_error !== undefined;
}

function checkStream(c: Case): void {
  const got = frames(c);
  const want = c.expected_frames ?? [];
  for (const [i, w] of want.entries()) {
    const f = got[i];
    expect(f, `frame ${i}`).toBeDefined();
    if (!f) return;
    if (w.payload !== undefined && !(w.valid === false && f.error === 'FRAME_TOO_LONG')) expect(Buffer.from(f.payload).toString('utf8'), `payload ${i}`).toBe(w.payload);
    if (w.valid === true) {
      expect(f.error, `frame ${i} error`).toBeUndefined();
      if (w.expected) check(run(f.payload, frameOpts), w.expected, 'rfc5424', f.payload, frameOpts);
    }
    if (w.valid === false) expect(flagged(f), `frame ${i} flagged`).toBe(true);
    if (w.eof_without_trailer) expect(f.framing).toBe('eof');
  }
  const last = want[want.length - 1];
  if (last === undefined || last.valid !== false) expect(got.length, 'frame count').toBe(want.length);
  else for (const extra of got.slice(want.length)) expect(flagged(extra), 'frame after the first error is flagged').toBe(true);
}

// The vectors live in ../shared beside the checkout (CI has it there). A missing file fails the run
// loudly instead of skipping conformance silently.
const corpus: { cases: Case[] } | undefined = existsSync(VECTORS) ? JSON.parse(readFileSync(VECTORS, 'utf8')) : undefined;
const cases = corpus?.cases ?? [];

describe('syslog vectors (conformance)', () => {
  it('loads the whole developer set', () => {
    expect(corpus, `conformance vectors not found at ${VECTORS}`).toBeDefined();
    expect(cases.length).toBeGreaterThanOrEqual(128);
  });

  describe('valid messages', () => {
    for (const c of cases.filter((c) => c.kind === 'message' && c.valid && !c.disputed)) {
      it(`${c.id}${c.lenient ? ' (lenient)' : ''}`, () => {
        const modes: Array<'strict' | 'lenient'> = c.lenient ? ['lenient'] : ['strict', 'lenient'];
        for (const mode of modes) {
          const o = optsOf(c, mode);
          check(run(inputOf(c), o), c.expected ?? {}, c.format, inputOf(c), o);
        }
      });
    }
  });

  describe('invalid messages are flagged in strict mode, never thrown', () => {
    for (const c of cases.filter((c) => c.kind === 'message' && c.valid === false && !c.disputed)) {
      it(c.id, () => {
        const e = run(inputOf(c), optsOf(c, 'strict'));
        expect(e.labels.parse_error).toMatch(/^[a-z0-9]+:[a-z0-9_]+$/);
        // The raw line is the message: nothing a host sends is dropped.
        if (typeof c.input === 'string') expect(e.message).toBe(c.input.replace(/[\r\n]+$/, ''));
        // Lenient mode never throws either.
        run(inputOf(c), optsOf(c, 'lenient'));
      });
    }
  });

  describe('RFC 6587 streams', () => {
    for (const c of cases.filter((c) => c.kind === 'stream' && !c.disputed)) it(c.id, () => checkStream(c));
  });

  describe('disputed vectors: the decisions of docs/adr/0003', () => {
    const byId = new Map(cases.map((c) => [c.id, c]));
    const get = (id: string): Case => {
      const c = byId.get(id);
      expect(c, id).toBeDefined();
      return c as Case;
    };

    it('lists exactly the disputed cases we decided on', () => {
      expect(
        cases
          .filter((c) => c.disputed)
          .map((c) => c.id)
          .sort(),
      ).toEqual(
        [
          'easypost-5424-pri-409-out-of-range',
          'gosyslog-3164-ip-host-no-tag',
          'gosyslog-nontransparent-missing-final-trailer',
          'loose-3164-missing-pri',
          'loose-5424-missing-pri',
          'loose-5424-sd-param-without-value',
          'loose-5424-sd-space-after-equals',
          'rsyslog-3164-plain-text-heuristic',
        ].sort(),
      );
    });

    it('1. RFC 3164 "HOST word ..." : the word after HOSTNAME is the TAG (rsyslog rule)', () => {
      const c = get('gosyslog-3164-ip-host-no-tag');
      for (const mode of ['strict', 'lenient'] as const) {
        const e = run(inputOf(c), optsOf(c, mode));
        expect(e.log?.syslog).toMatchObject({ priority: 13, hostname: '10.0.0.99', appname: 'Use' });
        expect(e.message).toBe('the BFG!');
      }
    });

    it('2. a final LF-less frame at end of stream is a frame', () => {
      const c = get('gosyslog-nontransparent-missing-final-trailer');
      const got = frames(c);
      expect(got).toHaveLength(2);
      expect(got[1]?.framing).toBe('eof');
      expect(got[1]?.error).toBeUndefined();
      check(run(got[1]?.payload ?? new Uint8Array(), frameOpts), c.expected_frames?.[1]?.expected ?? {}, 'rfc5424', '', frameOpts);
    });

    it('3. text with no PRI and no timestamp is CONTENT (RFC 3164 4.3.3), not HOST + TAG', () => {
      const c = get('rsyslog-3164-plain-text-heuristic');
      const e = run(inputOf(c), optsOf(c, 'lenient'));
      expect(e.log?.syslog).toEqual({ priority: 13, facility: { code: 1, name: 'user' }, severity: { code: 5, name: 'notice' } });
      expect(e.message).toBe('This is a message!');
      const auto = run(inputOf(c), optsOf(c, 'lenient', 'auto'));
      expect(auto.log).toBeUndefined();
      expect(auto.message).toBe('This is a message!');
      expect(run(inputOf(c), optsOf(c, 'strict')).labels.parse_error).toBe('rfc3164:pri_missing');
    });

    it('4. PRI 409: strict rejects; lenient keeps it as sent with severity alert, no facility, a warning', () => {
      const c = get('easypost-5424-pri-409-out-of-range');
      expect(run(inputOf(c), optsOf(c, 'strict')).labels.parse_error).toBe('rfc5424:pri_out_of_range');
      const e = run(inputOf(c), optsOf(c, 'lenient'));
      expect(e.log?.syslog?.priority).toBe(409);
      expect(e.log?.syslog?.facility).toBeUndefined();
      expect(e.log?.syslog?.severity).toEqual({ code: 1, name: 'alert' });
      expect(e.labels.parse_warning).toBe('pri_out_of_range');
      check(e, { ...c.expected, pri: 409 }, c.format, inputOf(c), optsOf(c, 'lenient'));
    });

    it('5. SP after "=" in SD: strict rejects, lenient reads the element', () => {
      const c = get('loose-5424-sd-space-after-equals');
      expect(run(inputOf(c), optsOf(c, 'strict')).labels.parse_error).toBe('rfc5424:sd_invalid');
      check(run(inputOf(c), optsOf(c, 'lenient')), c.expected ?? {}, c.format, inputOf(c), optsOf(c, 'lenient'));
    });

    it('6. malformed SD element: strict rejects; lenient keeps it as the start of the message (not dropped)', () => {
      const c = get('loose-5424-sd-param-without-value');
      expect(run(inputOf(c), optsOf(c, 'strict')).labels.parse_error).toBe('rfc5424:sd_invalid');
      const e = run(inputOf(c), optsOf(c, 'lenient'));
      check(e, { ...c.expected, message: '[incorrect x] qwerty' }, c.format, inputOf(c), optsOf(c, 'lenient'));
      expect(e.labels.parse_warning).toBe('sd_invalid');
    });

    it('7. RFC 3164 without PRI: 13 (user.notice) when the format is rfc3164; absent in auto', () => {
      const c = get('loose-3164-missing-pri');
      check(run(inputOf(c), optsOf(c, 'lenient')), { ...c.expected, pri: 13, facility: 1, severity: 5 }, c.format, inputOf(c), optsOf(c, 'lenient'));
      check(run(inputOf(c), optsOf(c, 'lenient', 'auto')), c.expected ?? {}, 'rfc3164', inputOf(c), optsOf(c, 'lenient', 'auto'));
    });

    it('8. RFC 5424 without PRI: strict rejects; lenient (and auto) accept with no priority', () => {
      const c = get('loose-5424-missing-pri');
      expect(run(inputOf(c), optsOf(c, 'strict')).labels.parse_error).toBe('rfc5424:pri_missing');
      check(run(inputOf(c), optsOf(c, 'lenient')), c.expected ?? {}, c.format, inputOf(c), optsOf(c, 'lenient'));
      check(run(inputOf(c), optsOf(c, 'lenient', 'auto')), c.expected ?? {}, c.format, inputOf(c), optsOf(c, 'lenient', 'auto'));
    });
  });
});
