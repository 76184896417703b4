import { type IncomingMessage, type Server, type ServerResponse, createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { MetricsRegistry } from './metrics';

export interface HealthReport {
  ok: boolean;
  [detail: string]: unknown;
}

export interface TelemetryServerOptions {
  registry: MetricsRegistry;
  /** Bind address. Default 127.0.0.1: metrics are not for the world unless asked (0.0.0.0 for a scraper elsewhere). */
  host?: string;
  /** Port; DESIGN.md assigns 9101..9106 per app. 0 picks a free one. */
  port: number;
  /** `/healthz` body (readiness: can the app do its work now?); 200 when ok, 503 otherwise. Default: always ok. */
  health?: () => HealthReport | Promise<HealthReport>;
  /**
   * `/livez` body (liveness: is the process itself working?); 200 when ok, 503 otherwise. Default: always
   * ok — an answer at all shows the event loop runs. It must not depend on other servers (Kafka, Redis,
   * the search engine): a liveness probe that fails while one of them is down makes Kubernetes restart
   * every pod for nothing, which /healthz (readiness) would do.
   */
  liveness?: () => HealthReport | Promise<HealthReport>;
}

export interface TelemetryServer {
  readonly port: number;
  readonly host: string;
  close(): Promise<void>;
}

/**
 * `GET /metrics` (Prometheus text), `GET /healthz` (readiness, JSON) and `GET /livez` (liveness, JSON) on
 * node:http; nothing else. deploy/k8s points readiness probes at /healthz and liveness and startup probes
 * at /livez, so an outage of a server the app needs takes its pods out of service without restarting them.
 */
export async function startTelemetryServer(opts: TelemetryServerOptions): Promise<TelemetryServer> {
  const host = opts.host ?? '127.0.0.1';
  const server: Server = createServer((req, res) => void handle(req, res));
  // Short keep-alive: scrapers reconnect cheaply and close() is not held up by idle sockets.
  server.keepAliveTimeout = 5_000;

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    try {
      const path = (req.url ?? '/').split('?')[0];
      if (req.method !== 'GET' && req.method !== 'HEAD') return send(res, 405, 'text/plain', 'method not allowed\n');
      if (path === '/metrics') return send(res, 200, opts.registry.contentType, await opts.registry.metrics());
      if (path === '/healthz' || path === '/livez') {
        const report = (await (path === '/healthz' ? opts.health : opts.liveness)?.()) ?? { ok: true };
        return send(res, report.ok ? 200 : 503, 'application/json', `${JSON.stringify(report)}\n`);
      }
      send(res, 404, 'text/plain', 'not found\n');
    } catch (err) {
      send(res, 500, 'text/plain', `${(err as Error).message}\n`);
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  const addr = server.address() as AddressInfo;
  let closing: Promise<void> | undefined;
  return {
    port: addr.port,
    host,
    close: () =>
      (closing ??= new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      })),
  };
}

function send(res: ServerResponse, status: number, type: string, body: string): void {
  res.writeHead(status, { 'content-type': type, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
