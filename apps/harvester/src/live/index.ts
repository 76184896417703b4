// The harvester's live output (issue 9): a lossy UDP copy of selected events for live-receivers.
// Wiring in main.ts: `const live = createLiveSender(config.live, { host: config.host });`
// `registerLiveSenderMetrics(registry, live)`, then `live.send(event)` for each normalized event
// (before or beside the shipper: it never waits) and `await live.stop()` on shutdown.
export { createLiveSender, liveConfigSchema, type LiveConfig, type LiveSender, type LiveSenderOptions, type LiveSenderStats } from './sender';
export { compileLiveFilter, liveFilterSchema, type LiveFilterConfig } from './filter';
export { levelRank, isKnownLevel } from './levels';
export { registerLiveSenderMetrics } from './metrics';
export { asLiveEvent } from './event-compat';
