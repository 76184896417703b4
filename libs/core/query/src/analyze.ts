/**
 * The words of a `text` field as the engine's `standard` analyzer makes them: Lucene's
 * StandardTokenizer (Unicode UAX #29 word boundaries, https://unicode.org/reports/tr29/#Word_Boundary_Rules)
 * followed by lower-casing, no stop words (the default of Elasticsearch 8 and OpenSearch 2).
 *
 * What that means for log lines (checked against the engine's `_analyze` in
 * libs/adapters/search/src/query/query.int.spec.ts):
 *   - letters and digits join (`web01`, `v1.2`); `_` joins too (`foo_bar`);
 *   - `.` and `'` join letters to letters and digits to digits (`example.com`, `don't`, `10.0.0.1`,
 *     `3.14`) but not a letter to a digit (`a.1` → `a`, `1`); `:` joins letters (`foo:bar`),
 *     `,` and `;` join digits (`1,000`);
 *   - everything else splits (`web-1` → `web`, `1`; `/api/v1` → `api`, `v1`);
 *   - each Han or Hiragana character is a word; Katakana runs are one word; emoji are words;
 *   - a word longer than 255 characters is cut into 255-character pieces (max_token_length).
 * Not modelled (rare in logs): Hebrew quote rules, Thai/Lao/Khmer dictionary segmentation, regional
 * indicator pairs.
 */

const OTHER = 0;
const ALETTER = 1;
const NUMERIC = 2;
const KATAKANA = 3;
const EXTEND_NUM_LET = 4;
const MID_LETTER = 5;
const MID_NUM = 6;
const MID_NUM_LET = 7;
const EXTEND = 8;
const IDEO = 9;
const EMOJI = 10;

/** Lucene StandardAnalyzer's default `max_token_length`. */
export const MAX_TOKEN_LENGTH = 255;

const ASCII = new Uint8Array(128);
for (let c = 0; c < 128; c++) {
  const ch = String.fromCharCode(c);
  ASCII[c] = /[A-Za-z]/.test(ch)
    ? ALETTER
    : /[0-9]/.test(ch)
      ? NUMERIC
      : ch === '_'
        ? EXTEND_NUM_LET
        : ch === ':'
          ? MID_LETTER
          : ch === ',' || ch === ';'
            ? MID_NUM
            : ch === '.' || ch === "'"
              ? MID_NUM_LET
              : OTHER;
}

const SPECIAL = new Map<number, number>();
for (const cp of [0xb7, 0x387, 0x55f, 0x5f4, 0x2027, 0xfe13, 0xfe55, 0xff1a]) SPECIAL.set(cp, MID_LETTER);
for (const cp of [0x37e, 0x589, 0x60c, 0x60d, 0x66c, 0x7f8, 0x2044, 0xfe10, 0xfe14, 0xfe50, 0xfe54, 0xff0c, 0xff1b]) SPECIAL.set(cp, MID_NUM);
for (const cp of [0x2018, 0x2019, 0x2024, 0xfe52, 0xff07, 0xff0e]) SPECIAL.set(cp, MID_NUM_LET);
for (const cp of [0x202f, 0x203f, 0x2040, 0x2054, 0xfe33, 0xfe34, 0xfe4d, 0xfe4e, 0xfe4f, 0xff3f]) SPECIAL.set(cp, EXTEND_NUM_LET);
for (const cp of [0x3031, 0x3032, 0x3033, 0x3034, 0x3035, 0x309b, 0x309c, 0x30a0, 0x30fc, 0xff70]) SPECIAL.set(cp, KATAKANA);
// Zero-width space separates; ZWNJ/ZWJ extend (WB4).
SPECIAL.set(0x200b, OTHER);
SPECIAL.set(0x200c, EXTEND);
SPECIAL.set(0x200d, EXTEND);

// Sticky regular expressions test one code point in place, without slicing the string.
// Emoji modifiers (skin tones) extend the emoji before them (UAX #29 since Unicode 11).
const RE_EXTEND = /[\p{M}\p{Cf}\p{Emoji_Modifier}]/uy;
const RE_KATAKANA = /\p{Script=Katakana}/uy;
const RE_IDEO = /[\p{Script=Han}\p{Script=Hiragana}]/uy;
// Lucene emits emoji as words, including text-style pictographs such as ©.
const RE_EMOJI = /\p{Extended_Pictographic}/uy;
const RE_NUMERIC = /\p{Nd}/uy;
const RE_ALETTER = /\p{Alphabetic}/uy;

function test(re: RegExp, s: string, i: number): boolean {
  re.lastIndex = i;
  return re.test(s);
}

/** Word-break class of the code point `cp` found at `s[i]`. */
function classify(s: string, i: number, cp: number): number {
  if (cp < 128) return ASCII[cp] as number;
  const special = SPECIAL.get(cp);
  if (special !== undefined) return special;
  if (test(RE_EXTEND, s, i)) return EXTEND;
  if (test(RE_EMOJI, s, i)) return EMOJI;
  if (test(RE_KATAKANA, s, i)) return KATAKANA;
  if (test(RE_IDEO, s, i)) return IDEO;
  if (test(RE_NUMERIC, s, i)) return NUMERIC;
  if (test(RE_ALETTER, s, i)) return ALETTER;
  return OTHER;
}

/**
 * Calls `emit(start, end)` for each token of `s` (offsets into `s`, end exclusive), in order; stops
 * early when `emit` returns true. Allocates nothing itself (the evaluator calls it per event).
 */
export function forEachToken(s: string, emit: (start: number, end: number) => boolean | void): void {
  const n = s.length;
  let start = -1;
  let prev = OTHER;
  let wordChar = false;
  let i = 0;
  while (i < n) {
    const c = s.charCodeAt(i);
    const cp = c >= 0xd800 && c <= 0xdbff && i + 1 < n ? (s.codePointAt(i) as number) : c;
    const len = cp > 0xffff ? 2 : 1;
    const cls = classify(s, i, cp);
    if (cls === EXTEND) {
      // WB4: marks, format characters and ZWJ belong to what precedes them.
      i += len;
      continue;
    }
    if (start >= 0) {
      let join = false;
      if (cls === ALETTER || cls === NUMERIC) join = prev === ALETTER || prev === NUMERIC || prev === EXTEND_NUM_LET;
      else if (cls === EXTEND_NUM_LET) join = prev === ALETTER || prev === NUMERIC || prev === KATAKANA || prev === EXTEND_NUM_LET;
      else if (cls === KATAKANA) join = prev === KATAKANA || prev === EXTEND_NUM_LET;
      else if (cls === MID_LETTER || cls === MID_NUM || cls === MID_NUM_LET) {
        // WB6/7 and WB11/12: a middle character joins only between two letters or two digits.
        let j = i + len;
        let next = OTHER;
        while (j < n) {
          const cpj = s.codePointAt(j) as number;
          const k = classify(s, j, cpj);
          if (k !== EXTEND) {
            next = k;
            break;
          }
          j += cpj > 0xffff ? 2 : 1;
        }
        const letters = (cls === MID_LETTER || cls === MID_NUM_LET) && prev === ALETTER && next === ALETTER;
        const digits = (cls === MID_NUM || cls === MID_NUM_LET) && prev === NUMERIC && next === NUMERIC;
        if (letters || digits) {
          i = j;
          continue;
        }
      }
      if (join) {
        prev = cls;
        if (cls !== EXTEND_NUM_LET) wordChar = true;
        i += len;
        continue;
      }
      if (wordChar && emitToken(start, i, emit)) return;
      start = -1;
      wordChar = false;
    }
    if (cls === ALETTER || cls === NUMERIC || cls === KATAKANA || cls === EXTEND_NUM_LET) {
      start = i;
      prev = cls;
      wordChar = cls !== EXTEND_NUM_LET;
      i += len;
      continue;
    }
    if (cls === IDEO || cls === EMOJI) {
      // One character, one word (with its marks; an emoji ZWJ sequence stays whole).
      const s0 = i;
      i += len;
      for (;;) {
        if (i >= n) break;
        const cpn = s.codePointAt(i) as number;
        const k = classify(s, i, cpn);
        if (k === EXTEND) {
          const zwj = cpn === 0x200d;
          i += cpn > 0xffff ? 2 : 1;
          if (zwj && cls === EMOJI && i < n && classify(s, i, s.codePointAt(i) as number) === EMOJI) i += (s.codePointAt(i) as number) > 0xffff ? 2 : 1;
          continue;
        }
        break;
      }
      if (emitToken(s0, i, emit)) return;
      continue;
    }
    i += len;
  }
  if (start >= 0 && wordChar) emitToken(start, n, emit);
}

/** A word longer than MAX_TOKEN_LENGTH is emitted in pieces (Lucene's max_token_length). True: stop. */
function emitToken(start: number, end: number, emit: (start: number, end: number) => boolean | void): boolean {
  for (let a = start; a < end; a += MAX_TOKEN_LENGTH) if (emit(a, Math.min(end, a + MAX_TOKEN_LENGTH)) === true) return true;
  return false;
}

/** The lower-cased tokens of `s` (what the engine indexes for a `text` field). */
export function analyze(s: string): string[] {
  const out: string[] = [];
  forEachToken(s, (a, b) => {
    out.push(lowerCase(s.slice(a, b)));
  });
  return out;
}

/**
 * Whether the token `s[a, b)` lower-cased equals `q` (a lower-cased token), without building the
 * token string: ASCII is folded in place; a token with other characters is lower-cased the slow way.
 */
export function tokenEquals(s: string, a: number, b: number, q: string): boolean {
  const n = b - a;
  for (let i = 0; i < n; i++) {
    let c = s.charCodeAt(a + i);
    if (c >= 128) return lowerCase(s.slice(a, b)) === q;
    // Lower-casing never shortens a token, so an ASCII prefix longer than q cannot equal it.
    if (i >= q.length) return false;
    if (c >= 65 && c <= 90) c += 32;
    if (c !== q.charCodeAt(i)) return false;
  }
  return n === q.length;
}

const CONTEXT_CASE = /[\u0130\u03a3]/;

/**
 * Lower case as Lucene's LowerCaseFilter does it: Java's Character.toLowerCase per code point.
 * JavaScript's toLowerCase differs in two places only: İ (U+0130) becomes "i̇" (two code points) instead
 * of "i", and a final capital sigma becomes ς instead of σ.
 */
export function lowerCase(s: string): string {
  const l = s.toLowerCase();
  if (!CONTEXT_CASE.test(s)) return l;
  let out = '';
  for (const ch of s) out += ch === '\u0130' ? 'i' : ch === '\u03a3' ? '\u03c3' : ch.toLowerCase();
  return out;
}
