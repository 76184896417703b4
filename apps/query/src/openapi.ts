/** The OpenAPI 3.1 document of the query API, served at `GET /v1/openapi.json` (apps/query/README.md). */
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  const ref = (n: string) => ({ $ref: `#/components/schemas/${n}` });
  const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
  const time = { type: 'string', description: 'RFC 3339, epoch seconds, now, now-15m, -15m, 15m (the last 15 minutes) or "last 15 minutes"' };
  const p = (name: string, description: string, schema: Record<string, unknown> = { type: 'string' }) => ({ name, in: 'query', required: false, description, schema });
  const params = [
    p('q', 'the query: a filter, then optional | commands (docs/specs/query.md), e.g. level:error | stats count() by service'),
    p('from', 'start of the range (inclusive); default: the last hour', time),
    p('to', 'end of the range (exclusive); default now', time),
    p('time_range', 'DATA-001: "last 1 hour", 15m … (from wins when both are given)', time),
    p('env', "environment; default the service's env"),
    p('limit', 'events per page when the query has no | limit', { type: 'integer', minimum: 1, maximum: 10000 }),
    p('cursor', 'the cursor of the previous page (same q, env, from, to and limit)'),
    p('format', 'json (default) or ndjson: every matching event streamed, one per line (also Accept: application/x-ndjson)', { type: 'string', enum: ['json', 'ndjson'] }),
    p('rehydrate', 'auto: load archive-only spans through the indexer (under the cap); off (default): only say what they hold', { type: 'string', enum: ['auto', 'off'] }),
    p('maxEvents', 'cap of a rehydration, events (at most rehydrate.maxEvents)', { type: 'integer', minimum: 1 }),
    p('maxBytes', 'cap of a rehydration, compressed bytes (at most rehydrate.maxBytes)', { type: 'integer', minimum: 1 }),
  ];
  const answers = {
    '200': {
      description: 'the answer (JSON), or with format=ndjson one event (or stats row) per line',
      content: { 'application/json': { schema: ref('Answer') }, 'application/x-ndjson': { schema: { type: 'string' } } },
    },
    '400': { description: 'a bad query or parameter: the error names the column (1-based, in the query text), what was expected, and a hint', ...json(ref('Error')) },
    '401': { description: 'missing or wrong bearer token', ...json(ref('Error')) },
    '413': { description: 'body over api.bodyLimitBytes', ...json(ref('Error')) },
    '421': { description: 'without api.token: the Host header is not a loopback name', ...json(ref('Error')) },
    '503': { description: 'busy (api.maxConcurrentQueries; Retry-After) or the search engine is unavailable', ...json(ref('Error')) },
    '504': { description: 'the search engine did not answer within api.queryTimeoutMs', ...json(ref('Error')) },
  };
  const span = {
    type: 'object',
    properties: {
      from: { type: 'string', format: 'date-time' },
      to: { type: 'string', format: 'date-time' },
      source: { type: 'string', enum: ['recent', 'history', 'archive'] },
      index: { type: 'string' },
    },
  };
  return {
    openapi: '3.1.0',
    info: { title: 'backlog query', version: '1', description: 'One query over any time range: recent indices, history indices, and archive spans loaded on demand (docs/adr/0022-query-service.md).' },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'config api.token; not required when none is configured (loopback only)' } },
      schemas: {
        Error: {
          type: 'object',
          required: ['error'],
          properties: {
            error: {
              type: 'object',
              required: ['code', 'message'],
              properties: {
                code: { type: 'string', description: 'the query language error code (FIELD_UNKNOWN, UNEXPECTED_TOKEN, …), REQUEST_INVALID, UNAUTHORIZED, BUSY, TIMEOUT, INTERNAL' },
                message: { type: 'string' },
                column: { type: 'integer', description: '1-based column in the query text; 0 when the problem is not in the text' },
                endColumn: { type: 'integer' },
                expected: { type: 'string' },
                hint: { type: 'string' },
                path: { type: 'string', description: 'the JSON key or parameter at fault' },
                errors: { type: 'array', items: { type: 'object' }, description: 'every problem found, when there are several' },
                errorId: { type: 'string', description: '5xx: the id of the log line with the detail' },
              },
            },
          },
        },
        Request: {
          type: 'object',
          description: "DATA-001's JSON form, plus env, cursor, rehydrate, maxEvents, maxBytes, format",
          additionalProperties: false,
          properties: {
            query: { type: 'string', description: 'a filter, or a whole query with | commands when there is no aggregation' },
            q: { type: 'string', description: 'the same as query' },
            aggregation: {
              type: 'object',
              additionalProperties: false,
              properties: {
                type: { type: 'string', enum: ['count', 'avg', 'min', 'max', 'sum', 'distinct', 'percentiles'] },
                field: { type: 'string' },
                by: { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' } }] },
                interval: { type: 'string', pattern: '^\\d{1,9}[smhdw]$' },
                percents: { type: 'array', items: { type: 'number' } },
                size: { type: 'integer' },
              },
            },
            time_range: time,
            from: time,
            to: time,
            limit: { type: 'integer', minimum: 1, maximum: 10000 },
            sort: { type: 'string' },
            fields: { type: 'array', items: { type: 'string' } },
            env: { type: 'string' },
            cursor: { type: 'string' },
            rehydrate: { type: 'string', enum: ['auto', 'off'] },
            maxEvents: { type: 'integer', minimum: 1 },
            maxBytes: { type: 'integer', minimum: 1 },
            format: { type: 'string', enum: ['json', 'ndjson'] },
          },
        },
        Answer: {
          type: 'object',
          required: ['kind', 'total', 'range', 'complete', 'coverage'],
          properties: {
            kind: { type: 'string', enum: ['hits', 'stats'] },
            total: { type: 'integer', description: 'events that matched in the indexed spans' },
            hits: { type: 'array', items: { type: 'object', properties: { id: { type: 'string' }, index: { type: 'string' }, source: { type: 'object' } } } },
            columns: { type: 'array', items: { type: 'object', properties: { name: { type: 'string' }, role: { type: 'string', enum: ['time', 'group', 'metric'] }, type: { type: 'string' } } } },
            rows: { type: 'array', items: { type: 'array' } },
            range: { type: 'object', properties: { from: { type: 'string', format: 'date-time' }, to: { type: 'string', format: 'date-time' } } },
            complete: { type: 'boolean', description: 'false: archive-only spans hold events this answer leaves out (see rehydration)' },
            coverage: { type: 'array', items: span },
            rehydration: {
              type: 'object',
              properties: {
                status: { type: 'string', enum: ['available', 'started', 'loading', 'over_cap', 'failed'] },
                filter: { type: 'string' },
                parts: { type: 'integer' },
                events: { type: 'integer', description: 'from the archive manifests, before the filter' },
                bytes: { type: 'integer', description: 'compressed' },
                estimatedSeconds: { type: 'integer' },
                cap: { type: 'object', properties: { maxEvents: { type: 'integer' }, maxBytes: { type: 'integer' } } },
                spans: { type: 'array', items: { type: 'object' } },
                hint: { type: 'string' },
              },
            },
            cursor: { type: 'string', description: 'more events: send it back with the same query for the next page' },
            warnings: { type: 'array', items: { type: 'object' } },
            tookMs: { type: 'integer' },
          },
        },
      },
    },
    paths: {
      '/v1/query': {
        get: { summary: 'Ask a query over any range', parameters: params, responses: answers },
        post: { summary: 'Ask a query (JSON body, DATA-001 form)', requestBody: { required: true, ...json(ref('Request')) }, responses: answers },
      },
      '/query': {
        get: { summary: 'DATA-001 alias of GET /v1/query (?q=level:error&from=1h)', parameters: params, responses: answers },
        post: { summary: 'DATA-001 alias of POST /v1/query', requestBody: { required: true, ...json(ref('Request')) }, responses: answers },
      },
      '/v1/fields': {
        get: {
          summary: 'The field catalogue of an env: names, types, and the top values of keyword fields over the range',
          parameters: [p('env', 'environment'), p('from', 'start (default the last hour)', time), p('to', 'end', time), p('top', 'values per field, 0-50 (default 5)', { type: 'integer' })],
          responses: { '200': { description: 'the fields', ...json({ type: 'object' }) }, '400': answers['400'], '401': answers['401'] },
        },
      },
      '/v1/openapi.json': { get: { summary: 'This document (no token needed)', security: [], responses: { '200': { description: 'OpenAPI 3.1', ...json({ type: 'object' }) } } } },
    },
  };
}
