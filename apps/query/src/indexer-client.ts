/**
 * The indexer's HTTP API as the query service uses it (docs/specs/indexer.md): `POST /v1/history`
 * starts (or re-asks for) a load and answers at once with the job. The token goes in the
 * Authorization header only, never in a URL or a log line.
 */
export interface IndexerReply {
  status: number;
  body: Record<string, unknown>;
}

export class IndexerClient {
  constructor(
    private readonly baseUrl: string,
    private readonly token: string | undefined,
    private readonly timeoutMs: number,
  ) {}

  async call(method: 'GET' | 'POST', path: string, body?: unknown): Promise<IndexerReply> {
    const res = await fetch(new URL(path, this.baseUrl), {
      method,
      headers: { accept: 'application/json', ...(body !== undefined ? { 'content-type': 'application/json' } : {}), ...(this.token ? { authorization: `Bearer ${this.token}` } : {}) },
      ...(body !== undefined ? { body: JSON.stringify(body) } : {}),
      signal: AbortSignal.timeout(this.timeoutMs),
      redirect: 'error',
    });
    const text = await res.text();
    let parsed: Record<string, unknown> = {};
    try {
      parsed = text ? (JSON.parse(text) as Record<string, unknown>) : {};
    } catch {
      parsed = { message: text.slice(0, 300) };
    }
    return { status: res.status, body: parsed };
  }

  load(body: { env: string; start: number; end: number; filter: string; ttlHours?: number }): Promise<IndexerReply> {
    return this.call('POST', '/v1/history', body);
  }
}
