import type { LogEvent } from '@backlog/core-event';
import type { LiveEventLike } from '@backlog/core-codec';

/**
 * Compile-time check that the harvester's normalized events can be handed to `LiveSender.send`
 * as they are (the live path reads them through the narrower `LiveEventLike`).
 */
export const asLiveEvent = (e: LogEvent): LiveEventLike => e;
