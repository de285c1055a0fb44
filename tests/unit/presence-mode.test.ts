import { describe, expect, test } from 'bun:test';
import { silentLogger } from '../../src/lib/logger';
import { createPresenceFanout } from '../../src/modules/presence/fanout';
import { createSocketHub, type HubSocket } from '../../src/realtime/hub';
import { waitFor } from '../helpers/wait';

/**
 * The fan-out mode during a storm on other instances. The cluster-wide count comes from a
 * query that runs every 2 s while a storm is being written; until it does, an instance with
 * few local sockets must not stay in `all` and send its sockets every change of a crowd that
 * came online elsewhere (its first sockets got 68–95 KiB each in bench/presence.ts).
 */
function socket(connId: string) {
  const received: { type: string; data: any }[] = [];
  const s: HubSocket = {
    connId,
    userId: `owner-${connId}`,
    sendRaw: (text) => received.push(JSON.parse(text)),
    close: () => {},
  };
  return { s, received };
}

const user = (i: number, isOnline = true) => ({
  user: {
    user_id: `00000000-0000-4000-8000-${String(i).padStart(12, '0')}`,
    full_name: `User ${i}`,
    is_online: isOnline,
    last_seen_at: new Date().toISOString(),
  },
  seq: 1_000 + i,
});

async function setUp(threshold: number) {
  const hub = createSocketHub();
  const fanout = createPresenceFanout({
    hub,
    threshold,
    // The count query has not seen the storm yet (it is what lags).
    readOnlineCount: async () => 1,
    readStatuses: async () => [],
    log: silentLogger,
  });
  await fanout.start();
  const watcher = socket('watcher');
  hub.add(watcher.s);
  fanout.opened(watcher.s);
  return { fanout, watcher };
}

/** Let queued sends (the outbox writes in slices) go out. */
const settle = () => new Promise((r) => setTimeout(r, 20));

describe('presence fan-out mode', () => {
  test('changes seen from other instances switch to subscribed before the count query catches up', async () => {
    const { fanout, watcher } = await setUp(3);
    expect(fanout.mode()).toBe('all');
    // Five users came online on another instance, in one written batch.
    fanout.deliver([1, 2, 3, 4, 5].map((i) => user(i)));
    await settle();
    expect(fanout.mode()).toBe('subscribed');
    // The watcher follows none of them: it gets the mode change, not their statuses.
    const statuses = watcher.received.filter(
      (f) => f.type === 'presence_batch' || f.type === 'user_status_update',
    );
    expect(statuses).toEqual([]);
    expect(watcher.received.some((f) => f.type === 'presence_count' && f.data.mode === 'subscribed')).toBe(
      true,
    );
    fanout.stop();
  });

  test('below the threshold everyone still gets everything, and leaving counts down', async () => {
    const { fanout, watcher } = await setUp(3);
    fanout.deliver([user(1), user(2)]);
    await settle();
    expect(fanout.mode()).toBe('all');
    const seen = watcher.received
      .filter((f) => f.type === 'presence_batch' || f.type === 'user_status_update')
      .flatMap((f) => (f.type === 'presence_batch' ? f.data.users : [f.data]))
      .map((u: { full_name: string }) => u.full_name);
    expect(seen.sort()).toEqual(['User 1', 'User 2']);
    // Two leave and three arrive: three online, not above 3.
    fanout.deliver([
      { ...user(1, false), seq: 2_001 },
      { ...user(2, false), seq: 2_002 },
      user(3),
      user(4),
      user(5),
    ]);
    await settle();
    expect(fanout.mode()).toBe('all');
    fanout.stop();
  });
});

/** The users a socket has been told about so far, by name, from its batches and single updates. */
const namesSeen = (received: { type: string; data: any }[]) =>
  received
    .filter((f) => f.type === 'presence_batch' || f.type === 'user_status_update')
    .flatMap((f) => (f.type === 'presence_batch' ? f.data.users : [f.data]))
    .map((u: { full_name: string }) => u.full_name);

describe('presence ticks after a storm', () => {
  test('once a storm is over, a trickle of changes is not held for the rest of its 1 s tick', async () => {
    const { fanout, watcher } = await setUp(10_000); // mode `all`: every change reaches the watcher
    fanout.deliver(Array.from({ length: 150 }, (_, i) => user(i + 1))); // storm-sized: a 1 s tick
    await waitFor(() => namesSeen(watcher.received).includes('User 150'), { what: 'the storm batch' });
    // Users reconnecting one by one, each as soon as the one before was seen: the first waits
    // for the storm's tick to see the calm (a quarter second; before: ~1 s after the storm), the
    // rest go out at once in the ticks after it.
    const started = performance.now();
    const waits: number[] = [];
    for (let i = 1001; i <= 1008; i++) {
      const t0 = performance.now();
      fanout.deliver([user(i)]);
      await waitFor(() => namesSeen(watcher.received).includes(`User ${i}`), {
        timeoutMs: 2_000,
        what: `User ${i}`,
      });
      waits.push(Math.round(performance.now() - t0));
    }
    expect(performance.now() - started).toBeLessThan(600);
    expect(Math.max(...waits), `waits: ${waits.join(', ')} ms`).toBeLessThan(450);
    fanout.stop();
  });

  test('while a storm goes on, its tick still lasts the second: a few frames, not one per batch', async () => {
    const { fanout, watcher } = await setUp(100_000);
    const frames = () => watcher.received.filter((f) => f.type === 'presence_batch').length;
    // Ten storm-sized batches 100 ms apart (a connect storm's writes, ~1,500 transitions a second).
    let next = 1;
    for (let b = 0; b < 10; b++) {
      fanout.deliver(Array.from({ length: 150 }, () => user(next++)));
      await Bun.sleep(100); // pacing the input, not waiting for an outcome
    }
    await waitFor(() => namesSeen(watcher.received).includes(`User ${next - 1}`), {
      timeoutMs: 3_000,
      what: 'the last batch',
    });
    // The first batch at once, then one frame per 1 s tick: a storm's tick sends nothing at once
    // (its three sends at once were five frames in all here, each to thousands of sockets in a
    // real storm).
    expect(frames()).toBeLessThanOrEqual(3);
    fanout.stop();
  });
});
