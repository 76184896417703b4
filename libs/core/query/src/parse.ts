import type { Bound, Command, Duration, FieldName, FilterNode, GroupBy, MetricCall, MetricFunction, Query, SortKey, Span, Value } from './ast';
import { suggest } from './suggest';
import { QueryError, type QueryErrorCode } from './errors';
import { parseDuration } from './time';

/**
 * The query parser: a hand-written recursive descent over the text (no separate lexer, because what a
 * character means depends on where it stands: `:` ends a field name but is part of the value in
 * `@timestamp:2026-11-22T10:00:00Z`). Grammar and the reasons for each choice:
 * docs/adr/0016-query-language.md.
 */

/** Longest query accepted (characters). A saved search or an alert rule is far shorter. */
export const MAX_QUERY_LENGTH = 16_384;
/** Deepest nesting of parentheses / NOT. Keeps the recursion (here and in the engine) bounded. */
export const MAX_DEPTH = 64;
/**
 * Most leaf conditions in one filter: the engine refuses a boolean query above
 * `indices.query.bool.max_clause_count` (1024 on OpenSearch 2 and the floor on Elasticsearch 8).
 */
export const MAX_CLAUSES = 1024;

const enum Ch {
  Tab = 9,
  Space = 32,
  Bang = 33,
  Quote = 34,
  LParen = 40,
  RParen = 41,
  Star = 42,
  Plus = 43,
  Comma = 44,
  Minus = 45,
  Colon = 58,
  Lt = 60,
  Eq = 61,
  Gt = 62,
  Question = 63,
  LBracket = 91,
  Backslash = 92,
  RBracket = 93,
  LBrace = 123,
  Pipe = 124,
  RBrace = 125,
}

function isWs(c: number): boolean {
  return (
    c === Ch.Space ||
    (c >= Ch.Tab && c <= 13) ||
    c === 0xa0 ||
    c === 0x1680 ||
    (c >= 0x2000 && c <= 0x200a) ||
    c === 0x2028 ||
    c === 0x2029 ||
    c === 0x202f ||
    c === 0x205f ||
    c === 0x3000 ||
    c === 0xfeff
  );
}

export const COMMANDS = ['stats', 'top', 'sort', 'limit', 'fields'] as const;

/** Words people bring from other query languages, and what to write here instead. */
const COMMAND_HINTS: Readonly<Record<string, string>> = {
  where: 'put conditions before the first |, e.g. level:error | stats count()',
  search: 'put conditions before the first |',
  filter: 'put conditions before the first |',
  head: 'use | limit N',
  take: 'use | limit N',
  select: 'use | fields a, b',
  table: 'use | fields a, b',
  project: 'use | fields a, b',
  count: 'use | stats count()',
  summarize: 'use | stats count() by field',
  timechart: 'use | stats count() by interval(5m)',
  chart: 'use | stats count() by field',
  order: 'use | sort -field',
  sort_by: 'use | sort -field',
  dedup: 'use | stats count() by field',
};

const FUNCTIONS: Readonly<Record<string, MetricFunction>> = {
  count: 'count',
  avg: 'avg',
  min: 'min',
  max: 'max',
  sum: 'sum',
  distinct: 'distinct',
  percentiles: 'percentiles',
};

const FUNCTION_HINTS: Readonly<Record<string, string>> = {
  mean: 'use avg(field)',
  average: 'use avg(field)',
  median: 'use p50(field)',
  dc: 'use distinct(field)',
  cardinality: 'use distinct(field)',
  count_distinct: 'use distinct(field)',
  countdistinct: 'use distinct(field)',
  distinct_count: 'use distinct(field)',
  uniq: 'use distinct(field)',
  unique: 'use distinct(field)',
  percentile: 'use percentiles(field, 50, 99) or p99(field)',
  quantile: 'use percentiles(field, 50, 99) or p99(field)',
  total: 'use sum(field)',
};

/** The percentiles `percentiles(field)` returns when none are named. */
export const DEFAULT_PERCENTS: readonly number[] = [50, 95, 99];

const PERCENTILE_SHORT = /^p(\d{1,2}(?:\.\d{1,3})?|100)$/i;

/** A field name in a pipe command: what Elasticsearch allows minus what would confuse the command syntax. */
const IDENT_CHAR = /[A-Za-z0-9_@$.\-/\u00c0-\uffff]/;

/**
 * Parses a query (`filter [| command …]`). Throws QueryError with the 1-based column of the first
 * problem. The empty query (or `*`) matches every event.
 */
export function parseQuery(text: string): Query {
  if (typeof text !== 'string') throw new QueryError('UNEXPECTED_TOKEN', 'the query must be a string', { column: 0, expected: 'a query string' });
  if (text.length > MAX_QUERY_LENGTH) {
    throw new QueryError('QUERY_TOO_LONG', `the query is ${text.length} characters; at most ${MAX_QUERY_LENGTH} are accepted`, {
      column: MAX_QUERY_LENGTH + 1,
      hint: 'split it, or use a terms list field:(a OR b …) for long value lists',
    });
  }
  return new Parser(text).query();
}

/**
 * Parses only a filter (no `|` commands): what harvester processor conditions and `--filter` take.
 * Throws COMMAND_CONFLICT when the text has commands.
 */
export function parseFilter(text: string): Query {
  const q = parseQuery(text);
  const first = q.commands[0];
  if (first) {
    throw new QueryError('COMMAND_CONFLICT', `a filter takes no | ${first.type} command here`, {
      column: first.span.start + 1,
      endColumn: first.span.end + 1,
      expected: 'conditions only (field:value, AND, OR, NOT, …)',
      hint: 'aggregations belong to queries and alert rules, not to filters',
    });
  }
  return q;
}

class Parser {
  private pos = 0;
  private depth = 0;
  private clauses = 0;

  constructor(private readonly s: string) {}

  query(): Query {
    this.ws();
    let filter: FilterNode;
    if (this.pos >= this.s.length || this.peek() === Ch.Pipe) filter = { type: 'all', span: { start: this.pos, end: this.pos } };
    else filter = this.orExpr(undefined);
    this.ws();
    if (this.peek() === Ch.RParen) {
      throw this.err('UNBALANCED_PARENS', '")" closes nothing', this.pos, this.pos + 1, { expected: 'AND, OR, | or the end', hint: 'remove it, or add the ( it should close' });
    }
    const commands: Command[] = [];
    while (this.pos < this.s.length) {
      // orExpr stops only at the end, `)` (handled above) or `|`.
      this.pos++; // |
      commands.push(this.command());
      this.ws();
    }
    return { text: this.s, filter, commands };
  }

  // ------------------------------------------------------------------------------------------------
  // Filters

  private orExpr(bound: FieldName | undefined): FilterNode {
    const first = this.andExpr(bound);
    const children = [first];
    for (;;) {
      this.ws();
      if (this.keywordAt() !== 'or') break;
      const at = this.pos;
      this.pos += 2;
      this.ws();
      this.requireTermAfter('OR', at);
      children.push(this.andExpr(bound));
    }
    return children.length === 1 ? first : { type: 'or', children, span: spanOf(children) };
  }

  private andExpr(bound: FieldName | undefined): FilterNode {
    const first = this.notExpr(bound);
    const children = [first];
    for (;;) {
      this.ws();
      if (this.atExprEnd()) break;
      const kw = this.keywordAt();
      if (kw === 'or') break;
      if (kw === 'and') {
        const at = this.pos;
        this.pos += 3;
        this.ws();
        this.requireTermAfter('AND', at);
      }
      // Implicit AND between terms (Lucene with default_operator AND, Datadog, Splunk, LogQL).
      children.push(this.notExpr(bound));
    }
    return children.length === 1 ? first : { type: 'and', children, span: spanOf(children) };
  }

  private notExpr(bound: FieldName | undefined): FilterNode {
    this.ws();
    const start = this.pos;
    const kw = this.keywordAt();
    if (kw === 'not' || (!bound && this.peek() === Ch.Minus && this.termStartsAt(this.pos + 1))) {
      // `NOT x`, and Lucene's/Datadog's `-x` (only directly before a term: `- x` is the word "-").
      this.pos += kw === 'not' ? 3 : 1;
      this.ws();
      if (kw === 'not') this.requireTermAfter('NOT', start);
      this.enter(start);
      const child = this.notExpr(bound);
      this.depth--;
      return { type: 'not', child, span: { start, end: child.span.end } };
    }
    if (kw === 'and' || kw === 'or') {
      throw this.err('UNEXPECTED_TOKEN', `${kw.toUpperCase()} needs a term before it`, start, start + kw.length, {
        expected: 'a term, a field:value or (',
        hint: `to search the word itself, quote it: "${this.s.slice(start, start + kw.length)}"`,
      });
    }
    return this.primary(bound);
  }

  private primary(bound: FieldName | undefined): FilterNode {
    const start = this.pos;
    const c = this.peek();
    if (c === Ch.LParen) {
      this.enter(start);
      this.pos++;
      this.ws();
      if (this.peek() === Ch.RParen) throw this.err('UNEXPECTED_TOKEN', 'empty parentheses', start, this.pos + 1, { expected: 'a term inside ( )' });
      const inner = this.orExpr(bound);
      this.ws();
      if (this.peek() !== Ch.RParen) {
        throw this.err('UNBALANCED_PARENS', `the ( at column ${start + 1} is never closed`, this.pos, this.pos + 1, { expected: ')', hint: 'add the missing )' });
      }
      this.pos++;
      this.depth--;
      return inner;
    }
    if (c === Ch.Quote) {
      const value = this.quoted();
      return this.leaf({ type: 'match', ...(bound ? { field: bound } : {}), value, span: value.span });
    }
    if (bound) {
      const value = this.valueWord(false);
      if (value.text === '*' && value.wildcard && value.pattern === '*') return this.leaf({ type: 'exists', field: bound, span: value.span });
      return this.leaf({ type: 'match', field: bound, value, span: value.span });
    }
    const word = this.word();
    // `status >= 500`, `level : error` (KQL allows spaces around the operator).
    const wordEnd = this.pos;
    this.ws();
    if (!this.operatorHere()) this.pos = wordEnd;
    const after = this.peek();
    if (word.span.start === word.span.end) {
      // A word is empty only when it starts at an operator character.
      throw this.err('UNEXPECTED_TOKEN', `"${this.s[start]}" needs a field name before it`, start, start + 1, {
        expected: 'a field name, e.g. level:error or status>=500',
        hint: `to search the character itself, quote it: "${this.s[start]}"`,
      });
    }
    if (after === Ch.Colon) {
      const field = this.fieldName(word);
      this.pos++;
      return this.afterColon(field, start);
    }
    if (after === Ch.Lt || after === Ch.Gt) return this.comparison(this.fieldName(word), start);
    if (after === Ch.Eq) {
      const field = this.fieldName(word);
      this.pos++;
      const value = this.rhsValue(field, '=', start);
      return this.leaf({ type: 'match', field, value, span: { start, end: value.span.end } });
    }
    if (after === Ch.Bang) {
      // `field!=value` (the word stops at `!` only before `=`).
      const field = this.fieldName(word);
      this.pos += 2;
      const value = this.rhsValue(field, '!=', start);
      const m = this.leaf({ type: 'match', field, value, span: { start, end: value.span.end } });
      return { type: 'not', child: m, span: m.span };
    }
    if (word.text === '*' && word.pattern === '*') return { type: 'all', span: word.span };
    return this.leaf({ type: 'match', value: word, span: word.span });
  }

  private afterColon(field: FieldName, start: number): FilterNode {
    this.ws();
    const c = this.peek();
    if (this.atExprEnd()) throw this.valueExpected(field, ':', start);
    if (c === Ch.LParen) {
      // `service:(api OR web)`: a boolean expression of values, each bound to the field (KQL).
      const open = this.pos;
      this.enter(open);
      this.pos++;
      this.ws();
      if (this.peek() === Ch.RParen) throw this.err('UNEXPECTED_TOKEN', 'empty parentheses', open, this.pos + 1, { expected: `values for ${field.name}, e.g. ${field.name}:(a OR b)` });
      const inner = this.orExpr(field);
      this.ws();
      if (this.peek() !== Ch.RParen) throw this.err('UNBALANCED_PARENS', `the ( at column ${open + 1} is never closed`, this.pos, this.pos + 1, { expected: ')' });
      this.pos++;
      this.depth--;
      return inner;
    }
    if (c === Ch.LBracket || c === Ch.LBrace) return this.luceneRange(field, start);
    if (c === Ch.Lt || c === Ch.Gt) return this.comparison(field, start);
    if (c === Ch.Quote) {
      const value = this.quoted();
      return this.leaf({ type: 'match', field, value, span: { start, end: value.span.end } });
    }
    const value = this.valueWord(false);
    if (value.text === '*' && value.wildcard && value.pattern === '*') return this.leaf({ type: 'exists', field, span: { start, end: value.span.end } });
    return this.leaf({ type: 'match', field, value, span: { start, end: value.span.end } });
  }

  /** `field>=v`, `field:<v` (the position is at the operator). */
  private comparison(field: FieldName, start: number): FilterNode {
    const c = this.peek();
    const inclusive = this.s.charCodeAt(this.pos + 1) === Ch.Eq;
    const op = `${c === Ch.Lt ? '<' : '>'}${inclusive ? '=' : ''}`;
    this.pos += inclusive ? 2 : 1;
    const value = this.rhsValue(field, op, start);
    const bound: Bound = { value, inclusive };
    const span = { start, end: value.span.end };
    return this.leaf(c === Ch.Gt ? { type: 'range', field, lower: bound, span } : { type: 'range', field, upper: bound, span });
  }

  /** The value after `=`, `!=` or a comparison: a word or a quoted string. */
  private rhsValue(field: FieldName, op: string, start: number): Value {
    this.ws();
    if (this.atExprEnd()) throw this.valueExpected(field, op, start);
    const c = this.peek();
    if (c === Ch.Quote) return this.quoted();
    if (c === Ch.LParen) throw this.err('UNEXPECTED_TOKEN', `${field.name}${op} takes one value`, this.pos, this.pos + 1, { expected: 'a value', hint: `write ${field.name}:(a OR b) for several` });
    return this.valueWord(false);
  }

  /** Lucene's `[a TO b]` (inclusive), `{a TO b}` (exclusive), mixed, `*` for an open side. */
  private luceneRange(field: FieldName, start: number): FilterNode {
    const open = this.peek();
    this.pos++;
    this.ws();
    // A bound may be quoted (`x:["a b" TO "c"]`): printQuery writes one that way when it must.
    const bound = () => (this.peek() === Ch.Quote ? this.quoted() : this.valueWord(true));
    const lo = bound();
    this.ws();
    const toAt = this.pos;
    if (this.s.slice(toAt, toAt + 2).toUpperCase() !== 'TO' || !(isWs(this.s.charCodeAt(toAt + 2)) || toAt + 2 >= this.s.length)) {
      throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', 'a range needs TO between its ends', toAt, toAt + 1, {
        expected: 'TO',
        hint: `e.g. ${field.name}:[500 TO 599]`,
      });
    }
    this.pos += 2;
    this.ws();
    const hi = bound();
    this.ws();
    const close = this.peek();
    if (close !== Ch.RBracket && close !== Ch.RBrace) {
      throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNBALANCED_PARENS', `the range at column ${start + 1} is never closed`, this.pos, this.pos + 1, { expected: '] or }' });
    }
    this.pos++;
    const isOpen = (v: Value) => v.text === '*' && v.wildcard;
    const node: FilterNode = { type: 'range', field, span: { start, end: this.pos } };
    if (!isOpen(lo)) node.lower = { value: lo, inclusive: open === Ch.LBracket };
    if (!isOpen(hi)) node.upper = { value: hi, inclusive: close === Ch.RBracket };
    if (!node.lower && !node.upper) return this.leaf({ type: 'exists', field, span: node.span });
    return this.leaf(node);
  }

  private valueExpected(field: FieldName, op: string, start: number): QueryError {
    return this.err('VALUE_EXPECTED', `${field.name}${op} needs a value`, start, this.pos, {
      expected: 'a value',
      hint: op === ':' ? `${field.name}:* finds events that have the field; ${field.name}:"" finds an empty value` : `e.g. ${field.name}${op}500`,
    });
  }

  /** A free-text word or a field name, up to the next space or operator character. */
  private word(): Value {
    return this.scanWord(true, false);
  }

  /** A value after `field:`; `:`, `<`, `>`, `=` are part of it (times, URLs, IPv6). */
  private valueWord(inRange: boolean): Value {
    const v = this.scanWord(false, inRange);
    if (v.span.start === v.span.end) throw this.err('VALUE_EXPECTED', 'a value is missing here', this.pos, this.pos + 1, { expected: 'a value' });
    return v;
  }

  private scanWord(stopAtOperators: boolean, inRange: boolean): Value {
    const s = this.s;
    const start = this.pos;
    let text = '';
    let pattern = '';
    let wildcard = false;
    let i = start;
    while (i < s.length) {
      const c = s.charCodeAt(i);
      if (isWs(c) || c === Ch.LParen || c === Ch.RParen || c === Ch.Quote || c === Ch.Pipe) break;
      if (inRange && (c === Ch.RBracket || c === Ch.RBrace)) break;
      if (stopAtOperators && (c === Ch.Colon || c === Ch.Lt || c === Ch.Gt || c === Ch.Eq || (c === Ch.Bang && s.charCodeAt(i + 1) === Ch.Eq))) break;
      if (c === Ch.Backslash) {
        if (i + 1 >= s.length) throw this.err('BAD_ESCAPE', 'a backslash at the end escapes nothing', i, i + 1, { expected: 'a character after \\', hint: 'write \\\\ for a backslash' });
        const cp = s.codePointAt(i + 1) as number;
        const ch = String.fromCodePoint(cp);
        text += ch;
        pattern += ch === '*' || ch === '?' || ch === '\\' ? `\\${ch}` : ch;
        i += 1 + ch.length;
        continue;
      }
      if (c === Ch.Star || c === Ch.Question) wildcard = true;
      const ch = s[i] as string;
      text += ch;
      pattern += ch;
      i++;
    }
    this.pos = i;
    return { text, quoted: false, wildcard, pattern, span: { start, end: i } };
  }

  /** `"…"` with `\"` and `\\` (any `\x` is x). Never a wildcard. */
  private quoted(): Value {
    const s = this.s;
    const start = this.pos;
    let i = start + 1;
    let text = '';
    for (;;) {
      if (i >= s.length)
        throw this.err('UNTERMINATED_STRING', `the quote at column ${start + 1} is never closed`, start, s.length, { expected: '"', hint: 'add the closing "; write \\" for a quote inside' });
      const c = s.charCodeAt(i);
      if (c === Ch.Quote) break;
      if (c === Ch.Backslash) {
        if (i + 1 >= s.length) throw this.err('UNTERMINATED_STRING', `the quote at column ${start + 1} is never closed`, start, s.length, { expected: '"' });
        const ch = String.fromCodePoint(s.codePointAt(i + 1) as number);
        text += ch;
        i += 1 + ch.length;
        continue;
      }
      text += s[i];
      i++;
    }
    this.pos = i + 1;
    return { text, quoted: true, wildcard: false, pattern: escapeWildcard(text), span: { start, end: this.pos } };
  }

  private fieldName(word: Value): FieldName {
    const { text, span } = word;
    if (word.wildcard) {
      throw this.err('FIELD_NAME_INVALID', `a field name cannot hold wildcards: ${JSON.stringify(text)}`, span.start, span.end, {
        expected: 'a field name',
        hint: 'name one field; to search text with a wildcard, drop the field or quote the :',
      });
    }
    if (text.startsWith('.') || text.endsWith('.') || text.includes('..')) {
      throw this.err('FIELD_NAME_INVALID', `${JSON.stringify(text)} is not a field name`, span.start, span.end, { expected: 'names joined by single dots, e.g. host.name' });
    }
    return { name: text, span };
  }

  private leaf<T extends FilterNode>(n: T): T {
    if (++this.clauses > MAX_CLAUSES) {
      throw this.err('QUERY_TOO_COMPLEX', `more than ${MAX_CLAUSES} conditions`, n.span.start, n.span.end, { hint: 'the engine refuses larger boolean queries; narrow the query' });
    }
    return n;
  }

  private enter(at: number): void {
    if (++this.depth > MAX_DEPTH) throw this.err('QUERY_TOO_DEEP', `nested deeper than ${MAX_DEPTH} levels`, at, at + 1, { hint: 'remove redundant parentheses or NOTs' });
  }

  /** After AND/OR/NOT something must follow. */
  private requireTermAfter(op: string, at: number): void {
    if (this.pos >= this.s.length) {
      throw this.err('UNEXPECTED_END', `${op} needs a term after it`, at, at + op.length, { expected: 'a term, a field:value or (' });
    }
    const c = this.peek();
    const kw = this.keywordAt();
    if (c === Ch.RParen || c === Ch.Pipe || (kw && kw !== 'not')) {
      throw this.err('UNEXPECTED_TOKEN', `${op} needs a term after it`, this.pos, this.pos + (kw ? kw.length : 1), {
        expected: 'a term, a field:value or (',
        ...(kw ? { hint: `to search the word itself, quote it: "${this.s.slice(this.pos, this.pos + kw.length)}"` } : {}),
      });
    }
  }

  /** `and`, `or`, `not` in any case, as a whole word (KQL accepts lower case; Lucene only upper). */
  private keywordAt(): 'and' | 'or' | 'not' | undefined {
    const s = this.s;
    const i = this.pos;
    for (const kw of ['and', 'or', 'not'] as const) {
      const n = kw.length;
      if (i + n <= s.length && s.slice(i, i + n).toLowerCase() === kw && this.delimiterAt(i + n)) return kw;
    }
    return undefined;
  }

  private delimiterAt(j: number): boolean {
    if (j >= this.s.length) return true;
    const c = this.s.charCodeAt(j);
    return isWs(c) || c === Ch.LParen || c === Ch.RParen || c === Ch.Quote || c === Ch.Pipe;
  }

  /** A term (not a space, operator or the end) starts at `j`: `-x` is NOT x only then. */
  private termStartsAt(j: number): boolean {
    if (j >= this.s.length) return false;
    const c = this.s.charCodeAt(j);
    return !(isWs(c) || c === Ch.RParen || c === Ch.Pipe || c === Ch.Minus);
  }

  /** `:`, `<`, `>`, `=` or `!=` at the position: what makes the word before it a field name. */
  private operatorHere(): boolean {
    const c = this.peek();
    return c === Ch.Colon || c === Ch.Lt || c === Ch.Gt || c === Ch.Eq || (c === Ch.Bang && this.s.charCodeAt(this.pos + 1) === Ch.Eq);
  }

  private atExprEnd(): boolean {
    const c = this.peek();
    return this.pos >= this.s.length || c === Ch.RParen || c === Ch.Pipe;
  }

  // ------------------------------------------------------------------------------------------------
  // Commands after |

  private command(): Command {
    this.ws();
    const start = this.pos;
    const name = this.ident();
    if (!name) {
      throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', 'a command must follow |', start, start + 1, {
        expected: COMMANDS.join(', '),
        hint: 'e.g. | stats count() by service',
      });
    }
    const lower = name.toLowerCase();
    let cmd: Command;
    switch (lower) {
      case 'stats':
        cmd = this.stats(start);
        break;
      case 'top': {
        const n = this.integer('top', 1, MAX_LIMIT_WORD);
        const fields = this.fieldList('top');
        cmd = { type: 'top', n, fields, span: { start, end: this.pos } };
        break;
      }
      case 'sort':
        cmd = this.sort(start);
        break;
      case 'limit': {
        const n = this.integer('limit', 1, MAX_LIMIT_WORD);
        cmd = { type: 'limit', n, span: { start, end: this.pos } };
        break;
      }
      case 'fields': {
        const fields = this.fieldList('fields');
        cmd = { type: 'fields', fields, span: { start, end: this.pos } };
        break;
      }
      default: {
        const hint = COMMAND_HINTS[lower];
        const close = suggest(lower, COMMANDS);
        throw this.err('UNKNOWN_COMMAND', `unknown command "${name}"${close ? ` — did you mean "${close}"?` : ''}`, start, start + name.length, {
          expected: COMMANDS.join(', '),
          ...(hint ? { hint } : close ? { hint: `| ${close} …` } : {}),
        });
      }
    }
    this.ws();
    if (this.pos < this.s.length && this.peek() !== Ch.Pipe) {
      throw this.err('UNEXPECTED_TOKEN', `unexpected ${this.describeHere()} after the ${cmd.type} command`, this.pos, this.pos + 1, {
        expected: cmd.type === 'stats' ? ', (another aggregation), by, | or the end' : ', | or the end',
      });
    }
    return cmd;
  }

  private stats(start: number): Command {
    const metrics: MetricCall[] = [this.metric()];
    const by: GroupBy[] = [];
    for (;;) {
      this.ws();
      if (this.peek() === Ch.Comma) {
        this.pos++;
        metrics.push(this.metric());
        continue;
      }
      break;
    }
    this.ws();
    if (this.identAhead('by')) {
      this.pos += 2;
      by.push(this.group());
      for (;;) {
        this.ws();
        if (this.peek() !== Ch.Comma) break;
        this.pos++;
        by.push(this.group());
      }
    }
    return { type: 'stats', metrics, by, span: { start, end: this.pos } };
  }

  private metric(): MetricCall {
    this.ws();
    const start = this.pos;
    const name = this.ident();
    if (!name) {
      throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', 'an aggregation is missing here', start, start + 1, {
        expected: 'count(), avg(field), min, max, sum, distinct, percentiles or p95(field)',
      });
    }
    const lower = name.toLowerCase();
    let fn = FUNCTIONS[lower];
    let percents: number[] | undefined;
    const short = PERCENTILE_SHORT.exec(lower);
    if (short) {
      fn = 'percentiles';
      percents = [Number(short[1])];
    }
    if (!fn) {
      const close = suggest(lower, [...Object.keys(FUNCTIONS), 'p95']);
      throw this.err('UNKNOWN_FUNCTION', `unknown aggregation "${name}"${close ? ` — did you mean "${close}"?` : ''}`, start, start + name.length, {
        expected: 'count, avg, min, max, sum, distinct, percentiles or pNN (p50, p95, p99.9)',
        ...(FUNCTION_HINTS[lower] ? { hint: FUNCTION_HINTS[lower] } : {}),
      });
    }
    this.ws();
    let field: FieldName | undefined;
    const args: Array<{ n: number; span: Span }> = [];
    if (this.peek() === Ch.LParen) {
      this.pos++;
      this.ws();
      if (this.peek() !== Ch.RParen) {
        field = this.fieldIdent(`${lower}(…)`);
        for (;;) {
          this.ws();
          if (this.peek() !== Ch.Comma) break;
          this.pos++;
          this.ws();
          const at = this.pos;
          const tok = this.ident();
          const n = Number(tok);
          if (!tok || !Number.isFinite(n)) {
            throw this.err('ARGUMENT_INVALID', `${lower}: ${tok ? `"${tok}" is not a number` : 'a number is missing'}`, at, at + Math.max(1, tok.length), {
              expected: 'a percentile between 0 and 100',
            });
          }
          args.push({ n, span: { start: at, end: this.pos } });
        }
      }
      this.ws();
      if (this.peek() !== Ch.RParen) {
        throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', `${lower}( is never closed`, this.pos, this.pos + 1, { expected: ')' });
      }
      this.pos++;
    }
    const fnEnd = this.pos;
    if (args.length) {
      if (fn !== 'percentiles' || percents) {
        const a = args[0] as { span: Span };
        throw this.err('ARGUMENT_INVALID', `${lower} takes one field`, a.span.start, a.span.end, {
          expected: ')',
          ...(fn !== 'percentiles' ? {} : { hint: `write percentiles(field, ${args.map((x) => x.n).join(', ')})` }),
        });
      }
      percents = [];
      for (const a of args) {
        if (a.n < 0 || a.n > 100) throw this.err('ARGUMENT_INVALID', `percentile ${a.n} is outside 0-100`, a.span.start, a.span.end, { expected: 'a percentile between 0 and 100' });
        if (!percents.includes(a.n)) percents.push(a.n);
      }
    }
    if (fn === 'percentiles' && !percents) percents = [...DEFAULT_PERCENTS];
    if (fn !== 'count' && !field) {
      throw this.err('ARGUMENT_INVALID', `${lower} needs a field`, start, fnEnd, { expected: `${lower}(field)`, hint: `e.g. ${lower}(http.response.status_code)` });
    }
    this.ws();
    let alias: string | undefined;
    if (this.identAhead('as')) {
      this.pos += 2;
      this.ws();
      const at = this.pos;
      alias = this.ident();
      if (!alias) throw this.err('ARGUMENT_INVALID', 'as needs a name', at, at + 1, { expected: 'a column name, e.g. as errors' });
      if (fn === 'percentiles' && (percents as number[]).length > 1) {
        throw this.err('ARGUMENT_INVALID', 'percentiles with several values has one column each; it takes no single name', at, this.pos, {
          hint: 'name them one by one: p50(f) as median, p99(f) as slow',
        });
      }
    }
    const m: MetricCall = { fn, span: { start, end: this.pos } };
    if (field) m.field = field;
    if (percents) m.percents = percents;
    if (alias !== undefined) m.alias = alias;
    return m;
  }

  private group(): GroupBy {
    this.ws();
    const start = this.pos;
    if (this.identAhead('interval')) {
      const save = this.pos;
      this.pos += 'interval'.length;
      this.ws();
      if (this.peek() === Ch.LParen) {
        this.pos++;
        this.ws();
        const at = this.pos;
        const text = this.ident();
        this.ws();
        if (this.peek() !== Ch.RParen) throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', 'interval( is never closed', this.pos, this.pos + 1, { expected: ')' });
        this.pos++;
        const ms = parseDuration(text);
        if (ms === undefined) {
          throw this.err('DURATION_INVALID', `interval: ${JSON.stringify(text)} is not a duration`, at, at + Math.max(1, text.length), {
            expected: 'a whole number and a unit: s, m, h, d or w (e.g. 5m)',
            ...(/^\d+M$/.test(text) ? { hint: 'm is minutes; months are not a fixed interval' } : {}),
          });
        }
        const interval: Duration = { text, ms, span: { start: at, end: at + text.length } };
        return { type: 'interval', interval, span: { start, end: this.pos } };
      }
      this.pos = save; // a field named "interval"
    }
    const field = this.fieldIdent('by');
    return { type: 'field', field, span: field.span };
  }

  private sort(start: number): Command {
    const keys: SortKey[] = [];
    do {
      if (keys.length) this.pos++; // ,
      this.ws();
      const at = this.pos;
      let desc = false;
      if (this.peek() === Ch.Minus || this.peek() === Ch.Plus) {
        desc = this.peek() === Ch.Minus;
        this.pos++;
      }
      const nameAt = this.pos;
      let name = this.ident();
      if (!name)
        throw this.err(this.pos >= this.s.length ? 'UNEXPECTED_END' : 'UNEXPECTED_TOKEN', 'sort needs a column or field', nameAt, nameAt + 1, {
          expected: 'a column (count, avg(x), an alias) or a field; -name sorts descending',
        });
      if (this.peek() === Ch.LParen) {
        // `sort -avg(x)`: a metric column by its canonical name.
        const close = this.s.indexOf(')', this.pos);
        if (close < 0) throw this.err('UNEXPECTED_END', `${name}( is never closed`, this.pos, this.pos + 1, { expected: ')' });
        const inner = this.s.slice(this.pos + 1, close).replace(/\s+/g, '');
        name = canonicalMetricName(name.toLowerCase(), inner);
        this.pos = close + 1;
      }
      this.ws();
      if (this.identAhead('desc')) {
        desc = true;
        this.pos += 4;
      } else if (this.identAhead('asc')) {
        desc = false;
        this.pos += 3;
      }
      keys.push({ name, desc, span: { start: at, end: this.pos } });
      this.ws();
    } while (this.peek() === Ch.Comma);
    return { type: 'sort', keys, span: { start, end: this.pos } };
  }

  private fieldList(cmd: string): FieldName[] {
    const out: FieldName[] = [this.fieldIdent(cmd)];
    for (;;) {
      this.ws();
      if (this.peek() !== Ch.Comma) return out;
      this.pos++;
      out.push(this.fieldIdent(cmd));
    }
  }

  private fieldIdent(cmd: string): FieldName {
    this.ws();
    const start = this.pos;
    const name = this.ident();
    if (!name || /^[\d.]/.test(name)) {
      throw this.err(
        this.pos >= this.s.length && !name ? 'UNEXPECTED_END' : 'FIELD_NAME_INVALID',
        `${cmd} needs a field name${name ? `, not "${name}"` : ''}`,
        start,
        start + Math.max(1, name.length),
        {
          expected: 'a field name, e.g. service or host.name',
        },
      );
    }
    if (name.endsWith('.') || name.includes('..'))
      throw this.err('FIELD_NAME_INVALID', `${JSON.stringify(name)} is not a field name`, start, this.pos, { expected: 'names joined by single dots, e.g. host.name' });
    return { name, span: { start, end: this.pos } };
  }

  private integer(cmd: string, min: number, max: number): number {
    this.ws();
    const at = this.pos;
    const tok = this.ident();
    if (!/^\d{1,9}$/.test(tok) || Number(tok) < min || Number(tok) > max) {
      throw this.err(
        tok ? 'ARGUMENT_INVALID' : this.pos >= this.s.length ? 'UNEXPECTED_END' : 'ARGUMENT_INVALID',
        `${cmd} needs a whole number from ${min} to ${max}${tok ? `, not "${tok}"` : ''}`,
        at,
        at + Math.max(1, tok.length),
        {
          expected: `a number from ${min} to ${max}`,
        },
      );
    }
    return Number(tok);
  }

  private ident(): string {
    const start = this.pos;
    while (this.pos < this.s.length && IDENT_CHAR.test(this.s[this.pos] as string)) this.pos++;
    return this.s.slice(start, this.pos);
  }

  /** The word `w` (any case) stands here as a whole word. */
  private identAhead(w: string): boolean {
    const end = this.pos + w.length;
    return this.s.slice(this.pos, end).toLowerCase() === w && (end >= this.s.length || !IDENT_CHAR.test(this.s[end] as string));
  }

  private describeHere(): string {
    const tok = /^\S+/.exec(this.s.slice(this.pos))?.[0] ?? '';
    return JSON.stringify(tok.length > 20 ? `${tok.slice(0, 20)}…` : tok);
  }

  // ------------------------------------------------------------------------------------------------

  private ws(): void {
    while (this.pos < this.s.length && isWs(this.s.charCodeAt(this.pos))) this.pos++;
  }

  private peek(): number {
    return this.s.charCodeAt(this.pos);
  }

  private err(code: QueryErrorCode, message: string, start: number, end: number, extra: { expected?: string; hint?: string } = {}): QueryError {
    return new QueryError(code, message, { column: start + 1, endColumn: Math.max(end, start + 1) + 1, ...extra });
  }
}

/** The largest `limit` / `top` the parser accepts; the planner applies the tighter per-kind caps. */
const MAX_LIMIT_WORD = 1_000_000;

function spanOf(nodes: FilterNode[]): Span {
  return { start: (nodes[0] as FilterNode).span.start, end: (nodes[nodes.length - 1] as FilterNode).span.end };
}

/** A literal value in the engine's wildcard syntax: `*`, `?` and `\` escaped. */
export function escapeWildcard(text: string): string {
  return text.replace(/[*?\\]/g, (c) => `\\${c}`);
}

/**
 * The column name of a metric: `count`, `count(f)`, `avg(f)`, `distinct(f)`, `p95(f)`. One name per
 * metric, so `sort -avg(x)` and the answer's columns agree.
 */
export function canonicalMetricName(fn: string, field: string, percent?: number): string {
  const lower = fn.toLowerCase();
  if ((lower === 'count' || lower === 'count()') && !field) return 'count';
  if (lower === 'percentiles' && percent !== undefined) return `p${percent}(${field})`;
  return `${lower}(${field})`;
}
