-- Up Migration
-- Team insights (issue 12): workload per assignee, overdue and due-soon work, cycle time,
-- kept by the same statement-level triggers as the summary, in the writer's transaction.
--
--   task_counts  gains assignee_id: the cube is now per assignee and status (the summary
--                sums over assignees, the workload groups by them). Unassigned work is the
--                nil UUID, because a primary-key column cannot be null.
--   task_due     open tasks (todo, in_progress, review) with a due date, per UTC hour of
--                due_date. "Due before t" = the hours before t's hour + an exact index range
--                for t's own hour (at most one hour of rows). Hours more than two hours in
--                the past are folded into one row per key (due_hour = FOLDED_PAST) by
--                analytics_fold(), so reading "everything overdue" stays a few rows per key.
--   task_done    completed tasks per UTC day of completed_at, assignee, priority, category
--                and cycle-time bucket (log-scaled, 10 % wide: a percentile read from it is
--                within 5 % of the exact one). Windows (last 7 / 30 × 24 h) are whole days
--                plus exact index ranges for the two partial days at their ends.
--
-- Write cost: the version counter moves into the cube rows (task_counts.v), so the common
-- write touches one row fewer than before (no separate analytics_version row), and the
-- whole delta is one SQL statement per trigger call instead of three or four. The version
-- is sum(analytics_version.v) + sum(task_counts.v) (analytics_current_version()); rows of
-- task_counts are never deleted by writers, so their v never disappears, and the fold moves
-- the v of rows it deletes into analytics_version in the same transaction.

alter table task_counts
  add column assignee_id uuid not null default '00000000-0000-0000-0000-000000000000',
  add column v bigint not null default 0;
alter table task_counts
  drop constraint task_counts_pkey,
  add constraint task_counts_pkey primary key (status, priority, category, assignee_id, slot);

create table task_due (
  due_hour    integer  not null, -- hours since the Unix epoch; -2147483648: folded past hours
  assignee_id uuid     not null,
  status      text     not null,
  priority    text     not null,
  category    text     not null,
  slot        smallint not null default 0,
  n           bigint   not null,
  constraint task_due_pkey primary key (due_hour, assignee_id, status, priority, category, slot)
);

create table task_done (
  day          date     not null, -- UTC day of completed_at
  assignee_id  uuid     not null,
  priority     text     not null,
  category     text     not null,
  cycle_bucket smallint not null, -- analytics__cycle_bucket(completed_at - created_at)
  slot         smallint not null default 0,
  n            bigint   not null,
  constraint task_done_pkey primary key (day, assignee_id, priority, category, cycle_bucket, slot)
);

-- The exact ranges at the edges of the buckets, as index(-only) scans. Partial, so only
-- open tasks with a due date and completed tasks pay for them on write.
create index tasks_open_due_idx on tasks (due_date) include (assignee_id, status, priority, category)
  where status in ('todo', 'in_progress', 'review') and due_date is not null;
create index tasks_completed_at_idx on tasks (completed_at) include (created_at, assignee_id, priority, category)
  where completed_at is not null;

-- The hour bucket of a due date (clamped, so psql's 'infinity' cannot break a write). Stable
-- like date_part(timestamptz), so PostgreSQL inlines it; float8, not extract()'s numeric,
-- because readers evaluate it per row.
create function analytics__due_hour(t timestamptz) returns integer
language sql stable parallel safe as $$
  select floor(least(greatest(date_part('epoch', t) / 3600, -2000000000), 2000000000))::integer
$$;

-- Cycle-time buckets: 0 = under 6 minutes (represented by 3 min, so within 0.05 h), then
-- k ≥ 1 = [360 s · 1.1^(k-1), 360 s · 1.1^k), represented by its geometric middle (within
-- 4.9 % of any value in it). src/modules/dashboard/insights.ts mirrors the representative.
create function analytics__cycle_bucket(seconds double precision) returns smallint
language sql immutable parallel safe as $$
  select case when seconds < 360 then 0
              else least(1 + floor(ln(seconds / 360) / ln(1.1)), 30000) end::smallint
$$;

-- The committed change counter (the summary's ETag and cache key): every change to the
-- aggregates adds at least 1 to it in the writer's transaction.
create function analytics_current_version() returns bigint
language sql stable as $$
  select coalesce((select sum(v) from analytics_version), 0)::bigint
       + coalesce((select sum(v) from task_counts), 0)::bigint
$$;

-- Open tasks due in [lo, hi) per assignee (lo null = since ever), with the summary's filters
-- (null = any). Buckets strictly inside, plus the exact rows of hi's hour, minus those of
-- lo's hour before lo.
create function analytics_open_due(lo timestamptz, hi timestamptz, f_status text, f_priority text, f_category text)
returns table (assignee_id uuid, n bigint)
language sql stable as $$
  select a, sum(k)::bigint from (
    select d.assignee_id as a, d.n as k from task_due d
     where d.due_hour < analytics__due_hour(hi)
       -- Both ends in the index scan. (Not coalesce(): greatest() inside ignores a null.)
       and d.due_hour >= case when lo is null then -2147483648 else analytics__due_hour(lo) end
       and (f_status is null or d.status = f_status)
       and (f_priority is null or d.priority = f_priority)
       and (f_category is null or d.category = f_category)
    union all
    select coalesce(t.assignee_id, '00000000-0000-0000-0000-000000000000'), 1 from tasks t
     where t.due_date >= to_timestamp(analytics__due_hour(hi) * 3600.0) and t.due_date < hi
       and t.status in ('todo', 'in_progress', 'review')
       and (f_status is null or t.status = f_status)
       and (f_priority is null or t.priority = f_priority)
       and (f_category is null or t.category = f_category)
    union all
    select coalesce(t.assignee_id, '00000000-0000-0000-0000-000000000000'), -1 from tasks t
     where lo is not null and t.due_date >= to_timestamp(analytics__due_hour(lo) * 3600.0) and t.due_date < lo
       and t.status in ('todo', 'in_progress', 'review')
       and (f_status is null or t.status = f_status)
       and (f_priority is null or t.priority = f_priority)
       and (f_category is null or t.category = f_category)
  ) x group by a
$$;

-- Completions with completed_at in (lo, hi], per assignee and cycle-time bucket: whole UTC
-- days from lo's to hi's, minus the exact rows of lo's day up to lo and of hi's day after hi.
create function analytics_done(lo timestamptz, hi timestamptz, f_status text, f_priority text, f_category text)
returns table (assignee_id uuid, cycle_bucket smallint, n bigint)
language sql stable as $$
  select a, b, sum(k)::bigint from (
    select d.assignee_id as a, d.cycle_bucket as b, d.n as k from task_done d
     where d.day between (lo at time zone 'UTC')::date and (hi at time zone 'UTC')::date
       and (f_priority is null or d.priority = f_priority)
       and (f_category is null or d.category = f_category)
    union all
    select coalesce(t.assignee_id, '00000000-0000-0000-0000-000000000000'),
           analytics__cycle_bucket(extract(epoch from t.completed_at - t.created_at)::float8), -1
      from tasks t
     where t.completed_at is not null
       and ((t.completed_at >= ((lo at time zone 'UTC')::date)::timestamp at time zone 'UTC' and t.completed_at <= lo)
         or (t.completed_at > hi and t.completed_at < ((hi at time zone 'UTC')::date + 1)::timestamp at time zone 'UTC'))
       and (f_priority is null or t.priority = f_priority)
       and (f_category is null or t.category = f_category)
  ) x
  where f_status is null or f_status = 'completed'
  group by a, b
$$;

-- When the time-dependent figures next change with no write: a task becomes overdue or
-- enters the 7-day due-soon window, a completion leaves the 7- or 30-day window or (psql
-- only) a future completed_at arrives. Caches expire then (1 ms later, past the edge).
create function analytics_next_time_change(g timestamptz) returns timestamptz
language sql stable as $$
  select least(
    (select min(due_date) from tasks
      where status in ('todo', 'in_progress', 'review') and due_date is not null and due_date >= g),
    (select min(due_date) from tasks
      where status in ('todo', 'in_progress', 'review') and due_date is not null and due_date >= g + interval '7 days')
      - interval '7 days',
    (select min(completed_at) from tasks where completed_at is not null and completed_at > g - interval '30 days')
      + interval '30 days',
    (select min(completed_at) from tasks where completed_at is not null and completed_at > g - interval '7 days')
      + interval '7 days',
    (select min(completed_at) from tasks where completed_at is not null and completed_at > g)
  ) + interval '1 millisecond'
$$;

drop trigger _500_tasks_count_insert on tasks;
drop trigger _500_tasks_count_update on tasks;
drop trigger _500_tasks_count_delete on tasks;
drop function tasks__count_changes();
