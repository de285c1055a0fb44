import { t } from 'elysia';
import { Pagination } from '../../lib/schemas';
import { Id, Priority, Status } from '../../protocol/schemas';

export const Category = t.String({ minLength: 1, maxLength: 50, pattern: '\\S' });
/** A due date may be a date (`2026-12-01`) or a date-time; it is stored as a UTC timestamp. */
export const DueDate = t.Union([t.String({ format: 'date-time' }), t.String({ format: 'date' })]);

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
  ...Pagination,
});
export type TaskFilters = Pick<
  typeof ListTasksQuery.static,
  'status' | 'priority' | 'category' | 'assignee_id'
>;

// Any string: a malformed id is simply an unknown one (404 from the service), not a 422.
export const TaskIdParams = t.Object({ id: t.String() });
