// @backlog/platform-app: the one shell of every app's main.ts (config, logger, telemetry server, signals,
// graceful drain, exit codes). See README.md beside this folder.
export { type AppComponent, type AppContext, type AppSpec, type StartedTelemetry, runApp } from './run-app';
