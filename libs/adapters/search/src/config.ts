import { z } from 'zod';

/** Configuration of the search adapter. Unknown keys are errors (ARCHITECTURE.md, habit 2). */
export const searchConfigSchema = z
  .object({
    /** Base URL(s) of the cluster's HTTP endpoint(s), e.g. `http://127.0.0.1:9200`. */
    node: z.union([z.string().url(), z.array(z.string().url()).min(1)]),
    /**
     * Which client to use. `auto` asks the server (GET /) once at start: `version.distribution ===
     * 'opensearch'` → OpenSearch, else Elasticsearch (≥ 8). Default `auto`.
     */
    engine: z.enum(['elasticsearch', 'opensearch', 'auto']).default('auto'),
    /** Basic auth or an Elasticsearch API key. Default: none (the local stack has no security). */
    auth: z.union([z.object({ username: z.string().min(1), password: z.string() }).strict(), z.object({ apiKey: z.string().min(1) }).strict()]).optional(),
    /** Per-request timeout in milliseconds. Default 30,000. */
    requestTimeoutMs: z.number().int().positive().default(30_000),
    /**
     * Retries *inside the client* on connection errors and timeouts (another node, same request).
     * Default 2. Item-level bulk retries are the caller's job.
     */
    maxRetries: z.number().int().min(0).max(10).default(2),
    /** Verify TLS certificates. Default true; false only for self-signed development clusters. */
    tlsRejectUnauthorized: z.boolean().default(true),
  })
  .strict();

export type SearchConfigInput = z.input<typeof searchConfigSchema>;
export type SearchConfig = z.output<typeof searchConfigSchema>;

export function nodesOf(cfg: SearchConfig): string[] {
  return (Array.isArray(cfg.node) ? cfg.node : [cfg.node]).map((u) => u.replace(/\/+$/, ''));
}

/** The Authorization header value for a plain fetch (engine detection). */
export function authHeader(cfg: SearchConfig): string | undefined {
  if (!cfg.auth) return undefined;
  if ('apiKey' in cfg.auth) return `ApiKey ${cfg.auth.apiKey}`;
  return `Basic ${Buffer.from(`${cfg.auth.username}:${cfg.auth.password}`).toString('base64')}`;
}
