import type { Queryable } from '../../db/client';
import type { TaskFilters } from './model';

/**
 * The `and column = value` fragments of a task filter, for `where true ${taskFilterSql(…)}`.
 * One place for the task list, its count and the dashboard's cube (whose filters have no
 * assignee, so the cube never sees that column).
 */
export function taskFilterSql(sql: Queryable, f: TaskFilters) {
  return sql`
    ${f.status ? sql`and status = ${f.status}` : sql``}
    ${f.priority ? sql`and priority = ${f.priority}` : sql``}
    ${f.category ? sql`and category = ${f.category}` : sql``}
    ${f.assignee_id ? sql`and assignee_id = ${f.assignee_id}` : sql``}`;
}
