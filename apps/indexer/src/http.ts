import 'reflect-metadata';
import { timingSafeEqual } from 'node:crypto';
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
import { ConflictError, HistoryService, NotFoundError } from './service';

/**
 * The HTTP shell (NestJS 11 + Fastify): routes, the bearer-token guard, errors → status codes. The
 * work is in HistoryService. Explicit `@Inject` everywhere (ADR 0002: tsx emits no decorator metadata).
 */

export const SERVICE = Symbol('HistoryService');
export const API_OPTIONS = Symbol('ApiOptions');

export interface ApiOptions {
  token?: string;
  serverUrl: string;
}

function sameSecret(a: string, b: string): boolean {
  const x = Buffer.from(a);
  const y = Buffer.from(b);
  return x.length === y.length && timingSafeEqual(x, y);
}

class TokenGuard implements CanActivate {
  constructor(private readonly token: string | undefined) {}
  canActivate(ctx: ExecutionContext): boolean {
    if (!this.token) return true;
    const req = ctx.switchToHttp().getRequest<{ headers: Record<string, string | undefined>; url: string }>();
    if (req.url === '/openapi.json') return true;
    const m = /^Bearer\s+(.+)$/i.exec(req.headers.authorization ?? '');
    if (m && sameSecret((m[1] as string).trim(), this.token)) return true;
    throw new HttpException({ error: 'unauthorized', message: 'send Authorization: Bearer <api.token>' }, 401);
  }
}

@Catch()
class ErrorFilter implements ExceptionFilter {
  constructor(
    private readonly logger: Logger,
    private readonly metrics: IndexerMetrics,
  ) {}
  catch(err: unknown, host: ArgumentsHost): void {
    const reply = host.switchToHttp().getResponse<{ status(n: number): { send(b: unknown): void } }>();
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
    if (err instanceof HttpException) {
      const body = err.getResponse();
      const status = err.getStatus();
      if (status === 400) this.metrics.badRequests.inc({ reason: 'body' });
      return send(status, typeof body === 'object' && body !== null && 'error' in body ? (body as Record<string, unknown>) : { error: status === 404 ? 'not_found' : 'error', message: err.message });
    }
    this.logger.error('request failed', { error: err });
    const retriable = (err as { retriable?: unknown }).retriable === true;
    return send(retriable ? 503 : 500, { error: retriable ? 'unavailable' : 'internal', message: (err as Error).message ?? String(err) });
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

/** Boots the API on host:port (0 = a free port). */
export async function startApi(service: HistoryService, opts: { host: string; port: number; token?: string }, logger: Logger, metrics: IndexerMetrics): Promise<ApiServer> {
  const adapter = new FastifyAdapter({ bodyLimit: 64 * 1024 });
  const apiOpts: ApiOptions = { serverUrl: `http://${opts.host}:${opts.port}`, ...(opts.token ? { token: opts.token } : {}) };
  const app = await NestFactory.create<NestFastifyApplication>(ApiModule.register(service, apiOpts), adapter, { logger: false, abortOnError: false });
  app.useGlobalGuards(new TokenGuard(opts.token));
  app.useGlobalFilters(new ErrorFilter(logger, metrics));
  const fastify = app.getHttpAdapter().getInstance();
  fastify.addHook('onResponse', (req, reply, done) => {
    const route = (req.routeOptions?.url ?? 'unknown').replace(/:index/, ':index');
    metrics.requests.inc({ route: `${req.method} ${route}`, status: String(reply.statusCode) });
    done();
  });
  await app.listen(opts.port, opts.host);
  const addr = fastify.server.address();
  const port = typeof addr === 'object' && addr ? addr.port : opts.port;
  apiOpts.serverUrl = `http://${opts.host}:${port}`;
  return { app, url: apiOpts.serverUrl, close: () => app.close() };
}
