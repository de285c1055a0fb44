import type { Logger } from '../lib/logger';
import { type CloseCode, encodeFrame, type ServerFrame } from '../protocol/frames';
import { createBroadcastLog } from './broadcast-log';
import { createOutbox, type Outbox } from './outbox';

/**
 * This instance's open WebSocket connections, keyed by connection id (not by socket
 * object), so bookkeeping survives Bun reusing wrappers and can be listed and closed.
 * Features push frames through `broadcast`; the WebSocket route registers sockets here.
 */

export interface HubSocket {
  readonly connId: string;
  readonly userId: string;
  /** token_version of the token it was opened with (src/modules/auth/sessions.ts closes it when stale). */
  readonly tokenVersion?: number;
  /** True once it has closed: a frame still queued for it is dropped, not built. */
  readonly closed?: boolean;
  /** Send an already-serialised frame. */
  sendRaw(text: string): void;
  /** Send several, in order, in one write (a corked write: one syscall); else `sendRaw` each. */
  sendRawMany?(texts: readonly string[]): void;
  close(code: CloseCode): void;
}

export interface SocketHub {
  add(socket: HubSocket): void;
  remove(connId: string): void;
  /** Serialise once, send to every local socket (see `broadcastText`). */
  broadcast(frame: ServerFrame): void;
  /**
   * Send an already-serialised frame to every local socket, after the broadcasts made before
   * it: at once when few sockets are open and none is queued, else in slices.
   */
  broadcastText(text: string): void;
  /**
   * Like `broadcastText`, but in order with the frames queued in `outbox` (a presence batch
   * for everyone must not overtake, or be overtaken by, a subscription answer).
   */
  broadcastAfterFrames(text: string): void;
  /** Frames for individual sockets, written in order in 4 ms slices (presence batches and answers). */
  readonly outbox: Outbox;
  /** Socket writes waiting: in `outbox`, and owed by the broadcasts' log (a frame each). */
  writesWaiting(): { frames: number; broadcasts: number };
  size(): number;
  all(): IterableIterator<HubSocket>;
  /**
   * Write broadcasts made at once (to BROADCAST_AT_ONCE_MAX sockets or fewer) through a native
   * fan-out (Bun's `server.publish` to a topic every socket subscribes to): one serialisation
   * and one loop in uWebSockets instead of a send per socket in JS. Not for more sockets: it
   * writes to all of them before the process does anything else.
   */
  useNativeBroadcast(publish: ((text: string) => void) | undefined): void;
  /**
   * A connect storm is being written (presence fan-out saw a storm-sized batch): for `ms`,
   * coalesced broadcasts are spaced as for 10,000 sockets, however few are open yet, so the
   * first sockets of a storm are not sent a count and a summary four times a second while
   * the rest arrive (a client's traffic during the storm stays bounded).
   */
  stormFor(ms: number): void;
  /** The spacing of coalesced broadcasts now: `broadcastIntervalMs`, or the storm's. */
  broadcastIntervalMs(): number;
}

/**
 * A broadcast to at most this many sockets is written at once (~2–4 ms of writes on the
 * machine of bench/RESULTS.md); to more, it goes into the broadcasts' log, written in slices
 * (src/realtime/broadcast-log.ts).
 * One native publish to 10,000 sockets wrote them all in one go, holding the process for
 * 80–230 ms each time the storm's count or summary went out (bench/RESULTS.md, round fourteen).
 */
export const BROADCAST_AT_ONCE_MAX = 256;

/**
 * Most frames the broadcasts' log may owe the sockets before task events are no longer taken:
 * 20 broadcasts at 10,000 sockets. Each socket's are one corked write, so a full log is one
 * pass of ~0.1–0.2 s on the machine of bench/RESULTS.md (2–3 s when each frame was a write of
 * its own, before round fifteen); only task events coming faster than ~100 a second fill it.
 * Task events that find it full are replaced by one `resync` for `tasks`, queued behind the
 * backlog: a client re-reads its tasks when it arrives (README "WebSocket"), which covers
 * every event left out, where queuing them all let the backlog, and their delay, grow for as
 * long as they came faster than they could be written. The count and the dashboard summary
 * are already coalesced by their features (at most one each per interval) and always taken.
 */
export const BROADCAST_BACKLOG_MAX_WRITES = 200_000;

const isTaskEvent = (frame: ServerFrame) =>
  frame.type === 'task_created' || frame.type === 'task_updated' || frame.type === 'task_deleted';

/** Coalesced broadcasts' spacing while a connect storm is being written (see `SocketHub.stormFor`). */
const STORM_BROADCAST_INTERVAL_MS = 2_000;

/**
 * How long a coalesced broadcast (the dashboard summary, the online count) waits after the
 * previous one: 250 ms (four a second) up to 1,250 local sockets, then growing with them, to
 * one every 2 s from 10,000 on. Each broadcast is a write per socket (~9 µs each on the
 * 2-core machine of bench/RESULTS.md); at a fixed 250 ms those two frames were ten of the
 * fifteen frames each of 10,000 sockets got during a connect storm, for figures that change
 * every tick anyway.
 */
function broadcastIntervalMs(sockets: number): number {
  return Math.min(STORM_BROADCAST_INTERVAL_MS, Math.max(250, Math.round(sockets / 5)));
}

export function createSocketHub(opts: { log?: Logger; backlogMaxWrites?: number } = {}): SocketHub {
  const backlogMaxWrites = opts.backlogMaxWrites ?? BROADCAST_BACKLOG_MAX_WRITES;
  const sockets = new Map<string, HubSocket>();
  const outbox = createOutbox();
  /**
   * Broadcasts to every socket (the online count, the dashboard summary, task events) are a log
   * of their own, so a subscription answer never waits behind thousands of their writes: in
   * one queue, a client's median wait for its answer in a two-instance storm rose from ~0.3 to
   * ~0.7 s (bench/RESULTS.md, round fourteen). Each socket is sent what it has not had yet in
   * one write (src/realtime/broadcast-log.ts).
   */
  const broadcasts = createBroadcastLog();
  let nativePublish: ((text: string) => void) | undefined;
  let stormUntil = 0;
  /** The open sockets as a list, for a presence batch to everyone queued among the frames; rebuilt after a change. */
  let listed: HubSocket[] | undefined;
  /** Task events left out since the broadcasts' log filled; a `resync` is queued behind them. */
  let tasksLeftOut = 0;
  function publishNow(text: string): void {
    if (nativePublish) nativePublish(text);
    else for (const s of sockets.values()) s.sendRaw(text);
  }
  /** To few sockets with nothing being written, at once; else through the log, in slices. */
  function broadcastText(text: string): void {
    if (sockets.size === 0) return;
    if (sockets.size > BROADCAST_AT_ONCE_MAX || broadcasts.busy()) broadcasts.append(text);
    else publishNow(text);
  }
  /** False (and a `resync` queued) when a task event finds the broadcasts' log full. */
  function roomForTaskEvent(): boolean {
    if (tasksLeftOut === 0 && broadcasts.writesWaiting() < backlogMaxWrites) return true;
    if (tasksLeftOut++ > 0) return false;
    opts.log?.warn('websocket broadcasts behind; task events replaced by a resync', {
      queued_writes: broadcasts.writesWaiting(),
      sockets: sockets.size,
    });
    broadcasts.afterWritten(() => {
      opts.log?.info('websocket broadcasts caught up; resync sent', { task_events_left_out: tasksLeftOut });
      tasksLeftOut = 0;
      broadcastText(encodeFrame({ type: 'resync', data: { topics: ['tasks'] } }));
    });
    return false;
  }
  return {
    outbox,
    add(s) {
      sockets.set(s.connId, s);
      broadcasts.add(s);
      listed = undefined;
    },
    remove(id) {
      if (!sockets.delete(id)) return;
      broadcasts.remove(id);
      listed = undefined;
    },
    broadcast(frame) {
      if (sockets.size === 0 || (isTaskEvent(frame) && !roomForTaskEvent())) return;
      broadcastText(encodeFrame(frame));
    },
    broadcastText,
    broadcastAfterFrames(text) {
      if (sockets.size === 0) return;
      if (sockets.size > BROADCAST_AT_ONCE_MAX) {
        listed ??= [...sockets.values()];
        outbox.broadcast(text, listed);
      } else outbox.afterQueued(() => publishNow(text));
    },
    writesWaiting: () => ({ frames: outbox.writesWaiting(), broadcasts: broadcasts.writesWaiting() }),
    size: () => sockets.size,
    all: () => sockets.values(),
    useNativeBroadcast(publish) {
      nativePublish = publish;
    },
    stormFor(ms) {
      stormUntil = Math.max(stormUntil, Date.now() + ms);
    },
    broadcastIntervalMs: () =>
      Date.now() < stormUntil ? STORM_BROADCAST_INTERVAL_MS : broadcastIntervalMs(sockets.size),
  };
}
