import type { z } from 'zod';

/**
 * How an environment variable's text becomes a value, decided from the schema (environment
 * variables are all strings; the file is typed already).
 */
export type ValueKind =
  | { kind: 'string' }
  | { kind: 'number' }
  | { kind: 'boolean' }
  /** Comma-separated (`a:1,b:2`) or a JSON array. */
  | { kind: 'list'; of: 'string' | 'number' | 'boolean' }
  /** Records, arrays of objects, unions: JSON text, or the raw string when it is not JSON. */
  | { kind: 'json' };

/** One settable leaf of an app's config and the environment variables that set it. */
export interface ConfigKey {
  /** Path segments from the root, e.g. `['s3', 'accessKeyId']`. */
  path: string[];
  /** `BACKLOG_<APP>_<PATH>`, e.g. `BACKLOG_COMPRESSOR_S3_ACCESS_KEY_ID`. */
  env: string;
  /** `BACKLOG_<PATH>` for the shared connection settings (`BACKLOG_S3_ACCESS_KEY_ID`), else undefined. */
  sharedEnv?: string;
  value: ValueKind;
}

// zod 4 keeps a schema's definition in `_zod.def`; `type` names the node kind. We read only the
// node kinds that wrap or compose others, which is the documented way for tools to walk a schema
// (zod.dev/library-authors). Anything unknown is treated as a JSON leaf, never an error.
interface Def {
  type: string;
  innerType?: z.ZodType;
  in?: z.ZodType;
  shape?: Record<string, z.ZodType>;
  element?: z.ZodType;
  values?: unknown[];
  options?: z.ZodType[];
}
const defOf = (s: z.ZodType): Def => (s as unknown as { _zod: { def: Def } })._zod.def;

const WRAPPERS = new Set(['optional', 'nullable', 'default', 'prefault', 'catch', 'readonly', 'nonoptional']);

/** The schema under optional/default/…; for a pipe (`.transform`) the input side, which is what a user writes. */
export function unwrap(schema: z.ZodType): z.ZodType {
  let s = schema;
  for (let i = 0; i < 32; i++) {
    const d = defOf(s);
    if (WRAPPERS.has(d.type) && d.innerType) s = d.innerType;
    else if (d.type === 'pipe' && d.in) s = d.in;
    else if (d.type === 'lazy') return s;
    else return s;
  }
  return s;
}

function scalarKind(schema: z.ZodType): 'string' | 'number' | 'boolean' | undefined {
  const d = defOf(unwrap(schema));
  switch (d.type) {
    case 'string':
    case 'enum':
    case 'template_literal':
      return 'string';
    case 'number':
    case 'int':
      return 'number';
    case 'boolean':
      return 'boolean';
    case 'literal': {
      const v = d.values?.[0];
      return typeof v === 'number' ? 'number' : typeof v === 'boolean' ? 'boolean' : 'string';
    }
    default:
      return undefined;
  }
}

function valueKind(schema: z.ZodType): ValueKind {
  const scalar = scalarKind(schema);
  if (scalar) return { kind: scalar };
  const d = defOf(unwrap(schema));
  if (d.type === 'array' && d.element) {
    const of = scalarKind(d.element);
    if (of) return { kind: 'list', of };
  }
  return { kind: 'json' };
}

/** `accessKeyId` → `ACCESS_KEY_ID`, `es-consumer` → `ES_CONSUMER`, `maxKiB` → `MAX_KI_B`. */
export function envSegment(name: string): string {
  return name
    .replace(/([a-z0-9])([A-Z])/g, '$1_$2')
    .replace(/([A-Z]+)([A-Z][a-z])/g, '$1_$2')
    .replace(/[^A-Za-z0-9]+/g, '_')
    .replace(/^_+|_+$/g, '')
    .toUpperCase();
}

/** `BACKLOG_<APP>_`: the prefix of an app's own environment variables. */
export const appEnvPrefix = (app: string): string => `BACKLOG_${envSegment(app)}_`;

/**
 * Every settable leaf of `schema` with its environment variable names. Objects are walked into;
 * everything else (scalars, arrays, records, unions) is one leaf. `sharedTopKeys` are the top-level
 * keys that also answer to the shared `BACKLOG_<PATH>` names (the connection settings).
 *
 * Throws CONFIG_SCHEMA-style errors (as plain messages, collected by the caller) when two paths map
 * to one variable name: that is a bug in the schema, better found by the first unit test.
 */
export function configKeys(app: string, schema: z.ZodType, sharedTopKeys: ReadonlySet<string> = new Set()): { keys: ConfigKey[]; clashes: string[] } {
  const keys: ConfigKey[] = [];
  const prefix = appEnvPrefix(app);
  const walk = (s: z.ZodType, path: string[]) => {
    const d = defOf(unwrap(s));
    if (d.type === 'object' && d.shape) {
      for (const [k, child] of Object.entries(d.shape)) walk(child, [...path, k]);
      return;
    }
    if (path.length === 0) return;
    const tail = path.map(envSegment).join('_');
    const key: ConfigKey = { path, env: `${prefix}${tail}`, value: valueKind(s) };
    if (sharedTopKeys.has(path[0] ?? '')) key.sharedEnv = `BACKLOG_${tail}`;
    keys.push(key);
  };
  walk(schema, []);
  const seen = new Map<string, string>();
  const clashes: string[] = [];
  for (const k of keys) {
    const dotted = k.path.join('.');
    const other = seen.get(k.env);
    if (other !== undefined) clashes.push(`${other} and ${dotted} both map to ${k.env}`);
    seen.set(k.env, dotted);
  }
  return { keys, clashes };
}

const TRUE = new Set(['true', '1', 'yes', 'on']);
const FALSE = new Set(['false', '0', 'no', 'off']);

/** Parses an environment variable's text by the leaf's kind; `Error` (with a message) when it cannot. */
export function parseEnvValue(raw: string, value: ValueKind): unknown {
  const text = raw.trim();
  const scalar = (t: string, kind: 'string' | 'number' | 'boolean'): unknown => {
    if (kind === 'string') return t;
    if (kind === 'number') {
      const n = Number(t);
      if (t === '' || !Number.isFinite(n)) return new Error(`expected a number, got "${t}"`);
      return n;
    }
    const low = t.toLowerCase();
    if (TRUE.has(low)) return true;
    if (FALSE.has(low)) return false;
    return new Error(`expected true/false (or 1/0, yes/no, on/off), got "${t}"`);
  };
  switch (value.kind) {
    case 'string':
      // Strings are taken verbatim: leading/trailing spaces may be meaningful in a password.
      return raw;
    case 'number':
    case 'boolean':
      return scalar(text, value.kind);
    case 'list': {
      if (text.startsWith('[')) return parseJson(text);
      const items = text
        .split(',')
        .map((x) => x.trim())
        .filter((x) => x !== '');
      const out = items.map((x) => scalar(x, value.of));
      const bad = out.find((x) => x instanceof Error);
      return bad ?? out;
    }
    case 'json':
      if (/^[[{"]/.test(text) || text === 'null') return parseJson(text);
      return raw;
  }
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text) as unknown;
  } catch (err) {
    return new Error(`not valid JSON: ${(err as Error).message}`);
  }
}
