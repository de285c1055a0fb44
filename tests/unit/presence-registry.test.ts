import { describe, expect, test } from 'bun:test';
import { createSubscriptionRegistry } from '../../src/modules/presence/subscriptions';
import type { HubSocket } from '../../src/realtime/hub';

/**
 * The subscription registry keeps follower lists with swap-removal and per-socket slots; this
 * checks it against a plain model (user → set of sockets) over random replace/forget
 * sequences, including repeated ids, empty lists, popular users and re-subscribing.
 */
const socket = (connId: string): HubSocket => ({
  connId,
  userId: `owner-${connId}`,
  sendRaw: () => {},
  close: () => {},
});

/** A small deterministic PRNG (mulberry32), so a failure can be replayed. */
function prng(seed: number) {
  return () => {
    seed = (seed + 0x6d2b79f5) | 0;
    let t = Math.imul(seed ^ (seed >>> 15), 1 | seed);
    t = (t + Math.imul(t ^ (t >>> 7), 61 | t)) ^ t;
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

describe('presence subscription registry', () => {
  test.each([1, 2, 3, 4, 5])('matches a plain model over 2,000 random operations (seed %i)', (seed) => {
    const random = prng(seed);
    const registry = createSubscriptionRegistry();
    const model = new Map<string, string[]>(); // connId → users (deduplicated, in order)
    const sockets = Array.from({ length: 30 }, (_, i) => socket(`c${i}`));
    const users = Array.from({ length: 20 }, (_, i) => `u${i}`);
    for (let op = 0; op < 2_000; op++) {
      const s = sockets[Math.floor(random() * sockets.length)]!;
      if (random() < 0.25) {
        registry.forget(s.connId);
        model.delete(s.connId);
      } else {
        // Skewed towards u0..u4 (popular users), with repeats and sometimes nothing.
        const n = Math.floor(random() * 12);
        const ids = Array.from({ length: n }, () => users[Math.floor(random() ** 2 * users.length)]!);
        registry.replace(s, ids);
        const unique = [...new Set(ids)];
        if (unique.length > 0) model.set(s.connId, unique);
        else model.delete(s.connId);
      }
      for (const u of users) {
        const actual: string[] = [];
        registry.forEachFollower(u, (f) => actual.push(f.connId));
        const expected = [...model].filter(([, us]) => us.includes(u)).map(([c]) => c);
        expect(actual.sort()).toEqual(expected.sort());
      }
      expect(registry.usersOf(s.connId)).toEqual(model.get(s.connId));
      // A user nobody follows any more leaves no record behind.
      expect(registry.size()).toBe(new Set([...model.values()].flat()).size);
      // Sockets that left are dropped from a follower list once they are half of it.
      for (const record of registry.recordsOf(s.connId) ?? []) {
        const live = [...model.values()].filter((us) => us.includes(record.id)).length;
        expect(record.followers.length).toBeLessThanOrEqual(2 * live);
      }
    }
  });

  test('a closed socket is skipped while it waits to be forgotten, and gone a loop turn later', async () => {
    const registry = createSubscriptionRegistry();
    const open = socket('open');
    const closing = { ...socket('closing'), closed: false };
    registry.replace(open, ['u1', 'u2']);
    registry.replace(closing, ['u1']);
    closing.closed = true;
    registry.forgetSoon('closing');
    expect(registry.usersOf('closing')).toEqual(['u1']); // not yet: the close handler stays cheap
    const followers: string[] = [];
    registry.forEachFollower('u1', (f) => followers.push(f.connId));
    expect(followers).toEqual(['open']);
    expect(registry.all().map((f) => f.socket.connId)).toEqual(['open']);
    await new Promise((r) => setImmediate(r));
    expect(registry.usersOf('closing')).toBeUndefined();
    expect(registry.usersOf('open')).toEqual(['u1', 'u2']);
  });

  test('a record goes once nobody follows it, unless a change was delivered for its user', () => {
    const registry = createSubscriptionRegistry();
    const change = {
      seq: 1,
      user: { user_id: 'u1', full_name: 'U1', is_online: true, last_seen_at: null },
      json: '{}',
    };
    registry.replace(socket('a'), ['u1', 'made-up']);
    registry.record('u1').latest = change;
    registry.record('u2').latest = { ...change, user: { ...change.user, user_id: 'u2' } };
    expect(registry.size()).toBe(3);
    registry.forget('a');
    // u1 and u2 keep their newest change (older ones crossing in Redis are dropped by it).
    expect(registry.size()).toBe(2);
    expect(registry.record('u1').latest).toBe(change);
    expect(registry.recordsOf('a')).toBeUndefined();
  });
});
