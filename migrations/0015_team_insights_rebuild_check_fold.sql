-- Up Migration
-- TRUNCATE, rebuild, check and fold over the aggregates of 0013 (issue 12). The cube rows
-- carry part of the version (task_counts.v), so whatever deletes cube rows first moves
-- their v into analytics_version in the same transaction: the version never goes back.

create function analytics__retire_cube_rows() returns void
language sql as $$
  insert into analytics_version as t (slot, v)
  select 0, coalesce(sum(v), 0) from task_counts
  on conflict (slot) do update set v = t.v + excluded.v;
  delete from task_counts;
$$;

create or replace function tasks__count_truncate() returns trigger
language plpgsql as $$
begin
  perform analytics__retire_cube_rows();
  delete from task_daily;
  delete from task_due;
  delete from task_done;
  perform analytics__bump_version(false);
  return null;
end;
$$;

create or replace function analytics_rebuild() returns table (task_keys bigint, days bigint, active_users bigint, online_users bigint)
language plpgsql as $$
begin
  lock table tasks, users in share mode;
  perform analytics__retire_cube_rows();
  delete from task_daily;
  delete from task_due;
  delete from task_done;
  insert into task_counts (status, priority, category, assignee_id, slot, n)
  select status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'), 0, count(*)
    from tasks group by 1, 2, 3, 4;
  insert into task_daily (day, slot, created, completed)
  select v.day, 0, sum(v.c), sum(v.k)
    from tasks r,
         lateral (values ((r.created_at at time zone 'UTC')::date, 1, 0),
                         ((r.completed_at at time zone 'UTC')::date, 0, 1)) as v(day, c, k)
   where v.day is not null
   group by v.day;
  insert into task_due (due_hour, assignee_id, status, priority, category, slot, n)
  select analytics__due_hour(due_date), coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'),
         status, priority, category, 0, count(*)
    from tasks where due_date is not null and status in ('todo', 'in_progress', 'review')
   group by 1, 2, 3, 4, 5;
  insert into task_done (day, assignee_id, priority, category, cycle_bucket, slot, n)
  select (completed_at at time zone 'UTC')::date, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'),
         priority, category, analytics__cycle_bucket(extract(epoch from completed_at - created_at)::float8), 0, count(*)
    from tasks where completed_at is not null
   group by 1, 2, 3, 4, 5;
  update user_counts
     set active = (select count(*) from users where is_active),
         online = (select count(*) from users where is_online)
   where id;
  perform analytics__bump_version(true);
  return query
    select (select count(*) from task_counts), (select count(*) from task_daily), u.active, u.online
      from user_counts u;
end;
$$;

-- Every difference between the aggregates and GROUP BY over the base tables; no rows means
-- exact. One statement, so one snapshot: safe while writers run. task_due is compared per
-- hour from the hour before now on, and as one total per key before it (the fold merges
-- those hours, two hours back at the earliest).
create or replace function analytics_check() returns table (aggregate text, key text, kept bigint, actual bigint)
language sql stable as $$
  with kept_counts as (
    select status, priority, category, assignee_id, sum(n)::bigint as n from task_counts
     group by 1, 2, 3, 4 having sum(n) <> 0
  ), actual_counts as (
    select status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000') as assignee_id,
           count(*) as n
      from tasks group by 1, 2, 3, 4
  ), edge as (
    select analytics__due_hour(now()) - 1 as h
  ), kept_due as (
    select greatest(d.due_hour, e.h - 1) as h, assignee_id, status, priority, category, sum(n)::bigint as n
      from task_due d, edge e group by 1, 2, 3, 4, 5 having sum(n) <> 0
  ), actual_due as (
    select greatest(analytics__due_hour(due_date), e.h - 1) as h,
           coalesce(assignee_id, '00000000-0000-0000-0000-000000000000') as assignee_id, status, priority, category,
           count(*) as n
      from tasks, edge e
     where due_date is not null and status in ('todo', 'in_progress', 'review')
     group by 1, 2, 3, 4, 5
  ), kept_done as (
    select day, assignee_id, priority, category, cycle_bucket, sum(n)::bigint as n from task_done
     group by 1, 2, 3, 4, 5 having sum(n) <> 0
  ), actual_done as (
    select (completed_at at time zone 'UTC')::date as day,
           coalesce(assignee_id, '00000000-0000-0000-0000-000000000000') as assignee_id, priority, category,
           analytics__cycle_bucket(extract(epoch from completed_at - created_at)::float8) as cycle_bucket, count(*) as n
      from tasks where completed_at is not null group by 1, 2, 3, 4, 5
  )
  select 'task_counts', concat_ws('/', status, priority, category, assignee_id), coalesce(k.n, 0), coalesce(a.n, 0)
    from kept_counts k full join actual_counts a using (status, priority, category, assignee_id)
   where k.n is distinct from a.n
  union all
  select 'task_due', concat_ws('/', h, assignee_id, status, priority, category), coalesce(k.n, 0), coalesce(a.n, 0)
    from kept_due k full join actual_due a using (h, assignee_id, status, priority, category)
   where k.n is distinct from a.n
  union all
  select 'task_done', concat_ws('/', day, assignee_id, priority, category, cycle_bucket), coalesce(k.n, 0), coalesce(a.n, 0)
    from kept_done k full join actual_done a using (day, assignee_id, priority, category, cycle_bucket)
   where k.n is distinct from a.n
  union all
  select 'task_daily.' || x.what, x.day::text, coalesce(k.n, 0), coalesce(a.n, 0)
    from (select 'created' as what, day, sum(created)::bigint as n from task_daily group by day having sum(created) <> 0
          union all
          select 'completed', day, sum(completed)::bigint from task_daily group by day having sum(completed) <> 0) k
    full join (select 'created' as what, (created_at at time zone 'UTC')::date as day, count(*) as n from tasks group by 2
               union all
               select 'completed', (completed_at at time zone 'UTC')::date, count(*) from tasks
                where completed_at is not null group by 2) a using (what, day)
    cross join lateral (select coalesce(k.what, a.what) as what, coalesce(k.day, a.day) as day) x
   where k.n is distinct from a.n
  union all
  select 'user_counts.' || x.what, '', x.kept, x.actual
    from user_counts u,
         lateral (values ('active', u.active, (select count(*) from users where is_active)),
                         ('online', u.online, (select count(*) from users where is_online))) as x(what, kept, actual)
   where u.id and x.kept <> x.actual
$$;

-- Fold the slots of each key back into slot 0 (and task_due's hours older than two hours
-- into one FOLDED_PAST row per key), then delete slot-0 rows at zero. Opportunistic: rows a
-- writer holds are skipped (SKIP LOCKED) and folded next time; any other wait is cut short
-- by a 50 ms lock_timeout, so the fold gives way long before a deadlock check could pick a
-- writer as its victim. No sum a reader asks for changes, so neither does the version.
create or replace function analytics_fold() returns integer
language plpgsql as $$
declare
  past integer := analytics__due_hour(now()) - 2;
  moved integer;
  moved_days integer;
  moved_due integer;
  moved_done integer;
begin
  perform set_config('lock_timeout', '50ms', true);
  with picked as (
    select ctid from task_counts where slot <> 0 for update skip locked
  ), gone as (
    delete from task_counts t using picked p where t.ctid = p.ctid
    returning t.status, t.priority, t.category, t.assignee_id, t.n, t.v
  ), g as (
    select status, priority, category, assignee_id, sum(n)::bigint as n, sum(v)::bigint as v, count(*) as rows
      from gone group by 1, 2, 3, 4
  ), up as (
    insert into task_counts as t (status, priority, category, assignee_id, slot, n, v)
    select status, priority, category, assignee_id, 0, n, v from g order by 1, 2, 3, 4
    on conflict (status, priority, category, assignee_id, slot) do update set n = t.n + excluded.n, v = t.v + excluded.v
    returning 1
  )
  select coalesce(sum(rows), 0) from g, (select count(*) from up) u into moved;
  -- Zero rows go, their share of the version moves to analytics_version.
  with gone as (
    delete from task_counts t
     where ctid in (select ctid from task_counts where slot = 0 and n = 0 for update skip locked)
    returning t.v
  )
  insert into analytics_version as t (slot, v)
  select 0, sum(v) from gone having count(*) > 0
  on conflict (slot) do update set v = t.v + excluded.v;

  with picked as (
    select ctid from task_daily where slot <> 0 for update skip locked
  ), gone as (
    delete from task_daily t using picked p where t.ctid = p.ctid
    returning t.day, t.created, t.completed
  ), g as (
    select day, sum(created)::bigint as created, sum(completed)::bigint as completed, count(*) as rows
      from gone group by day
  ), up as (
    insert into task_daily as t (day, slot, created, completed)
    select day, 0, created, completed from g order by day
    on conflict (day, slot) do update
      set created = t.created + excluded.created, completed = t.completed + excluded.completed
    returning 1
  )
  select coalesce(sum(rows), 0) from g, (select count(*) from up) u into moved_days;
  delete from task_daily where slot = 0 and created = 0 and completed = 0;

  with picked as (
    select ctid from task_due
     where slot <> 0 or (due_hour < past and due_hour <> -2147483648)
       for update skip locked
  ), gone as (
    delete from task_due t using picked p where t.ctid = p.ctid
    returning case when t.due_hour < past then -2147483648 else t.due_hour end as due_hour,
              t.assignee_id, t.status, t.priority, t.category, t.n
  ), g as (
    select due_hour, assignee_id, status, priority, category, sum(n)::bigint as n, count(*) as rows
      from gone group by 1, 2, 3, 4, 5
  ), up as (
    insert into task_due as t (due_hour, assignee_id, status, priority, category, slot, n)
    select due_hour, assignee_id, status, priority, category, 0, n from g order by 1, 2, 3, 4, 5
    on conflict (due_hour, assignee_id, status, priority, category, slot) do update set n = t.n + excluded.n
    returning 1
  )
  select coalesce(sum(rows), 0) from g, (select count(*) from up) u into moved_due;
  delete from task_due where slot = 0 and n = 0;

  with picked as (
    select ctid from task_done where slot <> 0 for update skip locked
  ), gone as (
    delete from task_done t using picked p where t.ctid = p.ctid
    returning t.day, t.assignee_id, t.priority, t.category, t.cycle_bucket, t.n
  ), g as (
    select day, assignee_id, priority, category, cycle_bucket, sum(n)::bigint as n, count(*) as rows
      from gone group by 1, 2, 3, 4, 5
  ), up as (
    insert into task_done as t (day, assignee_id, priority, category, cycle_bucket, slot, n)
    select day, assignee_id, priority, category, cycle_bucket, 0, n from g order by 1, 2, 3, 4, 5
    on conflict (day, assignee_id, priority, category, cycle_bucket, slot) do update set n = t.n + excluded.n
    returning 1
  )
  select coalesce(sum(rows), 0) from g, (select count(*) from up) u into moved_done;
  delete from task_done where slot = 0 and n = 0;
  return moved + moved_days + moved_due + moved_done;
end;
$$;

-- Backfill the new aggregates from what the tables hold, and give the planner statistics on
-- them at once (without any, it plans the summary's reads an order of magnitude slower).
select analytics_rebuild();
analyze task_counts, task_due, task_done;
