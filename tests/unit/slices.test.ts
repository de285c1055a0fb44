import { describe, expect, test } from 'bun:test';
import { inSlices } from '../../src/lib/slices';

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
});
