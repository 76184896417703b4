import { gzipSync } from 'node:zlib';
import { CodecError, decodeBatch, facetsOf, partLineOf } from '@backlog/core-codec';
import { describe, expect, it } from 'vitest';
import { BatchScanner, hasControl } from './scan';

const scanner = new BatchScanner();

// A raw control byte (JSON.stringify escapes every one; a newline separates lines).
// eslint-disable-next-line no-control-regex -- the raw control bytes are what the spec looks for
const CONTROL = /[\u0000-\u0009\u000b-\u001f]/;

/** What the compressor did before the scanner: JSON.parse every line, JSON.stringify it, read the key. */
function reference(value: Buffer) {
  const d = decodeBatch<Record<string, unknown>>(value);
  const lines: { ts: number; id: string; line: string; facets: string }[] = [];
  const bad = d.bad.map((b) => b.reason.replace(/:.*/, ''));
  for (const ev of d.events) {
    const text = JSON.stringify(ev);
    const pl = partLineOf(ev, text);
    if (pl) lines.push({ ts: pl.ts, id: pl.id, line: text, facets: JSON.stringify(facetsOf(ev)) });
    else bad.push('no parseable @timestamp');
  }
  return { lines, bad: bad.sort() };
}

function scanned(value: Buffer) {
  const r = scanner.batchLines(value, 1 << 26);
  return {
    lines: r.lines.map((l) => ({ ts: l.ts, id: l.id, line: Buffer.from(l.line as Uint8Array).toString('utf8'), facets: JSON.stringify({ host: l.host, service: l.service, level: l.level }) })),
    bad: r.bad.map((b) => b.reason.replace(/:.*/, '')).sort(),
    slow: r.slow,
  };
}

const same = (text: string | Buffer) => {
  const v = gzipSync(typeof text === 'string' ? Buffer.from(text) : text);
  const s = scanned(v);
  expect({ lines: s.lines, bad: s.bad }).toEqual(reference(v));
  return s.slow;
};

const ok = '{"@timestamp":"2026-11-22T10:00:00.123Z","event":{"id":"0193-a"},"host":{"name":"web-01"},"service":{"name":"nginx"},"log":{"level":"info"},"message":"GET / 200","labels":{"env":"dev"}}';

describe('batch scanner', () => {
  it('takes the fast path for JSON.stringify output and reads key and facets from the bytes', () => {
    const slow = same(`${ok}\n${ok.replace('10:00:00.123Z', '10:00:01Z').replace('0193-a', '0193-b')}\n`);
    expect(slow).toBe(0);
    const r = scanner.rawBatchLines(Buffer.from(`${ok}\n`));
    expect(r.lines[0]).toMatchObject({ ts: Date.parse('2026-11-22T10:00:00.123Z'), id: '0193-a', host: 'web-01', service: 'nginx', level: 'info' });
    expect(Buffer.isBuffer(r.lines[0]!.line)).toBe(true);
  });

  it('gives the bytes JSON.parse + JSON.stringify would for every non-canonical or odd line', () => {
    const cases = [
      '{"@timestamp":"2026-11-22T10:00:00Z","event":{"id":"a\\"b"},"message":"tab\\there \\u001b[0m é ☃ 😀"}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z", "message":"space"}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","message":"sl\\/ash \\u0041 \\ud83d\\ude00"}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","a":1,"a":2}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","b":1,"1":2}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","n":1.0,"m":-0,"k":1e5,"z":12345678901234567890}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","n":1.5,"m":-3,"k":1e+21,"t":true,"f":false,"x":null,"arr":[1,"a",{"b":[]},[]],"o":{}}',
      '{"@timestamp":"2026-02-31T10:00:00.123Z"}',
      '{"@timestamp":"2026-01-01T24:00:00.000Z"}',
      '{"@timestamp":"2026-11-22T10:00:00+02:00"}',
      '{"@timestamp":"nope"}',
      '{"@timestamp":12345}',
      '{"event":{"id":"x"}}',
      '[1,2]',
      '"str"',
      'null',
      '{bad json',
      '',
      '   ',
      `${ok}\r`,
      '{"@timestamp":"2026-11-22T10:00:00.123Z","event":"str","host":["name"],"service":{"name":""},"log":{"level":"warn","level2":"x"}}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","event":{"id":5},"host":{"name":"h\\n1"}}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","__proto__":{"x":1}}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","m":"\\u0008\\u000a\\u001F\\u001f"}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","m":"\u2028\u007f\u0085"}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","d":{"x":1,"x":2}}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","m":"x"}garbage',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","m":tru}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","m":"unterminated}',
      '{"@timestamp":"0999-11-22T10:00:00.123Z","a":[]}',
      '{"@timestamp":"2026-13-22T10:00:00.123Z"}',
      '{"@timestamp":"2026-11-22t10:00:00.123Z"}',
      '{"@timestamp":"2026-11-22T10:00:00.123Z","m":"raw\ttab"}',
    ];
    for (const c of cases) same(c);
    same(`${cases.join('\n')}\n`);
    // Invalid UTF-8 anywhere in a batch: every line takes the old path (U+FFFD, as before).
    same(Buffer.concat([Buffer.from(`${ok}\n`), Buffer.from([0xff, 0xfe, 0x0a]), Buffer.from(cases[0]!)]));
  });

  it('matches the old path on mutated and random events (fuzz, fixed seed)', () => {
    let seed = 42;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const alphabet = ['"', '\\', ' ', '{', '}', '[', ']', ':', ',', '0', '1', '-', '.', 'e', 'u', 'n', 't', '\t', 'é', '\u0001', 'a', '\\u00', '\\n', '@timestamp', 'event', 'id', 'host', 'name'];
    const texts: string[] = [];
    for (let i = 0; i < 3000; i++) {
      let s = ok;
      for (let j = 0, k = 1 + rnd(3); j < k; j++) {
        const p = rnd(s.length);
        const ch = alphabet[rnd(alphabet.length)] as string;
        const op = rnd(3);
        s = op === 0 ? s.slice(0, p) + s.slice(p + 1) : op === 1 ? s.slice(0, p) + ch + s.slice(p) : s.slice(0, p) + ch + s.slice(p + 1);
      }
      texts.push(s);
    }
    const value = (d: number): unknown => {
      const t = rnd(d > 3 ? 4 : 7);
      if (t === 0) return rnd(2) ? rnd(1000) - 500 : rnd(1e9) / 7;
      if (t === 1) return String.fromCharCode(...Array.from({ length: rnd(6) }, () => (rnd(3) ? 32 + rnd(95) : rnd(0x3000))));
      if (t === 2) return [true, false, null][rnd(3)];
      if (t === 3) return 'x';
      if (t === 4) return Array.from({ length: rnd(4) }, () => value(d + 1));
      const o: Record<string, unknown> = {};
      for (let i = 0; i < rnd(5); i++) o[['a', 'name', 'id', 'level', '10', 'x y', 'é'][rnd(7)] as string] = value(d + 1);
      return o;
    };
    for (let i = 0; i < 3000; i++) {
      const o: Record<string, unknown> = { '@timestamp': new Date(1.7e12 + rnd(1e9) * 10).toISOString() };
      for (const k of ['event', 'host', 'service', 'log', 'message', 'labels']) if (rnd(2)) o[k] = value(1);
      texts.push(JSON.stringify(o));
    }
    for (let i = 0; i < texts.length; i += 100) same(texts.slice(i, i + 100).join('\n'));
    // Batches without a raw control byte take the native search for quotes and backslashes.
    const plain = texts.filter((t) => !CONTROL.test(t));
    expect(plain.length).toBeGreaterThan(3000);
    for (let i = 0; i < plain.length; i += 100) same(plain.slice(i, i + 100).join('\n'));
  });

  it('checks lines against known layouts exactly as the full scan would (same keys, values of every kind)', () => {
    let seed = 7;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    // Values that sit in a layout's holes: strings (escapes, control bytes, non-ASCII), numbers
    // canonical or not, literals, arrays, and objects — with or without the captured keys inside.
    const holes = [
      '"x"',
      '"a\\"b"',
      '"tab\\there"',
      '"raw\ttab"',
      '"\\u001f"',
      '"\u001f"',
      '"\\u0041"',
      '"\\/"',
      '"é☃"',
      '""',
      '12',
      '1.0',
      '-0',
      '1e5',
      'true',
      'nul',
      '[]',
      '[1,{"a":1,"a":2}]',
      '{}',
      '{"id":"in"}',
      '{"id":"a","id":"b"}',
      '{"name":"n","1":2}',
      '{"level":5}',
      '{"id":"e\\\\"}',
      '{"id":"e\\"}',
      '"2026-11-22T10:00:00.123Z"',
      '"2026-11-22T10:00:00Z"',
      '"not a date"',
    ];
    // Mostly plain values (lines share a layout), sometimes any of the above.
    const pick = () => (rnd(10) ? ['"x"', '"é☃"', '12', 'true', '"2026-11-22T10:00:00Z"'][rnd(5)] : holes[rnd(holes.length)]) as string;
    const texts: string[] = [];
    for (let i = 0; i < 4000; i++) {
      const ts = rnd(10) ? `"2026-11-22T10:00:${String(rnd(60)).padStart(2, '0')}.${String(rnd(1000)).padStart(3, '0')}Z"` : pick();
      const ev = rnd(10) ? `{"id":${rnd(4) ? `"e${rnd(50)}"` : pick()},"created":${pick()}}` : pick();
      const host = rnd(10) ? `{"name":${rnd(4) ? `"h${rnd(3)}"` : pick()}}` : pick();
      const log = rnd(10) ? `{"level":${rnd(4) ? '"info"' : pick()}}` : pick();
      texts.push(`{"@timestamp":${ts},"event":${ev},"host":${host},"service":{"name":"s"},"log":${log},"message":${pick()},"labels":{"env":${pick()}}}`);
    }
    let layout = 0;
    // As they come (most batches hold a raw control byte somewhere: the byte loop checks every
    // string), and without the lines holding one (the quote and backslash search in native code).
    for (const set of [texts, texts.filter((t) => !CONTROL.test(t))]) {
      for (let i = 0; i < set.length; i += 200) {
        const v = gzipSync(Buffer.from(set.slice(i, i + 200).join('\n')));
        expect({ lines: scanned(v).lines, bad: scanned(v).bad }).toEqual(reference(v));
        layout += scanner.batchLines(v, 1 << 26).layout;
      }
    }
    // The layout path was really taken (most lines share one of a few layouts).
    expect(layout).toBeGreaterThan(4000);
  });

  it('finds control bytes other than newlines at any alignment', () => {
    let seed = 3;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const naive = (b: Uint8Array) => b.some((c) => c < 0x20 && c !== 0x0a);
    const backing = Buffer.alloc(300);
    for (let i = 0; i < 3000; i++) {
      for (let k = 0; k < backing.length; k++) backing[k] = rnd(8) ? 0x20 + rnd(0xe0) : 0x0a;
      if (rnd(2)) backing[rnd(backing.length)] = rnd(0x20);
      const from = rnd(9);
      const b = backing.subarray(from, from + rnd(backing.length - from));
      expect(hasControl(b)).toBe(naive(b));
    }
    expect(hasControl(Buffer.from('{"a":"\n"}\n{"b":1}\n'))).toBe(false);
    for (const c of [0x00, 0x09, 0x0b, 0x0d, 0x1f]) expect(hasControl(Buffer.from([0x7b, 0x22, 0x61, 0x22, 0x3a, 0x22, c, 0x22, 0x7d]))).toBe(true);
  });

  it('fails the record as a whole for what decodeBatch fails it for', () => {
    expect(() => scanner.batchLines(Buffer.from('not gzip'), 1 << 20)).toThrow(CodecError);
    expect(() => scanner.batchLines(gzipSync(Buffer.alloc(2 << 20, 0x61)), 1 << 20)).toThrow(/exceeds/);
    const truncated = gzipSync(Buffer.from(ok)).subarray(0, 20);
    expect(() => scanner.batchLines(truncated, 1 << 20)).toThrow(CodecError);
  });

  it('keeps its state in the instance: a new scanner starts without the layouts another learned, and gives the same lines', () => {
    const lines = Array.from({ length: 50 }, (_, i) => ok.replace('0193-a', `0193-${i}`));
    const v = gzipSync(Buffer.from(`${lines.join('\n')}\n`));
    const a = new BatchScanner();
    const first = a.batchLines(v, 1 << 26);
    // The first line is scanned in full and teaches the layout the other 49 match.
    expect(first.layout).toBe(49);
    // The same scanner knows the layout from the start now…
    expect(a.batchLines(v, 1 << 26).layout).toBe(50);
    // …another does not, and both read the same lines and facets.
    const b = new BatchScanner();
    const second = b.batchLines(v, 1 << 26);
    expect(second.layout).toBe(49);
    const view = (r: typeof first) => r.lines.map((l) => [l.ts, l.id, l.host, l.service, l.level, Buffer.from(l.line as Uint8Array).toString('utf8')]);
    expect(view(second)).toEqual(view(first));
    // Interleaved batches of two scanners do not disturb each other's results.
    const other = gzipSync(Buffer.from(`{"@timestamp":"2026-11-22T10:00:00Z","host":{"name":"db-9"},"message":"x"}\n`));
    const x = a.rawBatchLines(Buffer.from(`${lines[0]}\n`));
    const y = b.batchLines(other, 1 << 26);
    expect(x.lines[0]).toMatchObject({ host: 'web-01', id: '0193-0' });
    expect(y.lines[0]).toMatchObject({ host: 'db-9' });
  });
});
