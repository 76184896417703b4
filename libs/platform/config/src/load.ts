import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { parseDocument } from 'yaml';
import type { z } from 'zod';
import { SHARED_KEYS } from './connections';
import { ConfigError, type ConfigProblem } from './errors';
import { deepFreeze, type DeepReadonly } from './freeze';
import { appEnvPrefix, configKeys, parseEnvValue } from './keys';

/** The apps DESIGN.md names, plus the CLI: the sections a shared config file may have under `apps:`. */
export const BACKLOG_APPS = ['harvester', 'nacl-gateway', 'es-consumer', 'compressor', 'indexer', 'live-receiver', 'query', 'cli'] as const;

export interface LoadConfigOptions<S extends z.ZodType> {
  /** The app's name (`harvester`, `es-consumer`, …): picks `BACKLOG_<APP>_*` and the file's `apps.<app>` section. */
  app: string;
  /** The app's schema, `.strict()` at every level (see `appConfigSchema`). */
  schema: S;
  /**
   * The config file (YAML or JSON), e.g. from `--config`. When absent: `$BACKLOG_<APP>_CONFIG`,
   * else `$BACKLOG_CONFIG`, else no file (defaults and environment only).
   */
  file?: string;
  /** The environment to read. Default `process.env`. */
  env?: Record<string, string | undefined>;
  /** Values below the file, above the schema's own defaults (e.g. computed at start). */
  defaults?: Record<string, unknown>;
  /** Names allowed under the file's `apps:` key. Default `BACKLOG_APPS`. */
  knownApps?: readonly string[];
}

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === 'object' && v !== null && !Array.isArray(v) && Object.getPrototypeOf(v) === Object.prototype;

/** Objects merge key by key; anything else (arrays included) is replaced by the upper layer. */
export function deepMerge(lower: unknown, upper: unknown): unknown {
  if (upper === undefined) return lower;
  if (!isPlain(lower) || !isPlain(upper)) return upper;
  const out: Plain = { ...lower };
  for (const [k, v] of Object.entries(upper)) out[k] = deepMerge(lower[k], v);
  return out;
}

function setPath(target: Plain, path: readonly string[], value: unknown): void {
  let node = target;
  for (const seg of path.slice(0, -1)) {
    const next = node[seg];
    if (!isPlain(next)) node[seg] = {};
    node = node[seg] as Plain;
  }
  node[path[path.length - 1] as string] = value;
}

/** Records which layer set each leaf, so a problem can say "[env BACKLOG_X]" or "[file /etc/x.yaml]". */
class Provenance {
  private readonly sources = new Map<string, string>();
  mark(path: readonly (string | number)[], source: string): void {
    this.sources.set(path.join('.'), source);
  }
  markTree(value: unknown, path: (string | number)[], source: string): void {
    if (isPlain(value) && Object.keys(value).length) {
      for (const [k, v] of Object.entries(value)) this.markTree(v, [...path, k], source);
    } else this.mark(path, source);
  }
  /** The source of the longest recorded path that is a prefix of `path` (or the path itself). */
  of(path: readonly (string | number)[]): string | undefined {
    for (let n = path.length; n >= 0; n--) {
      const hit = this.sources.get(path.slice(0, n).join('.'));
      if (hit) return hit;
    }
    return undefined;
  }
  /** For "unknown key" problems: the key's own source. */
  exact(path: readonly (string | number)[]): string | undefined {
    return this.sources.get(path.join('.')) ?? this.of(path);
  }
}

function levenshtein(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, i) => i);
  for (let i = 1; i <= a.length; i++) {
    let prev = row[0] as number;
    row[0] = i;
    for (let j = 1; j <= b.length; j++) {
      const tmp = row[j] as number;
      row[j] = Math.min((row[j] as number) + 1, (row[j - 1] as number) + 1, prev + (a[i - 1] === b[j - 1] ? 0 : 1));
      prev = tmp;
    }
  }
  return row[b.length] as number;
}

/** Reads and parses the config file; problems (unreadable, YAML syntax, not a mapping) are collected, not thrown. */
function readFile(app: string, file: string, knownApps: readonly string[], problems: ConfigProblem[]): Plain | undefined {
  const source = `file ${file}`;
  let text: string;
  try {
    text = readFileSync(file, 'utf8');
  } catch (err) {
    problems.push({ path: '', message: `cannot read the config file: ${(err as NodeJS.ErrnoException).code ?? (err as Error).message}`, source });
    return undefined;
  }
  // YAML 1.2 core schema: JSON is a subset, `yes`/`no` stay strings, duplicate keys are errors.
  const doc = parseDocument(text, { prettyErrors: true, uniqueKeys: true });
  if (doc.errors.length) {
    for (const e of doc.errors) problems.push({ path: '', message: `YAML: ${e.message.split('\n')[0]}${e.linePos ? ` (line ${e.linePos[0].line}, column ${e.linePos[0].col})` : ''}`, source });
    return undefined;
  }
  const data: unknown = doc.toJS();
  if (data === null || data === undefined) return {};
  if (!isPlain(data)) {
    problems.push({ path: '', message: 'the config file must be a mapping (key: value) at the top', source });
    return undefined;
  }
  // One file may configure a whole deployment: shared keys at the top, each app's own keys under
  // `apps.<name>`. This app takes the top plus its section; the other sections are its siblings'.
  const { apps, ...top } = data;
  if (apps === undefined) return top;
  if (!isPlain(apps)) {
    problems.push({ path: 'apps', message: "expected a mapping of app name → that app's settings", source });
    return top;
  }
  for (const [name, section] of Object.entries(apps)) {
    if (!knownApps.includes(name)) problems.push({ path: `apps.${name}`, message: `unknown app (known: ${knownApps.join(', ')})`, source });
    else if (section !== null && !isPlain(section)) problems.push({ path: `apps.${name}`, message: 'expected a mapping', source });
  }
  const mine = apps[app];
  return isPlain(mine) ? (deepMerge(top, mine) as Plain) : top;
}

/**
 * Loads an app's config: schema defaults < `defaults` < file < shared env `BACKLOG_<PATH>` (connection
 * settings only) < app env `BACKLOG_<APP>_<PATH>`; validates it with the app's schema; returns it
 * deep-frozen. On any problem throws one `ConfigError('CONFIG_INVALID')` listing every problem found
 * in every layer, so a user fixes them all in one round. Never exits the process: `main.ts` does.
 */
export function loadConfig<S extends z.ZodType>(opts: LoadConfigOptions<S>): DeepReadonly<z.output<S>> {
  const env = opts.env ?? process.env;
  const prefix = appEnvPrefix(opts.app);
  const { keys, clashes } = configKeys(opts.app, opts.schema, SHARED_KEYS);
  if (clashes.length)
    throw new ConfigError(
      'CONFIG_SCHEMA',
      opts.app,
      clashes.map((m) => ({ path: '', message: m })),
    );

  const problems: ConfigProblem[] = [];
  const prov = new Provenance();
  const set = (v: string | undefined) => (v === undefined || v === '' ? undefined : v);

  let merged: unknown = {};
  if (opts.defaults) {
    merged = deepMerge(merged, opts.defaults);
    prov.markTree(opts.defaults, [], 'defaults');
  }

  const fileName = set(opts.file) ?? set(env[`${prefix}CONFIG`]) ?? set(env.BACKLOG_CONFIG);
  let fileOk = true;
  if (fileName) {
    const path = resolve(fileName);
    const before = problems.length;
    const data = readFile(opts.app, path, opts.knownApps ?? BACKLOG_APPS, problems);
    // A broken file cannot be validated meaningfully (every key would look "missing"): report the
    // file's problems and the environment's, skip the schema.
    fileOk = data !== undefined && problems.length === before;
    if (data) {
      merged = deepMerge(merged, data);
      prov.markTree(data, [], `file ${path}`);
    }
  }

  // Environment: an empty variable counts as unset (compose files and shells produce them freely).
  const envLayer: Plain = {};
  const applyEnv = (name: string, key: (typeof keys)[number]) => {
    const raw = set(env[name]);
    if (raw === undefined) return;
    const value = parseEnvValue(raw, key.value);
    if (value instanceof Error) {
      problems.push({ path: key.path.join('.'), message: value.message, source: `env ${name}` });
      return;
    }
    setPath(envLayer, key.path, value);
    prov.mark(key.path, `env ${name}`);
  };
  for (const key of keys) if (key.sharedEnv) applyEnv(key.sharedEnv, key);
  for (const key of keys) applyEnv(key.env, key);

  // Under the app's own prefix every variable must mean something: a typo is an error, not a
  // silently ignored setting. (The shared BACKLOG_ prefix is also used by the stack and the CLI,
  // so unknown shared names are not ours to judge.)
  const known = new Set(keys.map((k) => k.env));
  known.add(`${prefix}CONFIG`);
  for (const name of Object.keys(env).sort()) {
    if (!name.startsWith(prefix) || known.has(name) || set(env[name]) === undefined) continue;
    const near = keys.map((k) => k.env).filter((k) => levenshtein(k, name) <= 3);
    problems.push({ path: name.slice(prefix.length).toLowerCase().replace(/_/g, '.'), message: `unknown setting${near.length ? `; did you mean ${near.join(' or ')}?` : ''}`, source: `env ${name}` });
  }
  merged = deepMerge(merged, envLayer);

  if (fileOk) {
    const result = opts.schema.safeParse(merged);
    if (!result.success) {
      for (const issue of result.error.issues) {
        const path = issue.path.map(String);
        if (issue.code === 'unrecognized_keys') {
          for (const k of issue.keys) problems.push({ path: [...path, k].join('.'), message: 'unknown key', source: prov.exact([...path, k]) });
        } else {
          problems.push({ path: path.join('.'), message: issue.message, source: prov.of(path) });
        }
      }
    } else if (!problems.length) {
      return deepFreeze(result.data) as DeepReadonly<z.output<S>>;
    }
  }
  throw new ConfigError('CONFIG_INVALID', opts.app, problems);
}
