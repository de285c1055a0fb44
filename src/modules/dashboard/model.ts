import { t } from 'elysia';
import { Priority, Status } from '../../protocol/schemas';
import { Category } from '../tasks/model';

export const SummaryQuery = t.Object({
  status: t.Optional(Status),
  priority: t.Optional(Priority),
  category: t.Optional(Category),
});
export type SummaryFilters = typeof SummaryQuery.static;

export const TrendsQuery = t.Object({
  days: t.Optional(t.Integer({ minimum: 1, maximum: 365, default: 30 })),
});

export const WorkloadQuery = t.Object({
  ...SummaryQuery.properties,
  limit: t.Optional(t.Integer({ minimum: 1, maximum: 500, default: 50 })),
  offset: t.Optional(t.Integer({ minimum: 0, default: 0 })),
});
