import { describe, expect, test } from 'bun:test';
import { afterMicrotasks, afterSlice, inSlices, slicedQueue } from '../../src/lib/slices';

describe('inSlices', () => {
  test('calls fn for every item, in order', async () => {
    const seen: number[] = [];
    const items = Array.from({ length: 1_000 }, (_, i) => i);
    inSlices(items, (i) => seen.push(i), 1);
    while (seen.length < items.length) await new Promise((r) => setImmediate(r));
    expect(seen).toEqual(items);
  });

  test('a crowd of slow continuations lets a timer run between slices', async () => {
    // 200 waiters, each continuing with 2 ms of work: 400 ms woken at once would hold a
    // 5 ms timer until all were done; in 8 ms slices it fires within a few slices.
    const waiters = Array.from({ length: 200 }, () => Promise.withResolvers<void>());
    const continued = waiters.map(async (w) => {
      await w.promise;
      const end = performance.now() + 2;
      while (performance.now() < end) {}
    });
    const started = performance.now();
    let timerAt = 0;
    setTimeout(() => {
      timerAt = performance.now() - started;
    }, 5);
    inSlices(waiters, (w) => w.resolve(), 8);
    await Promise.all(continued);
    const total = performance.now() - started;
    expect(total).toBeGreaterThanOrEqual(400);
    expect(timerAt).toBeGreaterThan(0);
    expect(timerAt).toBeLessThan(total / 2);
  });

  test('work the woken callers ask for runs once, when their slice ends, not a loop turn later', async () => {
    // Like the presence store's batcher: each continuation adds an item and asks for one
    // flush. All of a slice's items go in one flush, before the loop turns (a setImmediate
    // queued before any of them still finds the flush done).
    const waiters = Array.from({ length: 50 }, () => Promise.withResolvers<void>());
    let pending: number[] = [];
    const flushes: number[][] = [];
    let scheduled = false;
    const flush = () => {
      scheduled = false;
      flushes.push(pending);
      pending = [];
    };
    const continued = waiters.map(async (w, i) => {
      await w.promise;
      await null; // a few steps, as an upgrade's continuation has
      await null;
      pending.push(i);
      if (!scheduled) {
        scheduled = true;
        afterSlice(flush);
      }
    });
    let flushesAtNextTurn: number | undefined;
    setImmediate(() => {
      flushesAtNextTurn = flushes.length;
    });
    inSlices(waiters, (w) => w.resolve(), 1_000);
    await Promise.all(continued);
    await new Promise((r) => setImmediate(r));
    expect(flushes).toEqual([Array.from({ length: 50 }, (_, i) => i)]);
    expect(flushesAtNextTurn).toBe(1);
  });

  test('outside a slice, afterSlice waits for the next loop turn', async () => {
    const order: string[] = [];
    afterSlice(() => order.push('afterSlice'));
    queueMicrotask(() => order.push('microtask'));
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(['microtask', 'afterSlice']);
  });
});

describe('slicedQueue', () => {
  test('work pushed from separate callbacks is done in order, after them, not in them', async () => {
    const done: number[] = [];
    const queue = slicedQueue<number>((i) => done.push(i));
    const doneWhenPushed: number[] = [];
    await new Promise<void>((resolve) => {
      let n = 0;
      const push = () => {
        queue.push(n++);
        doneWhenPushed.push(done.length);
        if (n < 5) setTimeout(push, 0);
        else resolve();
      };
      push();
    });
    while (done.length < 5) await new Promise((r) => setImmediate(r));
    expect(done).toEqual([0, 1, 2, 3, 4]);
    expect(doneWhenPushed[0]).toBe(0); // the first item waited for the next turn
  });

  test('a long queue takes several turns, and a timer runs between them', async () => {
    const done: number[] = [];
    const queue = slicedQueue<number>((i) => {
      const end = performance.now() + 1;
      while (performance.now() < end) {}
      done.push(i);
    }, 4);
    for (let i = 0; i < 60; i++) queue.push(i);
    let doneAtTimer = -1;
    setTimeout(() => {
      doneAtTimer = done.length;
    }, 1);
    while (done.length < 60) await new Promise((r) => setImmediate(r));
    expect(done).toEqual(Array.from({ length: 60 }, (_, i) => i));
    expect(doneAtTimer).toBeGreaterThan(0);
    expect(doneAtTimer).toBeLessThan(60);
  });
});

describe('afterMicrotasks', () => {
  test('runs after continuations several steps deep, within the same loop turn', async () => {
    const order: string[] = [];
    const chain = async () => {
      for (let i = 0; i < 10; i++) await null;
      order.push('chain');
    };
    void chain();
    afterMicrotasks(() => order.push('after'));
    setImmediate(() => order.push('next turn'));
    await new Promise((r) => setTimeout(r, 5));
    expect(order).toEqual(['chain', 'after', 'next turn']);
  });
});
