-- Up Migration
-- The "REFRESH" of the incremental view, a check against GROUP BY, and the slot fold.

-- Recompute every aggregate from the base tables (npm run analytics:rebuild). Takes SHARE
-- locks: writers wait until it commits, readers go on. Needed only if triggers were
-- bypassed (session_replication_role = replica, a restore without triggers) and to
-- backfill data that existed before these migrations.
create function analytics_rebuild() returns table (task_keys bigint, days bigint, active_users bigint, online_users bigint)
language plpgsql as $$
begin
  lock table tasks, users in share mode;
  delete from task_counts;
  delete from task_daily;
  insert into task_counts (status, priority, category, slot, n)
  select status, priority, category, 0, count(*) from tasks group by 1, 2, 3;
  insert into task_daily (day, slot, created, completed)
  select v.day, 0, sum(v.c), sum(v.k)
    from tasks r,
         lateral (values ((r.created_at at time zone 'UTC')::date, 1, 0),
                         ((r.completed_at at time zone 'UTC')::date, 0, 1)) as v(day, c, k)
   where v.day is not null
   group by v.day;
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

-- Every difference between the aggregates and GROUP BY over the base tables; no rows
-- means exact. One statement, so one snapshot: safe to run while writers are busy.
create function analytics_check() returns table (aggregate text, key text, kept bigint, actual bigint)
language sql stable as $$
  with kept as (
    select status, priority, category, sum(n)::bigint as n from task_counts group by 1, 2, 3 having sum(n) <> 0
  ), actual as (
    select status, priority, category, count(*) as n from tasks group by 1, 2, 3
  )
  select 'task_counts', concat_ws('/', status, priority, category), coalesce(k.n, 0), coalesce(a.n, 0)
    from kept k full join actual a using (status, priority, category)
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

-- Fold the slots of each key back into slot 0, so readers sum few rows. Opportunistic:
-- rows a writer holds right now are skipped (SKIP LOCKED) and folded next time, and any
-- other wait is cut short by a 50 ms lock_timeout (error 55P03, for this transaction), so
-- a fold gives way long before a deadlock check (deadlock_timeout, 1 s) could pick a
-- writer as its victim. The sums do not change, so the version does not either.
create function analytics_fold() returns integer
language plpgsql as $$
declare
  moved integer;
  moved_days integer;
begin
  perform set_config('lock_timeout', '50ms', true);
  with picked as (
    select ctid from task_counts where slot <> 0 for update skip locked
  ), gone as (
    delete from task_counts t using picked p where t.ctid = p.ctid
    returning t.status, t.priority, t.category, t.n
  ), g as (
    select status, priority, category, sum(n)::bigint as n, count(*) as rows from gone group by 1, 2, 3
  ), up as (
    insert into task_counts as t (status, priority, category, slot, n)
    select status, priority, category, 0, n from g order by 1, 2, 3
    on conflict (status, priority, category, slot) do update set n = t.n + excluded.n
    returning 1
  )
  select coalesce(sum(rows), 0) from g, (select count(*) from up) u into moved;
  delete from task_counts where slot = 0 and n = 0;

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
  return moved + moved_days;
end;
$$;

-- Backfill whatever the tables already hold.
select analytics_rebuild();
