import type { Logger } from '../../lib/logger';
import { afterMicrotasks } from '../../lib/slices';
import type { PresenceChange } from '../../protocol/bus';
import type { UserStatus } from '../../protocol/schemas';
import type { OnlineStatusChange, UsersService } from '../users/service';

/** Largest batch in one UPDATE; a storm of 10k users becomes a handful of statements. */
const MAX_BATCH = 1_000;
/**
 * Batches written at the same time, on separate connections. A storm profile showed the
 * database, not the event loop, setting the pace (a 2,000-row UPDATE took 0.5 s on a busy
 * machine): a second lane lets a user who connects during a storm be written while the
 * previous batch is still in flight. Lanes never share a user, so they cannot deadlock on a
 * row and one user's writes stay in order.
 */
const WRITE_LANES = 2;
/**
 * No fixed batching window: the first transition is written at once (lowest latency when
 * quiet) and everything arriving while the lanes are busy forms the next batch, so
 * batches grow exactly as fast as the database falls behind. "At once" is after the
 * microtasks of the moment (`afterMicrotasks`), so the transitions of one store reply (up to
 * 500 sockets) make one batch; not a timer nor the next loop turn, because during a connect
 * storm a loop turn takes 50–100 ms and timers fire late.
 */
const FLUSH_NOW = 0;
const RETRY_AFTER_DB_ERROR_MS = 500;
export interface TransitionWriterDeps {
  users: Pick<UsersService, 'setUsersOnlineStatus'>;
  /**
   * A batch was committed: its rows as written, each with the store's sequence number, and
   * how long the write took. The caller announces them (one bus message per batch).
   */
  written(changes: PresenceChange[], durationS: number): void;
  log: Logger;
}

/**
 * Writes transitions to the database in batches, in order per user, and hands each written
 * row on once. Only the last change per user in a batch is kept: a user who came and went
 * within a few milliseconds needs only their final state written.
 */
export function createTransitionWriter(deps: TransitionWriterDeps) {
  const queued = new Map<string, OnlineStatusChange>();
  /** Users in batches being written: reconciliation must treat them as mid-flight too. */
  const writing = new Set<string>();
  let lanesBusy = 0;
  /** A flush is scheduled (true: after the current microtasks; else its retry timer). */
  let scheduled: ReturnType<typeof setTimeout> | true | undefined;
  const idleWaiters: (() => void)[] = [];

  function schedule(delayMs: number) {
    if (scheduled || lanesBusy >= WRITE_LANES || queued.size === 0) return;
    if (delayMs === FLUSH_NOW) {
      scheduled = true;
      afterMicrotasks(flush);
    } else {
      scheduled = setTimeout(flush, delayMs);
    }
  }

  /** The next batch: queued users not already being written by the other lane. */
  function takeBatch(): OnlineStatusChange[] {
    const batch: OnlineStatusChange[] = [];
    for (const change of queued.values()) {
      if (writing.has(change.userId)) continue;
      batch.push(change);
      if (batch.length === MAX_BATCH) break;
    }
    for (const change of batch) {
      queued.delete(change.userId);
      writing.add(change.userId);
    }
    return batch;
  }

  function flush() {
    if (scheduled !== undefined && scheduled !== true) clearTimeout(scheduled);
    scheduled = undefined;
    // A flush scheduled before a lane called this one directly: the lanes are both taken
    // again, and the next to finish flushes.
    if (lanesBusy >= WRITE_LANES) return;
    const batch = takeBatch();
    if (batch.length === 0) return; // everything queued is in flight: its lane flushes again
    lanesBusy += 1;
    const startedAt = performance.now();
    write(batch).then(
      ({ rows, unwritten }) => {
        const durationS = (performance.now() - startedAt) / 1000;
        deps.log.debug('presence batch written', {
          users: batch.length,
          duration_ms: Math.round(durationS * 100_000) / 100,
        });
        // Send the next batch to the database before announcing this one, so the next write
        // never waits behind fan-out.
        if (unwritten) retryLater(batch, unwritten.changes, unwritten.err);
        else finished(batch, FLUSH_NOW);
        const seqOf = new Map(batch.map((c) => [c.userId, c.seq ?? 0]));
        deps.written(
          rows.map((user) => ({ user, seq: seqOf.get(user.user_id) ?? 0 })),
          durationS,
        );
      },
      (err) => retryLater(batch, batch, err),
    );
    schedule(FLUSH_NOW); // the other lane, if more is queued
  }

  /** Put back what of `unwritten` no newer change has replaced, and try again shortly. */
  function retryLater(batch: OnlineStatusChange[], unwritten: OnlineStatusChange[], err: unknown) {
    deps.log.warn('presence write failed; retrying', { err, users: unwritten.length });
    for (const change of unwritten) if (!queued.has(change.userId)) queued.set(change.userId, change);
    finished(batch, RETRY_AFTER_DB_ERROR_MS);
  }

  /**
   * Transitions, then reconciliation's repairs, which skip rows another writer holds (they
   * are mid-flight elsewhere: see UsersService.setUsersOnlineStatus; a skipped repair is not
   * announced, and the next reconciliation looks again). Two statements: when only the
   * repairs fail, the written transitions are still announced and the repairs alone retried.
   */
  async function write(
    batch: OnlineStatusChange[],
  ): Promise<{ rows: UserStatus[]; unwritten?: { changes: OnlineStatusChange[]; err: unknown } }> {
    const transitions = batch.filter((c) => !c.repair);
    const repairs = batch.filter((c) => c.repair);
    const rows = await deps.users.setUsersOnlineStatus(transitions);
    if (repairs.length === 0) return { rows };
    try {
      return { rows: rows.concat(await deps.users.setUsersOnlineStatus(repairs, { skipLocked: true })) };
    } catch (err) {
      return { rows, unwritten: { changes: repairs, err } };
    }
  }

  function finished(batch: OnlineStatusChange[], nextDelayMs: number) {
    lanesBusy -= 1;
    for (const change of batch) writing.delete(change.userId);
    if (queued.size === 0) {
      if (lanesBusy === 0) for (const resolve of idleWaiters.splice(0)) resolve();
    } else if (nextDelayMs === FLUSH_NOW) {
      flush();
    } else {
      schedule(nextDelayMs);
    }
  }

  return {
    /**
     * Queue a user's transition. Store operations resolve out of order, so a change older
     * (by the store's sequence) than the one already queued for the user is dropped.
     * `repair`: found by reconciliation (written only if no one else is writing the row); a
     * transition queued for the user keeps the change a transition.
     */
    enqueue(userId: string, isOnline: boolean, seq: number, repair = false) {
      const current = queued.get(userId);
      if (current?.seq !== undefined && current.seq > seq) return;
      const stillRepair = repair && (current === undefined || current.repair === true);
      queued.set(userId, { userId, isOnline, at: new Date(), seq, repair: stillRepair });
      schedule(FLUSH_NOW);
    },
    /** Of these users, those with a change queued or being written. */
    pendingAmong: (userIds: readonly string[]) =>
      new Set(userIds.filter((id) => queued.has(id) || writing.has(id))),
    busy: () => queued.size > 0 || lanesBusy > 0,
    /** Resolves once everything queued so far is written (or the deadline passes). */
    idle(timeoutMs: number): Promise<void> {
      if (queued.size === 0 && lanesBusy === 0) return Promise.resolve();
      return new Promise((resolve) => {
        const t = setTimeout(resolve, timeoutMs);
        idleWaiters.push(() => {
          clearTimeout(t);
          resolve();
        });
      });
    },
  };
}

export type TransitionWriter = ReturnType<typeof createTransitionWriter>;
