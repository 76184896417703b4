/** The OpenAPI 3.1 document of the indexer's HTTP API, served at `GET /openapi.json` (docs/specs/indexer.md). */
export function openApiDocument(serverUrl: string): Record<string, unknown> {
  const values = { oneOf: [{ type: 'string' }, { type: 'array', items: { type: 'string' }, minItems: 1 }] };
  const time = {
    oneOf: [
      { type: 'string', description: 'RFC 3339, epoch seconds as digits, or relative to now (-2h, -30m, now)' },
      { type: 'number', description: 'epoch seconds' },
    ],
  };
  const queryError = {
    type: 'object',
    description: 'the query language error (docs/specs/query.md "Errors")',
    properties: {
      code: { type: 'string' },
      message: { type: 'string' },
      column: { type: 'integer', description: '1-based, in the filter text' },
      endColumn: { type: 'integer' },
      expected: { type: 'string' },
      hint: { type: 'string' },
    },
  };
  const error = {
    type: 'object',
    required: ['error', 'message'],
    properties: {
      error: { type: 'string' },
      message: { type: 'string' },
      reasons: { type: 'array', items: { type: 'string' } },
      errorId: { type: 'string', description: '500/503: the id of the log line with the detail' },
      filter: queryError,
    },
  };
  const ref = (n: string) => ({ $ref: `#/components/schemas/${n}` });
  const json = (schema: unknown) => ({ content: { 'application/json': { schema } } });
  const indexParam = { name: 'index', in: 'path', required: true, schema: { type: 'string', pattern: '^logs-[a-z0-9_-]+-history-[0-9a-z]+-[0-9a-z]+$' } };
  const common = {
    '401': { description: 'missing or wrong bearer token', ...json(ref('Error')) },
    '421': { description: 'without api.token: the Host header is not a loopback name', ...json(ref('Error')) },
    '500': { description: 'internal error: only an errorId, the detail is in the log', ...json(ref('Error')) },
  };
  const forbidden = { '403': { description: 'a history index of an env this indexer does not serve', ...json(ref('Error')) } };
  return {
    openapi: '3.1.0',
    info: { title: 'backlog indexer', version: '1', description: 'Load any time range of the archive into an expiring history index (DESIGN.md "What a user types").' },
    servers: [{ url: serverUrl }],
    security: [{ bearer: [] }],
    components: {
      securitySchemes: { bearer: { type: 'http', scheme: 'bearer', description: 'config api.token; not required when none is configured (loopback only)' } },
      schemas: {
        Error: error,
        Filter: {
          oneOf: [
            {
              type: 'string',
              maxLength: 16384,
              description:
                'A filter of the query language without | commands (docs/specs/query.md), e.g. "level:error AND service:api"; evaluated over the archived events with the search engine\'s semantics. No relative times (now-15m): the range is start/end.',
            },
            {
              type: 'object',
              additionalProperties: false,
              description:
                'The older form, translated into the language: host/service/level: one of the values (host.name:(a OR b); levels lower-cased); message: every term a phrase of message (words, any case).',
              properties: { host: values, service: values, level: values, message: values },
            },
          ],
        },
        LoadRequest: {
          type: 'object',
          additionalProperties: false,
          required: ['env', 'start', 'end'],
          properties: {
            env: { type: 'string' },
            start: time,
            end: time,
            filter: ref('Filter'),
            maxEvents: { type: 'integer', minimum: 1, description: "at most this many events: whole 5-minute windows in time order, by the manifests' counts" },
            ttlHours: { type: 'number', exclusiveMinimum: 0, description: 'expiry after this request (default: history.ttlHours)' },
          },
        },
        Job: {
          type: 'object',
          required: ['index', 'status', 'expiresAt', 'progress'],
          properties: {
            index: { type: 'string' },
            env: { type: 'string' },
            start: { type: 'string', format: 'date-time' },
            end: { type: 'string', format: 'date-time' },
            filter: { type: 'string', description: "the filter's canonical text (query language; empty: every event)" },
            maxEvents: { type: 'integer' },
            status: { type: 'string', enum: ['queued', 'loading', 'done', 'partial', 'failed'] },
            createdAt: { type: 'string', format: 'date-time' },
            requestedAt: { type: 'string', format: 'date-time' },
            expiresAt: { type: 'string', format: 'date-time' },
            progress: {
              type: 'object',
              properties: {
                parts: { type: 'object', properties: { total: { type: 'integer' }, done: { type: 'integer' }, failed: { type: 'integer' }, loading: { type: 'integer' } } },
                events: {
                  type: 'object',
                  properties: {
                    planned: { type: 'integer' },
                    read: { type: 'integer' },
                    indexed: { type: 'integer' },
                    already: { type: 'integer' },
                    filtered: { type: 'integer' },
                    rejected: { type: 'integer' },
                  },
                },
                bytes: { type: 'object', properties: { planned: { type: 'integer' }, read: { type: 'integer' } } },
                rate: { type: 'number', description: 'events read per second' },
                etaSeconds: { type: ['integer', 'null'] },
              },
            },
            failures: { type: 'array', items: { type: 'object', properties: { part: { type: 'string' }, key: { type: 'string' }, code: { type: 'string' }, reason: { type: 'string' } } } },
            problems: { type: 'array', items: { type: 'object', properties: { code: { type: 'string' }, key: { type: 'string' }, message: { type: 'string' } } } },
            windows: { type: 'integer' },
            windowsWithoutParts: { type: 'array', items: { type: 'string' } },
            skippedByFilter: { type: 'integer' },
            truncatedAt: { type: 'string', format: 'date-time' },
            restored: { type: 'boolean' },
            error: { type: 'string' },
          },
        },
      },
    },
    paths: {
      '/v1/history': {
        post: {
          summary: 'Load a range into logs-<env>-history-<start36>-<end36> (returns at once; the same request returns the same index and extends its expiry)',
          requestBody: { required: true, ...json(ref('LoadRequest')) },
          responses: {
            '202': { description: 'accepted', ...json(ref('Job')) },
            '400': { description: 'invalid request, with every reason', ...json(ref('Error')) },
            '409': { description: 'the index exists with another filter or maxEvents', ...json(ref('Error')) },
            '503': { description: 'busy: load.maxConcurrentJobs loads run here (Retry-After), or a backing service is unavailable', ...json(ref('Error')) },
            ...common,
          },
        },
        get: {
          summary: 'List history indices',
          parameters: [{ name: 'env', in: 'query', required: false, schema: { type: 'string' } }],
          responses: {
            '200': { description: 'the jobs', ...json({ type: 'object', properties: { indices: { type: 'array', items: ref('Job') } } }) },
            '400': { description: 'unknown env', ...json(ref('Error')) },
            ...common,
          },
        },
      },
      '/v1/history/{index}': {
        get: {
          summary: 'Status and progress of a load',
          parameters: [indexParam],
          responses: { '200': { description: 'the job', ...json(ref('Job')) }, '404': { description: 'unknown index', ...json(ref('Error')) }, ...common },
        },
        delete: {
          summary: 'Delete the index and its job',
          parameters: [indexParam],
          responses: {
            '200': { description: 'deleted', ...json({ type: 'object', properties: { index: { type: 'string' }, deleted: { type: 'array', items: { type: 'string' } } } }) },
            '404': { description: 'unknown index', ...json(ref('Error')) },
            ...forbidden,
            ...common,
          },
        },
      },
      '/v1/history/{index}/extend': {
        post: {
          summary: 'Move the expiry to now + hours',
          parameters: [indexParam],
          requestBody: { required: false, ...json({ type: 'object', additionalProperties: false, properties: { hours: { type: 'number', exclusiveMinimum: 0 } } }) },
          responses: {
            '200': { description: 'the job', ...json(ref('Job')) },
            '400': { description: 'hours out of range', ...json(ref('Error')) },
            '404': { description: 'unknown index', ...json(ref('Error')) },
            ...forbidden,
            ...common,
          },
        },
      },
    },
  };
}
