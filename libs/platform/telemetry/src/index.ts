// @backlog/platform-telemetry: metrics registry (prom-client), /metrics + /healthz (readiness) + /livez (liveness) server, JSON logger.
export { MetricsRegistry, componentMetrics, type ComponentMetrics } from './metrics';
export { createJsonLogger, type JsonLoggerOptions, type LogLevel } from './logger';
export { startTelemetryServer, type HealthReport, type TelemetryServer, type TelemetryServerOptions } from './server';
