-- Up Migration
-- The analytics triggers, cheaper (issue 12). Each call turns the changed rows into signed
-- rows (+1 new, -1 old), groups them per key of each aggregate, drops keys that net to zero
-- (a title edit touches nothing) and upserts the rest into this session's slot, keys sorted
-- so concurrent statements lock rows in the same order (cube, days, due hours, completions,
-- version). The cube rows carry the version (task_counts.v): the common write touches one
-- row fewer than before, and analytics_version is bumped only by the rare statement that
-- changes no cube row but another aggregate. Writers never delete rows that reach zero:
-- analytics_fold() does, off the write path.
--
-- Measured with backend CPU per write (bench/analytics-writes.ts): one statement for the
-- cube and the days, whose final SELECT also says whether any row has a due date or a
-- completion; the due-hour and completion upserts run only then. A version that always ran
-- all five upserts as CTEs of one statement cost ~25 % more CPU on a plain insert (empty
-- CTEs still set up their hash tables and ON CONFLICT arbiters).
--
-- INSERT and DELETE share one function: both triggers name their transition table
-- changed_rows and the sign comes from tg_op. UPDATE needs both tables, hence a second one.

create function tasks__analytics_rows() returns trigger
language plpgsql as $$
declare
  s smallint := pg_backend_pid() % 16;
  sgn integer := case tg_op when 'INSERT' then 1 else -1 end;
  counted boolean; -- a cube row changed (and so did the version it carries)
  daily boolean;
  has_due boolean; -- rows of open tasks with a due date: task_due may change
  has_done boolean; -- completed rows: task_done may change
  due_rows integer := 0;
  done_rows integer := 0;
begin
  with r as (
    select status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid) as a,
           created_at, completed_at, due_date, sgn as sign
      from changed_rows
  ), kc as (
    select status, priority, category, a, sum(sign)::bigint as n from r group by 1, 2, 3, 4 having sum(sign) <> 0
  ), uc as (
    insert into task_counts as t (status, priority, category, assignee_id, slot, n, v)
    select status, priority, category, a, s, n, 1 from kc order by 1, 2, 3, 4
    on conflict (status, priority, category, assignee_id, slot) do update set n = t.n + excluded.n, v = t.v + 1
    returning 1
  ), kd as (
    select x.day, sum(x.c)::bigint as c, sum(x.k)::bigint as k
      from r, lateral (values ((r.created_at at time zone 'UTC')::date, r.sign, 0),
                              ((r.completed_at at time zone 'UTC')::date, 0, r.sign)) as x(day, c, k)
     where x.day is not null
     group by x.day having sum(x.c) <> 0 or sum(x.k) <> 0
  ), ud as (
    insert into task_daily as t (day, slot, created, completed)
    select day, s, c, k from kd order by day
    on conflict (day, slot) do update
      set created = t.created + excluded.created, completed = t.completed + excluded.completed
    returning 1
  )
  select exists (select from uc), exists (select from ud),
         coalesce(bool_or(due_date is not null and status in ('todo', 'in_progress', 'review')), false),
         coalesce(bool_or(completed_at is not null), false)
    from r into counted, daily, has_due, has_done;

  if has_due then
    with r as (
      select due_date, status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid) as a, sgn as sign
        from changed_rows where due_date is not null and status in ('todo', 'in_progress', 'review')
    ), k as (
      select analytics__due_hour(due_date) as h, a, status, priority, category, sum(sign)::bigint as n
        from r group by 1, 2, 3, 4, 5 having sum(sign) <> 0
    )
    insert into task_due as t (due_hour, assignee_id, status, priority, category, slot, n)
    select h, a, status, priority, category, s, n from k order by 1, 2, 3, 4, 5
    on conflict (due_hour, assignee_id, status, priority, category, slot) do update set n = t.n + excluded.n;
    get diagnostics due_rows = row_count;
  end if;
  if has_done then
    with r as (
      select completed_at, created_at, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid) as a, sgn as sign
        from changed_rows where completed_at is not null
    ), k as (
      select (completed_at at time zone 'UTC')::date as day, a, priority, category,
             analytics__cycle_bucket(extract(epoch from completed_at - created_at)::float8) as b,
             sum(sign)::bigint as n
        from r group by 1, 2, 3, 4, 5 having sum(sign) <> 0
    )
    insert into task_done as t (day, assignee_id, priority, category, cycle_bucket, slot, n)
    select day, a, priority, category, b, s, n from k order by 1, 2, 3, 4, 5
    on conflict (day, assignee_id, priority, category, cycle_bucket, slot) do update set n = t.n + excluded.n;
    get diagnostics done_rows = row_count;
  end if;

  if not counted and (daily or due_rows > 0 or done_rows > 0) then
    -- No cube row (which carries the version) changed, another aggregate did: a
    -- created_at, completed_at or due_date edit alone.
    insert into analytics_version as t (slot, v) values (s, 1) on conflict (slot) do update set v = t.v + 1;
  end if;
  if (counted or daily or due_rows > 0 or done_rows > 0)
     and current_setting('application_name') not like 'hive %' then
    perform pg_notify('hive_analytics', ''); -- the same payload twice in a transaction is delivered once
  end if;
  return null;
end;
$$;

create function tasks__analytics_update() returns trigger
language plpgsql as $$
declare
  s smallint := pg_backend_pid() % 16;
  counted boolean; -- a cube row changed (and so did the version it carries)
  daily boolean;
  has_due boolean; -- rows of open tasks with a due date: task_due may change
  has_done boolean; -- completed rows: task_done may change
  due_rows integer := 0;
  done_rows integer := 0;
begin
  with r as (
    select status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid) as a,
           created_at, completed_at, due_date, 1 as sign
      from new_rows
    union all
    select status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid),
           created_at, completed_at, due_date, -1
      from old_rows
  ), kc as (
    select status, priority, category, a, sum(sign)::bigint as n from r group by 1, 2, 3, 4 having sum(sign) <> 0
  ), uc as (
    insert into task_counts as t (status, priority, category, assignee_id, slot, n, v)
    select status, priority, category, a, s, n, 1 from kc order by 1, 2, 3, 4
    on conflict (status, priority, category, assignee_id, slot) do update set n = t.n + excluded.n, v = t.v + 1
    returning 1
  ), kd as (
    select x.day, sum(x.c)::bigint as c, sum(x.k)::bigint as k
      from r, lateral (values ((r.created_at at time zone 'UTC')::date, r.sign, 0),
                              ((r.completed_at at time zone 'UTC')::date, 0, r.sign)) as x(day, c, k)
     where x.day is not null
     group by x.day having sum(x.c) <> 0 or sum(x.k) <> 0
  ), ud as (
    insert into task_daily as t (day, slot, created, completed)
    select day, s, c, k from kd order by day
    on conflict (day, slot) do update
      set created = t.created + excluded.created, completed = t.completed + excluded.completed
    returning 1
  )
  select exists (select from uc), exists (select from ud),
         coalesce(bool_or(due_date is not null and status in ('todo', 'in_progress', 'review')), false),
         coalesce(bool_or(completed_at is not null), false)
    from r into counted, daily, has_due, has_done;

  if has_due then
    with r as (
      select due_date, status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid) as a, 1 as sign
        from new_rows where due_date is not null and status in ('todo', 'in_progress', 'review')
      union all
      select due_date, status, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid), -1
        from old_rows where due_date is not null and status in ('todo', 'in_progress', 'review')
    ), k as (
      select analytics__due_hour(due_date) as h, a, status, priority, category, sum(sign)::bigint as n
        from r group by 1, 2, 3, 4, 5 having sum(sign) <> 0
    )
    insert into task_due as t (due_hour, assignee_id, status, priority, category, slot, n)
    select h, a, status, priority, category, s, n from k order by 1, 2, 3, 4, 5
    on conflict (due_hour, assignee_id, status, priority, category, slot) do update set n = t.n + excluded.n;
    get diagnostics due_rows = row_count;
  end if;
  if has_done then
    with r as (
      select completed_at, created_at, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid) as a, 1 as sign
        from new_rows where completed_at is not null
      union all
      select completed_at, created_at, priority, category, coalesce(assignee_id, '00000000-0000-0000-0000-000000000000'::uuid), -1
        from old_rows where completed_at is not null
    ), k as (
      select (completed_at at time zone 'UTC')::date as day, a, priority, category,
             analytics__cycle_bucket(extract(epoch from completed_at - created_at)::float8) as b,
             sum(sign)::bigint as n
        from r group by 1, 2, 3, 4, 5 having sum(sign) <> 0
    )
    insert into task_done as t (day, assignee_id, priority, category, cycle_bucket, slot, n)
    select day, a, priority, category, b, s, n from k order by 1, 2, 3, 4, 5
    on conflict (day, assignee_id, priority, category, cycle_bucket, slot) do update set n = t.n + excluded.n;
    get diagnostics done_rows = row_count;
  end if;

  if not counted and (daily or due_rows > 0 or done_rows > 0) then
    -- No cube row (which carries the version) changed, another aggregate did: a
    -- created_at, completed_at or due_date edit alone.
    insert into analytics_version as t (slot, v) values (s, 1) on conflict (slot) do update set v = t.v + 1;
  end if;
  if (counted or daily or due_rows > 0 or done_rows > 0)
     and current_setting('application_name') not like 'hive %' then
    perform pg_notify('hive_analytics', ''); -- the same payload twice in a transaction is delivered once
  end if;
  return null;
end;
$$;

create trigger _500_tasks_count_insert
  after insert on tasks referencing new table as changed_rows
  for each statement execute function tasks__analytics_rows();
create trigger _500_tasks_count_update
  after update on tasks referencing old table as old_rows new table as new_rows
  for each statement execute function tasks__analytics_update();
create trigger _500_tasks_count_delete
  after delete on tasks referencing old table as changed_rows
  for each statement execute function tasks__analytics_rows();
