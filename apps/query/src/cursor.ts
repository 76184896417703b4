import { createHash } from 'node:crypto';
import { z } from 'zod';

/**
 * The page cursor of `GET|POST /v1/query` (ADR 0022): opaque to callers, base64url of a small JSON
 * object. It carries what the next page needs to be the continuation of this one:
 *   pit     the engine's point in time (the same indices and documents, page after page); absent in the
 *           first page's cursor: the PIT is opened when a client asks for the second page, so queries
 *           nobody pages through hold none (an engine allows a few hundred open at once);
 *   after   the last hit's sort values (`search_after`);
 *   now     the instant relative times were resolved at, so `-1h` means the same range on every page;
 *   h       the history indices and the spans each answers for (the coverage of the first page);
 *   fp      a fingerprint of the request (env, query text, range, limit): a cursor only continues the
 *           query it came from, anything else is a 400;
 *   n       hits served so far.
 * A cursor grants nothing: the request still needs its token and env, and the engine still answers
 * only through the PIT, which expires `api.cursorKeepAliveSeconds` after its last use.
 */

export const MAX_CURSOR_LENGTH = 8192;

const span = z.tuple([z.number().int(), z.number().int()]);
const cursorSchema = z
  .object({
    v: z.literal(1),
    pit: z.string().min(1).max(4096).optional(),
    after: z
      .array(z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]))
      .min(1)
      .max(16),
    now: z.number().int().nonnegative(),
    h: z.array(z.tuple([z.string().regex(/^logs-[a-z0-9_-]+-history-[0-9a-z]+-[0-9a-z]+$/), z.array(span).max(64)])).max(64),
    fp: z.string().regex(/^[0-9a-f]{16}$/),
    n: z.number().int().nonnegative(),
  })
  .strict();

export type Cursor = z.infer<typeof cursorSchema>;

export class CursorError extends Error {
  readonly code = 'CURSOR_INVALID';
}

export function encodeCursor(c: Cursor): string {
  const text = Buffer.from(JSON.stringify(c), 'utf8').toString('base64url');
  if (text.length > MAX_CURSOR_LENGTH) throw new CursorError('the cursor would be too long (too many history indices in the range)');
  return text;
}

/** Throws CursorError for anything that is not a cursor this service made for `fp`. */
export function decodeCursor(text: string, fp: string): Cursor {
  if (text.length > MAX_CURSOR_LENGTH || !/^[A-Za-z0-9_-]+$/.test(text)) throw new CursorError('cursor: not a cursor of this service');
  let raw: unknown;
  try {
    raw = JSON.parse(Buffer.from(text, 'base64url').toString('utf8'));
  } catch {
    throw new CursorError('cursor: not a cursor of this service');
  }
  const r = cursorSchema.safeParse(raw);
  if (!r.success) throw new CursorError('cursor: not a cursor of this service');
  if (r.data.fp !== fp) throw new CursorError('cursor: it continues another query (send the same q, env, from, to and limit as the page it came with)');
  return r.data;
}

/** The fingerprint a cursor is bound to. */
export function fingerprint(parts: readonly unknown[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 16);
}
