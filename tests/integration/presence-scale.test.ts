import { describe, expect, test } from 'bun:test';
import { CloseCodes, WS_LIMITS } from '../../src/protocol/frames';
import { apiClient } from '../helpers/api';
import { startTestServer } from '../helpers/server';
import { waitFor } from '../helpers/wait';
import { type Frame, openSocket, type TestSocket } from '../helpers/ws';

/**
 * Presence at organisation scale (issue 8) on one instance: bursts arrive batched, and above
 * PRESENCE_SUBSCRIBE_THRESHOLD (set to 3 here) a socket gets only the users it subscribed to,
 * plus the live online count. Both databases; with Redis when TEST_REDIS_URL is set.
 */

/** Frames that carry statuses of these users: batches, and updates sent on their own. */
function statusCarriers(socket: TestSocket, userIds: string[]): Frame[] {
  const ids = new Set(userIds);
  return socket.frames.filter(
    (f) =>
      (f.type === 'presence_batch' && f.data.users.some((u: { user_id: string }) => ids.has(u.user_id))) ||
      (f.type === 'user_status_update' && f.via === undefined && ids.has(f.data.user_id)),
  );
}

/** What a client following the protocol believes: the subscription answers, then every change. */
function viewOf(socket: TestSocket): Map<string, boolean> {
  const view = new Map<string, boolean>();
  for (const f of socket.frames) {
    if (f.type === 'presence_subscribed') for (const u of f.data.users) view.set(u.user_id, u.is_online);
    if (f.type === 'user_status_update') view.set(f.data.user_id, f.data.is_online);
  }
  return view;
}

const online =
  (userId: string, isOnline = true) =>
  (f: Frame) =>
    f.type === 'user_status_update' && f.data.user_id === userId && f.data.is_online === isOnline;

describe('batching (a team below the threshold)', async () => {
  const server = await startTestServer();
  const api = apiClient(server.url);

  test('a burst of transitions reaches a client as a few presence_batch frames; a lone change in quiet time is one user_status_update', async () => {
    const watcher = await openSocket(server.wsUrl, (await api.newUser('Burst Watcher')).token);
    const users = await Promise.all(Array.from({ length: 12 }, (_, i) => api.newUser(`Burst ${i}`)));
    await Promise.all(users.map((u) => openSocket(server.wsUrl, u.token)));
    const ids = users.map((u) => u.id);
    // Each user's arrival reaches the watcher exactly once, as always …
    await waitFor(() => ids.every((id) => watcher.statusFrames(id).length === 1), {
      what: 'every burst user online at the watcher',
    });
    expect(ids.every((id) => watcher.statusFrames(id)[0]!.data.is_online)).toBe(true);
    // … but in fewer frames than transitions, at least one of them a batch.
    expect(watcher.frames.some((f) => f.type === 'presence_batch')).toBe(true);
    expect(statusCarriers(watcher, ids).length).toBeLessThan(ids.length);
    // Below the threshold nobody needs to subscribe, and no count frames are sent.
    expect(watcher.frames.filter((f) => f.type === 'presence_count')).toEqual([]);

    // Registering and logging in takes longer than a tick: this change comes in quiet time.
    const lone = await api.newUser('Lone Arrival');
    await openSocket(server.wsUrl, lone.token);
    const frame = await watcher.waitFrame(online(lone.id));
    expect(frame.via).toBeUndefined();
    expect(frame.data).toEqual({
      user_id: lone.id,
      full_name: 'Lone Arrival',
      is_online: true,
      last_seen_at: expect.any(String),
    });
  }, 30_000);
});

describe('subscriptions above PRESENCE_SUBSCRIBE_THRESHOLD', async () => {
  const server = await startTestServer({ env: { PRESENCE_SUBSCRIBE_THRESHOLD: '3' } });
  const api = apiClient(server.url);
  const GRACE = server.config.presenceGraceMs;
  const isOnline = async (id: string) =>
    (await server.sql<{ is_online: boolean }[]>`select is_online from users where id = ${id}`)[0]
      ?.is_online === true;

  test('above the threshold a socket gets its subscribed users and the live count; below it, everything', async () => {
    const [w, a, b, c, d] = await Promise.all(
      ['Watcher', 'Ann', 'Bob', 'Cho', 'Dee'].map((name) => api.newUser(`Sub ${name}`)),
    );
    const watcher = await openSocket(server.wsUrl, w!.token);
    const ann = await openSocket(server.wsUrl, a!.token);
    const bob = await openSocket(server.wsUrl, b!.token);
    // Three online: not above the threshold, so everyone gets everything, as today.
    await watcher.waitFrame(online(a!.id));
    await watcher.waitFrame(online(b!.id));

    // Unknown ids (well-formed or not) are fine; upper case is the same id.
    watcher.send({
      type: 'presence_subscribe',
      data: { user_ids: [c!.id.toUpperCase(), crypto.randomUUID(), 'not-a-user'] },
    });
    const answer = await watcher.waitFrame((f) => f.type === 'presence_subscribed');
    expect(answer.data).toEqual({
      users: [{ user_id: c!.id, full_name: 'Sub Cho', is_online: false, last_seen_at: null }],
      online: expect.any(Number),
      mode: 'all',
    });

    // Cho and Dee arrive: five online, above 3. The watcher learns the mode, gets Cho (whom it
    // follows) and a count that reaches 5; Ann, who follows nobody, gets the count only.
    const cho = await openSocket(server.wsUrl, c!.token);
    await openSocket(server.wsUrl, d!.token);
    await watcher.waitFrame((f) => f.type === 'presence_count' && f.data.mode === 'subscribed');
    await watcher.waitFrame(online(c!.id));
    await watcher.waitFrame((f) => f.type === 'presence_count' && f.data.online === 5);
    await ann.waitFrame((f) => f.type === 'presence_count' && f.data.online === 5);

    // Cho leaves; her offline frame is written after Dee's arrival, so by the time it is
    // here, Dee's would have been too had it been sent.
    await cho.close();
    await watcher.waitFrame(online(c!.id, false), GRACE + 5_000);
    expect(watcher.statusFrames(d!.id)).toEqual([]);
    expect(ann.statusFrames(c!.id).filter((f) => !f.data.is_online)).toEqual([]);
    expect(ann.statusFrames(d!.id)).toEqual([]);

    // A new subscription replaces the old one and starts from the current state.
    watcher.send({ type: 'presence_subscribe', data: { user_ids: [d!.id] } });
    const second = await watcher.waitFrame(
      (f) => f.type === 'presence_subscribed' && f.data.users[0]?.user_id === d!.id,
    );
    expect(second.data.users).toEqual([expect.objectContaining({ user_id: d!.id, is_online: true })]);
    expect(second.data.mode).toBe('subscribed');
    const choAgain = await openSocket(server.wsUrl, c!.token);
    await waitFor(() => isOnline(c!.id), { what: 'Cho online again' });
    await (await openSocket(server.wsUrl, d!.token)).close(); // a second tab of Dee's: no transition
    await bob.close();
    await watcher.waitFrame((f) => f.type === 'presence_count' && f.data.online === 4, GRACE + 5_000);
    expect(watcher.statusFrames(c!.id)).toHaveLength(2); // online, offline: not the return
    expect(watcher.statusFrames(b!.id)).toHaveLength(1); // online while below the threshold only

    // A client that followed the protocol has an exact view of the users it shows.
    const view = viewOf(watcher);
    const rows = await server.sql<{ id: string; is_online: boolean }[]>`
      select id, is_online from users where id = ${d!.id}`;
    expect(view.get(d!.id)).toBe(rows[0]!.is_online);

    // Back below the threshold (2 online < 0.9 × 3): the mode is announced, and everyone
    // gets everything again.
    await choAgain.close();
    await ann.close();
    await watcher.waitFrame((f) => f.type === 'presence_count' && f.data.mode === 'all', GRACE + 5_000);
    await openSocket(server.wsUrl, b!.token);
    await waitFor(() => watcher.statusFrames(b!.id).length === 2, { what: "Bob's return at the watcher" });
    expect(watcher.statusFrames(b!.id)[1]!.data.is_online).toBe(true);
  }, 60_000);

  test('an answer given moments after another read of the same user still shows what changed since', async () => {
    // Answers reuse a row read in the last STATUS_REUSE_MS (src/modules/presence/status-loader.ts);
    // changes the bus delivered after that read must win over it.
    const [x, first, second] = await Promise.all(
      ['Subject', 'First Reader', 'Second Reader'].map((name) => api.newUser(`Reuse ${name}`)),
    );
    const one = await openSocket(server.wsUrl, first!.token);
    one.send({ type: 'presence_subscribe', data: { user_ids: [x!.id] } });
    const before = await one.waitFrame((f) => f.type === 'presence_subscribed');
    expect(before.data.users).toEqual([expect.objectContaining({ user_id: x!.id, is_online: false })]);
    const subject = await openSocket(server.wsUrl, x!.token);
    await one.waitFrame(online(x!.id)); // the change reached this instance
    const two = await openSocket(server.wsUrl, second!.token);
    two.send({ type: 'presence_subscribe', data: { user_ids: [x!.id] } });
    const after = await two.waitFrame((f) => f.type === 'presence_subscribed');
    expect(after.data.users).toEqual([expect.objectContaining({ user_id: x!.id, is_online: true })]);
    await subject.close();
  }, 30_000);

  test('bad presence_subscribe frames get an error frame and change nothing; a flood is closed with 1008', async () => {
    const user = await api.newUser('Bad Subscriber');
    const socket = await openSocket(server.wsUrl, user.token);
    const bad: [unknown, string][] = [
      [{ type: 'presence_subscribe' }, 'invalid_data'],
      [{ type: 'presence_subscribe', data: { user_ids: 'everyone' } }, 'invalid_data'],
      [{ type: 'presence_subscribe', data: { user_ids: [1, 2, 3] } }, 'invalid_data'],
      [{ type: 'presence_subscribe', data: { user_ids: [''] } }, 'invalid_data'],
      [{ type: 'presence_subscribe', data: { user_ids: ['x'.repeat(101)] } }, 'invalid_data'],
      [
        {
          type: 'presence_subscribe',
          data: {
            user_ids: Array.from({ length: WS_LIMITS.maxPresenceSubscriptions + 1 }, () =>
              crypto.randomUUID(),
            ),
          },
        },
        'too_many_user_ids',
      ],
    ];
    for (const [frame, code] of bad) {
      const before = socket.frames.filter((f) => f.type === 'error').length;
      socket.send(frame);
      const errors = await waitFor(() => {
        const all = socket.frames.filter((f) => f.type === 'error');
        return all.length > before ? all : undefined;
      });
      expect(errors.at(-1)!.data).toEqual({ code, message: expect.any(String) });
    }
    expect(socket.frames.filter((f) => f.type === 'presence_subscribed')).toEqual([]);
    // Exactly the cap is fine.
    const atCap = Array.from({ length: WS_LIMITS.maxPresenceSubscriptions }, () => crypto.randomUUID());
    socket.send({ type: 'presence_subscribe', data: { user_ids: atCap } });
    const ok = await socket.waitFrame((f) => f.type === 'presence_subscribed');
    expect(ok.data.users).toEqual([]);
    expect(socket.closed).toBeUndefined();

    for (let i = 0; i < WS_LIMITS.floodBurst * 2; i++)
      socket.send({ type: 'presence_subscribe', data: { user_ids: [user.id] } });
    expect((await socket.waitClosed()).code).toBe(CloseCodes.tooManyMessages.code);
  }, 30_000);
});
