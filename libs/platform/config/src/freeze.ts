/** A value whose every nested object and array is read-only, as `deepFreeze` makes it at run time. */
export type DeepReadonly<T> = T extends (...args: never[]) => unknown
  ? T
  : T extends readonly (infer U)[]
    ? readonly DeepReadonly<U>[]
    : T extends object
      ? { readonly [K in keyof T]: DeepReadonly<T[K]> }
      : T;

/**
 * Freezes `value` and everything reachable from it, so that no component can change the config
 * after start (ARCHITECTURE.md, habit 2); in strict mode a write then throws instead of drifting.
 * Typed arrays are left alone: Object.freeze refuses views with elements.
 */
export function deepFreeze<T>(value: T): DeepReadonly<T> {
  if (typeof value !== 'object' || value === null || Object.isFrozen(value) || ArrayBuffer.isView(value)) return value as DeepReadonly<T>;
  Object.freeze(value);
  for (const child of Object.values(value as object)) deepFreeze(child);
  return value as DeepReadonly<T>;
}

const SECRET = /pass(word)?|secret|api[-_]?key|token|credential|private/i;

/**
 * A copy of a config fit for a log line: values of secret-looking keys become `***` and URL
 * credentials (`redis://user:pw@host`) are masked. Apps log their effective config at start with it.
 */
export function redact<T>(value: T): T {
  const walk = (v: unknown, key: string): unknown => {
    if (typeof v === 'string') {
      if (SECRET.test(key)) return '***';
      return v.replace(/^([a-z][a-z0-9+.-]*:\/\/)([^/@\s]+)@/i, '$1***@');
    }
    if (Array.isArray(v)) return v.map((x) => walk(x, key));
    if (typeof v === 'object' && v !== null) return Object.fromEntries(Object.entries(v).map(([k, x]) => [k, walk(x, k)]));
    return v;
  };
  return walk(value, '') as T;
}
