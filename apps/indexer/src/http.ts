import 'reflect-metadata';
import { randomBytes, timingSafeEqual } from 'node:crypto';
import {
  type ArgumentsHost,
  type CanActivate,
  Catch,
  Controller,
  Delete,
  type ExceptionFilter,
  type ExecutionContext,
  Get,
  HttpCode,
  HttpException,
  Inject,
  Module,
  Param,
  Post,
  Query,
  Body,
  type DynamicModule,
} from '@nestjs/common';
import { NestFactory } from '@nestjs/core';
import { FastifyAdapter, type NestFastifyApplication } from '@nestjs/platform-fastify';
import type { Logger } from '@backlog/core-pipeline';
import type { IndexerMetrics } from './metrics';
import { openApiDocument } from './openapi';
import { RequestError } from './request';
import { BusyError, ConflictError, ForbiddenError, HistoryService, NotFoundError } from './service';
import { LOOPBACK } from './config';

/**
 * The HTTP shell (NestJS 11 + Fastify): routes, the bearer-token guard, the Host check, errors →
 * status codes, and the listener's bounds (body size, request/idle/keep-alive time, connections,
 * requests per connection). The work is in HistoryService. Explicit `@Inject` everywhere (ADR 0002:
 * tsx emits no decorator metadata).
 */

export const SERVICE = Symbol('HistoryService');
export const API_OPTIONS = Symbol('ApiOptions');

export interface ApiOptions {
  token?: string;
  serverUrl: string;
}

/** The listener's bounds (config `api.*`). */
export interface ApiLimits {
  bodyLimitBytes: number;
  requestTimeoutMs: number;
  connectionTimeoutMs: number;
  keepAliveTimeoutMs: number;
  maxRequestsPerSocket: number;
  maxConnections: number;
}

export const DEFAULT_API_LIMITS: ApiLimits = {
  bodyLimitBytes: 64 * 1024,
  requestTimeoutMs: 10_000,
  connectionTimeoutMs: 60_000,
  keepAliveTimeoutMs: 5_000,
  maxRequestsPerSocket: 1_000,
  maxConnections: 256,
};

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

class TokenGuard implements CanActivate {
  constructor(
    private readonly token: string | undefined,
    private readonly metrics: IndexerMetrics,
  ) {}
  canActivate(ctx: ExecutionContext): boolean {
    if (!this.token) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; url: string }>();
    if (req.url === '/openapi.json') return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (m && sameSecret((m[1] as string).trim(), this.token)) return true;
    this.metrics.refused.inc({ reason: 'unauthorized' });
    throw new HttpException({ error: 'unauthorized', message: 'send Authorization: Bearer <api.token>' }, 401);
  }
}

/**
 * The host part of a Host header (`127.0.0.1:8081` → `127.0.0.1`, `[::1]:8081` → `[::1]`), lower case.
 * undefined when there is none.
 */
export function hostOf(header: string | undefined): string | undefined {
  if (!header) return undefined;
  const h = header.trim().toLowerCase();
  const m = /^(\[[^\]]*\]|[^:]*)(?::\d*)?$/.exec(h);
  return m?.[1] || undefined;
}

@Catch()
class ErrorFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: IndexerMetrics,
  ) {}
  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<{ status(n: number): { header(k: string, v: string): unknown; send(b: unknown): void } }>();
    const send = (status: number, body: Record<string, unknown>) => reply.status(status).send(body);
    if (err instanceof RequestError) {
      for (const r of err.reasons) this.metrics.badRequests.inc({ reason: (r.split(':')[0] ?? 'body').replace(/[^a-z.]/gi, '').slice(0, 20) || 'body' });
      // A filter that does not parse or check also comes as the query language's error (code, column, hint).
      return send(400, { error: 'bad_request', message: err.message, reasons: err.reasons, ...(err.filter ? { filter: err.filter.error.toJSON() } : {}) });
    }
    if (err instanceof RangeError) {
      this.metrics.badRequests.inc({ reason: 'range' });
      return send(400, { error: 'bad_request', message: err.message, reasons: [err.message] });
    }
    if (err instanceof NotFoundError) return send(404, { error: 'not_found', message: err.message });
    if (err instanceof ConflictError) return send(409, { error: 'conflict', message: err.message });
    if (err instanceof ForbiddenError) {
      this.metrics.refused.inc({ reason: 'forbidden_env' });
      return send(403, { error: 'forbidden', message: err.message });
    }
    if (err instanceof BusyError) {
      reply.status(503).header('retry-after', '30');
      return send(503, { error: 'busy', message: err.message });
    }
    if (err instanceof HttpException) {
      const body = err.getResponse();
      const status = err.getStatus();
      if (status === 400) this.metrics.badRequests.inc({ reason: 'body' });
      return send(status, typeof body === 'object' && body !== null && 'error' in body ? (body as Record<string, unknown>) : { error: status === 404 ? 'not_found' : 'error', message: err.message });
    }
    // Anything else is ours or a backing service's: the detail (messages, addresses, stacks) goes to
    // the log under an id, the caller gets the id and nothing internal.
    const errorId = randomBytes(6).toString('hex');
    const retriable = (err as { retriable?: unknown }).retriable === true;
    const status = retriable ? 503 : 500;
    this.metrics.internalErrors.inc({ status: String(status) });
    this.logger.error('request failed', { errorId, status, error: err });
    return send(
      status,
      retriable
        ? { error: 'unavailable', message: `a service the indexer needs did not answer; try again later (error id ${errorId} in the indexer log)`, errorId }
        : { error: 'internal', message: `internal error (error id ${errorId} in the indexer log)`, errorId },
    );
  }
}

@Controller()
class HistoryController {
  constructor(
    @Inject(SERVICE) private readonly service: HistoryService,
    @Inject(API_OPTIONS) private readonly opts: ApiOptions,
  ) {}

  @Get('openapi.json')
  openapi(): Record<string, unknown> {
    return openApiDocument(this.opts.serverUrl);
  }

  @Post('v1/history')
  @HttpCode(202)
  async load(@Body() body: unknown): Promise<unknown> {
    return (await this.service.request(body ?? {})).view;
  }

  @Get('v1/history')
  async list(@Query('env') env?: string): Promise<unknown> {
    if (env !== undefined && !this.service.opts.envs.includes(env)) throw new RequestError([`env: unknown env ${JSON.stringify(env)} (known: ${this.service.opts.envs.join(', ')})`]);
    return { indices: await this.service.list(env) };
  }

  @Get('v1/history/:index')
  get(@Param('index') index: string): Promise<unknown> {
    return this.service.get(index);
  }

  @Delete('v1/history/:index')
  drop(@Param('index') index: string): Promise<unknown> {
    return this.service.drop(index);
  }

  @Post('v1/history/:index/extend')
  @HttpCode(200)
  extend(@Param('index') index: string, @Body() body: unknown): Promise<unknown> {
    const b = (body ?? {}) as { hours?: unknown };
    const extra = Object.keys(b).filter((k) => k !== 'hours');
    if (extra.length || (b.hours !== undefined && typeof b.hours !== 'number')) throw new RequestError([`body: expected {hours?: number}${extra.length ? `, unknown ${extra.join(', ')}` : ''}`]);
    return this.service.extend(index, b.hours as number | undefined);
  }
}

@Module({})
class ApiModule {
  static register(service: HistoryService, opts: ApiOptions): DynamicModule {
    return {
      module: ApiModule,
      controllers: [HistoryController],
      providers: [
        { provide: SERVICE, useValue: service },
        { provide: API_OPTIONS, useValue: opts },
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
 * header names a loopback address: a web page on another site can make a browser send requests to
 * 127.0.0.1 under its own name (DNS rebinding) but cannot make it send `Host: 127.0.0.1`. Those get
 * 421 Misdirected Request, before routing.
 */
export async function startApi(
  service: HistoryService,
  opts: { host: string; port: number; token?: string; limits?: Partial<ApiLimits> },
  logger: Logger,
  metrics: IndexerMetrics,
): Promise<ApiServer> {
  const limits = { ...DEFAULT_API_LIMITS, ...opts.limits };
  const adapter = new FastifyAdapter({
    bodyLimit: limits.bodyLimitBytes,
    // Node's http.Server: requestTimeout bounds receiving one request (408, then close), connectionTimeout
    // is the socket's idle timeout, keepAliveTimeout the wait for a kept-alive connection's next request.
    requestTimeout: limits.requestTimeoutMs,
    connectionTimeout: limits.connectionTimeoutMs,
    keepAliveTimeout: limits.keepAliveTimeoutMs,
    maxRequestsPerSocket: limits.maxRequestsPerSocket,
    return503OnClosing: true,
    // Node checks those deadlines only every connectionsCheckingInterval (30 s by default): once a
    // second, so that a request that stalls is cut near its deadline. headersTimeout may not exceed it.
    http: { connectionsCheckingInterval: Math.min(1_000, limits.requestTimeoutMs), headersTimeout: limits.requestTimeoutMs },
  });
  const apiOpts: ApiOptions = { serverUrl: `http://${opts.host}:${opts.port}`, ...(opts.token ? { token: opts.token } : {}) };
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.register(service, apiOpts), adapter, { logger: false, abortOnError: false });
  app.useGlobalGuards(new TokenGuard(opts.token, metrics));
  app.useGlobalFilters(new ErrorFilter(logger, metrics));
  const fastify = app.getHttpAdapter().getInstance();
  if (!opts.token) {
    fastify.addHook('onRequest', (req, reply, done) => {
      const h = hostOf(req.headers.host);
      if (h && LOOPBACK.test(h)) return done();
      metrics.refused.inc({ reason: 'host' });
      void reply.code(421).send({
        error: 'misdirected',
        message: 'without api.token this API answers only requests addressed to a loopback name (Host: 127.0.0.1, localhost or [::1]); set api.token to serve other names',
      });
    });
  }
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = (req.routeOptions?.url ?? 'unknown').replace(/:index/, ':index');
    metrics.requests.inc({ route: `${req.method} ${route}`, status: String(reply.statusCode) });
    done();
  });
  await app.listen(opts.port, opts.host);
  fastify.server.maxConnections = limits.maxConnections;
  const addr = fastify.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  apiOpts.serverUrl = `http://${opts.host.includes(':') ? `[${opts.host}]` : opts.host}:${port}`;
  return { app, url: apiOpts.serverUrl, close: () => app.close() };
}
