import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setImmediate as yieldToLoop } from 'node:timers/promises';
import { createGunzip } from 'node:zlib';
import { Lifecycle, type Source, settleBy } from '@backlog/core-pipeline';
import type { LogEvent } from '@backlog/core-event';
import { type FlagReason, type HarvestEvent, peerAddress } from '../shared/event';
import { InputCore, type DropReason, type InputContext, type InputFactory } from '../shared/input';
import { LineSplitter, isBlank } from '../shared/lines';
import { connectionMetrics } from '../shared/tcp';
import { type HttpConfig, httpConfigSchema } from './config';
import { JsonArrayElements, scanJsonBody } from './json-scan';

/** Why a request was answered with an error; the `reason` of the JSON error body and of the metrics. */
type ErrorReason = 'not_found' | 'method_not_allowed' | 'unsupported_media_type' | 'body_too_large' | 'too_many_records' | 'bad_request' | RefusalReason;

/** Requests refused before their body was read (the sender keeps its data and retries): harvester_input_refused_requests_total{reason}. */
type RefusalReason = 'busy' | 'too_many_requests' | 'shutting_down';

class HttpError extends Error {
  constructor(
    readonly status: number,
    readonly reason: ErrorReason,
    message: string,
    readonly extra: Record<string, number> = {},
  ) {
    super(message);
  }
}

/** Refusals with a body that was (or would have been) a record: counted as one received and one dropped record. */
const DROPPED: Partial<Record<ErrorReason, DropReason>> = {
  body_too_large: 'body_too_large',
  too_many_records: 'too_many_records',
  unsupported_media_type: 'unsupported_media_type',
  bad_request: 'bad_request',
};

/** Records parsed and handed to the sink at once; the input yields to the event loop between slices. */
const SLICE_RECORDS = 500;
/** …or fewer, once their raw bytes reach this: a slice of large records stays small on the heap too. */
const SLICE_BYTES = 256 * 1024;

/** How a body's records are read. */
type Body = { kind: 'array'; count: number; first: number } | { kind: 'value'; count: 1; start: number; end: number } | { kind: 'lines'; count: number };

/**
 * The media types the input reads (RFC 9110 §8.3), each with an optional `charset` of utf-8 or us-ascii:
 *   application/json (and any application/…+json, RFC 6839)  one JSON document (object, or array = batch), else read as NDJSON
 *   application/x-ndjson, application/ndjson, application/jsonlines, application/x-jsonlines,
 *   application/jsonl, application/x-json-stream               NDJSON: one record per line
 *   text/plain                                                  like application/json (sniffed)
 *   (no Content-Type)                                           like application/json (sniffed): simple senders send none
 * Anything else (form posts, multipart, octet-stream, …) → 415 before the body is read.
 */
const NDJSON_TYPES = new Set(['application/x-ndjson', 'application/ndjson', 'application/jsonlines', 'application/x-jsonlines', 'application/jsonl', 'application/x-json-stream']);
const CHARSETS = new Set(['utf-8', 'utf8', 'us-ascii']);

function mediaKind(header: string | undefined): 'ndjson' | 'sniff' {
  if (header === undefined || header.trim() === '') return 'sniff';
  const [type = '', ...params] = header.split(';');
  const t = type.trim().toLowerCase();
  for (const p of params) {
    const eq = p.indexOf('=');
    if (eq < 0 || p.slice(0, eq).trim().toLowerCase() !== 'charset') continue;
    const cs = p
      .slice(eq + 1)
      .trim()
      .replace(/^"(.*)"$/, '$1')
      .toLowerCase();
    if (!CHARSETS.has(cs)) throw new HttpError(415, 'unsupported_media_type', `charset ${cs} is not supported: send UTF-8`);
  }
  if (NDJSON_TYPES.has(t)) return 'ndjson';
  if (t === 'application/json' || t === 'text/plain' || /^application\/[a-z0-9!#$&^_.+-]+\+json$/.test(t)) return 'sniff';
  throw new HttpError(415, 'unsupported_media_type', `unsupported content-type ${t}: send application/json, application/x-ndjson or text/plain`);
}

/** The metric of requests refused before their body was read, named beside the component. */
function httpMetrics(ctx: InputContext) {
  return {
    refusedRequests: ctx.metrics.counter(
      'harvester_input_refused_requests_total',
      'Requests an HTTP input refused before reading their body (503 + Retry-After), by reason (busy, too_many_requests, shutting_down)',
      ['input', 'name', 'reason'],
    ),
    connections: connectionMetrics(ctx.metrics),
  };
}

/**
 * HTTP intake on node:http (no framework: two routes, and we want full control of body limits):
 *   POST /logs        a JSON object, or NDJSON (one record per line)
 *   POST /logs/batch  a JSON array of records
 *   GET  /healthz
 * Bodies may be gzip (`Content-Encoding: gzip`), capped before and after decompression (413). The answer
 * is `202 {accepted, flagged}` once the events are in the sink; `503` + Retry-After while the sink is full
 * or `maxConcurrentRequests` requests are in progress (the sender keeps the data and retries: HTTP's form
 * of backpressure). A record we cannot parse is still accepted, as a flagged event. Every error answer is
 * JSON `{error, reason, limit?}`.
 *
 * A body is never materialised as one value (issue 17 §2): it is counted first — JSON array elements by
 * a validating byte scanner, or NDJSON lines — and refused whole with 413 `too_many_records` above
 * `maxRecordsPerRequest`; then its records are parsed and written in slices (≤ 500 records / 256 KiB),
 * yielding to the event loop between slices and, while the sink says "pause", waiting for it (at most until
 * `requestTimeoutMs` after the request began; then the rest is written anyway, as the request was admitted).
 */
export class HttpInput implements Source {
  readonly type = 'http';
  readonly name: string;
  readonly core: InputCore;
  private server?: Server;
  private readonly lc = new Lifecycle();
  private readonly m: ReturnType<typeof httpMetrics>;
  /** Requests whose body is being read or ingested. */
  private active = 0;
  /** Counts behind harvester_input_refused_requests_total (health, tests). */
  readonly refused = new Map<RefusalReason, number>();
  /** Connections closed at once because maxConnections were open (harvester_input_connections_refused_total). */
  refusedConnections = 0;

  constructor(
    private readonly cfg: HttpConfig,
    ctx: InputContext,
  ) {
    this.name = cfg.name ?? this.type;
    this.core = new InputCore(this.type, this.name, ctx);
    this.m = httpMetrics(ctx);
  }

  get activeRequests(): number {
    return this.active;
  }

  start(): Promise<void> {
    return this.lc.start(async () => {
      const { requestTimeoutMs, headersTimeoutMs, keepAliveTimeoutMs } = this.cfg;
      const server = createServer(
        {
          requestTimeout: requestTimeoutMs,
          // Node refuses a headers timeout above the request timeout.
          headersTimeout: Math.min(headersTimeoutMs, requestTimeoutMs),
          keepAliveTimeout: keepAliveTimeoutMs,
          // Node checks the two timeouts above only this often (default 30 s, which would double them).
          connectionsCheckingInterval: Math.max(100, Math.min(1000, Math.floor(Math.min(headersTimeoutMs, requestTimeoutMs) / 4))),
        },
        (req, res) => void this.handle(req, res),
      );
      this.server = server;
      server.maxConnections = this.cfg.maxConnections;
      server.on('drop', () => {
        this.refusedConnections++;
        this.m.connections.refused.inc({ input: this.type, name: this.name, reason: 'max_connections' });
      });
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
    const began = Date.now();
    let admitted = false;
    try {
      if (path === '/healthz' && (req.method === 'GET' || req.method === 'HEAD')) {
        return json(res, 200, { ok: true, writable: this.core.sink.writable });
      }
      if (path !== '/logs' && path !== '/logs/batch') throw new HttpError(404, 'not_found', 'not found');
      if (req.method !== 'POST') throw new HttpError(405, 'method_not_allowed', 'use POST');
      // Before the body is read: the sender keeps its data and retries later (RFC 9110 §15.6.4, §10.2.3).
      if (this.lc.stopping) throw this.refuse(res, 'shutting_down', 'shutting down', 1);
      const media = mediaKind(req.headers['content-type']);
      if (this.active >= this.cfg.maxConcurrentRequests) throw this.refuse(res, 'too_many_requests', `${this.cfg.maxConcurrentRequests} requests in progress; retry later`, 1);
      if (!this.core.sink.writable) throw this.refuse(res, 'busy', 'busy, retry later', this.core.sink.retryAfterSeconds ?? 1);
      admitted = true;
      this.active++;
      const body = await this.readBody(req);
      const plan = this.plan(body, path === '/logs/batch', media);
      if (plan.count > this.cfg.maxRecordsPerRequest) {
        throw new HttpError(413, 'too_many_records', `${plan.count} records in one request; at most ${this.cfg.maxRecordsPerRequest}: split it`, {
          limit: this.cfg.maxRecordsPerRequest,
          records: plan.count,
        });
      }
      const { accepted, flagged } = await this.ingest(body, plan, began + this.cfg.requestTimeoutMs, peerAddress(req.socket.remoteAddress));
      json(res, 202, { accepted, flagged });
    } catch (err) {
      const e = err instanceof HttpError ? err : undefined;
      const status = e?.status ?? 500;
      const dropped = e ? DROPPED[e.reason] : undefined;
      if (dropped) {
        this.core.received(1);
        this.core.dropped(dropped);
      } else if (!e) this.core.logger.error('request failed', { err });
      // Do not read a refused body: close the connection instead of draining megabytes.
      if (!req.complete) res.setHeader('connection', 'close');
      json(res, status, { error: e ? e.message : 'internal error', reason: e?.reason ?? 'internal', ...e?.extra });
      if (!req.complete) req.resume();
    } finally {
      if (admitted) this.active--;
    }
  }

  /** A 503 before the body is read, counted by reason, with the Retry-After hint. */
  private refuse(res: ServerResponse, reason: RefusalReason, message: string, retryAfterSeconds: number): HttpError {
    this.refused.set(reason, (this.refused.get(reason) ?? 0) + 1);
    this.m.refusedRequests.inc({ input: this.type, name: this.name, reason });
    res.setHeader('retry-after', String(retryAfterSeconds));
    return new HttpError(503, reason, message);
  }

  /** The body, decoded, within both caps (the decoded cap applies to an unencoded body too). */
  private readBody(req: IncomingMessage): Promise<Buffer> {
    const { maxBodyBytes, maxDecompressedBytes } = this.cfg;
    const tooLarge = (limit: number, what: string) => new HttpError(413, 'body_too_large', `${what} over ${limit} bytes`, { limit });
    const encoding = String(req.headers['content-encoding'] ?? 'identity')
      .toLowerCase()
      .trim();
    if (encoding !== 'identity' && encoding !== 'gzip' && encoding !== 'x-gzip')
      return Promise.reject(new HttpError(415, 'unsupported_media_type', `unsupported content-encoding ${encoding}: send gzip or none`));
    const gzip = encoding !== 'identity';
    const rawLimit = gzip ? maxBodyBytes : Math.min(maxBodyBytes, maxDecompressedBytes);
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > rawLimit) return Promise.reject(rawLimit === maxBodyBytes ? tooLarge(maxBodyBytes, 'body') : tooLarge(maxDecompressedBytes, 'decoded body'));
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
      const gunzip = gzip ? createGunzip() : undefined;
      const take = (chunk: Buffer) => {
        if (done) return;
        out += chunk.length;
        if (out > maxDecompressedBytes) return fail(tooLarge(maxDecompressedBytes, 'decoded body'));
        parts.push(chunk);
      };
      const finish = () => {
        if (done) return;
        done = true;
        resolve(parts.length === 1 ? (parts[0] as Buffer) : Buffer.concat(parts, out));
      };
      req.on('data', (chunk: Buffer) => {
        if (done) return;
        raw += chunk.length;
        if (raw > maxBodyBytes) return fail(tooLarge(maxBodyBytes, 'body'));
        if (gunzip) gunzip.write(chunk);
        else take(chunk);
      });
      req.on('end', () => (gunzip ? gunzip.end() : finish()));
      req.on('error', () => fail(new HttpError(400, 'bad_request', 'request aborted')));
      // A sender that goes away mid-body must not hold a concurrency slot (whether or not 'error' came).
      req.once('close', () => {
        if (!req.complete) fail(new HttpError(400, 'bad_request', 'request aborted'));
      });
      if (gunzip) {
        gunzip.on('data', take);
        gunzip.on('end', finish);
        gunzip.on('error', (e) => fail(new HttpError(400, 'bad_request', `bad gzip body: ${e.message}`)));
      }
    });
  }

  /**
   * How the body's records are read, and how many there are, without building them. An NDJSON body is
   * lines; otherwise one JSON document (an array: its elements; anything else: one record), or, when it is
   * not one valid document, lines — so one bad line costs one flagged event, not the request.
   */
  private plan(body: Buffer, batch: boolean, media: 'ndjson' | 'sniff'): Body {
    if (media !== 'ndjson' || batch) {
      const scan = scanJsonBody(body);
      if (scan.kind !== 'invalid') return scan;
    }
    return { kind: 'lines', count: countRecordLines(body, this.cfg.maxRecordBytes) };
  }

  /** Body → events → sink, slice by slice. Every record counts as received and is emitted (flagged if need be). */
  private async ingest(body: Buffer, plan: Body, deadline: number, peer: string): Promise<{ accepted: number; flagged: number }> {
    const core = this.core;
    const receivedAt = new Date();
    let events: LogEvent[] = [];
    let sliceBytes = 0;
    let accepted = 0;
    let flagged = 0;
    const record = (raw: Buffer | string, format: HttpConfig['format'], bytes: number, flags: FlagReason[] = []) => {
      core.received(1, bytes);
      sliceBytes += bytes;
      events.push(core.event(raw, format, flags, bytes, { receivedAt, peer }));
    };
    const full = () => events.length >= SLICE_RECORDS || sliceBytes >= SLICE_BYTES;
    const write = async (last: boolean) => {
      if (events.length) {
        // A replaced time (ADR 0015) is flagged too: the sender learns that its event was not filed as it said.
        for (const e of events)
          if (e.labels?.parse_error !== undefined || e.labels?.truncated !== undefined || e.labels?.invalid_utf8 !== undefined || e.labels?.timestamp_replaced !== undefined) flagged++;
        accepted += events.length;
        const out: HarvestEvent[] = events;
        events = [];
        sliceBytes = 0;
        core.emit(out);
      }
      if (!last) await this.pace(deadline);
    };

    if (plan.kind === 'value') {
      this.element(body, plan.start, plan.end, record);
    } else if (plan.kind === 'array') {
      const it = new JsonArrayElements(body, plan.first);
      while (it.next()) {
        this.element(body, it.start, it.end, record);
        if (full()) await write(false);
      }
    } else {
      const splitter = new LineSplitter(this.cfg.maxRecordBytes);
      const onLine = (line: Buffer, info: { truncated: boolean; originalBytes: number }) => {
        // A blank line is a keep-alive, not a record (countRecordLines agrees).
        if (info.originalBytes === 0 || (!info.truncated && isBlank(line))) return;
        record(line, this.cfg.format, info.originalBytes, info.truncated ? ['truncated'] : []);
      };
      let pos = 0;
      while (pos < body.length) {
        // The next slice: up to SLICE_RECORDS lines (or SLICE_BYTES), ending after an LF.
        let end = pos;
        for (let n = 0; n < SLICE_RECORDS && end < body.length && end - pos < SLICE_BYTES; n++) {
          const nl = body.indexOf(10, end);
          end = nl < 0 ? body.length : nl + 1;
        }
        splitter.push(body.subarray(pos, end), onLine);
        pos = end;
        if (pos < body.length) await write(false);
      }
      splitter.flush(onLine);
    }
    await write(true);
    return { accepted, flagged };
  }

  /**
   * Between two slices: while the sink says "pause", wait for it (until the request's deadline, or our
   * stop); otherwise just let the event loop run (other requests, the shipper's timers, /healthz).
   */
  private async pace(deadline: number): Promise<void> {
    const sink = this.core.sink;
    if (sink.writable || this.lc.stopping || Date.now() >= deadline) return void (await yieldToLoop());
    await new Promise<void>((resolve) => {
      const done = () => {
        clearTimeout(timer);
        unsubscribe();
        resolve();
      };
      const timer = setTimeout(done, Math.max(0, deadline - Date.now()));
      timer.unref();
      const unsubscribe = sink.onWritable(done);
    });
  }

  /** One element of a JSON array (or the one JSON value of a body), as its own bytes. */
  private element(body: Buffer, start: number, end: number, record: (raw: Buffer | string, format: HttpConfig['format'], bytes: number, flags?: FlagReason[]) => void): void {
    const max = this.cfg.maxRecordBytes;
    if (body[start] === 0x22) {
      // A string element is a raw line of any format (e.g. an RFC 5424 message).
      const text = JSON.parse(body.toString('utf8', start, end)) as string;
      const capped = capString(text, max);
      return record(capped.text, 'auto', Buffer.byteLength(text), capped.cut ? ['truncated'] : []);
    }
    const bytes = end - start;
    if (bytes <= max) return record(body.subarray(start, end), 'json', bytes);
    record(body.subarray(start, start + max), 'json', bytes, ['truncated']);
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

/** The NDJSON records of a body: lines that are not blank (a line longer than `maxRecordBytes` always is one). */
function countRecordLines(body: Buffer, maxRecordBytes: number): number {
  let n = 0;
  let pos = 0;
  while (pos < body.length) {
    const nl = body.indexOf(10, pos);
    const end = nl < 0 ? body.length : nl;
    if (end - pos > maxRecordBytes || !isBlank(body.subarray(pos, end))) n++;
    pos = end + 1;
  }
  return n;
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
