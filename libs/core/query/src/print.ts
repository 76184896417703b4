import type { Command, FilterNode, GroupBy, MetricCall, Query, Value } from './ast';

/**
 * The canonical text of a query: operators in upper case, explicit AND, parentheses where OR sits
 * inside AND, values escaped so that `parseQuery(printQuery(q))` means the same as `q`. For logs, for
 * echoing what was understood (`backlog query` prints it with --verbose), and for tests.
 */
export function printQuery(q: Query): string {
  const filter = printFilter(q.filter);
  const cmds = q.commands.map(printCommand);
  if (!cmds.length) return filter;
  return [q.filter.type === 'all' && q.filter.span.start === q.filter.span.end ? '' : filter, ...cmds].join(' | ').trim();
}

export function printFilter(n: FilterNode): string {
  switch (n.type) {
    case 'all':
      return '*';
    case 'and':
      return n.children.map((c) => (c.type === 'or' ? `(${printFilter(c)})` : printFilter(c))).join(' AND ');
    case 'or':
      return n.children.map((c) => (c.type === 'and' ? `(${printFilter(c)})` : printFilter(c))).join(' OR ');
    case 'not':
      return `NOT ${n.child.type === 'and' || n.child.type === 'or' ? `(${printFilter(n.child)})` : printFilter(n.child)}`;
    case 'exists':
      return `${printName(n.field.name)}:*`;
    case 'match':
      return n.field ? `${printName(n.field.name)}:${printValue(n.value, false)}` : printValue(n.value, true);
    case 'range': {
      const f = printName(n.field.name);
      const { lower, upper } = n;
      if (lower && upper) return `${f}:${lower.inclusive ? '[' : '{'}${printValue(lower.value, false, true)} TO ${printValue(upper.value, false, true)}${upper.inclusive ? ']' : '}'}`;
      if (lower) return `${f}${lower.inclusive ? '>=' : '>'}${printValue(lower.value, false)}`;
      if (upper) return `${f}${upper.inclusive ? '<=' : '<'}${printValue(upper.value, false)}`;
      return `${f}:*`;
    }
  }
}

const KEYWORDS = new Set(['and', 'or', 'not']);

function printValue(v: Value, freeText: boolean, inRange = false): string {
  if (v.quoted || (!v.wildcard && (v.text === '' || (freeText && KEYWORDS.has(v.text.toLowerCase())) || (inRange && v.text.toUpperCase() === 'TO')))) {
    return `"${v.text.replace(/["\\]/g, (c) => `\\${c}`)}"`;
  }
  // `pattern` already escapes literal * ? \; escape what would end the word or start an operator.
  let out = v.pattern.replace(/[\s()"|]/g, (c) => `\\${c}`);
  if (freeText)
    out = out
      .replace(/[:<>=]/g, (c) => `\\${c}`)
      .replace(/^-/, '\\-')
      .replace(/!(?==)/g, '\\!');
  if (inRange) out = out.replace(/[\]}]/g, (c) => `\\${c}`);
  return out;
}

function printName(name: string): string {
  return name.replace(/[\s()"|:<>=*?\\]/g, (c) => `\\${c}`);
}

function printMetric(m: MetricCall): string {
  const f = m.field?.name ?? '';
  let call: string;
  if (m.fn === 'percentiles') call = m.percents && m.percents.length === 1 ? `p${m.percents[0]}(${f})` : `percentiles(${[f, ...(m.percents ?? [])].join(', ')})`;
  else call = `${m.fn}(${f})`;
  return m.alias !== undefined ? `${call} as ${m.alias}` : call;
}

function printGroup(g: GroupBy): string {
  return g.type === 'interval' ? `interval(${g.interval.text})` : g.field.name;
}

function printCommand(c: Command): string {
  switch (c.type) {
    case 'stats':
      return `stats ${c.metrics.map(printMetric).join(', ')}${c.by.length ? ` by ${c.by.map(printGroup).join(', ')}` : ''}`;
    case 'top':
      return `top ${c.n} ${c.fields.map((f) => f.name).join(', ')}`;
    case 'sort':
      return `sort ${c.keys.map((k) => `${k.desc ? '-' : ''}${k.name}`).join(', ')}`;
    case 'limit':
      return `limit ${c.n}`;
    case 'fields':
      return `fields ${c.fields.map((f) => f.name).join(', ')}`;
  }
}
