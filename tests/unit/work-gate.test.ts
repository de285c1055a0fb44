import { describe, expect, test } from 'bun:test';
import { ServiceUnavailableError } from '../../src/lib/errors';
import { ClientGoneError, createWorkGate } from '../../src/lib/work-gate';

/** A job that finishes when told to. */
function deferred() {
  let finish!: () => void;
  const done = new Promise<void>((resolve) => {
    finish = resolve;
  });
  return { done, finish };
}

describe('work gate', () => {
  test('runs at most `concurrency` jobs at once; the rest wait their turn, in order', async () => {
    const gate = createWorkGate(2, 10);
    const order: number[] = [];
    const jobs = [0, 1, 2, 3].map(() => deferred());
    const runs = jobs.map((j, i) =>
      gate.run(async () => {
        order.push(i);
        await j.done;
        return i;
      }),
    );
    await Bun.sleep(0);
    expect(order).toEqual([0, 1]);
    expect(gate.load()).toEqual({ running: 2, waiting: 2 });
    jobs[0]!.finish();
    await runs[0];
    await Bun.sleep(0);
    expect(order).toEqual([0, 1, 2]);
    for (const j of jobs) j.finish();
    expect(await Promise.all(runs)).toEqual([0, 1, 2, 3]);
    expect(gate.load()).toEqual({ running: 0, waiting: 0 });
  });

  test('refuses at once with 503 when the queue is full', async () => {
    const gate = createWorkGate(1, 1);
    const j = deferred();
    const first = gate.run(() => j.done);
    const second = gate.run(async () => 'queued');
    await expect(gate.run(async () => 'refused')).rejects.toBeInstanceOf(ServiceUnavailableError);
    j.finish();
    await first;
    expect(await second).toBe('queued');
  });

  test('skips a job whose client went away while it waited, and frees the slot', async () => {
    const gate = createWorkGate(1, 5);
    const j = deferred();
    const first = gate.run(() => j.done);
    const aborted = new AbortController();
    let ran = false;
    const skipped = gate.run(async () => {
      ran = true;
    }, aborted.signal);
    aborted.abort();
    j.finish();
    await first;
    await expect(skipped).rejects.toBeInstanceOf(ClientGoneError);
    expect(ran).toBe(false);
    expect(await gate.run(async () => 'next')).toBe('next');
    expect(gate.load()).toEqual({ running: 0, waiting: 0 });
  });

  test('a failing job releases its slot', async () => {
    const gate = createWorkGate(1, 1);
    await expect(gate.run(() => Promise.reject(new Error('boom')))).rejects.toThrow('boom');
    expect(await gate.run(async () => 1)).toBe(1);
  });
});
