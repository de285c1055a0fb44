import type { Feature, Runtime } from '../../runtime';
import { dashboardRoutes } from './index';
import { createWorkloadCache, MAX_AGE_MS } from './insights';
import { ANALYTICS_CHANNEL, createSummaryCache, readVersion } from './service';

/**
 * Safety net under the events: each instance reads the version (a 16-row sum) this often
 * and drops its cache when it moved, so any committed change shows within this delay even
 * if every event about it was lost. In embedded mode (no LISTEN) it is the path for writes
 * made in SQL.
 */
const VERSION_POLL_MS = 250;
/** How often the cube's slots are folded back into slot 0 (keeps summary reads to few rows). */
const FOLD_INTERVAL_MS = 60_000;

/**
 * The dashboard: routes, and what keeps the cached summary fresh and pushed. Invalidation
 * comes from three places, any one of which suffices: bus events (this and other
 * instances' task and presence writes, after commit), pg_notify from the triggers (writes
 * made outside the server; real PostgreSQL only) and the version poll.
 */
export function createDashboardFeature(rt: Runtime) {
  const { sql, log } = rt;
  const flog = log.child({ feature: 'dashboard' });
  const cache = createSummaryCache({ sql, redis: rt.redis, redisPrefix: rt.config.redisPrefix, log: flog });
  const workload = createWorkloadCache(sql);
  const cleanups: (() => unknown)[] = [];
  let pushTimer: ReturnType<typeof setTimeout> | undefined;
  let expiryTimer: ReturnType<typeof setTimeout> | undefined;
  let lastPushAt = 0;
  let lastPushedTag: string | undefined;
  let stopped = false;

  async function push() {
    if (stopped || rt.hub.size() === 0) return;
    try {
      const entry = await cache.get({});
      armExpiryPush(entry.expiresAt);
      if (entry.etag === lastPushedTag) return; // nothing a client would see changed
      lastPushedTag = entry.etag;
      rt.hub.broadcast({ type: 'dashboard_summary', data: { summary: entry.summary } });
    } catch (err) {
      flog.warn('dashboard summary push failed', { err });
    }
  }

  /**
   * Time alone changes the summary (a task's due date passes): when the pushed one expires,
   * push again; the push recomputes it and sends it only if a figure moved.
   */
  function armExpiryPush(expiresAt: number) {
    if (expiryTimer) clearTimeout(expiryTimer);
    expiryTimer = setTimeout(
      () => {
        expiryTimer = undefined;
        schedulePush();
      },
      Math.max(0, expiresAt - Date.now()) + 5,
    );
  }

  /** Coalesce: the first change waits out the rest of the interval, later ones ride along. */
  function schedulePush() {
    if (pushTimer || stopped) return;
    // At most one push per interval (trailing, so the last change is always pushed): 250 ms,
    // longer with thousands of sockets on this instance or during a connect storm (src/realtime/hub.ts).
    const wait = Math.max(0, lastPushAt + rt.hub.broadcastIntervalMs() - Date.now());
    pushTimer = setTimeout(() => {
      pushTimer = undefined;
      lastPushAt = Date.now();
      void push();
    }, wait);
  }

  function changed() {
    cache.invalidate();
    workload.invalidate();
    schedulePush();
  }

  let polling = false;
  async function poll() {
    if (polling || stopped) return;
    polling = true;
    try {
      const version = await readVersion(sql);
      workload.observeVersion(version);
      if (cache.observeVersion(version)) schedulePush();
    } catch (err) {
      flog.debug('dashboard version poll failed', { err });
    } finally {
      polling = false;
    }
  }

  return {
    name: 'dashboard',
    routes: dashboardRoutes({ sql, cache, workload, tokens: rt.tokens }),
    async start() {
      cleanups.push(rt.bus.subscribe('tasks', changed));
      cleanups.push(rt.bus.subscribe('presence', changed));
      cleanups.push(rt.bus.onReconnect(changed));
      if (!rt.embedded) {
        try {
          // onlisten runs on the first LISTEN and again after every reconnect: whatever
          // was notified while the connection was down is unknown, so drop the cache.
          const sub = await sql.listen(ANALYTICS_CHANNEL, changed, () => {
            flog.debug('listening for analytics notifications');
            changed();
          });
          cleanups.push(() => sub.unlisten().catch(() => {}));
        } catch (err) {
          // The poll still bounds staleness; postgres.js keeps retrying the listen connection.
          flog.warn('could not LISTEN for analytics notifications; relying on the version poll', { err });
        }
      }
      const pollTimer = setInterval(() => void poll(), VERSION_POLL_MS);
      // A push arms a timer for when time alone changes its summary; this covers sockets that
      // connected while nothing was pushed (the push skips an unchanged summary).
      const expiryTick = setInterval(schedulePush, MAX_AGE_MS);
      const foldTimer = setInterval(() => {
        sql`select analytics_fold()`.catch((err) => flog.debug('analytics fold failed', { err }));
      }, FOLD_INTERVAL_MS);
      cleanups.push(
        () => clearInterval(pollTimer),
        () => clearInterval(expiryTick),
        () => clearInterval(foldTimer),
      );
    },
    async stop() {
      stopped = true;
      if (pushTimer) clearTimeout(pushTimer);
      if (expiryTimer) clearTimeout(expiryTimer);
      for (const fn of cleanups.reverse()) await fn();
    },
  } satisfies Feature;
}
