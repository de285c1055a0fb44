import { t } from 'elysia';

/**
 * The resources clients see, as TypeBox schemas: one definition validates what the server
 * sends, types the code (`typeof X.static`) and becomes the OpenAPI and AsyncAPI component
 * of the same name. This is the lowest layer of `src/`: it imports nothing of ours, and
 * everything that speaks to clients (routes, WebSocket frames, bus messages) imports it.
 * Request bodies and queries stay beside their feature (`src/modules/<feature>/model.ts`).
 */

/** The contract's error body. Every 4xx/5xx answer has this shape. */
export const ErrorBody = t.Object(
  {
    error: t.Object({
      code: t.String({ description: 'snake_case machine-readable code', examples: ['validation_error'] }),
      message: t.String({ description: 'a human sentence' }),
      details: t.Optional(t.Unknown()),
    }),
  },
  {
    $id: '#/components/schemas/Error',
    title: 'Error',
    description: 'The body of every 4xx/5xx answer.',
    examples: [{ error: { code: 'not_found', message: 'Task was not found.' } }],
  },
);
export type ErrorBody = typeof ErrorBody.static;

/** Ids are opaque strings to clients; the server issues UUIDs. */
export const Id = t.String({ format: 'uuid', description: 'opaque identifier' });
export const Timestamp = t.String({ format: 'date-time', description: 'ISO-8601 UTC' });

export const ROLES = ['admin', 'member'] as const;
export const Role = t.Union([t.Literal('admin'), t.Literal('member')]);
export type Role = typeof Role.static;

export const TASK_STATUSES = ['todo', 'in_progress', 'review', 'completed', 'cancelled'] as const;
export const TASK_PRIORITIES = ['low', 'medium', 'high', 'urgent'] as const;
export type TaskStatus = (typeof TASK_STATUSES)[number];
export type TaskPriority = (typeof TASK_PRIORITIES)[number];

// A union of literals, not t.UnionEnum: Elysia fills an absent optional UnionEnum with its
// first value, which would turn every PATCH into "status: todo" (seen on elysia 1.4.30).
export const Status = t.Union(
  [
    t.Literal('todo'),
    t.Literal('in_progress'),
    t.Literal('review'),
    t.Literal('completed'),
    t.Literal('cancelled'),
  ],
  { description: TASK_STATUSES.join(' | ') },
);
export const Priority = t.Union(
  [t.Literal('low'), t.Literal('medium'), t.Literal('high'), t.Literal('urgent')],
  { description: TASK_PRIORITIES.join(' | ') },
);

export const Task = t.Object(
  {
    id: Id,
    title: t.String(),
    description: t.Nullable(t.String()),
    status: Status,
    priority: Priority,
    category: t.String(),
    assignee_id: t.Nullable(Id),
    created_by: t.Nullable(Id),
    due_date: t.Nullable(Timestamp),
    created_at: Timestamp,
    updated_at: Timestamp,
    completed_at: t.Nullable(Timestamp),
  },
  {
    $id: '#/components/schemas/Task',
    title: 'Task',
    description: 'A task on the shared team board.',
    examples: [
      {
        id: '0b6f8c2e-3f5d-4c9a-9d7e-2b1a6c4e8f10',
        title: 'Write the release notes',
        description: null,
        status: 'in_progress',
        priority: 'high',
        category: 'docs',
        assignee_id: '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        created_by: '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        due_date: '2026-12-01T00:00:00.000Z',
        created_at: '2026-11-26T10:00:00.000Z',
        updated_at: '2026-11-27T09:30:00.000Z',
        completed_at: null,
      },
    ],
  },
);
export type Task = typeof Task.static;

/** What a user sees of themselves. */
export const UserPrivate = t.Object(
  {
    id: Id,
    email: t.String({ format: 'email' }),
    full_name: t.String(),
    role: Role,
    is_active: t.Boolean(),
    is_online: t.Boolean(),
    last_seen_at: t.Nullable(Timestamp),
    created_at: Timestamp,
  },
  {
    $id: '#/components/schemas/UserPrivate',
    title: 'UserPrivate',
    description: 'Your own account, as only you see it.',
    examples: [
      {
        id: '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        email: 'maya@example.com',
        full_name: 'Maya Lin',
        role: 'member',
        is_active: true,
        is_online: false,
        last_seen_at: null,
        created_at: '2026-11-26T10:00:00.000Z',
      },
    ],
  },
);
export type UserPrivate = typeof UserPrivate.static;

/** What anyone signed in may see of another user: never email or other personal data. */
export const UserPublic = t.Object(
  {
    id: Id,
    full_name: t.String(),
    role: Role,
    is_online: t.Boolean(),
    last_seen_at: t.Nullable(Timestamp),
  },
  {
    $id: '#/components/schemas/UserPublic',
    title: 'UserPublic',
    description: 'What any signed-in user may see of another: no email or other personal data.',
    examples: [
      {
        id: '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        full_name: 'Maya Lin',
        role: 'member',
        is_online: true,
        last_seen_at: '2026-11-30T08:15:00.000Z',
      },
    ],
  },
);
export type UserPublic = typeof UserPublic.static;

/** One user's presence as announced on the WebSocket (`user_status_update`). */
export const UserStatus = t.Object(
  {
    user_id: Id,
    full_name: t.String(),
    is_online: t.Boolean(),
    last_seen_at: t.Nullable(Timestamp),
  },
  {
    $id: '#/components/schemas/UserStatus',
    title: 'UserStatus',
    description: 'A user went online or offline.',
    examples: [
      {
        user_id: '5d1c2b3a-4e5f-4a6b-8c7d-9e0f1a2b3c4d',
        full_name: 'Maya Lin',
        is_online: true,
        last_seen_at: '2026-11-30T08:15:00.000Z',
      },
    ],
  },
);
export type UserStatus = typeof UserStatus.static;

export const Token = t.Object(
  {
    access_token: t.String(),
    token_type: t.Literal('bearer'),
    expires_in: t.Integer({ description: 'seconds until the token expires' }),
  },
  {
    $id: '#/components/schemas/Token',
    title: 'Token',
    description: 'An access token (HS256 JWT) and how long it lives.',
    examples: [
      {
        access_token: 'eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIuLi4ifQ.c2lnbmF0dXJl',
        token_type: 'bearer',
        expires_in: 3600,
      },
    ],
  },
);
export type Token = typeof Token.static;

const Count = t.Integer({ minimum: 0 });

/** Cycle time (completed_at − created_at) of the tasks completed in the 30 × 24 h before generated_at. */
export const CycleTime = t.Object(
  {
    completed_last_30_days: Count,
    median_hours: t.Nullable(t.Number({ minimum: 0 }), {
      description: 'within 5 % (or 0.1 h) of percentile_cont(0.5); null when nothing was completed',
    }),
    p90_hours: t.Nullable(t.Number({ minimum: 0 }), {
      description: 'within 5 % (or 0.1 h) of percentile_cont(0.9); null when nothing was completed',
    }),
  },
  { $id: '#/components/schemas/CycleTime', title: 'CycleTime' },
);
export type CycleTime = typeof CycleTime.static;

export const DashboardSummary = t.Object(
  {
    total_tasks: Count,
    completed_tasks: Count,
    completion_rate: t.Number({
      minimum: 0,
      maximum: 1,
      description: 'completed_tasks / total_tasks; 0 when there are none',
    }),
    active_users: t.Integer({ minimum: 0, description: 'users with is_active (not affected by filters)' }),
    online_users: t.Integer({ minimum: 0, description: 'users online now (not affected by filters)' }),
    tasks_by_status: t.Object({
      todo: Count,
      in_progress: Count,
      review: Count,
      completed: Count,
      cancelled: Count,
    }),
    tasks_by_priority: t.Object({ low: Count, medium: Count, high: Count, urgent: Count }),
    tasks_by_category: t.Record(t.String(), Count, { description: 'only categories with tasks' }),
    overdue_tasks: t.Integer({
      minimum: 0,
      description: 'open tasks (todo, in_progress, review) whose due_date is before generated_at',
    }),
    due_soon_tasks: t.Integer({
      minimum: 0,
      description: 'open tasks due from generated_at to 7 × 24 h after it',
    }),
    cycle_time: CycleTime,
    generated_at: t.String({
      format: 'date-time',
      description: 'when these counts were read; never served more than 60 s after it',
    }),
    version: t.String({
      description: 'opaque; changes whenever the counts may have changed (also the ETag)',
    }),
  },
  {
    $id: '#/components/schemas/DashboardSummary',
    title: 'DashboardSummary',
    description: 'Task and user counts; every status and priority key is present (0 where none).',
    examples: [
      {
        total_tasks: 100,
        completed_tasks: 50,
        completion_rate: 0.5,
        active_users: 12,
        online_users: 5,
        tasks_by_status: { todo: 20, in_progress: 20, review: 5, completed: 50, cancelled: 5 },
        tasks_by_priority: { low: 10, medium: 60, high: 20, urgent: 10 },
        tasks_by_category: { backend: 40, design: 60 },
        overdue_tasks: 3,
        due_soon_tasks: 8,
        cycle_time: { completed_last_30_days: 42, median_hours: 19.5, p90_hours: 71.2 },
        generated_at: '2026-11-26T10:00:00.000Z',
        version: '1234',
      },
    ],
  },
);
export type DashboardSummary = typeof DashboardSummary.static;

export const TrendPoint = t.Object(
  {
    date: t.String({ format: 'date', description: 'UTC day, YYYY-MM-DD' }),
    created: Count,
    completed: Count,
  },
  {
    $id: '#/components/schemas/TrendPoint',
    title: 'TrendPoint',
    description: 'Tasks created and completed on one UTC day.',
    examples: [{ date: '2026-11-30', created: 7, completed: 4 }],
  },
);
export type TrendPoint = typeof TrendPoint.static;

/** One row of the workload table: an assignee (or user_id null: unassigned work) and their open work. */
export const WorkloadEntry = t.Object(
  {
    user_id: t.Nullable(Id, { description: 'null: the unassigned open tasks' }),
    full_name: t.Nullable(t.String(), { description: 'null for the unassigned entry' }),
    open: t.Integer({ minimum: 0, description: 'tasks in todo, in_progress or review' }),
    by_status: t.Object({ todo: Count, in_progress: Count, review: Count }),
    overdue: t.Integer({ minimum: 0, description: 'open tasks whose due_date has passed' }),
    completed_last_7_days: t.Integer({
      minimum: 0,
      description: 'tasks completed in the 7 × 24 h before the answer was computed',
    }),
  },
  { $id: '#/components/schemas/WorkloadEntry', title: 'WorkloadEntry' },
);
export type WorkloadEntry = typeof WorkloadEntry.static;
