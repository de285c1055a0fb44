import { t } from 'elysia';
import { Category, Priority, Status } from '../tasks/model';

const Count = t.Integer({ minimum: 0 });

export const SummaryQuery = t.Object({
  status: t.Optional(Status),
  priority: t.Optional(Priority),
  category: t.Optional(Category),
});
export type SummaryFilters = typeof SummaryQuery.static;

export const Summary = t.Object(
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
    generated_at: t.String({ format: 'date-time', description: 'when these counts were read' }),
    version: t.String({
      description: 'opaque; changes whenever the counts may have changed (also the ETag)',
    }),
  },
  { $id: '#/components/schemas/DashboardSummary', title: 'DashboardSummary' },
);
export type Summary = typeof Summary.static;

export const TrendsQuery = t.Object({
  days: t.Optional(t.Integer({ minimum: 1, maximum: 365, default: 30 })),
});

export const TrendPoint = t.Object({
  date: t.String({ format: 'date', description: 'UTC day, YYYY-MM-DD' }),
  created: Count,
  completed: Count,
});
export type TrendPoint = typeof TrendPoint.static;
