import type { DashboardSummary, TaskPriority, TaskStatus } from '../../protocol/schemas';
import type { BarRow } from './charts';

/**
 * What the Collective Impact figures are called and in which order they appear: the labels
 * of statuses and priorities, the filter dimensions, and the rows of the bar charts. Pure
 * (no DOM), unit-tested in tests/unit/page-logic.test.ts.
 */

export const DIMENSIONS = ['status', 'priority', 'category'] as const;
export type Dimension = (typeof DIMENSIONS)[number];
export type Filters = Partial<Record<Dimension, string>>;

// Typed by the protocol's unions, so a status added to the contract is a compile error here.
export const STATUS_LABELS: Record<TaskStatus, string> = {
  todo: 'To do',
  in_progress: 'In progress',
  review: 'Review',
  completed: 'Completed',
  cancelled: 'Cancelled',
};
export const PRIORITY_LABELS: Record<TaskPriority, string> = {
  low: 'Low',
  medium: 'Medium',
  high: 'High',
  urgent: 'Urgent',
};

/** Bars shown for categories (the last one sums the rest as "Other"), and chips offered. */
export const CATEGORY_BARS = 8;
export const CATEGORY_CHIPS = 12;

const isKey = <T extends object>(labels: T, key: string): key is Extract<keyof T, string> =>
  Object.hasOwn(labels, key);

export function labelFor(dimension: Dimension, key: string): string {
  if (dimension === 'status') return isKey(STATUS_LABELS, key) ? STATUS_LABELS[key] : key;
  if (dimension === 'priority') return isKey(PRIORITY_LABELS, key) ? PRIORITY_LABELS[key] : key;
  return key;
}

export function hasFilters(filters: Filters): boolean {
  return DIMENSIONS.some((d) => filters[d] !== undefined);
}

export function countsOf(
  summary: DashboardSummary | undefined,
  dimension: Dimension,
): Record<string, number> {
  if (!summary) return {};
  const counts =
    dimension === 'status'
      ? summary.tasks_by_status
      : dimension === 'priority'
        ? summary.tasks_by_priority
        : summary.tasks_by_category;
  return counts ?? {};
}

/** Known keys first in their natural order, then anything new the server sends; categories by count. */
export function orderedKeys(dimension: Dimension, counts: Record<string, number>): string[] {
  if (dimension === 'category') {
    return Object.keys(counts).sort((a, b) => (counts[b] ?? 0) - (counts[a] ?? 0) || a.localeCompare(b));
  }
  const known = Object.keys(dimension === 'status' ? STATUS_LABELS : PRIORITY_LABELS);
  return [...known, ...Object.keys(counts).filter((k) => !known.includes(k))];
}

/** The colour class of a bar: one per known status and priority, one for every category. */
export function toneFor(dimension: Dimension, key: string): string {
  if (dimension === 'status') return `tone-${isKey(STATUS_LABELS, key) ? key : 'other'}`;
  if (dimension === 'priority') return `tone-${isKey(PRIORITY_LABELS, key) ? key : 'other'}`;
  return 'tone-category';
}

/** The bars of one chart; past `limit` rows the tail is summed into one "Other (n)" row. */
export function barRows(dimension: Dimension, counts: Record<string, number>, limit?: number): BarRow[] {
  const rows = orderedKeys(dimension, counts).map((key) => ({
    key,
    label: labelFor(dimension, key),
    value: counts[key] ?? 0,
    tone: toneFor(dimension, key),
  }));
  if (limit === undefined || rows.length <= limit) return rows;
  const rest = rows.slice(limit - 1);
  return [
    ...rows.slice(0, limit - 1),
    {
      key: '',
      label: `Other (${rest.length})`,
      value: rest.reduce((sum, r) => sum + r.value, 0),
      tone: 'tone-other',
    },
  ];
}

/** The chips of one filter group: the top categories only, but always the selected one. */
export function chipKeys(dimension: Dimension, counts: Record<string, number>, selected?: string): string[] {
  const keys = orderedKeys(dimension, counts);
  if (dimension !== 'category') return keys;
  const top = keys.slice(0, CATEGORY_CHIPS);
  if (selected !== undefined && !top.includes(selected)) top.push(selected);
  return top;
}
