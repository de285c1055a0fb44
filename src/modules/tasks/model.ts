import { t } from 'elysia';
import { Id, Timestamp } from '../../lib/schemas';

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
  {
    description: TASK_PRIORITIES.join(' | '),
  },
);
export const Category = t.String({ minLength: 1, maxLength: 50, pattern: '\\S' });
/** A due date may be a date (`2026-12-01`) or a date-time; it is stored as a UTC timestamp. */
export const DueDate = t.Union([t.String({ format: 'date-time' }), t.String({ format: 'date' })]);

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
  { $id: '#/components/schemas/Task', title: 'Task' },
);
export type Task = typeof Task.static;

const fields = {
  title: t.String({ minLength: 1, maxLength: 200, pattern: '\\S' }),
  description: t.Nullable(t.String({ maxLength: 10_000 })),
  status: Status,
  priority: Priority,
  category: Category,
  assignee_id: t.Nullable(Id),
  due_date: t.Nullable(DueDate),
};

export const CreateTaskBody = t.Object({
  title: fields.title,
  description: t.Optional(fields.description),
  status: t.Optional(fields.status),
  priority: t.Optional(fields.priority),
  category: t.Optional(fields.category),
  assignee_id: t.Optional(fields.assignee_id),
  due_date: t.Optional(fields.due_date),
});
export type CreateTaskBody = typeof CreateTaskBody.static;

export const UpdateTaskBody = t.Partial(t.Object(fields));
export type UpdateTaskBody = typeof UpdateTaskBody.static;

export const ListTasksQuery = t.Object({
  status: t.Optional(Status),
  priority: t.Optional(Priority),
  category: t.Optional(Category),
  assignee_id: t.Optional(Id),
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 100 })),
  offset: t.Optional(t.Integer({ minimum: 0, maximum: 10_000_000, default: 0 })),
});
export type TaskFilters = Pick<
  typeof ListTasksQuery.static,
  'status' | 'priority' | 'category' | 'assignee_id'
>;

// Any string: a malformed id is simply an unknown one (404 from the service), not a 422.
export const TaskIdParams = t.Object({ id: t.String() });
