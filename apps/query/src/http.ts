import 'reflect-metadata';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import { Readable } from 'node:stream';
import {
  type ArgumentsHost,
  type CanActivate,
  Catch,
  Controller,
  type DynamicModule,
  type ExceptionFilter,
  type ExecutionContext,
  Get,
  Headers,
  HttpCode,
  HttpException,
  Inject,
  Module,
  Post,
  Query,
  Body,
  Res,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { FastifyReply } from 'fastify';
import { isSearchError } from '@backlog/adapter-search';
import type { Logger } from '@backlog/core-pipeline';
import { QueryError } from '@backlog/core-query';
import { LOOPBACK } from './config';
import type { QueryMetrics } from './metrics';
import { openApiDocument } from './openapi';
import { BadRequestError, type QueryInput, QueryService } from './service';

/**
 * The HTTP shell of the query service (NestJS 11 + Fastify), as the indexer's (apps/indexer/src/http.ts):
 * the bearer-token guard and the loopback Host check, errors → status codes, the listener's bounds
 * (body size, request/idle/keep-alive time, connections, requests per connection) and one more: queries
 * answered at once (`api.maxConcurrentQueries`; more → 503 busy). Read-only: nothing here writes but
 * the loads rehydrate=auto asks of the indexer. Explicit `@Inject` everywhere (ADR 0002).
 */

export const SERVICE = Symbol('QueryService');
export const API_STATE = Symbol('ApiState');

export interface ApiLimits {
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
  maxConnections: number;
  maxConcurrentQueries: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  bodyLimitBytes: 64 * 1024,
  requestTimeoutMs: 10_000,
  connectionTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  maxConnections: 256,
  maxConcurrentQueries: 16,
};

interface ApiState {
  serverUrl: string;
  inFlight: number;
  limits: ApiLimits;
  metrics: QueryMetrics;
}

/** 503 busy: more queries at once than api.maxConcurrentQueries. */
class BusyError extends Error {
  readonly code = 'BUSY';
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

const OPEN_PATHS = new Set(['/v1/openapi.json', '/openapi.json']);

class TokenGuard implements CanActivate {
  constructor(
    private readonly token: string | undefined,
    private readonly metrics: QueryMetrics,
  ) {}
  canActivate(ctx: ExecutionContext): boolean {
    if (!this.token) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; url: string }>();
    if (OPEN_PATHS.has(req.url.split('?')[0] ?? '')) return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (m && sameSecret((m[1] as string).trim(), this.token)) return true;
    this.metrics.refused.inc({ reason: 'unauthorized' });
    throw new HttpException({ error: { code: 'UNAUTHORIZED', message: 'send Authorization: Bearer <api.token>' } }, 401);
  }
}

/** The host part of a Host header (`127.0.0.1:8083` → `127.0.0.1`, `[::1]:8083` → `[::1]`), lower case. */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(header.trim().toLowerCase());
  return m?.[1] || undefined;
}

/** The 400 body of a bad query: the query language's error (code, message, column, expected, hint), every problem listed. */
export function queryErrorBody(e: QueryError): Record<string, unknown> {
  const first = e.toJSON();
  return { error: { ...first, ...(e.errors.length > 1 ? { errors: e.errors.map((x) => x.toJSON()) } : {}) } };
}

@Catch()
class ErrorFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: QueryMetrics,
  ) {}
  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<FastifyReply>();
    if (reply.sent) return;
    const send = (status: number, body: Record<string, unknown>) => void reply.status(status).type('application/json').send(body);
    if (err instanceof QueryError) {
      this.metrics.badRequests.inc({ reason: err.code });
      return send(400, queryErrorBody(err));
    }
    if (err instanceof BadRequestError) {
      this.metrics.badRequests.inc({ reason: err.field.replace(/[^A-Za-z_]/g, '').slice(0, 20) || 'request' });
      return send(400, { error: { code: err.code, message: err.message, column: 0, path: err.field } });
    }
    if (err instanceof BusyError) {
      this.metrics.refused.inc({ reason: 'busy' });
      void reply.header('retry-after', '1');
      return send(503, { error: { code: 'BUSY', message: err.message } });
    }
    if (err instanceof HttpException) {
      const body = err.getResponse();
      const status = err.getStatus();
      const ours = typeof body === 'object' && body !== null && 'error' in body && typeof (body as { error: unknown }).error === 'object';
      if (status === 400) this.metrics.badRequests.inc({ reason: 'body' });
      return send(
        status,
        ours ? (body as Record<string, unknown>) : { error: { code: status === 404 ? 'NOT_FOUND' : status === 400 ? 'REQUEST_INVALID' : 'HTTP_ERROR', message: err.message, column: 0 } },
      );
    }
    // Fastify's own refusals (body too large 413, malformed JSON 400, wrong content type 415).
    const sc = (err as { statusCode?: unknown }).statusCode;
    if (typeof sc === 'number' && sc >= 400 && sc < 500) {
      this.metrics.badRequests.inc({ reason: `http_${sc}` });
      return send(sc, { error: { code: String((err as { code?: unknown }).code ?? 'BAD_REQUEST'), message: (err as Error).message, column: 0 } });
    }
    const errorId = randomBytes(6).toString('hex');
    const timeout = isSearchError(err) && err.code === 'SEARCH_TIMEOUT';
    const retriable = (err as { retriable?: unknown }).retriable === true;
    const status = timeout ? 504 : retriable ? 503 : 500;
    this.metrics.errors.inc({ status: String(status) });
    this.logger.error('request failed', { errorId, status, error: err });
    return send(status, {
      error: {
        code: timeout ? 'TIMEOUT' : retriable ? 'UNAVAILABLE' : 'INTERNAL',
        message: timeout
          ? `the search engine did not answer in time (error id ${errorId})`
          : retriable
            ? `a service the query needs did not answer; try again later (error id ${errorId})`
            : `internal error (error id ${errorId} in the query service log)`,
        errorId,
      },
    });
  }
}

const wantsNdjson = (format: unknown, accept: string | undefined) => format === 'ndjson' || (format === undefined && /application\/x-ndjson/i.test(accept ?? ''));

@Controller()
class QueryController {
  constructor(
    @Inject(SERVICE) private readonly service: QueryService,
    @Inject(API_STATE) private readonly state: ApiState,
  ) {}

  @Get('v1/openapi.json')
  openapi(): Record<string, unknown> {
    return openApiDocument(this.state.serverUrl);
  }

  @Get('openapi.json')
  openapiAlias(): Record<string, unknown> {
    return openApiDocument(this.state.serverUrl);
  }

  @Get(['v1/query', 'query'])
  async get(@Query() params: Record<string, unknown>, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    await this.answer(() => this.service.fromParams(params ?? {}), wantsNdjson(params?.format, accept), params?.format, reply);
  }

  @Post(['v1/query', 'query'])
  @HttpCode(200)
  async post(@Body() body: unknown, @Query() params: Record<string, unknown>, @Headers('accept') accept: string | undefined, @Res() reply: FastifyReply): Promise<void> {
    const format = (body as { format?: unknown } | undefined)?.format ?? params?.format;
    await this.answer(() => this.service.fromBody(body ?? {}), wantsNdjson(format, accept), format, reply);
  }

  @Get('v1/fields')
  async fields(@Query() params: Record<string, unknown>): Promise<unknown> {
    const p = (params ?? {}) as Record<string, unknown>;
    const known = new Set(['env', 'from', 'to', 'time_range', 'top']);
    for (const k of Object.keys(p))
      if (!known.has(k) || typeof p[k] !== 'string') throw new BadRequestError(`${k}: ${known.has(k) ? 'give it once' : `unknown parameter (known: ${[...known].join(', ')})`}`, k);
    const s = p as Record<string, string | undefined>;
    const top = s.top === undefined ? 5 : /^\d{1,2}$/.test(s.top) && Number(s.top) <= 50 ? Number(s.top) : undefined;
    if (top === undefined) throw new BadRequestError('top: a whole number from 0 to 50', 'top');
    return this.bounded(() => this.service.fields(s.env, { ...(s.from ? { from: s.from } : {}), ...(s.to ? { to: s.to } : {}), ...(s.time_range ? { time_range: s.time_range } : {}) }, top));
  }

  private async bounded<T>(fn: () => Promise<T>): Promise<T> {
    const release = this.acquire();
    try {
      return await fn();
    } finally {
      release();
    }
  }

  private acquire(): () => void {
    const st = this.state;
    if (st.inFlight >= st.limits.maxConcurrentQueries) throw new BusyError(`${st.inFlight} queries are being answered (api.maxConcurrentQueries); try again shortly`);
    st.inFlight++;
    st.metrics.inFlight.set(st.inFlight);
    let done = false;
    return () => {
      if (done) return;
      done = true;
      st.inFlight--;
      st.metrics.inFlight.set(st.inFlight);
    };
  }

  private async answer(parse: () => QueryInput, ndjson: boolean, format: unknown, reply: FastifyReply): Promise<void> {
    if (format !== undefined && format !== 'json' && format !== 'ndjson') throw new BadRequestError('format: json or ndjson', 'format');
    const input = parse();
    const release = this.acquire();
    if (!ndjson) {
      try {
        const a = await this.service.run(input);
        const r = a.result;
        const body = {
          kind: r.kind,
          total: r.total,
          ...(r.kind === 'hits' ? { hits: r.hits } : { columns: r.columns, rows: r.rows }),
          range: a.range,
          complete: a.complete,
          coverage: a.coverage,
          ...(a.rehydration ? { rehydration: a.rehydration } : {}),
          ...(a.cursor ? { cursor: a.cursor } : {}),
          warnings: a.warnings,
          tookMs: a.tookMs,
        };
        void reply.status(200).type('application/json').send(body);
      } finally {
        release();
      }
      return;
    }
    if (input.cursor !== undefined) {
      release();
      throw new BadRequestError('cursor: an NDJSON export reads every page itself; send no cursor', 'cursor');
    }
    // The first line is read before the status is sent, so a bad query is still a 400.
    const abort = new AbortController();
    const lines = this.service.exportLines(input, abort.signal);
    let first: IteratorResult<string>;
    try {
      first = await lines.next();
    } catch (e) {
      release();
      throw e;
    }
    const stream = Readable.from(
      (async function* () {
        if (!first.done) yield first.value;
        yield* lines;
      })(),
      { objectMode: false, highWaterMark: 64 * 1024 },
    );
    const finish = () => {
      abort.abort();
      release();
    };
    stream.once('close', finish);
    stream.once('error', finish);
    reply.raw.once('close', () => {
      if (!stream.destroyed) stream.destroy();
    });
    void reply.status(200).header('content-type', 'application/x-ndjson; charset=utf-8').header('cache-control', 'no-store').send(stream);
  }
}

@Module({})
class ApiModule {
  static register(service: QueryService, state: ApiState): DynamicModule {
    return {
      module: ApiModule,
      controllers: [QueryController],
      providers: [
        { provide: SERVICE, useValue: service },
        { provide: API_STATE, useValue: state },
      ],
    };
  }
}

export interface ApiServer {
  app: NestFastifyApplication;
  url: string;
  close(): Promise<void>;
}

/**
 * Boots the API on host:port (0 = a free port). Without a token it serves only requests whose Host
 * header names a loopback address (421 otherwise: a DNS-rebinding defence), as the indexer does.
 */
export async function startApi(service: QueryService, opts: { host: string; port: number; token?: string; limits?: Partial<ApiLimits> }, logger: Logger, metrics: QueryMetrics): Promise<ApiServer> {
  const limits = { ...DEFAULT_API_LIMITS, ...opts.limits };
  const adapter = new FastifyAdapter({
    bodyLimit: limits.bodyLimitBytes,
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    return503OnClosing: true,
    // Query strings: one value per key is all any parameter takes; a repeated key is refused (400), not merged.
    http: { connectionsCheckingInterval: Math.min(1_000, limits.requestTimeoutMs), headersTimeout: limits.requestTimeoutMs },
  });
  const state: ApiState = { serverUrl: `http://${opts.host}:${opts.port}`, inFlight: 0, limits, metrics };
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.register(service, state), adapter, { logger: false, abortOnError: false });
  app.useGlobalGuards(new TokenGuard(opts.token, metrics));
  app.useGlobalFilters(new ErrorFilter(logger, metrics));
  const fastify = app.getHttpAdapter().getInstance();
  if (!opts.token) {
    fastify.addHook('onRequest', (req, reply, done) => {
      const h = hostOf(req.headers.host);
      if (h && LOOPBACK.test(h)) return done();
      metrics.refused.inc({ reason: 'host' });
      void reply.code(421).send({
        error: {
          code: 'MISDIRECTED',
          message: 'without api.token this API answers only requests addressed to a loopback name (Host: 127.0.0.1, localhost or [::1]); set api.token to serve other names',
        },
      });
    });
  }
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = `${req.method} ${req.routeOptions?.url ?? 'unknown'}`;
    metrics.requests.inc({ route, status: String(reply.statusCode) });
    metrics.duration.observe({ route }, reply.elapsedTime / 1000);
    done();
  });
  await app.listen(opts.port, opts.host);
  fastify.server.maxConnections = limits.maxConnections;
  const addr = fastify.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  state.serverUrl = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  return { app, url: state.serverUrl, close: () => app.close() };
}
