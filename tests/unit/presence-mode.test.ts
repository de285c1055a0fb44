import { describe, expect, test } from 'bun:test';
import { silentLogger } from '../../src/lib/logger';
import { createPresenceFanout } from '../../src/modules/presence/fanout';
import { createSocketHub, type HubSocket } from '../../src/realtime/hub';

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
