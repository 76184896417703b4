import type { Deadline } from './ports';

/** A deadline `ms` from now. */
export function deadlineIn(ms: number, now = Date.now()): Deadline {
  return now + ms;
}

/** Milliseconds left until `deadline` (never negative). */
export function remainingMs(deadline: Deadline, now = Date.now()): number {
  return Math.max(0, deadline - now);
}

/**
 * Waits for `work` until `deadline`. Resolves `true` when it finished in time, `false` when the deadline
 * came first (the work goes on; the caller decides whether to abandon it). A rejection is swallowed and
 * reported as finished: stop paths must not throw.
 */
export async function settleBy(work: Promise<unknown>, deadline: Deadline): Promise<boolean> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), remainingMs(deadline));
    // Never keep the process alive only for a stop deadline.
    (timer as { unref?: () => void }).unref?.();
  });
  try {
    return await Promise.race([
      work.then(
        () => true,
        () => true,
      ),
      timeout,
    ]);
  } finally {
    if (timer) clearTimeout(timer);
  }
}

/** Wraps an async function so that every call after the first returns the first call's promise (stop safe twice). */
export function once<A extends unknown[], R>(fn: (...args: A) => Promise<R>): (...args: A) => Promise<R> {
  let p: Promise<R> | undefined;
  return (...args: A) => (p ??= fn(...args));
}

export type LifecycleState = 'new' | 'starting' | 'running' | 'stopping' | 'stopped';

/**
 * The written lifecycle of a component (ARCHITECTURE.md habit 3) as a small state machine:
 * `start` runs once, `stop` runs once (and also after a failed or never-called start), and the second
 * call of either returns the first call's promise.
 */
export class Lifecycle {
  private current: LifecycleState = 'new';
  private startP?: Promise<void>;
  private stopP?: Promise<void>;

  get state(): LifecycleState {
    return this.current;
  }
  get running(): boolean {
    return this.current === 'running';
  }
  /** True once stop was called: intake must end. */
  get stopping(): boolean {
    return this.current === 'stopping' || this.current === 'stopped';
  }

  start(fn: () => Promise<void>): Promise<void> {
    if (this.startP) return this.startP;
    if (this.stopping) return Promise.reject(new Error('cannot start a stopped component'));
    this.current = 'starting';
    this.startP = fn().then(
      () => {
        if (this.current === 'starting') this.current = 'running';
      },
      (err: unknown) => {
        if (this.current === 'starting') this.current = 'stopped';
        throw err;
      },
    );
    return this.startP;
  }

  stop(fn: () => Promise<void>): Promise<void> {
    if (this.stopP) return this.stopP;
    this.current = 'stopping';
    // Let a start in progress finish (or fail) first, so stop never races half-open resources.
    const afterStart = this.startP ? this.startP.catch(() => undefined) : Promise.resolve();
    this.stopP = afterStart
      .then(fn)
      .catch(() => undefined)
      .finally(() => {
        this.current = 'stopped';
      });
    return this.stopP;
  }
}
