import { describe, expect, test } from 'bun:test';
import { loopStalledMs, rejectAfter } from '../../src/lib/deadline';

/** Keep the event loop busy for `ms` (what a connect storm's long turns do to a timer). */
function block(ms: number): void {
  const end = performance.now() + ms;
  while (performance.now() < end) {}
}

describe('rejectAfter', () => {
  test('rejects with the given error once the time has passed, on an idle loop', async () => {
    const started = performance.now();
    const never = new Promise(() => {});
    await expect(rejectAfter(never, 100, () => new Error('late'))).rejects.toThrow('late');
    const took = performance.now() - started;
    expect(took).toBeGreaterThanOrEqual(99);
    expect(took).toBeLessThan(1_000);
  });

  test('resolves with the value when it comes in time', async () => {
    await expect(rejectAfter(Promise.resolve(7), 100, () => new Error('late'))).resolves.toBe(7);
  });

  test('time the loop was stalled does not count against the answer', async () => {
    // A round trip that needs the loop twice (send at 20 ms, answer 150 ms after the send),
    // with the loop stalled from 10 ms to 310 ms: the send goes out at 310, the answer comes
    // at 460. A 200 ms wall-clock timeout fires at 310 and calls a live dependency dead.
    const answer = new Promise((resolve) => setTimeout(() => setTimeout(() => resolve('ok'), 150), 20));
    const race = rejectAfter(answer, 200, () => new Error('late'));
    setTimeout(() => block(300), 10);
    await expect(race).resolves.toBe('ok');
  });

  test('a dependency that never answers is still given up on, stall or not', async () => {
    const started = performance.now();
    const race = rejectAfter(new Promise(() => {}), 200, () => new Error('late'));
    setTimeout(() => block(300), 10);
    await expect(race).rejects.toThrow('late');
    // 200 ms of time it could have answered in, plus the 300 ms stall.
    expect(performance.now() - started).toBeLessThan(2_000);
  });

  test('loopStalledMs counts a stall, including one still going on', () => {
    const before = loopStalledMs();
    block(120);
    expect(loopStalledMs() - before).toBeGreaterThanOrEqual(100);
  });
});
