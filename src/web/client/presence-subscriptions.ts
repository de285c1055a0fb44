import { type ClientFrame, type ServerFrameData, WS_LIMITS } from '../../protocol/frames';

/**
 * Presence for a large team (README "Presence at scale"): above the server's
 * PRESENCE_SUBSCRIBE_THRESHOLD a socket gets changes only for the users it subscribed to, plus
 * the online count. The page follows exactly the people it lists: it sends `presence_subscribe`
 * whenever that set changes and again on every new socket, in either mode (below the threshold
 * it costs nothing and makes a switch seamless). Pure (no DOM), unit-tested.
 */
export class PresenceFollower {
  /** The set last sent on the current socket (sorted ids joined), or undefined: none yet. */
  private sent: string | undefined;
  private currentMode: ServerFrameData['presence_count']['mode'] = 'all';

  constructor(private readonly send: (frame: ClientFrame) => boolean) {}

  /** A new socket: it follows nobody until told. */
  reset(): void {
    this.sent = undefined;
  }

  /** Follow exactly these users (at most the server's cap); nothing is sent if the set is unchanged. */
  follow(userIds: readonly string[]): void {
    const ids = [...new Set(userIds)].sort().slice(0, WS_LIMITS.maxPresenceSubscriptions);
    const key = ids.join(',');
    if (key === this.sent) return;
    if (this.send({ type: 'presence_subscribe', data: { user_ids: ids } })) this.sent = key;
  }

  /**
   * A `presence_count` or `presence_subscribed`: returns what the page should do with it —
   * `count` (show `online`: above the threshold the list alone cannot tell), `reload` (back to
   * everyone-gets-everything: changes of people not followed were not sent, re-read the list),
   * or `nothing` (below the threshold the list and the frames are exact).
   */
  modeSaid(mode: ServerFrameData['presence_count']['mode']): 'count' | 'reload' | 'nothing' {
    const was = this.currentMode;
    this.currentMode = mode;
    if (mode === 'subscribed') return 'count';
    return was === 'subscribed' ? 'reload' : 'nothing';
  }
}
