import type { Sql } from '../../db/client';
import type { Logger } from '../../lib/logger';
import type { Feature } from '../../runtime';
import { ACCOUNT_TTL_MS, ACCOUNTS_CHANNEL, type AccountCache } from './accounts';

/** How often this instance sends its heartbeat through the channel: a quarter of the TTL. */
export const ACCOUNT_HEARTBEAT_MS = ACCOUNT_TTL_MS / 4;

/**
 * Keeps the account cache current from migration 0021's notifications, so that token checks
 * (every request, every WebSocket upgrade) need no database round trip for accounts this
 * instance knows, and a change made anywhere counts here within milliseconds.
 *
 * - LISTEN on ACCOUNTS_CHANNEL; each (re)connect starts a new feed session in the cache and
 *   preloads the most recently seen accounts, so a connect storm after a start or an
 *   outage finds them in memory. Heartbeats wait for the preload, so a live feed has them.
 * - Every ACCOUNT_HEARTBEAT_MS, `pg_notify` a heartbeat carrying its send time. One at a time,
 *   so they commit in order. The cache trusts its entries beyond their TTL only while a
 *   heartbeat sent less than a TTL ago has come back (see createAccountCache).
 *
 * Off on the embedded database (one connection, no LISTEN): entries then live for the TTL.
 */
export function createAccountFeedFeature(deps: {
  sql: Sql;
  accounts: AccountCache;
  instanceId: string;
  embedded: boolean;
  log: Logger;
}): Feature {
  const { sql, accounts, instanceId, log } = deps;
  let unlisten: (() => Promise<void>) | undefined;
  let heartbeat: ReturnType<typeof setInterval> | undefined;
  let beating = false;
  let preloading = false;
  let stopped = false;

  async function beat(): Promise<void> {
    if (beating || preloading || stopped) return;
    beating = true;
    try {
      await sql`select pg_notify(${ACCOUNTS_CHANNEL}, ${`hb:${instanceId}:${Date.now()}`})`;
    } catch (err) {
      log.debug('account feed heartbeat failed', { err });
    } finally {
      beating = false;
    }
  }

  /** A LISTEN session began: preload, then heartbeat, so a live feed has its accounts in memory. */
  function sessionStarted(): void {
    if (stopped) return; // postgres.js LISTENs again after a close, shutdown's included
    accounts.feed.started();
    preloading = true;
    accounts
      .preload()
      .then(
        (n) => log.debug('account feed listening; accounts preloaded', { accounts: n }),
        (err) => log.warn('account preload failed; accounts are read as they are used', { err }),
      )
      .finally(() => {
        preloading = false;
        void beat();
      });
  }

  async function listen(): Promise<void> {
    try {
      const sub = await sql.listen(
        ACCOUNTS_CHANNEL,
        (payload) => accounts.feed.notified(payload, instanceId),
        sessionStarted,
      );
      unlisten = () => sub.unlisten();
      if (stopped) await unlisten();
    } catch (err) {
      // postgres.js keeps our listener and LISTENs again each time its connection comes back
      // (calling sessionStarted then); a second listen() here would register it twice.
      if (!stopped)
        log.warn('could not LISTEN for account changes yet; token checks read accounts meanwhile', {
          err,
        });
    }
  }

  return {
    name: 'account-feed',
    start() {
      if (deps.embedded) return;
      heartbeat = setInterval(() => void beat(), ACCOUNT_HEARTBEAT_MS);
      void listen();
    },
    async stop() {
      stopped = true;
      clearInterval(heartbeat);
      accounts.feed.stopped();
      await unlisten?.().catch(() => {});
    },
  };
}
