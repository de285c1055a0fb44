import type { Queryable, Sql } from '../../db/client';
import { ForbiddenError, NotFoundError, ValidationError } from '../../lib/errors';
import { isCalendarDate } from '../../lib/formats';
import { iso, UUID_RE } from '../../lib/schemas';
import type { Task } from '../../protocol/schemas';
import type { EventBus } from '../../realtime/bus';
import type { AuthUser } from '../auth/plugin';
import { taskFilterSql } from './filters';
import type { CreateTaskBody, TaskFilters, UpdateTaskBody } from './model';

interface TaskRow {
  id: string;
  title: string;
  description: string | null;
  status: Task['status'];
  priority: Task['priority'];
  category: string;
  assignee_id: string | null;
  created_by: string | null;
  due_date: Date | null;
  created_at: Date;
  updated_at: Date;
  completed_at: Date | null;
}

export function toTask(row: TaskRow): Task {
  return {
    id: row.id,
    title: row.title,
    description: row.description,
    status: row.status,
    priority: row.priority,
    category: row.category,
    assignee_id: row.assignee_id,
    created_by: row.created_by,
    due_date: iso(row.due_date),
    created_at: iso(row.created_at)!,
    updated_at: iso(row.updated_at)!,
    completed_at: iso(row.completed_at),
  };
}

/**
 * Counts the tasks matching a filter. The analytics module supplies one that reads the
 * trigger-kept aggregate instead of counting rows (exact, O(aggregate) not O(tasks)).
 */
export type TaskCounter = (sql: Queryable, filters: TaskFilters) => Promise<number>;

function parseDueDate(value: string | null | undefined): Date | null | undefined {
  if (value === undefined || value === null) return value;
  const d = new Date(value);
  if (Number.isNaN(d.getTime()) || d.getUTCFullYear() < 1900 || d.getUTCFullYear() > 9999) {
    throw new ValidationError('due_date is not a valid date.');
  }
  // Bun's Date rolls impossible days over ('2030-02-31' becomes 3 March) instead of
  // refusing them, and a date-time's format checks shape only: check the calendar day.
  if (!isCalendarDate(value.slice(0, 10))) throw new ValidationError('due_date is not a valid date.');
  return d;
}

export function createTasksService(deps: { sql: Sql; bus: EventBus; countTasks: TaskCounter }) {
  const { sql, bus, countTasks } = deps;

  async function assertAssignee(tx: Queryable, assigneeId: string | null | undefined) {
    if (!assigneeId) return;
    const rows = await tx`select 1 from users where id = ${assigneeId}`;
    if (rows.length === 0) throw new ValidationError('assignee_id does not name an existing user.');
  }

  return {
    async create(input: CreateTaskBody, actor: AuthUser): Promise<Task> {
      const dueDate = parseDueDate(input.due_date);
      const task = await sql.begin(async (tx) => {
        await assertAssignee(tx, input.assignee_id);
        const [row] = await tx<TaskRow[]>`
          insert into tasks (title, description, status, priority, category, assignee_id, created_by, due_date)
          values (${input.title}, ${input.description ?? null}, ${input.status ?? 'todo'},
                  ${input.priority ?? 'medium'}, ${input.category?.trim() ?? 'general'},
                  ${input.assignee_id ?? null}, ${actor.id}, ${dueDate ?? null})
          returning *`;
        return toTask(row!);
      });
      bus.publish('tasks', { type: 'task_created', data: { task } });
      return task;
    },

    async list(
      filters: TaskFilters,
      limit: number,
      offset: number,
    ): Promise<{ items: Task[]; total: number }> {
      const [rows, total] = await Promise.all([
        sql<TaskRow[]>`
          select * from tasks where true ${taskFilterSql(sql, filters)}
          order by created_at desc, id desc
          limit ${limit} offset ${offset}`,
        countTasks(sql, filters),
      ]);
      return { items: rows.map(toTask), total };
    },

    async get(id: string): Promise<Task> {
      if (!UUID_RE.test(id)) throw new NotFoundError('Task');
      const [row] = await sql<TaskRow[]>`select * from tasks where id = ${id}`;
      if (!row) throw new NotFoundError('Task');
      return toTask(row);
    },

    async update(id: string, patch: UpdateTaskBody): Promise<Task> {
      if (!UUID_RE.test(id)) throw new NotFoundError('Task');
      const changes: Record<string, string | Date | null> = {};
      for (const key of ['title', 'description', 'status', 'priority', 'category', 'assignee_id'] as const) {
        if (patch[key] !== undefined) changes[key] = patch[key] as string | null;
      }
      if (typeof changes.category === 'string') changes.category = changes.category.trim();
      if (patch.due_date !== undefined) changes.due_date = parseDueDate(patch.due_date) ?? null;
      const keys = Object.keys(changes);
      if (keys.length === 0) return this.get(id);
      const task = await sql.begin(async (tx) => {
        await assertAssignee(tx, patch.assignee_id);
        const [row] = await tx<TaskRow[]>`
          update tasks set ${sql(changes, keys)} where id = ${id} returning *`;
        if (!row) throw new NotFoundError('Task');
        return toTask(row);
      });
      bus.publish('tasks', { type: 'task_updated', data: { task } });
      return task;
    },

    /** Only the task's creator or an admin may delete it. */
    async remove(id: string, actor: AuthUser): Promise<void> {
      if (!UUID_RE.test(id)) throw new NotFoundError('Task');
      const isAdmin = actor.role === 'admin';
      const deleted = await sql`
        delete from tasks where id = ${id} and (${isAdmin} or created_by = ${actor.id}) returning id`;
      if (deleted.length === 0) {
        const exists = await sql`select 1 from tasks where id = ${id}`;
        if (exists.length === 0) throw new NotFoundError('Task');
        throw new ForbiddenError('Only the task’s creator or an admin may delete it.');
      }
      bus.publish('tasks', { type: 'task_deleted', data: { id } });
    },
  };
}

export type TasksService = ReturnType<typeof createTasksService>;
