import type { Logger } from '../../lib/logger';
import type { PresenceChange } from '../../protocol/bus';
import {
  encodeFrame,
  encodePresenceFrame,
  encodePresenceSubscribed,
  type PresenceMode,
} from '../../protocol/frames';
import type { HubSocket, SocketHub } from '../../realtime/hub';
import type { Frame, Outbox } from '../../realtime/outbox';
import { createStatusLoader } from './status-loader';
import { createSubscriptionRegistry, type KnownStatus, type UserRecord } from './subscriptions';

/**
 * Presence changes go out at once, up to PRESENCE_IMMEDIATE_PER_TICK sends per tick (none in a
 * storm's tick, below); beyond that (a burst) they are held until the tick ends and sent
 * together, so a burst of N transitions becomes at most a few frames per tick per socket
 * instead of N, while a lone change, or a steady trickle of them, is as fast as without batching.
 */
export const PRESENCE_TICK_MS = 50;
export const PRESENCE_IMMEDIATE_PER_TICK = 4;
/**
 * After a send of at least PRESENCE_STORM_BATCH changes (a connect storm), the tick is this
 * long instead: every socket following someone in the storm gets a frame per tick, and the
 * profile of a 10,000-user storm showed those sends (one write each) as the largest cost.
 * Any tick also lasts until the previous tick's frames are all written: changes meanwhile join
 * one batch, so a socket gets one frame per drained tick and the outbox never holds more than
 * one batch (with a fixed tick, a 10,000-socket storm outran the writes: 20,000 frames queued).
 */
export const PRESENCE_STORM_TICK_MS = 1_000;
const PRESENCE_STORM_BATCH = 100;
/**
 * A storm tick ends early once the storm is over: fewer than STORM_CALM_CHANGES changes arrived
 * in its last STORM_CALM_WINDOW_MS (under 200 a second), and fewer wait. Without this, the first few changes
 * after a storm (users reconnecting one by one) waited for the rest of its second: up to
 * ~970 ms in bench/presence.ts (bench/RESULTS.md, round eight).
 */
const STORM_CALM_WINDOW_MS = 250;
const STORM_CALM_CHANGES = 50;
/** Waits before retrying a subscription answer the database could not give. */
const SNAPSHOT_RETRY_MS = [250, 500, 1_000, 2_000, 5_000];
/**
 * Each user's status as JSON: the row just loaded, unless a newer change was seen here.
 * Users with neither (unknown ids) are left out.
 */
function newestOf(records: readonly UserRecord[]): string[] {
  const users: string[] = [];
  for (const { row, latest } of records) {
    if (latest && (!row || latest.seq > row.seq)) users.push(latest.json);
    else if (row) users.push(row.json);
  }
  return users;
}

/**
 * Run `attempt` until it succeeds, waiting longer after each failure (SNAPSHOT_RETRY_MS), for
 * as long as `wanted()`; `onFirstFailure` is told once.
 */
async function untilDone(
  attempt: () => Promise<void>,
  wanted: () => boolean,
  onFirstFailure: (err: unknown) => void,
): Promise<void> {
  for (let n = 0; ; n++) {
    try {
      return await attempt();
    } catch (err) {
      if (n === 0) onFirstFailure(err);
    }
    await Bun.sleep(SNAPSHOT_RETRY_MS[Math.min(n, SNAPSHOT_RETRY_MS.length - 1)]!);
    if (!wanted()) return;
  }
}

/**
 * The fan-out's tick: PRESENCE_TICK_MS, or after a storm-sized send up to PRESENCE_STORM_TICK_MS,
 * ended early once the storm has calmed: few changes arrived in the last window and few are
 * waiting (a storm's writes can come in lumps). `onTimeUp` decides when it is `done`.
 */
function createTick(onTimeUp: () => void, waiting: () => number) {
  let timer: ReturnType<typeof setTimeout> | undefined;
  let running = false;
  let stormEndsAt = 0;
  let arrived = 0;
  function checkStorm(): void {
    const calm = arrived < STORM_CALM_CHANGES && waiting() < STORM_CALM_CHANGES;
    arrived = 0;
    const left = stormEndsAt - Date.now();
    if (calm || left <= 0) onTimeUp();
    else timer = setTimeout(checkStorm, Math.min(STORM_CALM_WINDOW_MS, left));
  }
  return {
    running: () => running,
    start(storm: boolean): void {
      running = true;
      if (!storm) {
        timer = setTimeout(onTimeUp, PRESENCE_TICK_MS);
        return;
      }
      stormEndsAt = Date.now() + PRESENCE_STORM_TICK_MS;
      arrived = 0;
      timer = setTimeout(checkStorm, STORM_CALM_WINDOW_MS);
    },
    /** Changes accepted (they count against the storm's calm). */
    arrived(n: number): void {
      arrived += n;
    },
    done(): void {
      running = false;
    },
    stop: () => clearTimeout(timer),
  };
}

/** A socket's subscription: its users' records, as the registry holds them (undefined: none). */
type Subscription = readonly UserRecord[] | undefined;

/** Back to `all` only below this share of the threshold, so a team hovering at it does not flap. */
const HYSTERESIS = 0.9;

export interface PresenceFanoutDeps {
  hub: SocketHub;
  /** PRESENCE_SUBSCRIBE_THRESHOLD: above this many users online, sockets get what they subscribed to. */
  threshold: number;
  /** Users online in the whole cluster (the trigger-kept counter). */
  readOnlineCount(): Promise<number>;
  /** Current rows of these users (unknown ids absent), with their presence sequence numbers. */
  readStatuses(userIds: string[]): Promise<PresenceChange[]>;
  log: Logger;
}

/** One frame per socket that follows anyone in the batch, carrying just those users. */
function sendToSubscribers(
  batch: KnownStatus[],
  subscriptions: ReturnType<typeof createSubscriptionRegistry>,
  outbox: Outbox,
): void {
  const perSocket = new Map<HubSocket, string[]>();
  for (const change of batch) {
    subscriptions.forEachFollower(change.user.user_id, (socket) => {
      const list = perSocket.get(socket);
      if (list) list.push(change.json);
      else perSocket.set(socket, [change.json]);
    });
  }
  const frames: Frame[] = [];
  for (const [socket, entries] of perSocket)
    frames.push({ socket, text: () => encodePresenceFrame(entries) });
  outbox.send(frames);
}

/**
 * Turns written presence changes (bus topic `presence`, from every instance) into frames for
 * this instance's sockets: batched per tick while busy, to every socket below the threshold
 * and only to subscribers above it, plus the coalesced online count. See README "Presence at
 * scale" for the protocol a client follows to keep an exact view.
 */
export function createPresenceFanout(deps: PresenceFanoutDeps) {
  const { hub, threshold, log } = deps;
  const subscriptions = createSubscriptionRegistry();
  const loader = createStatusLoader(deps.readStatuses);
  const { outbox } = hub;
  let pending = new Map<string, KnownStatus>();
  /** The current tick: sends made in it; while it runs past the allowance, changes wait for its end. */
  const tick = createTick(endTick, () => pending.size);
  let sendsThisTick = 0;
  /** Local connections per user: the mode reacts to a local storm before the count query does. */
  const localUsers = new Map<string, number>();
  /** Users whose newest change here says online: the mode follows a storm elsewhere before the count does (RESULTS, round five). */
  let announcedOnline = 0;
  let online = 0;
  let mode: PresenceMode = 'all';
  const count = {
    timer: undefined as ReturnType<typeof setTimeout> | undefined,
    running: false,
    again: false,
  };
  let lastCountAt = 0;
  let lastSentCount = -1;
  let stopped = false;

  const countFrame = () => ({ type: 'presence_count' as const, data: { online, mode } });

  function updateMode(): void {
    const n = Math.max(online, localUsers.size, announcedOnline);
    const next = n > threshold ? 'subscribed' : n < threshold * HYSTERESIS ? 'all' : mode;
    if (next === mode) return;
    mode = next;
    log.info('presence fan-out mode changed', { mode, online: n, threshold });
    lastSentCount = online;
    hub.broadcast(countFrame());
  }

  /** Send what is pending, and count it against the current tick (starting one if none runs). */
  function flush(): void {
    if (pending.size === 0 || stopped) return;
    const batch = [...pending.values()];
    pending = new Map();
    updateMode();
    if (mode === 'all') {
      const text = encodePresenceFrame(batch.map((c) => c.json));
      hub.broadcastAfterFrames(text);
    } else sendToSubscribers(batch, subscriptions, outbox);
    sendsThisTick += 1;
    const storm = batch.length >= PRESENCE_STORM_BATCH;
    if (storm) {
      hub.stormFor(2 * PRESENCE_STORM_TICK_MS);
      // A storm's tick sends nothing at once: the sends at once are for a lone change. Left to
      // the storm, they were three frames to thousands of sockets after each storm batch (a
      // 10,000-user storm: 12,900 of its 74,000 writes were such single-change frames).
      sendsThisTick = PRESENCE_IMMEDIATE_PER_TICK;
    }
    if (!tick.running()) tick.start(storm);
  }

  /** A tick ended: what waited goes out now; a tick lasts until its frames are written (README). */
  function endTick(): void {
    if (outbox.busy()) {
      outbox.afterQueued(endTick);
      return;
    }
    tick.done();
    sendsThisTick = 0;
    flush();
  }

  async function refreshCount(): Promise<void> {
    count.timer = undefined;
    count.running = true;
    lastCountAt = Date.now();
    try {
      online = await deps.readOnlineCount();
    } catch (err) {
      log.debug('presence count query failed', { err });
    } finally {
      count.running = false;
    }
    if (stopped) return;
    updateMode();
    if (mode === 'subscribed' && online !== lastSentCount) {
      lastSentCount = online;
      hub.broadcast(countFrame());
    }
    if (count.again) {
      count.again = false;
      scheduleCount();
    }
  }

  /** Coalesce: one count query per interval, and one more if changes came during the query. */
  function scheduleCount(): void {
    if (stopped || count.timer) return;
    if (count.running) {
      count.again = true;
      return;
    }
    // At most one `presence_count` per interval: four a second, one with thousands of sockets here.
    const wait = Math.max(0, lastCountAt + hub.broadcastIntervalMs() - Date.now());
    count.timer = setTimeout(() => void refreshCount(), wait);
  }

  /** The subscribed users' current state: the database's, unless a newer change was seen here. */
  async function answerSubscription(socket: HubSocket, current: Subscription): Promise<void> {
    await loader.load(current ?? []);
    if (subscriptions.recordsOf(socket.connId) !== current) return; // replaced (or closed) meanwhile
    const users = newestOf(current ?? []);
    const [n, m] = [online, mode];
    // Through the outbox, so it cannot overtake changes already queued for this socket; the
    // statuses are taken now, the text (~7 KB for 50 users) is joined when it is written.
    outbox.send([{ socket, text: () => encodePresenceSubscribed(users, n, m) }]);
  }

  return {
    /** Written changes from the bus (this instance's and others'). */
    deliver(changes: readonly PresenceChange[]): void {
      let accepted = 0;
      for (const { user, seq } of changes) {
        // Its record keeps the newest change: an older one arriving after it (crossed in Redis) is dropped.
        const record = subscriptions.record(user.user_id);
        const seen = record.latest;
        if (seen && seq !== undefined && seen.seq > seq) continue;
        const entry = { seq: seq ?? seen?.seq ?? 0, user, json: JSON.stringify(user) };
        announcedOnline += Number(user.is_online) - Number(seen?.user.is_online ?? false);
        record.latest = entry;
        pending.set(user.user_id, entry);
        accepted += 1;
      }
      if (accepted === 0) return;
      tick.arrived(accepted);
      scheduleCount();
      if (sendsThisTick < PRESENCE_IMMEDIATE_PER_TICK) flush();
    },

    /** Replace a socket's subscription and answer with `presence_subscribed`. */
    async subscribe(socket: HubSocket, requested: readonly string[]): Promise<void> {
      // Our ids are lower-case uuids; a client may have upper-cased one. The registry drops repeats.
      subscriptions.replace(
        socket,
        requested.map((id) => id.toLowerCase()),
      );
      const current = subscriptions.recordsOf(socket.connId);
      // The answer is what makes the client's view exact: if the database cannot give it now
      // (an outage, a busy moment), try again, for as long as this subscription stands.
      await untilDone(
        () => answerSubscription(socket, current),
        () => !stopped && subscriptions.recordsOf(socket.connId) === current,
        (err) => log.warn('presence subscription snapshot failed; retrying', { err, conn_id: socket.connId }),
      );
    },

    /** A socket opened: it learns the mode at once when it is not the default. */
    opened(socket: HubSocket): void {
      localUsers.set(socket.userId, (localUsers.get(socket.userId) ?? 0) + 1);
      updateMode();
      if (mode === 'subscribed') socket.sendRaw(encodeFrame(countFrame()));
    },

    closed(socket: HubSocket): void {
      subscriptions.forgetSoon(socket.connId);
      const n = (localUsers.get(socket.userId) ?? 1) - 1;
      if (n > 0) localUsers.set(socket.userId, n);
      else localUsers.delete(socket.userId);
    },

    /**
     * After a bus reconnect, changes published meanwhile may never have reached us: answer
     * every subscription again, so subscribed clients converge without reconnecting.
     */
    resendSubscriptions(): void {
      loader.forget();
      for (const { socket, users } of subscriptions.all()) void this.subscribe(socket, [...users]);
      scheduleCount();
    },

    /** Read the count now (start-up), so the mode is right before the first change. */
    start: () => refreshCount(),

    stop(): void {
      stopped = true;
      tick.stop();
      if (count.timer) clearTimeout(count.timer);
    },

    mode: () => mode,
  };
}

export type PresenceFanout = ReturnType<typeof createPresenceFanout>;
