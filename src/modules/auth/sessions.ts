import type { Logger } from '../../lib/logger';
import { recordSessionRevoked } from '../../lib/metrics';
import { CloseCodes } from '../../protocol/frames';
import type { HubSocket, SocketHub } from '../../realtime/hub';
import type { Feature } from '../../runtime';
import type { AccountCache, AccountState } from './accounts';

/**
 * How often each instance checks the accounts behind its open sockets. With the check's own
 * query time this closes a revoked session's sockets well within the contract's 5 s, on
 * every instance, whether the account was changed through the API or in psql, even while the
 * account feed (./account-feed.ts) is down: one query per tick for the connected accounts the
 * feed does not keep (~10 ms at 10,000 of them). With the feed live, the tick reads nothing,
 * and each change it announces runs a check at once.
 */
export const SESSION_SWEEP_MS = 2_000;

/** A socket whose token no longer matches its account: gone, inactive, or a newer token_version. */
function revoked(socket: HubSocket, state: AccountState | undefined): boolean {
  return !state?.active || (socket.tokenVersion !== undefined && socket.tokenVersion !== state.version);
}

/**
 * Closes every open WebSocket of this instance whose session was revoked (account deleted,
 * deactivated, demoted, or its password changed) with 4003 `session revoked`. A database
 * error skips the tick: an outage is not a revocation.
 */
export function createSessionsFeature(deps: {
  hub: SocketHub;
  accounts: AccountCache;
  log: Logger;
}): Feature {
  const { hub, accounts, log } = deps;
  let timer: ReturnType<typeof setInterval> | undefined;
  let running = false;
  let again = false;
  let unsubscribe: (() => void) | undefined;

  async function sweep(): Promise<void> {
    if (running || hub.size() === 0) return;
    running = true;
    again = false;
    try {
      const sockets = [...hub.all()];
      const states = await accounts.readMany([...new Set(sockets.map((s) => s.userId))]);
      for (const socket of sockets) {
        if (!revoked(socket, states.get(socket.userId))) continue;
        log.info('session revoked; closing websocket', { conn_id: socket.connId, user_id: socket.userId });
        socket.close(CloseCodes.sessionRevoked);
        recordSessionRevoked();
      }
    } catch (err) {
      log.warn('session check failed; will retry', { err });
    } finally {
      running = false;
      if (again) void sweep();
    }
  }

  /** Check now, or right after the check in progress (which may have read the state before the change). */
  function sweepSoon(): void {
    if (running) again = true;
    else void sweep();
  }

  return {
    name: 'sessions',
    start() {
      timer = setInterval(sweep, SESSION_SWEEP_MS);
      // A change the account feed announced is checked at once: with the feed live the sweep
      // reads nothing, so a revoked session's sockets close within milliseconds.
      unsubscribe = accounts.onChange(sweepSoon);
    },
    stop() {
      clearInterval(timer);
      unsubscribe?.();
    },
  };
}
