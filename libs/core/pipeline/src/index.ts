// @backlog/core-pipeline: the framework-free ports of the pipeline (sources, sinks, logger), a bounded
// queue with named when-full policies, and lifecycle helpers. No I/O here (ARCHITECTURE.md).
export * from './ports';
export * from './queue';
export * from './sink';
export * from './lifecycle';
export * from './errors';
