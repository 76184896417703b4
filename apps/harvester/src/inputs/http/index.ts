import type { LogEvent } from '@backlog/core-event';
import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createGunzip } from 'node:zlib';
import { Lifecycle, type Source, settleBy } from '@backlog/core-pipeline';
import type { FlagReason } from '../shared/event';
import { fallbackEvent, peerAddress } from '../shared/event';
import { InputCore, type InputContext, type InputFactory } from '../shared/input';
import { LineSplitter, isBlank } from '../shared/lines';
import { type HttpConfig, httpConfigSchema } from './config';

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/**
 * HTTP intake on node:http (no framework: two routes, and we want full control of body limits):
 *   POST /logs        a JSON object, or NDJSON (one record per line)
 *   POST /logs/batch  a JSON array of records
 *   GET  /healthz
 * Bodies may be gzip (`Content-Encoding: gzip`), capped before and after decompression (413). The answer
 * is `202 {accepted, flagged}` once the events are in the sink; `503` + Retry-After while the sink is full
 * (the sender keeps the data and retries: HTTP's form of backpressure). A record we cannot parse is still
 * accepted, as a flagged event.
 */
export class HttpInput implements Source {
  readonly type = 'http';
  readonly name: string;
  readonly core: InputCore;
  private server?: Server;
  private readonly lc = new Lifecycle();

  constructor(
    private readonly cfg: HttpConfig,
    ctx: InputContext,
  ) {
    this.name = cfg.name ?? this.type;
    this.core = new InputCore(this.type, this.name, ctx);
  }

  start(): Promise<void> {
    return this.lc.start(async () => {
      const server = createServer((req, res) => void this.handle(req, res));
      this.server = server;
      server.requestTimeout = this.cfg.requestTimeoutMs;
      server.headersTimeout = Math.min(this.cfg.requestTimeoutMs, 60_000);
      server.keepAliveTimeout = 5_000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', reject);
        server.listen(this.cfg.port, this.cfg.host, () => {
          server.off('error', reject);
          server.on('error', (err) => this.core.logger.error('http server error', { err }));
          resolve();
        });
      });
      this.core.logger.info('listening', this.address());
    });
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const path = (req.url ?? '/').split('?')[0];
    try {
      if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
        return json(res, 200, { ok: true, writable: this.core.sink.writable });
      }
      if (path !== '/logs' && path !== '/logs/batch') throw new HttpError(404, 'not found');
      if (req.method !== 'POST') throw new HttpError(405, 'use POST');
      if (this.lc.stopping) throw new HttpError(503, 'shutting down');
      if (!this.core.sink.writable) {
        // Before reading the body: the sender keeps its data and retries later (RFC 9110 §15.6.4, §10.2.3).
        res.setHeader('retry-after', String(this.core.sink.retryAfterSeconds ?? 1));
        throw new HttpError(503, 'busy, retry later');
      }
      const body = await this.readBody(req);
      const { accepted, flagged } = this.ingest(body, path === '/logs/batch', req.headers['content-type'] ?? '', peerAddress(req.socket.remoteAddress));
      json(res, 202, { accepted, flagged });
    } catch (err) {
      const status = err instanceof HttpError ? err.status : 500;
      if (status === 413) {
        this.core.received(1);
        this.core.dropped('body_too_large');
      } else if (status === 400) {
        this.core.received(1);
        this.core.dropped('bad_request');
      } else if (status === 500) this.core.logger.error('request failed', { err });
      // Do not read a refused body: close the connection instead of draining megabytes.
      if (!req.complete) res.setHeader('connection', 'close');
      json(res, status, { error: (err as Error).message });
      if (!req.complete) req.resume();
    }
  }

  /** The body, decompressed, within both caps. */
  private readBody(req: IncomingMessage): Promise<Buffer> {
    const { maxBodyBytes, maxDecompressedBytes } = this.cfg;
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > maxBodyBytes) return Promise.reject(new HttpError(413, `body over ${maxBodyBytes} bytes`));
    const encoding = String(req.headers['content-encoding'] ?? 'identity').toLowerCase().trim();
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip') return Promise.reject(new HttpError(415, `unsupported content-encoding ${encoding}`));
    return new Promise<Buffer>((resolve, reject) => {
      const parts: Buffer[] = [];
      let raw = 0;
      let out = 0;
      let done = false;
      const fail = (e: HttpError) => {
        if (done) return;
        done = true;
        gunzip?.destroy();
        reject(e);
      };
      const gunzip = encoding === 'identity' ? undefined : createGunzip();
      const take = (chunk: Buffer) => {
        out += chunk.length;
        if (out > (gunzip ? maxDecompressedBytes : maxBodyBytes)) return fail(new HttpError(413, gunzip ? `decompressed body over ${maxDecompressedBytes} bytes` : `body over ${maxBodyBytes} bytes`));
        parts.push(chunk);
      };
      const finish = () => {
        if (done) return;
        done = true;
        resolve(Buffer.concat(parts, out));
      };
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        raw += chunk.length;
        if (raw > maxBodyBytes) return fail(new HttpError(413, `body over ${maxBodyBytes} bytes`));
        if (gunzip) gunzip.write(chunk);
        else take(chunk);
      });
      req.on('end', () => (gunzip ? gunzip.end() : finish()));
      req.on('error', () => fail(new HttpError(400, 'request aborted')));
      if (gunzip) {
        gunzip.on('data', take);
        gunzip.on('end', finish);
        gunzip.on('error', (e) => fail(new HttpError(400, `bad gzip body: ${e.message}`)));
      }
    });
  }

  /**
   * Body → events → sink. Every record counts as received and is emitted (flagged if need be). `peer`: the
   * remote address, the namespace of event ids a record names itself (ADR 0015).
   */
  private ingest(body: Buffer, batch: boolean, contentType: string, peer: string): { accepted: number; flagged: number } {
    const core = this.core;
    const receivedAt = new Date();
    const events: LogEvent[] = [];
    const record = (raw: Buffer | string, format: 'json' | HttpConfig['format'], bytes: number, flags: FlagReason[] = []) => {
      core.received(1, bytes);
      events.push(core.event(raw, format, flags, bytes, { receivedAt, peer }));
    };
    const ndjson = () => {
      const splitter = new LineSplitter(this.cfg.maxRecordBytes);
      const onLine = (line: Buffer, info: { truncated: boolean; originalBytes: number }) => {
        if (isBlank(line)) return;
        record(line, this.cfg.format, info.originalBytes, info.truncated ? ['truncated'] : []);
      };
      splitter.push(body, onLine);
      splitter.flush(onLine);
    };

    const isNdjson = /ndjson|jsonlines|x-json-stream/i.test(contentType);
    let parsed: unknown;
    let ok = false;
    if (!isNdjson || batch) {
      try {
        parsed = JSON.parse(body.toString('utf8'));
        ok = true;
      } catch {
        // Not one JSON document: read it as NDJSON, so one bad line costs one flagged event, not the request.
      }
    }
    if (!ok) ndjson();
    else if (Array.isArray(parsed)) for (const el of parsed) this.element(el, record, events, receivedAt);
    else this.element(parsed, record, events, receivedAt);

    let flagged = 0;
    // A replaced time (ADR 0015) is flagged too: the sender learns that its event was not filed as it said.
    for (const e of events) if (e.labels?.parse_error !== undefined || e.labels?.truncated !== undefined || e.labels?.invalid_utf8 !== undefined || e.labels?.timestamp_replaced !== undefined) flagged++;
    core.emit(events);
    return { accepted: events.length, flagged };
  }

  /** One parsed JSON value of a batch. Re-serialized so that the one line parser (with its caps) handles it. */
  private element(el: unknown, record: (raw: string, format: HttpConfig['format'], bytes: number, flags?: FlagReason[]) => void, events: LogEvent[], receivedAt: Date): void {
    if (typeof el === 'string') return record(capString(el, this.cfg.maxRecordBytes).text, 'auto', Buffer.byteLength(el), capString(el, this.cfg.maxRecordBytes).cut ? ['truncated'] : []);
    let text: string;
    try {
      text = JSON.stringify(el) ?? 'null';
    } catch {
      // JSON.stringify recurses: a pathologically deep value cannot be serialized; keep a flagged stub.
      this.core.received(1);
      events.push(fallbackEvent('[unserializable JSON value]', { receivedAt, hostname: this.core.ctx.hostname, input: this.type, labels: this.core.labels }, 'nesting_too_deep'));
      return;
    }
    const capped = capString(text, this.cfg.maxRecordBytes);
    record(capped.text, 'json', Buffer.byteLength(text), capped.cut ? ['truncated'] : []);
  }

  stop(deadline: number): Promise<void> {
    return this.lc.stop(async () => {
      const server = this.server;
      if (!server) return;
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeIdleConnections();
      if (!(await settleBy(closed, deadline))) server.closeAllConnections();
    });
  }

  address(): { host: string; port: number } | undefined {
    const a = this.server?.address() as AddressInfo | null | undefined;
    return a ? { host: a.address, port: a.port } : undefined;
  }
}

function capString(s: string, maxBytes: number): { text: string; cut: boolean } {
  if (s.length * 3 <= maxBytes || Buffer.byteLength(s) <= maxBytes) return { text: s, cut: false };
  return { text: Buffer.from(s).subarray(0, maxBytes).toString('utf8'), cut: true };
}

function json(res: ServerResponse, status: number, body: unknown): void {
  if (res.headersSent) return void res.end();
  const text = `${JSON.stringify(body)}\n`;
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export const httpInput = {
  type: 'http',
  configSchema: httpConfigSchema,
  create: (config: HttpConfig, ctx: InputContext) => new HttpInput(config, ctx),
} satisfies InputFactory<typeof httpConfigSchema>;
