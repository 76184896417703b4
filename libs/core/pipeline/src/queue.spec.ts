import { describe, expect, it } from 'vitest';
import { BoundedQueue } from './queue';
import { QueueSink } from './sink';
import { Lifecycle, once, settleBy } from './lifecycle';

describe('BoundedQueue', () => {
  it('block: refuses when full, push waits for room, nothing dropped', async () => {
    const q = new BoundedQueue<number>({ capacity: 2, whenFull: 'block' });
    expect(q.offer(1)).toBe('accepted');
    expect(q.offer(2)).toBe('accepted');
    expect(q.offer(3)).toBe('full');
    let pushed = false;
    const p = q.push(3).then((r) => ((pushed = true), r));
    await Promise.resolve();
    expect(pushed).toBe(false);
    expect(q.shift()).toBe(1);
    expect(await p).toBe('accepted');
    expect(q.take()).toEqual([2, 3]);
    expect(q.dropped()).toEqual({});
  });

  it('drop_oldest keeps the newest and counts each drop with a reason', () => {
    const drops: [number, string][] = [];
    const q = new BoundedQueue<number>({ capacity: 3, whenFull: 'drop_oldest', onDrop: (i, r) => drops.push([i, r]) });
    for (let i = 1; i <= 5; i++) q.offer(i);
    expect(q.take()).toEqual([3, 4, 5]);
    expect(drops).toEqual([
      [1, 'queue_full'],
      [2, 'queue_full'],
    ]);
    expect(q.dropped()).toEqual({ queue_full: 2 });
  });

  it('drop_newest keeps what is queued', () => {
    const q = new BoundedQueue<number>({ capacity: 2, whenFull: 'drop_newest' });
    expect([1, 2, 3].map((i) => q.offer(i))).toEqual(['accepted', 'accepted', 'dropped']);
    expect(q.take()).toEqual([1, 2]);
    expect(q.dropped()).toEqual({ queue_full: 1 });
  });

  it('bounds weight too, but lets one oversized item through an empty queue', () => {
    const q = new BoundedQueue<string>({ capacity: 100, maxWeight: 10, weigh: (s) => s.length, whenFull: 'drop_newest' });
    expect(q.offer('x'.repeat(50))).toBe('accepted');
    expect(q.offer('y')).toBe('dropped');
    q.take();
    expect(q.offer('abcde')).toBe('accepted');
    expect(q.offer('fghij')).toBe('accepted');
    expect(q.offer('k')).toBe('dropped');
    expect(q.weight).toBe(10);
  });

  it('stays O(1) over many items and counts closed drops', () => {
    const q = new BoundedQueue<number>({ capacity: 10, whenFull: 'drop_oldest' });
    for (let i = 0; i < 100_000; i++) q.offer(i);
    expect(q.take()).toEqual([99_990, 99_991, 99_992, 99_993, 99_994, 99_995, 99_996, 99_997, 99_998, 99_999]);
    q.close();
    expect(q.offer(1)).toBe('closed');
    expect(q.dropped()).toEqual({ queue_full: 99_990, closed: 1 });
  });
});

describe('QueueSink', () => {
  it('block: keeps every write, signals pause, and calls onWritable after draining', () => {
    const sink = new QueueSink<number>({ capacity: 3, whenFull: 'block' });
    let woke = 0;
    sink.onWritable(() => woke++);
    expect(sink.write([1, 2])).toBe(true);
    expect(sink.write([3, 4], [{ source: 's', cursor: 4 }])).toBe(false);
    expect(sink.writable).toBe(false);
    const got = sink.take(10);
    expect(got.events).toEqual([1, 2, 3, 4]);
    expect(got.positions).toEqual([{ source: 's', cursor: 4 }]);
    expect(woke).toBe(1);
  });

  it('positions ride with the last event of their write', () => {
    const sink = new QueueSink<number>({ capacity: 10, whenFull: 'block' });
    sink.write([1, 2], [{ source: 'a', cursor: 2 }]);
    sink.write([3], [{ source: 'a', cursor: 3 }]);
    expect(sink.take(1).positions).toEqual([]);
    expect(sink.take(1).positions).toEqual([{ source: 'a', cursor: 2 }]);
    expect(sink.take(5).positions).toEqual([{ source: 'a', cursor: 3 }]);
    sink.write([], [{ source: 'a', cursor: 9 }]);
    expect(sink.take().positions).toEqual([{ source: 'a', cursor: 9 }]);
  });
});

describe('lifecycle', () => {
  it('stop is safe twice and waits for a start in progress', async () => {
    const lc = new Lifecycle();
    const order: string[] = [];
    let stops = 0;
    const started = lc.start(async () => {
      await new Promise((r) => setTimeout(r, 10));
      order.push('started');
    });
    const s1 = lc.stop(async () => {
      stops++;
      order.push('stopped');
    });
    const s2 = lc.stop(async () => void stops++);
    expect(s1).toBe(s2);
    await Promise.all([started, s1]);
    expect(order).toEqual(['started', 'stopped']);
    expect(stops).toBe(1);
    expect(lc.state).toBe('stopped');
  });

  it('settleBy keeps to its deadline; once memoizes', async () => {
    expect(await settleBy(new Promise(() => undefined), Date.now() + 20)).toBe(false);
    expect(await settleBy(Promise.reject(new Error('x')), Date.now() + 1000)).toBe(true);
    let n = 0;
    const f = once(async () => ++n);
    expect(await Promise.all([f(), f()])).toEqual([1, 1]);
  });
});
