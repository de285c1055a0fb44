import { describe, expect, test } from 'bun:test';
import type { ClientFrame } from '../../src/protocol/frames';
import { PresenceFollower } from '../../src/web/client/presence-subscriptions';

/** The page's presence subscription: what it sends, and what it does with the mode. */
describe('PresenceFollower', () => {
  const setup = (open = true) => {
    const sent: ClientFrame[] = [];
    const follower = new PresenceFollower((frame) => {
      if (open) sent.push(frame);
      return open;
    });
    return { sent, follower };
  };

  test('sends the listed ids once per set, again on a new socket, never more than the cap', () => {
    const { sent, follower } = setup();
    follower.follow(['b', 'a', 'a']);
    follower.follow(['a', 'b']);
    expect(sent).toEqual([{ type: 'presence_subscribe', data: { user_ids: ['a', 'b'] } }]);
    follower.reset();
    follower.follow(['a', 'b']);
    expect(sent).toHaveLength(2);
    follower.follow(Array.from({ length: 600 }, (_, i) => `u${String(i).padStart(3, '0')}`));
    const last = sent.at(-1) as Extract<ClientFrame, { type: 'presence_subscribe' }>;
    expect(last.data.user_ids).toHaveLength(500);
  });

  test('a closed socket: nothing counts as sent, so the next open sends it', () => {
    const { sent, follower } = setup(false);
    follower.follow(['a']);
    expect(sent).toEqual([]);
  });

  test('the count matters only above the threshold; back to all means re-read the list', () => {
    const { follower } = setup();
    expect(follower.modeSaid('all')).toBe('nothing');
    expect(follower.modeSaid('subscribed')).toBe('count');
    expect(follower.modeSaid('subscribed')).toBe('count');
    expect(follower.modeSaid('all')).toBe('reload');
    expect(follower.modeSaid('all')).toBe('nothing');
  });
});
