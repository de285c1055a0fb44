import type { ServerWebSocket } from 'bun';
import { Elysia, t } from 'elysia';
import { errorBody } from '../http/error-body';
import { UnauthorizedError } from '../lib/errors';
import type { Logger } from '../lib/logger';
import { slicedQueue } from '../lib/slices';
import {
  CLIENT_FRAME_TYPES,
  type CloseCode,
  CloseCodes,
  encodeFrame,
  type ServerFrame,
  WS_LIMITS,
} from '../protocol/frames';
import { ErrorBody } from '../protocol/schemas';
import type { HubSocket, SocketHub } from './hub';

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

/**
 * Server-wide WebSocket options for Bun (they cannot be set per route), mounted on the root
 * app in src/app.ts. Bun closes with 1009 by itself when a frame exceeds maxPayloadLength.
 */
export const websocketServerOptions = {
  // Clients only send tiny control frames; anything near this size is a bug or abuse.
  maxPayloadLength: WS_LIMITS.maxFrameBytes,
  // Bun pings idle sockets (sendPings) and closes one silent for idleTimeout seconds, so a
  // peer that vanished without a FIN (laptop lid, NAT drop) is detected within a minute.
  idleTimeout: WS_LIMITS.idleTimeoutS,
  sendPings: true,
  // A client that stops reading must not grow our memory: close it at 1 MiB of backlog.
  backpressureLimit: 1024 * 1024,
  closeOnBackpressureLimit: true,
  // Frames are small JSON; compression would cost CPU under a connect storm for no gain.
  perMessageDeflate: false,
} as const;

/** Who a socket belongs to, as its access token said at the upgrade. */
export interface SocketUser {
  id: string;
  /** When the token expires (ms since epoch); the socket closes with 4001 then. */
  expiresAt?: number;
  /** The account's token_version in the token; the socket closes with 4003 once it moves on. */
  tokenVersion?: number;
}

/** One open WebSocket on this instance. Bookkeeping is keyed by `connId`, never the socket. */
export interface Connection extends HubSocket {
  readonly user: SocketUser;
  readonly openedAt: number;
  /** Send one frame to this socket only. */
  send(frame: ServerFrame): void;
}

export interface WsRouteDeps {
  hub: SocketHub;
  log: Logger;
  /** The user for an access token, or undefined when it is missing, expired or forged. */
  verifyToken(token: string): Promise<SocketUser | undefined>;
  /** A connection was authenticated and opened (registered in the hub already). */
  onOpen(conn: Connection): void;
  /** It closed, for whatever reason (already removed from the hub). Called once per connection. */
  onClose(conn: Connection, code: number): void;
  /** A valid `presence_subscribe`: replace this connection's subscription with these ids. */
  onPresenceSubscribe(conn: Connection, userIds: string[]): void;
}

/** The topic every hub socket subscribes to, so `hub.broadcast` is one native publish. */
const BROADCAST_TOPIC = 'hive:all';
const PONG = encodeFrame({ type: 'pong' });

let sequence = 0;

/**
 * One open socket's bookkeeping. A class, so its methods live once on the prototype rather
 * than as closures per socket (10,000 sockets made 40,000 of them).
 */
class LiveConnection implements Connection {
  readonly connId: string;
  readonly userId: string;
  readonly tokenVersion: number | undefined;
  readonly openedAt = Date.now();
  /** Flood control: a token bucket (WS_LIMITS.floodBurst, refilled at floodRatePerS). */
  tokens: number = WS_LIMITS.floodBurst;
  refilledAt = performance.now();
  cancelExpiry: () => void = () => {};
  closed = false;

  constructor(
    private readonly raw: ServerWebSocket<unknown>,
    readonly user: SocketUser,
    hub: SocketHub,
  ) {
    sequence += 1;
    this.connId = `${hub.size().toString(36)}.${sequence.toString(36)}.${crypto.randomUUID().slice(0, 8)}`;
    this.userId = user.id;
    this.tokenVersion = user.tokenVersion;
  }

  sendRaw(text: string): void {
    this.raw.send(text);
  }

  /** Corked: the frames leave in one write (outside Bun's handlers, each send is a syscall of its own). */
  sendRawMany(texts: readonly string[]): void {
    const raw = this.raw;
    raw.cork(() => {
      for (const text of texts) raw.send(text);
    });
  }

  send(frame: ServerFrame): void {
    this.raw.send(encodeFrame(frame));
  }

  close(c: CloseCode): void {
    this.raw.close(c.code, c.reason);
  }
}

/** False when the connection has used up its message allowance (it is closed with 1008 then). */
function withinRate(conn: LiveConnection): boolean {
  const now = performance.now();
  conn.tokens = Math.min(
    WS_LIMITS.floodBurst,
    conn.tokens + ((now - conn.refilledAt) / 1000) * WS_LIMITS.floodRatePerS,
  );
  conn.refilledAt = now;
  if (conn.tokens < 1) return false;
  conn.tokens -= 1;
  return true;
}

type ClientError = Extract<ServerFrame, { type: 'error' }>['data'];

/** The longest string accepted as a user id in `presence_subscribe` (ours are 36-char uuids). */
const MAX_USER_ID_CHARS = 100;

/**
 * The user ids of a `presence_subscribe` payload, or the error to answer. Unknown ids are
 * fine (they match no user); a wrong shape or more than the cap is refused and changes nothing.
 */
function parsePresenceSubscribe(data: unknown): string[] | ClientError {
  const ids = data && typeof data === 'object' ? (data as { user_ids?: unknown }).user_ids : undefined;
  const shape = '{"type":"presence_subscribe","data":{"user_ids":["<user id>", …]}}';
  if (!Array.isArray(ids)) return { code: 'invalid_data', message: `Expected ${shape}.` };
  if (ids.length > WS_LIMITS.maxPresenceSubscriptions)
    return {
      code: 'too_many_user_ids',
      message: `At most ${WS_LIMITS.maxPresenceSubscriptions} user ids per presence_subscribe (got ${ids.length}); subscribe to the users you show.`,
    };
  if (!ids.every((id) => typeof id === 'string' && id.length > 0 && id.length <= MAX_USER_ID_CHARS))
    return {
      code: 'invalid_data',
      message: `user_ids must be non-empty strings of at most ${MAX_USER_ID_CHARS} characters.`,
    };
  return ids as string[];
}

const UNKNOWN_TYPE_HINT = `the client messages are ${CLIENT_FRAME_TYPES.map((t) => `"${t}"`).join(' and ')}`;

/** Answer one client message: `ping` gets `pong`, `presence_subscribe` goes on, anything else an `error` frame. */
function answer(conn: LiveConnection, message: unknown, deps: WsRouteDeps): void {
  const frame =
    message && typeof message === 'object' && !Array.isArray(message)
      ? (message as { type?: unknown; data?: unknown })
      : undefined;
  const type = frame?.type;
  if (type === 'ping') {
    conn.sendRaw(PONG);
    return;
  }
  if (type === 'presence_subscribe') {
    const parsed = parsePresenceSubscribe(frame?.data);
    if (Array.isArray(parsed)) deps.onPresenceSubscribe(conn, parsed);
    else conn.send({ type: 'error', data: parsed });
    return;
  }
  conn.send({
    type: 'error',
    data:
      typeof type === 'string'
        ? {
            code: 'unknown_type',
            message: `Unknown message type "${type.slice(0, 50)}"; ${UNKNOWN_TYPE_HINT}.`,
          }
        : { code: 'invalid_frame', message: 'Frames must be JSON objects {"type": "...", "data": {...}}.' },
  });
}

/**
 * Upgrades go on in slices (src/lib/slices.ts), with the loop turning in between. An account
 * the feed keeps is checked from memory, so without this a storm's upgrades would all run in
 * the I/O phase that read them: with 10,000 sockets arriving, turns of a second, and every
 * other request (`/health`, a task update) waiting behind them (bench/RESULTS.md, round eleven).
 */
const upgrades = slicedQueue((resume: () => void) => resume());
const upgradeTurn = () => new Promise<void>((resume) => upgrades.push(resume));

/**
 * Upgrade requests wait for their turn before anything else is done with them: the access
 * log, the other hooks, routing, the query's validation and the token check run in the slice.
 * One I/O phase can read a thousand upgrade requests; with the token checked before the turn,
 * a storm still stalled the loop twice for 150–210 ms, and half of the JavaScript samples in
 * those stalls were token checks (bench/RESULTS.md, round thirteen). Mounted first on the root
 * app (src/app.ts), it is what takes `/ws` upgrades in slices; its cost to every other request
 * is one header lookup and an async hook (bench/cpu-per-request.ts: 0.99× the CPU per
 * task-list request).
 */
export function upgradeQueuePlugin() {
  return new Elysia({ name: 'hive.upgrade-queue' }).onRequest(async ({ request }) => {
    if (request.headers.get('upgrade') === null) return;
    await upgradeTurn();
  });
}

/** The user a `?token=` names, or the contract's 401 (thrown, for the global error mapper). */
async function authenticate(deps: WsRouteDeps, token: unknown): Promise<SocketUser> {
  if (typeof token !== 'string' || !token)
    throw new UnauthorizedError('Missing access token; connect to /ws?token=<access_token>.');
  const user = await deps.verifyToken(token);
  if (!user) throw new UnauthorizedError('The access token is invalid or has expired.', 'invalid_token');
  return user;
}

/**
 * What Bun keeps per socket (`ws.data`): who it is, and its connection once open. Elysia's
 * server-wide WebSocket handlers call `data.open` / `data.message` / `data.close`; ours are
 * shared functions, so a socket costs this small object and its connection, not a copy of the
 * request's whole context and a set of closures each, as Elysia's `.ws()` route keeps.
 */
interface SocketData {
  readonly user: SocketUser;
  conn: LiveConnection | undefined;
  open(ws: ServerWebSocket<SocketData>): void;
  message(ws: ServerWebSocket<SocketData>, message: string | Buffer): void;
  close(ws: ServerWebSocket<SocketData>, code: number): void;
}

/** A text frame as JSON, or undefined (binary, or not JSON): answered with `invalid_frame`. */
function parseFrame(message: string | Buffer): unknown {
  if (typeof message !== 'string') return undefined;
  try {
    return JSON.parse(message);
  } catch {
    return undefined;
  }
}

/**
 * `GET /ws?token=<access_token>`. The token is verified before the upgrade: a missing,
 * expired, forged or revoked one is answered with HTTP 401 in the contract's error format and
 * no socket is created. A plain GET (no `Upgrade: websocket`) with a good token gets 426
 * Upgrade Required. The route upgrades with `server.upgrade` itself rather than through
 * Elysia's `.ws()`, which keeps a copy of the request's context and a dozen closures per
 * socket and wraps every event in a new object (~3–5 % of a 10,000-socket storm's CPU samples).
 * Frames and close codes: src/protocol/frames.ts and README "WebSocket".
 */
export function wsRoutes(deps: WsRouteDeps) {
  const { hub, log } = deps;
  let nativeBroadcastInstalled = false;

  function open(this: SocketData, raw: ServerWebSocket<SocketData>): void {
    const { user } = this;
    const conn = new LiveConnection(raw as ServerWebSocket<unknown>, user, hub);
    this.conn = conn;
    if (user.expiresAt !== undefined) {
      conn.cancelExpiry = whenExpired(user.expiresAt, () => {
        log.info('websocket token expired; closing', { conn_id: conn.connId, user_id: conn.userId });
        conn.close(CloseCodes.tokenExpired);
      });
    }
    hub.add(conn);
    raw.subscribe(BROADCAST_TOPIC);
    deps.onOpen(conn);
  }

  function message(this: SocketData, _raw: ServerWebSocket<SocketData>, text: string | Buffer): void {
    const conn = this.conn;
    if (!conn) return;
    if (!withinRate(conn)) {
      log.warn('websocket flood; closing', { conn_id: conn.connId, user_id: conn.userId });
      conn.close(CloseCodes.tooManyMessages);
      return;
    }
    answer(conn, parseFrame(text), deps);
  }

  function close(this: SocketData, _raw: ServerWebSocket<SocketData>, code: number): void {
    const conn = this.conn;
    if (!conn) return;
    this.conn = undefined;
    conn.closed = true;
    conn.cancelExpiry();
    hub.remove(conn.connId);
    deps.onClose(conn, code);
  }

  const routes = new Elysia({ name: 'hive.ws' }).get(
    '/ws',
    async ({ query, request, server, set }) => {
      const user = await authenticate(deps, query.token);
      if (request.headers.get('upgrade')?.toLowerCase() === 'websocket' && server) {
        if (!nativeBroadcastInstalled) {
          nativeBroadcastInstalled = true;
          hub.useNativeBroadcast((text) => void server.publish(BROADCAST_TOPIC, text));
        }
        const data: SocketData = { user, conn: undefined, open, message, close };
        // The 101 carries the headers set so far (request id, security headers).
        if (server.upgrade(request, { data, headers: set.headers as Record<string, string> })) {
          set.status = 101;
          return;
        }
        set.status = 400;
        return errorBody('bad_request', 'The WebSocket handshake is malformed.');
      }
      set.status = 426;
      set.headers.upgrade = 'websocket';
      return errorBody(
        'upgrade_required',
        'This is a WebSocket endpoint; connect with a WebSocket client (see /asyncapi.json).',
      );
    },
    {
      query: t.Object({
        token: t.Optional(t.String({ description: 'An access token from POST /api/v1/auth/login.' })),
      }),
      response: { 400: ErrorBody, 401: ErrorBody, 426: ErrorBody },
      detail: {
        tags: ['realtime'],
        operationId: 'openWebSocket',
        summary: 'The WebSocket: live presence, task and dashboard events',
        description:
          'Open with a WebSocket client at `/ws?token=<access_token>` (browsers cannot set headers on a WebSocket, hence the query parameter). The token is checked before the upgrade. Frames, close codes and limits: the AsyncAPI 3 document at [/asyncapi.json](/asyncapi.json).',
        responses: {
          101: { description: 'Switching Protocols: the socket is open (WebSocket clients only).' },
          400: {
            description: 'An `Upgrade: websocket` request whose handshake is malformed (`bad_request`).',
          },
          401: {
            description:
              'Missing, expired, forged or `alg: none` token (`unauthorized`, `invalid_token`); no socket is created.',
          },
          426: { description: 'A plain GET with a good token (`upgrade_required`): use a WebSocket client.' },
        },
      },
    },
  );
  return routes as unknown as WithRoutes<typeof routes, SocketRouteType>;
}

/**
 * Types only (never called): the route above upgrades by itself, but `treaty<App>()` should
 * still see `/ws` as a WebSocket (Eden's `client.ws.subscribe`), as it would from `.ws()`.
 */
const socketRouteShape = () => new Elysia().ws('/ws', { query: t.Object({ token: t.Optional(t.String()) }) });
type SocketRouteType = ReturnType<typeof socketRouteShape>['~Routes'];
type WithRoutes<A, R> =
  A extends Elysia<infer B, infer S, infer D, infer M, infer Rt, infer E, infer V>
    ? Elysia<B, S, D, M, Rt & R, E, V>
    : never;
