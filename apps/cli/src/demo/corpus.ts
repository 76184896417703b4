import { readFileSync, readdirSync, statSync } from 'node:fs';
import { basename, join } from 'node:path';
import { type DemoRecord, FACILITY, type RecordSource, SEVERITY } from './generator';

/**
 * `backlog demo --corpus DIR`: replays log samples the user points at, at run time, with current
 * timestamps. Made for the loghub layout (one folder per system holding `<System>_2k.log_structured.csv`
 * with a `Content` column and, depending on the system, `Level`, `Component`, `Pid`, `Node`), so the
 * original header fields become syslog/JSON fields and the original (old) timestamp is dropped. A
 * folder without structured CSVs is read as plain `*.log` files, one message per line.
 *
 * Nothing read here is stored in the repository: the loghub samples are research-licensed.
 */

/** RFC 4180 CSV: quoted fields, doubled quotes, CRLF or LF; returns rows of fields. */
export function parseCsv(text: string): string[][] {
  const rows: string[][] = [];
  let row: string[] = [];
  let field = '';
  let quoted = false;
  for (let i = 0; i < text.length; i++) {
    const c = text[i];
    if (quoted) {
      if (c === '"') {
        if (text[i + 1] === '"') {
          field += '"';
          i++;
        } else quoted = false;
      } else field += c;
    } else if (c === '"' && field === '') quoted = true;
    else if (c === ',') {
      row.push(field);
      field = '';
    } else if (c === '\n' || c === '\r') {
      if (c === '\r' && text[i + 1] === '\n') i++;
      row.push(field);
      rows.push(row);
      row = [];
      field = '';
    } else field += c;
  }
  if (field !== '' || row.length) {
    row.push(field);
    rows.push(row);
  }
  return rows;
}

/** A level word or letter as written by common loggers → syslog severity; undefined when it is not one. */
export function severityOf(level: string | undefined): number | undefined {
  if (!level) return undefined;
  const l = level.trim().toLowerCase();
  const map: Record<string, number> = {
    emerg: 0,
    emergency: 0,
    panic: 0,
    alert: 1,
    crit: 2,
    critical: 2,
    fatal: 2,
    f: 2,
    severe: 2,
    err: 3,
    error: 3,
    e: 3,
    failure: 3,
    warn: 4,
    warning: 4,
    w: 4,
    notice: 5,
    n: 5,
    info: 6,
    information: 6,
    informational: 6,
    i: 6,
    debug: 7,
    d: 7,
    trace: 7,
    v: 7,
    verbose: 7,
    fine: 7,
  };
  return map[l];
}

/** A syslog APP-NAME (RFC 5424: 1-48 printable US-ASCII, no spaces) made from a component name. */
export function appName(s: string | undefined, fallback: string): string {
  const clean = (s ?? '')
    .replace(/[^\x21-\x7e]/g, '')
    .replace(/[[\]:]/g, '_')
    .slice(0, 48);
  return clean || fallback;
}

interface CorpusLine {
  dataset: string;
  message: string;
  app: string;
  host: string;
  pid?: number;
  severity: number;
}

const HOSTLIKE = /^[A-Za-z0-9][A-Za-z0-9._-]{0,62}$/;

function fromStructured(dataset: string, text: string): CorpusLine[] {
  const rows = parseCsv(text);
  const head = rows[0] ?? [];
  const col = (name: string) => head.findIndex((h) => h.toLowerCase() === name.toLowerCase());
  const content = col('Content');
  if (content < 0) return [];
  const component = [col('Component'), col('Program')].find((i) => i >= 0) ?? -1;
  const pidCol = col('Pid');
  const levelCol = col('Level');
  const nodeCol = col('Node');
  const fallbackHost = `${dataset.toLowerCase().replace(/[^a-z0-9-]/g, '')}-01`;
  const out: CorpusLine[] = [];
  for (const r of rows.slice(1)) {
    const message = r[content];
    if (message === undefined || message === '') continue;
    const pid = pidCol >= 0 ? Number(r[pidCol]) : Number.NaN;
    const node = nodeCol >= 0 ? r[nodeCol] : undefined;
    out.push({
      dataset,
      message,
      app: appName(component >= 0 ? r[component] : undefined, dataset.toLowerCase()),
      host: node && HOSTLIKE.test(node) ? node : fallbackHost,
      ...(Number.isInteger(pid) && pid >= 0 ? { pid } : {}),
      severity: severityOf(levelCol >= 0 ? r[levelCol] : undefined) ?? SEVERITY.info,
    });
  }
  return out;
}

function fromPlain(dataset: string, text: string): CorpusLine[] {
  const host = `${dataset.toLowerCase().replace(/[^a-z0-9-]/g, '')}-01`;
  return text
    .split(/\r?\n/)
    .filter((l) => l.trim() !== '')
    .map((message) => ({ dataset, message, app: appName(dataset, 'demo'), host, severity: SEVERITY.info }));
}

/** Files under `dir` (itself and one level of sub-folders) matching `test`. */
function filesIn(dir: string, test: (name: string) => boolean): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir).sort()) {
    const p = join(dir, e);
    const st = statSync(p);
    if (st.isFile() && test(e)) out.push(p);
    else if (st.isDirectory()) for (const f of readdirSync(p).sort()) if (test(f) && statSync(join(p, f)).isFile()) out.push(join(p, f));
  }
  return out;
}

/** Replays the corpus's lines in file order, one dataset after another in turn, looping at the end. */
export class CorpusSource implements RecordSource {
  readonly description: string;
  readonly datasets: string[];
  private readonly lines: CorpusLine[][];
  private readonly pos: number[];
  private turn = 0;

  constructor(dir: string) {
    let st;
    try {
      st = statSync(dir);
    } catch {
      throw new Error(`--corpus ${dir}: no such directory`);
    }
    if (!st.isDirectory()) throw new Error(`--corpus ${dir}: not a directory`);
    const structured = filesIn(dir, (n) => n.endsWith('_structured.csv'));
    const sets = structured.length
      ? structured.map((f) => ({
          name: basename(f).replace(/(_2k)?\.log_structured\.csv$/, ''),
          lines: fromStructured(basename(f).replace(/(_2k)?\.log_structured\.csv$/, ''), readFileSync(f, 'utf8')),
        }))
      : filesIn(dir, (n) => n.endsWith('.log')).map((f) => ({ name: basename(f, '.log').replace(/_2k$/, ''), lines: fromPlain(basename(f, '.log').replace(/_2k$/, ''), readFileSync(f, 'utf8')) }));
    const usable = sets.filter((s) => s.lines.length > 0);
    if (!usable.length) throw new Error(`--corpus ${dir}: no *_structured.csv with a Content column and no *.log lines found`);
    this.datasets = usable.map((s) => s.name);
    this.lines = usable.map((s) => s.lines);
    this.pos = usable.map(() => 0);
    const total = this.lines.reduce((n, l) => n + l.length, 0);
    this.description = `corpus ${dir} (${this.datasets.length} data sets, ${total} lines, replayed in order with current timestamps)`;
  }

  next(_kind: 'text' | 'json', now = new Date()): DemoRecord {
    const i = this.turn++ % this.lines.length;
    const set = this.lines[i] as CorpusLine[];
    const line = set[(this.pos[i] as number) % set.length] as CorpusLine;
    this.pos[i] = (this.pos[i] as number) + 1;
    return {
      at: now,
      host: line.host,
      app: line.app,
      ...(line.pid !== undefined ? { pid: line.pid } : {}),
      severity: line.severity,
      facility: FACILITY.user,
      message: line.message,
      fields: { dataset: line.dataset },
      template: `corpus.${line.dataset}`,
    };
  }
}
