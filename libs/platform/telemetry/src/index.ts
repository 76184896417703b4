// @backlog/platform-telemetry: metrics registry (prom-client), /metrics + /healthz (readiness) + /livez (liveness) server, JSON logger.
export { MetricsRegistry, componentMetrics, type ComponentMetrics } from './metrics';
// The metric types the registry hands out, for apps that pass a metric around (apps never import prom-client).
export type { Counter, Gauge, Histogram } from 'prom-client';
export { createJsonLogger, type JsonLoggerOptions, type LogLevel } from './logger';
export { startTelemetryServer, type HealthReport, type TelemetryServer, type TelemetryServerOptions } from './server';
