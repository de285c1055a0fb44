-- Up Migration
-- Keep task_counts and task_daily exact. Statement-level AFTER triggers with transition
-- tables: each statement is reduced to one grouped delta per key and applied with one
-- upsert, so a 100k-row INSERT costs one pass over its rows, not 100k trigger calls.
-- PostgreSQL allows transition tables only on single-event triggers, hence three triggers
-- sharing one function, which branches only to read the tables its event has.
--
-- Freshness: every change bumps analytics_version, which each instance reads on a short
-- poll in the same snapshot as the counts. Sessions of the HIVE server (application_name
-- 'hive …') announce their writes on the event bus after commit; any other session (psql,
-- imports) also sends pg_notify('hive_analytics'), delivered on commit, so listening
-- instances see it at once. The server's own writes skip NOTIFY because NOTIFY serialises
-- every notifying committer on one global lock held through its commit (measured here with
-- 32 writers: 7,600 → 2,200 tx/s).

create function analytics__bump_version(announce boolean) returns void
language plpgsql as $$
begin
  insert into analytics_version as t (slot, v) values (pg_backend_pid() % 16, 1)
  on conflict (slot) do update set v = t.v + 1;
  if announce or current_setting('application_name') not like 'hive %' then
    -- The same payload twice in one transaction is delivered once.
    perform pg_notify('hive_analytics', '');
  end if;
end;
$$;

-- Apply grouped deltas (one element per key, keys sorted so that concurrent statements
-- lock rows in the same order) to this session's slot; remove rows that reach zero.
-- Returns how many aggregate rows changed.
create function task_counts__apply(
  statuses text[], priorities text[], categories text[], deltas bigint[]
) returns integer
language plpgsql as $$
declare
  s smallint := pg_backend_pid() % 16;
  changed integer;
  zs text[]; zp text[]; zc text[];
begin
  if coalesce(cardinality(deltas), 0) = 0 then return 0; end if;
  with up as (
    insert into task_counts as t (status, priority, category, slot, n)
    select * from unnest(statuses, priorities, categories, array_fill(s, array[cardinality(deltas)]), deltas)
    on conflict (status, priority, category, slot) do update set n = t.n + excluded.n
    returning t.status, t.priority, t.category, t.n
  )
  select count(*), array_agg(status) filter (where n = 0), array_agg(priority) filter (where n = 0),
         array_agg(category) filter (where n = 0)
    from up into changed, zs, zp, zc;
  if zs is not null then
    delete from task_counts t
     using unnest(zs, zp, zc) as z(status, priority, category)
     where t.slot = s and t.status = z.status and t.priority = z.priority
       and t.category = z.category and t.n = 0;
  end if;
  return changed;
end;
$$;

create function task_daily__apply(days date[], created_deltas bigint[], completed_deltas bigint[]) returns integer
language plpgsql as $$
declare
  s smallint := pg_backend_pid() % 16;
  changed integer;
  zd date[];
begin
  if coalesce(cardinality(days), 0) = 0 then return 0; end if;
  with up as (
    insert into task_daily as t (day, slot, created, completed)
    select d, s, c, k from unnest(days, created_deltas, completed_deltas) as x(d, c, k)
    on conflict (day, slot) do update
      set created = t.created + excluded.created, completed = t.completed + excluded.completed
    returning t.day, t.created, t.completed
  )
  select count(*), array_agg(day) filter (where created = 0 and completed = 0)
    from up into changed, zd;
  if zd is not null then
    delete from task_daily t
     where t.slot = s and t.day = any (zd) and t.created = 0 and t.completed = 0;
  end if;
  return changed;
end;
$$;

create function tasks__count_changes() returns trigger
language plpgsql as $$
declare
  ks text[]; kp text[]; kc text[]; kn bigint[];
  dd date[]; dc bigint[]; dk bigint[];
begin
  -- Each branch turns the statement's rows into signed rows (+1 new, -1 old) grouped by
  -- key; keys whose delta nets to zero (e.g. a title edit) are dropped.
  if tg_op = 'INSERT' then
    select array_agg(status order by status, priority, category), array_agg(priority order by status, priority, category),
           array_agg(category order by status, priority, category), array_agg(n order by status, priority, category)
      from (select status, priority, category, count(*) as n from new_rows group by 1, 2, 3) g
      into ks, kp, kc, kn;
    select array_agg(day order by day), array_agg(c order by day), array_agg(k order by day)
      from (select v.day, sum(v.c) as c, sum(v.k) as k
              from new_rows r,
                   lateral (values ((r.created_at at time zone 'UTC')::date, 1, 0),
                                   ((r.completed_at at time zone 'UTC')::date, 0, 1)) as v(day, c, k)
             where v.day is not null
             group by v.day) g
      into dd, dc, dk;
  elsif tg_op = 'DELETE' then
    select array_agg(status order by status, priority, category), array_agg(priority order by status, priority, category),
           array_agg(category order by status, priority, category), array_agg(-n order by status, priority, category)
      from (select status, priority, category, count(*) as n from old_rows group by 1, 2, 3) g
      into ks, kp, kc, kn;
    select array_agg(day order by day), array_agg(-c order by day), array_agg(-k order by day)
      from (select v.day, sum(v.c) as c, sum(v.k) as k
              from old_rows r,
                   lateral (values ((r.created_at at time zone 'UTC')::date, 1, 0),
                                   ((r.completed_at at time zone 'UTC')::date, 0, 1)) as v(day, c, k)
             where v.day is not null
             group by v.day) g
      into dd, dc, dk;
  else -- UPDATE
    select array_agg(status order by status, priority, category), array_agg(priority order by status, priority, category),
           array_agg(category order by status, priority, category), array_agg(n order by status, priority, category)
      from (select status, priority, category, sum(sign) as n
              from (select status, priority, category, 1 as sign from new_rows
                    union all
                    select status, priority, category, -1 from old_rows) r
             group by 1, 2, 3
            having sum(sign) <> 0) g
      into ks, kp, kc, kn;
    select array_agg(day order by day), array_agg(c order by day), array_agg(k order by day)
      from (select v.day, sum(v.c) as c, sum(v.k) as k
              from (select created_at, completed_at, 1 as sign from new_rows
                    union all
                    select created_at, completed_at, -1 from old_rows) r,
                   lateral (values ((r.created_at at time zone 'UTC')::date, r.sign, 0),
                                   ((r.completed_at at time zone 'UTC')::date, 0, r.sign)) as v(day, c, k)
             where v.day is not null
             group by v.day
            having sum(v.c) <> 0 or sum(v.k) <> 0) g
      into dd, dc, dk;
  end if;

  -- A statement that changed no aggregate keeps the version, so ETags and caches stay valid.
  if task_counts__apply(ks, kp, kc, kn) + task_daily__apply(dd, dc, dk) > 0 then
    perform analytics__bump_version(false);
  end if;
  return null;
end;
$$;

create function tasks__count_truncate() returns trigger
language plpgsql as $$
begin
  delete from task_counts;
  delete from task_daily;
  perform analytics__bump_version(false);
  return null;
end;
$$;

create trigger _500_tasks_count_insert
  after insert on tasks referencing new table as new_rows
  for each statement execute function tasks__count_changes();
create trigger _500_tasks_count_update
  after update on tasks referencing old table as old_rows new table as new_rows
  for each statement execute function tasks__count_changes();
create trigger _500_tasks_count_delete
  after delete on tasks referencing old table as old_rows
  for each statement execute function tasks__count_changes();
create trigger _500_tasks_count_truncate
  after truncate on tasks
  for each statement execute function tasks__count_truncate();
