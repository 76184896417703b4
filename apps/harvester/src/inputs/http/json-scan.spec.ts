import { describe, expect, it } from 'vitest';
import { rng } from '../shared/test-kit';
import { JsonArrayElements, scanJsonBody } from './json-scan';

/** What JSON.parse says about the same bytes (the scanner must agree on validity). */
function parses(b: Buffer): boolean {
  try {
    JSON.parse(b.toString('utf8'));
    return true;
  } catch {
    return false;
  }
}

function elements(text: string): string[] {
  const b = Buffer.from(text);
  const scan = scanJsonBody(b);
  if (scan.kind !== 'array') throw new Error(`not an array: ${scan.kind}`);
  const it = new JsonArrayElements(b, scan.first);
  const out: string[] = [];
  while (it.next()) out.push(b.toString('utf8', it.start, it.end));
  return out;
}

const VALID = [
  '{}',
  '[]',
  ' [ ] ',
  '"x"',
  '0',
  '-0',
  '-1.5e+10',
  '1E3',
  '123',
  'true',
  'false',
  'null',
  '{"a":1,"b":[1,2,{"c":null}],"d":"\\u00e9\\n\\"","e":{}}',
  '[{},{},[]]',
  '[1 , 2 ,3]\n',
  '\t{"a" : "b"}\r\n',
  `${'['.repeat(5000)}${']'.repeat(5000)}`,
  `{"a":${'{"a":'.repeat(3000)}1${'}'.repeat(3000)}}`,
  '"\u00e9\u{1f600}"',
  '"\\ud800"',
];
const INVALID = [
  '',
  ' ',
  '{',
  '[',
  ']',
  '[1,]',
  '[,1]',
  '{"a":1,}',
  '{"a"}',
  '{a:1}',
  "{'a':1}",
  '01',
  '1.',
  '.5',
  '1e',
  '+1',
  '-',
  'tru',
  'nul',
  'True',
  'NaN',
  'Infinity',
  '"\\x"',
  '"\\u12"',
  '"a\nb"',
  '"abc',
  '{}{}',
  '{} x',
  '[1] 2',
  '\ufeff{}',
  '{"message": nope}',
  '{"message":"ok"}\n{"message":"two"}',
  '[1 2]',
  '{"a":1 "b":2}',
  '[}',
  '{]',
  '\u000b1',
];

describe('json-scan', () => {
  it('agrees with JSON.parse on valid and invalid documents', () => {
    for (const t of VALID) expect([t.slice(0, 40), scanJsonBody(Buffer.from(t)).kind !== 'invalid']).toEqual([t.slice(0, 40), true]);
    for (const t of INVALID) expect([t.slice(0, 40), scanJsonBody(Buffer.from(t)).kind]).toEqual([t.slice(0, 40), 'invalid']);
    for (const t of [...VALID, ...INVALID]) expect([t.slice(0, 40), scanJsonBody(Buffer.from(t)).kind !== 'invalid']).toEqual([t.slice(0, 40), parses(Buffer.from(t))]);
  });

  it('agrees with JSON.parse on 20,000 mutated documents (invalid UTF-8, cut, spliced)', () => {
    const rand = rng(1717);
    const seeds = VALID.filter((v) => v.length < 200).map((v) => Buffer.from(v));
    const alphabet = Buffer.from('{}[],:"\\ 0123456789.eE+-tfnrulsa\n\t\r\u0000');
    for (let n = 0; n < 20_000; n++) {
      const base = seeds[Math.floor(rand() * seeds.length)]!;
      const b = Buffer.from(base);
      const edits = 1 + Math.floor(rand() * 3);
      let out = b;
      for (let e = 0; e < edits; e++) {
        const at = Math.floor(rand() * (out.length + 1));
        const r = rand();
        if (r < 0.4) out = Buffer.concat([out.subarray(0, at), Buffer.from([alphabet[Math.floor(rand() * alphabet.length)]!]), out.subarray(at)]);
        else if (r < 0.7) out = Buffer.concat([out.subarray(0, at), out.subarray(at + 1)]);
        else if (r < 0.85) out = Buffer.concat([out.subarray(0, at), Buffer.from([0xc3, 0x28, 0xff]), out.subarray(at)]);
        else out = out.subarray(0, at);
      }
      expect([out.toString('latin1'), scanJsonBody(out).kind !== 'invalid']).toEqual([out.toString('latin1'), parses(out)]);
    }
  });

  it('counts and walks the elements of an array without building them', () => {
    expect(scanJsonBody(Buffer.from(`[${'{},'.repeat(99_999)}{}]`))).toMatchObject({ kind: 'array', count: 100_000 });
    expect(scanJsonBody(Buffer.from(' { "a" : 1 } '))).toEqual({ kind: 'value', count: 1, start: 1, end: 12 });
    expect(elements('[ {"a":[1,2]} , "s\\"x" ,3, [ ] ,null ]')).toEqual(['{"a":[1,2]}', '"s\\"x"', '3', '[ ]', 'null']);
    expect(elements('[]')).toEqual([]);
  });
});
