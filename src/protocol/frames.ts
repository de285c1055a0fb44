import type { DashboardSummary, Task, UserStatus } from './schemas';

/**
 * The WebSocket protocol of `/ws`, written once: the frames in both directions, their
 * payloads and the close codes. The server, the dashboard page and the tests import this
 * module, so a misspelt frame type or a payload of the wrong shape is a compile error.
 * The page bundles it: keep it free of runtime imports (types only from ./schemas).
 * Every frame is JSON `{"type": "...", "data": {...}}`; `data` is absent on bare frames.
 */

/** Frame payloads the server sends, by frame type. */
export interface ServerFrameData {
  /** A user went online or offline (once per change, not once per tab). */
  user_status_update: UserStatus;
  /**
   * Several presence changes at once: what a burst of transitions becomes (coalesced over a
   * short tick, only while busy; Slack's `presence_change` with `users`, Phoenix's
   * `presence_diff`). Each entry means exactly what a `user_status_update` would.
   */
  presence_batch: { users: UserStatus[] };
  /**
   * Answer to `presence_subscribe`: the subscription is in effect, and here is the current
   * state of every subscribed user that exists (unknown ids are left out), the online count
   * and the mode. Changes after this frame arrive as updates/batches.
   */
  presence_subscribed: { users: UserStatus[]; online: number; mode: PresenceMode };
  /**
   * The number of users online, coalesced (a few per second at most), sent to every socket
   * while the team is above PRESENCE_SUBSCRIBE_THRESHOLD, and once whenever the mode changes.
   */
  presence_count: { online: number; mode: PresenceMode };
  task_created: { task: Task };
  task_updated: { task: Task };
  task_deleted: { id: string };
  /** The unfiltered summary after task or presence changes, a few times a second at most. */
  dashboard_summary: { summary: DashboardSummary };
  /**
   * Events of these topics may have been missed: this instance could not hear the cluster for
   * a while (its Redis subscriber connection was lost and is back). A client that keeps state
   * from them re-reads it now (`tasks`: GET /api/v1/tasks). Presence and the summary recover by
   * themselves (a new `presence_subscribed` for subscribed sockets, a new `dashboard_summary`).
   */
  resync: { topics: ResyncTopic[] };
  pong: undefined;
  /** The client sent something we do not understand; the socket stays open. */
  error: { code: ClientErrorCode; message: string };
}

/** Frame payloads a client sends, by frame type. */
export interface ClientFrameData {
  ping: undefined;
  /**
   * Replace this socket's presence subscription with these user ids (at most
   * WS_LIMITS.maxPresenceSubscriptions; `[]` clears it). Above the threshold a socket only
   * gets changes of users it subscribed to. Answered with `presence_subscribed`.
   */
  presence_subscribe: { user_ids: string[] };
}

/**
 * `all`: every presence change reaches every socket (teams up to PRESENCE_SUBSCRIBE_THRESHOLD
 * users online). `subscribed`: a socket gets changes only for the users it subscribed to,
 * plus `presence_count`.
 */
export type PresenceMode = 'all' | 'subscribed';

/** What a `resync` frame says may have been missed. */
export type ResyncTopic = 'tasks';

export type ServerFrameType = keyof ServerFrameData;
export type ClientFrameType = keyof ClientFrameData;

/** A frame of one type, with its payload (omitted where the payload is `undefined`). */
type FrameOf<M, K extends keyof M> = M[K] extends undefined ? { type: K } : { type: K; data: M[K] };

export type ServerFrame = { [K in ServerFrameType]: FrameOf<ServerFrameData, K> }[ServerFrameType];
export type ClientFrame = { [K in ClientFrameType]: FrameOf<ClientFrameData, K> }[ClientFrameType];
export type ServerFrameOf<K extends ServerFrameType> = FrameOf<ServerFrameData, K>;

/**
 * Codes of the `error` frame: `invalid_frame` not a JSON object with a `type`;
 * `unknown_type` a type we do not know; `invalid_data` a known type with a payload of the
 * wrong shape; `too_many_user_ids` a `presence_subscribe` over the cap (nothing changed).
 */
export type ClientErrorCode = 'invalid_frame' | 'unknown_type' | 'invalid_data' | 'too_many_user_ids';

/** Every server frame type, for validation and documentation (the compiler checks the list). */
export const SERVER_FRAME_TYPES = [
  'user_status_update',
  'presence_batch',
  'presence_subscribed',
  'presence_count',
  'task_created',
  'task_updated',
  'task_deleted',
  'dashboard_summary',
  'resync',
  'pong',
  'error',
] as const satisfies readonly ServerFrameType[];

export const CLIENT_FRAME_TYPES = [
  'ping',
  'presence_subscribe',
] as const satisfies readonly ClientFrameType[];

/** Serialise a server frame; the only way the server writes one (but see below). */
export function encodeFrame(frame: ServerFrame): string {
  return JSON.stringify(frame);
}

/**
 * The presence frame for statuses each already serialised with `JSON.stringify`: a
 * `user_status_update` for one, a `presence_batch` for several. The text equals
 * `encodeFrame`'s; building it from pre-encoded entries lets the server serialise each status
 * once per batch however many sockets' frames carry it.
 */
export function encodePresenceFrame(statusJson: readonly string[]): string {
  if (statusJson.length === 1) return `{"type":"user_status_update","data":${statusJson[0]}}`;
  return `{"type":"presence_batch","data":{"users":[${statusJson.join(',')}]}}`;
}

/** `presence_subscribed` from pre-encoded statuses, likewise equal to `encodeFrame`'s text. */
export function encodePresenceSubscribed(
  statusJson: readonly string[],
  online: number,
  mode: PresenceMode,
): string {
  return `{"type":"presence_subscribed","data":{"users":[${statusJson.join(',')}],"online":${online},"mode":"${mode}"}}`;
}

/**
 * How a socket ends, with the reason sent in the close frame and what a client should do
 * next in `advice` (centrifuge's disconnect codes do the same): `reconnect` — open a new socket with
 * backoff; `sign_in` — the token is no longer good: get a new one first; `stop` — do not
 * reconnect. Application codes live in 4000–4999 (RFC 6455 §7.4.2).
 */
export interface CloseCode {
  code: number;
  reason: string;
  advice: 'reconnect' | 'sign_in' | 'stop';
}

export const CloseCodes = {
  /** The client said goodbye (sign-out, page closed). */
  normal: { code: 1000, reason: 'bye', advice: 'stop' },
  /** This server is shutting down: reconnect, a load balancer will pick another instance. */
  goingAway: { code: 1001, reason: 'server shutting down', advice: 'reconnect' },
  /** More messages than the flood limit allows. */
  tooManyMessages: { code: 1008, reason: 'too many messages', advice: 'reconnect' },
  /** A frame over the size limit (Bun sends this code itself). */
  messageTooBig: { code: 1009, reason: 'frame too large', advice: 'reconnect' },
  /** The client's own watchdog: no frame from the server for too long. */
  silent: { code: 4000, reason: 'silent', advice: 'reconnect' },
  /** The access token the socket was opened with has expired. */
  tokenExpired: { code: 4001, reason: 'token expired', advice: 'sign_in' },
  /** The account was deleted, deactivated, demoted or its password changed: sign in again. */
  sessionRevoked: { code: 4003, reason: 'session revoked', advice: 'sign_in' },
} as const satisfies Record<string, CloseCode>;

/** What a client should do after a close with this code (unknown codes: reconnect with backoff). */
export function afterClose(code: number): CloseCode['advice'] {
  for (const c of Object.values(CloseCodes)) if (c.code === code) return c.advice;
  return 'reconnect';
}

/** Limits a client must keep to. */
export const WS_LIMITS = {
  /** Larger client frames close the socket with 1009. */
  maxFrameBytes: 64 * 1024,
  /** Token bucket per connection: sustained messages per second, and the burst. */
  floodRatePerS: 20,
  floodBurst: 60,
  /** The server pings and closes a peer silent for this long. */
  idleTimeoutS: 60,
  /** Most user ids one `presence_subscribe` may name (a dashboard shows far fewer). */
  maxPresenceSubscriptions: 500,
} as const;
