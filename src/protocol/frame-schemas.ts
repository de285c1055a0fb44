import { type Static, type TSchema, t } from 'elysia';
import {
  type ClientErrorCode,
  type ClientFrameData,
  type ClientFrameType,
  type PresenceMode,
  type ResyncTopic,
  type ServerFrameData,
  type ServerFrameType,
  WS_LIMITS,
} from './frames';
import { DashboardSummary, Id, Task, UserStatus } from './schemas';

/**
 * The payload (`data`) of every WebSocket frame as a TypeBox schema, for the AsyncAPI
 * document (src/http/asyncapi.ts). The frames themselves are TypeScript types in ./frames.ts;
 * the checks at the bottom make the compiler refuse a schema that differs from its type, and
 * `satisfies Record<…FrameType, …>` refuses a frame type without a schema, so a new frame
 * cannot be added to frames.ts without documenting it here. `null`: a bare frame, no `data`.
 */

const ERROR_CODES = [
  'invalid_frame',
  'unknown_type',
  'invalid_data',
  'too_many_user_ids',
] as const satisfies readonly ClientErrorCode[];

const Mode = t.Union([t.Literal('all'), t.Literal('subscribed')] satisfies { static: PresenceMode }[], {
  description:
    'all: every change reaches every socket; subscribed: only subscribed users, plus presence_count',
});
const Online = t.Integer({ minimum: 0, description: 'users online now' });

export const SERVER_FRAME_PAYLOADS = {
  user_status_update: UserStatus,
  presence_batch: t.Object(
    { users: t.Array(UserStatus) },
    { description: 'Several presence changes at once.' },
  ),
  presence_subscribed: t.Object(
    { users: t.Array(UserStatus), online: Online, mode: Mode },
    { description: 'The subscription is in effect: the current state of every subscribed user that exists.' },
  ),
  presence_count: t.Object({ online: Online, mode: Mode }, { description: 'The number of users online.' }),
  task_created: t.Object({ task: Task }, { description: 'The task as the REST API returns it.' }),
  task_updated: t.Object({ task: Task }, { description: 'The task after the change.' }),
  task_deleted: t.Object({ id: Id }, { description: 'The id of the deleted task.' }),
  dashboard_summary: t.Object({ summary: DashboardSummary }, { description: 'The unfiltered summary.' }),
  resync: t.Object(
    {
      topics: t.Array(t.Union([t.Literal('tasks')] satisfies { static: ResyncTopic }[]), {
        description: 'tasks: re-read GET /api/v1/tasks',
      }),
    },
    { description: 'Events of these topics may have been missed; re-read what you keep from them.' },
  ),
  pong: null,
  error: t.Object(
    {
      code: t.Union(
        ERROR_CODES.map((c) => t.Literal(c)),
        {
          description:
            'invalid_frame: not a JSON object; unknown_type: no such client frame; invalid_data: bad `data`',
        },
      ),
      message: t.String({ description: 'a human sentence' }),
    },
    { description: 'The client sent something the server does not understand; the socket stays open.' },
  ),
} satisfies Record<ServerFrameType, TSchema | null>;

export const CLIENT_FRAME_PAYLOADS = {
  ping: null,
  presence_subscribe: t.Object(
    { user_ids: t.Array(t.String(), { maxItems: WS_LIMITS.maxPresenceSubscriptions }) },
    { description: 'Replace this socket’s presence subscription (`[]` clears it).' },
  ),
} satisfies Record<ClientFrameType, TSchema | null>;

/** What each frame is for, shown in the AsyncAPI document. */
export const FRAME_SUMMARIES: Record<ServerFrameType | ClientFrameType, string> = {
  user_status_update: 'A user went online or offline (once per change, not once per tab).',
  task_created: 'A task was created (after the write committed).',
  task_updated: 'A task was changed (after the write committed).',
  task_deleted: 'A task was deleted (after the write committed).',
  dashboard_summary: 'The dashboard counts changed; coalesced to a few frames per second at most.',
  resync:
    'Events of these topics may be missing: this instance could not hear the cluster for a while (Redis subscriber lost and back), or its broadcasts fell behind and it left task events out.',
  pong: 'The answer to `ping`.',
  error: 'The last client frame was not understood; the socket stays open.',
  ping: 'Ask for a `pong` (a client-side liveness check).',
  presence_batch: 'Several presence changes at once (a burst, coalesced over a short tick).',
  presence_subscribed: 'The answer to `presence_subscribe`: the subscribed users’ current state.',
  presence_count: 'How many users are online (large teams; a few per second at most).',
  presence_subscribe: 'Replace this socket’s presence subscription with these user ids.',
};

// ---- compile-time checks: each schema's static type is exactly its frame's payload type ----

type Same<A, B> = [A] extends [B] ? ([B] extends [A] ? true : false) : false;
type PayloadOf<S> = S extends TSchema ? Static<S> : undefined;
type Mismatches<Data, Schemas extends Record<keyof Data, unknown>> = {
  [K in keyof Data]: Same<PayloadOf<Schemas[K]>, Data[K]> extends true ? never : K;
}[keyof Data];
type Assert<T extends true> = T;

/** Compiles only while every frame schema matches its payload type exactly. */
export type ServerPayloadsMatch = Assert<
  [Mismatches<ServerFrameData, typeof SERVER_FRAME_PAYLOADS>] extends [never] ? true : false
>;
export type ClientPayloadsMatch = Assert<
  [Mismatches<ClientFrameData, typeof CLIENT_FRAME_PAYLOADS>] extends [never] ? true : false
>;
