import { describe, expect, test } from 'bun:test';
import { encodeFrame, encodePresenceFrame, encodePresenceSubscribed } from '../../src/protocol/frames';

/** The fan-out builds presence frames from statuses serialised once; they must equal encodeFrame's. */
describe('pre-encoded presence frames', () => {
  const statuses = [
    {
      user_id: 'a',
      full_name: 'Ann "Quote" \u00e9',
      is_online: true,
      last_seen_at: '2026-11-30T05:00:00.000Z',
    },
    { user_id: 'b', full_name: 'Bob', is_online: false, last_seen_at: null },
  ];
  const json = statuses.map((s) => JSON.stringify(s));

  test('one status is a user_status_update, several a presence_batch', () => {
    expect(encodePresenceFrame(json.slice(0, 1))).toBe(
      encodeFrame({ type: 'user_status_update', data: statuses[0]! }),
    );
    expect(encodePresenceFrame(json)).toBe(
      encodeFrame({ type: 'presence_batch', data: { users: statuses } }),
    );
  });

  test('presence_subscribed, with and without users', () => {
    expect(encodePresenceSubscribed(json, 7, 'subscribed')).toBe(
      encodeFrame({ type: 'presence_subscribed', data: { users: statuses, online: 7, mode: 'subscribed' } }),
    );
    expect(encodePresenceSubscribed([], 0, 'all')).toBe(
      encodeFrame({ type: 'presence_subscribed', data: { users: [], online: 0, mode: 'all' } }),
    );
  });
});
