import type { Queryable } from '../../db/client';
import type { CycleTime, WorkloadEntry } from '../../protocol/schemas';
import type { SummaryFilters } from './model';

/**
 * Team insights (issue 12) from the trigger-kept aggregates of migrations 0013–0015: cycle
 * time percentiles from the log-scaled histogram, and the workload table. Nothing here scans
 * `tasks`; the SQL functions read bucket rows plus index ranges at most an hour or a day wide.
 */

/** A summary or workload answer is recomputed at least this often, whatever happens. */
export const MAX_AGE_MS = 30_000;

/** The value a cycle-time bucket stands for, in hours (mirrors analytics__cycle_bucket in 0013). */
export function bucketHours(bucket: number): number {
  if (bucket <= 0) return 180 / 3600; // [0, 6 min): within 0.05 h of anything in it
  return (360 * 1.1 ** (bucket - 1) * Math.sqrt(1.1)) / 3600; // geometric middle: within 4.9 %
}

/**
 * percentile_cont over the histogram: the two ranks around p·(n−1), each read as its bucket's
 * value, interpolated like PostgreSQL does. Each value is within 4.9 % (or 0.05 h) of the
 * exact one, so is any mix of two of them.
 */
export function percentileFromHistogram(
  histogram: [bucket: number, count: number][],
  p: number,
): number | null {
  const sorted = histogram.filter(([, n]) => n > 0).sort((a, b) => a[0] - b[0]);
  const total = sorted.reduce((sum, [, n]) => sum + n, 0);
  if (total === 0) return null;
  const at = (rank: number): number => {
    let seen = 0;
    for (const [bucket, n] of sorted) {
      seen += n;
      if (rank < seen) return bucketHours(bucket);
    }
    return bucketHours(sorted[sorted.length - 1]![0]);
  };
  const position = p * (total - 1);
  const lower = Math.floor(position);
  const value = at(lower) + (at(Math.ceil(position)) - at(lower)) * (position - lower);
  return Math.round(value * 1000) / 1000;
}

export function cycleTime(histogram: [number, number][]): CycleTime {
  return {
    completed_last_30_days: histogram.reduce((sum, [, n]) => sum + n, 0),
    median_hours: percentileFromHistogram(histogram, 0.5),
    p90_hours: percentileFromHistogram(histogram, 0.9),
  };
}

/** The filters as the SQL functions take them: null = any. */
export function filterArgs(f: SummaryFilters): [string | null, string | null, string | null] {
  return [f.status ?? null, f.priority ?? null, f.category ?? null];
}

/** Every workload entry for these filters, in order, with when the answer goes stale. */
export interface Workload {
  entries: WorkloadEntry[];
  generatedAt: string;
  version: string;
  /** Epoch ms: a task becomes overdue or a completion leaves the 7-day window (or MAX_AGE). */
  expiresAt: number;
}

interface WorkloadRow {
  user_id: string | null;
  full_name: string | null;
  todo: number;
  in_progress: number;
  review: number;
  overdue: number;
  done7: number;
}

/**
 * One statement, so every figure and the version come from one snapshot. Entries: assignees
 * with open work or a completion in the last 7 × 24 h, and the unassigned work (nil UUID in
 * the aggregates), by open desc, then full_name (the unassigned entry last among equals).
 */
export async function computeWorkload(sql: Queryable, f: SummaryFilters): Promise<Workload> {
  const [status, priority, category] = filterArgs(f);
  const nobody = '00000000-0000-0000-0000-000000000000';
  const [meta] = await sql<{ g: Date; version: string; next: Date | null; rows: WorkloadRow[] }[]>`
    with g as materialized (select clock_timestamp() as g),
    open as (
      select assignee_id as a,
             coalesce(sum(n) filter (where status = 'todo'), 0)::float8 as todo,
             coalesce(sum(n) filter (where status = 'in_progress'), 0)::float8 as in_progress,
             coalesce(sum(n) filter (where status = 'review'), 0)::float8 as review
        from task_counts
       where status in ('todo', 'in_progress', 'review')
         and (${status}::text is null or status = ${status}::text)
         and (${priority}::text is null or priority = ${priority}::text)
         and (${category}::text is null or category = ${category}::text)
       group by 1
    ), overdue as (
      select o.assignee_id as a, o.n::float8 as n
        from g, analytics_open_due(null, g.g, ${status}, ${priority}, ${category}) o
    ), done as (
      select d.assignee_id as a, sum(d.n)::float8 as n
        from g, analytics_done(g.g - interval '7 days', g.g, ${status}, ${priority}, ${category}) d
       group by 1
    ), rows as (
      select nullif(k.a, ${nobody}::uuid) as user_id, u.full_name,
             coalesce(o.todo, 0) as todo, coalesce(o.in_progress, 0) as in_progress,
             coalesce(o.review, 0) as review, coalesce(od.n, 0) as overdue, coalesce(d.n, 0) as done7
        from (select a from open where todo + in_progress + review > 0
              union select a from done where n > 0) k
        left join open o on o.a = k.a
        left join overdue od on od.a = k.a
        left join done d on d.a = k.a
        left join users u on u.id = k.a
    )
    select g.g, analytics_current_version()::text as version, analytics_next_time_change(g.g) as next,
           coalesce((select json_agg(r order by r.todo + r.in_progress + r.review desc, r.full_name nulls last, r.user_id)
                       from rows r), '[]') as rows
      from g`;
  const m = meta!;
  const entries = m.rows.map(
    (r): WorkloadEntry => ({
      user_id: r.user_id,
      full_name: r.user_id === null ? null : (r.full_name ?? ''),
      open: r.todo + r.in_progress + r.review,
      by_status: { todo: r.todo, in_progress: r.in_progress, review: r.review },
      overdue: r.overdue,
      completed_last_7_days: r.done7,
    }),
  );
  return {
    entries,
    generatedAt: m.g.toISOString(),
    version: m.version,
    expiresAt: expiry(m.g, m.next),
  };
}

/**
 * When an answer computed at `generatedAt` must be recomputed, in this process's clock (the
 * database's clock may differ, so only the distance is taken from it).
 */
export function expiry(generatedAt: Date, nextTimeChange: Date | null): number {
  const untilChange = nextTimeChange ? nextTimeChange.getTime() - generatedAt.getTime() : MAX_AGE_MS;
  return Date.now() + Math.max(0, Math.min(MAX_AGE_MS, untilChange));
}

/** Filter combinations kept at once; beyond this the oldest is dropped (category is free text). */
const MAX_ENTRIES = 256;

/**
 * The workload per filter combination, for the current generation and until it expires;
 * `invalidate()` (any change, from the same sources as the summary) starts a new generation.
 * One load per filter at a time (single-flight); pages are slices of the cached list.
 */
export function createWorkloadCache(sql: Queryable) {
  let generation = 0;
  /** Highest version seen (polled or loaded): a newer one means everything cached is older. */
  let knownVersion = -1n;
  const entries = new Map<string, { gen: number; workload: Workload }>();
  const inflight = new Map<string, { gen: number; promise: Promise<Workload> }>();
  const keyOf = (f: SummaryFilters) => JSON.stringify(filterArgs(f));

  function load(key: string, f: SummaryFilters, startedGen: number): Promise<Workload> {
    let gen = startedGen;
    const promise = computeWorkload(sql, f).finally(() => {
      if (inflight.get(key)?.promise === promise) inflight.delete(key);
    });
    promise.then(
      (workload) => {
        if (generation !== gen) return; // a change arrived meanwhile: answer the waiters, keep nothing
        if (observeVersion(workload.version)) gen = generation; // older entries are dropped, this one is current
        entries.delete(key);
        entries.set(key, { gen, workload });
        if (entries.size > MAX_ENTRIES) entries.delete(entries.keys().next().value!);
      },
      () => {},
    );
    inflight.set(key, { gen, promise });
    return promise;
  }

  /** A version read from the database: true (and invalidated) when newer than any seen. */
  function observeVersion(v: string): boolean {
    const n = BigInt(v);
    if (n <= knownVersion) return false;
    knownVersion = n;
    generation += 1;
    return true;
  }

  return {
    observeVersion,
    async get(f: SummaryFilters): Promise<Workload> {
      const key = keyOf(f);
      const hit = entries.get(key);
      if (hit && hit.gen === generation && hit.workload.expiresAt > Date.now()) return hit.workload;
      const pending = inflight.get(key);
      if (pending && pending.gen === generation) return pending.promise;
      return load(key, f, generation);
    },
    invalidate(): void {
      generation += 1;
    },
  };
}

export type WorkloadCache = ReturnType<typeof createWorkloadCache>;
