import type { ServerWebSocket } from 'bun';
import { Elysia } from 'elysia';
import type { Config } from '../config';
import { UnauthorizedError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { type AuthUser, authPlugin } from '../modules/auth/plugin';
import type { HubSocket, SocketHub } from './hub';

/** Close codes we send (RFC 6455 §7.4.1), named once. */
export const CloseCode = {
  NORMAL: 1000,
  /** Server shutting down; the client should reconnect (to another instance). */
  GOING_AWAY: 1001,
  /** The client broke a rule we state: here, the message rate. */
  POLICY_VIOLATION: 1008,
  /** A frame over MAX_FRAME_BYTES; Bun sends it itself when maxPayloadLength is exceeded. */
  MESSAGE_TOO_BIG: 1009,
  /**
   * The access token the socket was opened with has expired (application range 4000-4999).
   * A socket must not outlive its credentials; the client logs in again and reconnects.
   */
  TOKEN_EXPIRED: 4001,
} as const;

/** setTimeout's largest delay (~24.8 days); tokens may live up to 30 days. */
const MAX_TIMER_MS = 2 ** 31 - 1;

/** Call `onExpired` once `expiresAt` has passed; returns a cancel function. */
function whenExpired(expiresAt: number, onExpired: () => void): () => void {
  let timer: ReturnType<typeof setTimeout>;
  const arm = () => {
    const remaining = expiresAt - Date.now();
    if (remaining <= 0) return onExpired();
    timer = setTimeout(arm, Math.min(remaining, MAX_TIMER_MS));
  };
  arm();
  return () => clearTimeout(timer);
}

/** Clients only send tiny control frames; anything near this size is a bug or abuse. */
export const MAX_FRAME_BYTES = 64 * 1024;

/**
 * Flood control per connection: a token bucket of FLOOD_BURST messages refilled at
 * FLOOD_RATE_PER_S. A dashboard sends a ping every few seconds; 20/s sustained with a
 * burst of 60 leaves room for any honest client and closes a runaway loop within a second.
 */
export const FLOOD_RATE_PER_S = 20;
export const FLOOD_BURST = 60;

/**
 * Server-wide WebSocket options for Bun (they cannot be set per route), mounted on the root
 * app in src/app.ts. Bun closes with 1009 by itself when a frame exceeds maxPayloadLength.
 */
export const websocketServerOptions = {
  maxPayloadLength: MAX_FRAME_BYTES,
  // Bun pings idle sockets (sendPings) and closes one silent for idleTimeout seconds, so a
  // peer that vanished without a FIN (laptop lid, NAT drop) is detected within a minute.
  idleTimeout: 60,
  sendPings: true,
  // A client that stops reading must not grow our memory: close it at 1 MiB of backlog.
  backpressureLimit: 1024 * 1024,
  closeOnBackpressureLimit: true,
  // Frames are small JSON; compression would cost CPU under a connect storm for no gain.
  perMessageDeflate: false,
} as const;

/** One open WebSocket on this instance. Bookkeeping is keyed by `connId`, never the socket. */
export interface Connection extends HubSocket {
  readonly user: AuthUser;
  readonly openedAt: number;
}

export interface WsRouteDeps {
  config: Config;
  hub: SocketHub;
  log: Logger;
  /** A connection was authenticated and opened (registered in the hub already). */
  onOpen(conn: Connection): void;
  /** It closed, for whatever reason (already removed from the hub). Called once per connection. */
  onClose(conn: Connection, code: number): void;
}

/** The topic every hub socket subscribes to, so `hub.broadcast` is one native publish. */
const BROADCAST_TOPIC = 'hive:all';

const frame = (type: string, data?: unknown) =>
  JSON.stringify(data === undefined ? { type } : { type, data });
const PONG = frame('pong');

/**
 * `GET /ws?token=<access_token>`. The token is verified before the upgrade: a missing,
 * expired or forged one is answered with HTTP 401 in the contract's error format and no
 * socket is created. Frames are JSON `{type, data}`; see README "WebSocket".
 */
export function wsRoutes(deps: WsRouteDeps) {
  const { config, hub, log } = deps;
  // The verified user travels from the HTTP upgrade request to the socket's open handler.
  const verifiedUpgrades = new WeakMap<Request, AuthUser>();
  // Elysia hands each event a fresh wrapper; the per-socket `data` object is what stays put.
  const connectionBySocketData = new WeakMap<
    object,
    Connection & { tokens: number; refilledAt: number; cancelExpiry: () => void }
  >();
  let sequence = 0;
  let nativeBroadcastInstalled = false;

  return new Elysia({ name: 'hive.ws' }).use(authPlugin(config)).ws('/ws', {
    detail: {
      tags: ['realtime'],
      summary: 'WebSocket: live presence, task and dashboard events',
      description:
        'Upgrade with `?token=<access_token>` (401 before any upgrade when missing, expired or forged). Send `{"type":"ping"}`, get `{"type":"pong"}`. See README.',
    },
    // Elysia's ws route ignores a value returned from beforeHandle, so refusal is a throw,
    // which the global onError turns into the contract's 401 body.
    async beforeHandle({ query, request, server, verifyAccessToken }) {
      const token = typeof query.token === 'string' ? query.token : undefined;
      if (!token) throw new UnauthorizedError('Missing access token; connect to /ws?token=<access_token>.');
      const user = await verifyAccessToken(token);
      if (!user) throw new UnauthorizedError('The access token is invalid or has expired.', 'invalid_token');
      verifiedUpgrades.set(request, user);
      if (server && !nativeBroadcastInstalled) {
        nativeBroadcastInstalled = true;
        hub.useNativeBroadcast((text) => void server.publish(BROADCAST_TOPIC, text));
      }
    },
    open(ws) {
      const raw = ws.raw as ServerWebSocket<unknown>;
      const user = verifiedUpgrades.get(ws.data.request);
      if (!user) {
        // Unreachable: beforeHandle refuses before upgrading. Kept so a refactor cannot open a hole.
        raw.close(CloseCode.POLICY_VIOLATION, 'unauthenticated');
        return;
      }
      verifiedUpgrades.delete(ws.data.request);
      sequence += 1;
      const conn = {
        connId: `${deps.hub.size().toString(36)}.${sequence.toString(36)}.${crypto.randomUUID().slice(0, 8)}`,
        userId: user.id,
        user,
        openedAt: Date.now(),
        tokens: FLOOD_BURST,
        refilledAt: performance.now(),
        cancelExpiry: () => {},
        sendRaw(text: string) {
          raw.send(text);
        },
        close(code: number, reason: string) {
          raw.close(code, reason);
        },
      };
      connectionBySocketData.set(raw.data as object, conn);
      if (user.expiresAt !== undefined) {
        conn.cancelExpiry = whenExpired(user.expiresAt, () => {
          log.info('websocket token expired; closing', { conn_id: conn.connId, user_id: conn.userId });
          conn.close(CloseCode.TOKEN_EXPIRED, 'token expired');
        });
      }
      hub.add(conn);
      raw.subscribe(BROADCAST_TOPIC);
      deps.onOpen(conn);
    },
    message(ws, message) {
      const conn = connectionBySocketData.get(ws.raw.data as object);
      if (!conn) return;
      const now = performance.now();
      conn.tokens = Math.min(FLOOD_BURST, conn.tokens + ((now - conn.refilledAt) / 1000) * FLOOD_RATE_PER_S);
      conn.refilledAt = now;
      if (conn.tokens < 1) {
        log.warn('websocket flood; closing', { conn_id: conn.connId, user_id: conn.userId });
        conn.close(CloseCode.POLICY_VIOLATION, 'too many messages');
        return;
      }
      conn.tokens -= 1;
      // Elysia has already JSON-parsed text that looks like JSON; anything else stays as it came.
      const type =
        message && typeof message === 'object' && !Buffer.isBuffer(message)
          ? (message as { type?: unknown }).type
          : undefined;
      if (type === 'ping') {
        conn.sendRaw(PONG);
        return;
      }
      const parsed = typeof type === 'string';
      conn.sendRaw(
        frame('error', {
          code: parsed ? 'unknown_type' : 'invalid_frame',
          message: parsed
            ? `Unknown message type "${String(type).slice(0, 50)}"; the only client message is {"type":"ping"}.`
            : 'Frames must be JSON objects {"type": "...", "data": {...}}.',
        }),
      );
    },
    close(ws, code) {
      const data = ws.raw.data as object;
      const conn = connectionBySocketData.get(data);
      if (!conn) return;
      connectionBySocketData.delete(data);
      conn.cancelExpiry();
      hub.remove(conn.connId);
      deps.onClose(conn, code);
    },
  });
}
